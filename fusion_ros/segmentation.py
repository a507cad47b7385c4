"""Semantic segmentation of the fused image with a segmentation-models-pytorch checkpoint (ROS-free).

Checkpoint format
-----------------
A plain dict written by :func:`save_segmentation_checkpoint` and read with
``torch.load(weights_only=True)`` (no code runs when it is loaded)::

    {'format': 'fusion_ros.segmentation', 'format_version': 1,
     'arch': 'Unet', 'encoder': 'resnet18', 'in_channels': 3,
     'classes': 3, 'class_names': ['background', 'person', 'car'],
     'model_kwargs': {...},            # extra smp.create_model arguments (encoder_depth, decoder_channels...)
     'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225],   # input normalisation (RGB)
     'state_dict': {...}}

The model is rebuilt with ``segmentation_models_pytorch.create_model(arch, encoder_name=encoder,
encoder_weights=None, in_channels=3, classes=classes, **model_kwargs)``: nothing is downloaded.

Example:
    >>> seg = Segmenter.from_file('models/segmentation.pt')            # doctest: +SKIP
    >>> labels = seg.predict(fused)        # (H, W) uint8 class ids   # doctest: +SKIP
    >>> overlay = colour_overlay(fused, labels, alpha=0.5)            # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FORMAT = 'fusion_ros.segmentation'
FORMAT_VERSION = 1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class SegmentationModelError(ValueError):
    """A segmentation checkpoint that is missing, unsafe, corrupt or of another format."""


@dataclass
class SegmentationInfo:
    """What a segmentation checkpoint says about its model (everything but the weights)."""
    arch: str
    encoder: str
    classes: int
    class_names: list[str]
    model_kwargs: dict = field(default_factory=dict)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def stride(self) -> int:
        """Input sides must be a multiple of this (the encoder's total downsampling)."""
        return 2 ** int(self.model_kwargs.get('encoder_depth', 5))


def build_segmentation_model(info: SegmentationInfo) -> nn.Module:
    """The smp model described by ``info``, random weights, never downloaded."""
    import segmentation_models_pytorch as smp  # heavy import, only when segmentation is used
    try:
        return smp.create_model(info.arch, encoder_name=info.encoder, encoder_weights=None, in_channels=3,
                                classes=info.classes, **info.model_kwargs)
    except (KeyError, ValueError, TypeError) as exc:
        raise SegmentationModelError(
            f'cannot build segmentation model arch={info.arch!r} encoder={info.encoder!r} '
            f'kwargs={info.model_kwargs}: {exc}') from exc


def save_segmentation_checkpoint(path: str | Path, model: nn.Module, info: SegmentationInfo) -> Path:
    """Write ``model``'s weights with ``info`` in the format above (atomically)."""
    if len(info.class_names) != info.classes:
        raise ValueError(f'{info.classes} classes but {len(info.class_names)} class names')
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {'format': FORMAT, 'format_version': FORMAT_VERSION, 'arch': info.arch, 'encoder': info.encoder,
            'in_channels': 3, 'classes': int(info.classes), 'class_names': list(info.class_names),
            'model_kwargs': dict(info.model_kwargs), 'mean': list(info.mean), 'std': list(info.std),
            'state_dict': {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    tmp = path.with_name(path.name + '.tmp')
    torch.save(ckpt, tmp)
    tmp.replace(path)
    return path


def load_segmentation_checkpoint(path: str | Path) -> tuple[SegmentationInfo, dict]:
    """Read and check a segmentation checkpoint (weights only); returns ``(info, state_dict)``."""
    path = Path(path)
    if not path.is_file():
        raise SegmentationModelError(f'{path}: no such segmentation checkpoint file')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means "cannot load it safely"
        raise SegmentationModelError(
            f'{path}: cannot be loaded as a weights-only checkpoint ({type(exc).__name__}: {str(exc)[:200]}); '
            'files needing code execution are refused') from exc
    if not isinstance(ckpt, dict) or ckpt.get('format') != FORMAT:
        raise SegmentationModelError(
            f'{path}: not a fusion_ros segmentation checkpoint (expected format {FORMAT!r}); write one with '
            'fusion_ros.segmentation.save_segmentation_checkpoint')
    if ckpt.get('format_version') != FORMAT_VERSION:
        raise SegmentationModelError(f'{path}: format version {ckpt.get("format_version")}, '
                                     f'this fusion_ros reads {FORMAT_VERSION}')
    missing = [k for k in ('arch', 'encoder', 'classes', 'class_names', 'state_dict') if k not in ckpt]
    if missing:
        raise SegmentationModelError(f'{path}: checkpoint lacks {missing}')
    classes = int(ckpt['classes'])
    if not 1 <= classes <= 256:
        raise SegmentationModelError(f'{path}: {classes} classes; mono8 labels hold 1 to 256 classes')
    names = [str(n) for n in ckpt['class_names']]
    if len(names) != classes:
        raise SegmentationModelError(f'{path}: {classes} classes but {len(names)} class names')
    info = SegmentationInfo(arch=str(ckpt['arch']), encoder=str(ckpt['encoder']), classes=classes,
                            class_names=names, model_kwargs=dict(ckpt.get('model_kwargs') or {}),
                            mean=tuple(ckpt.get('mean', IMAGENET_MEAN)), std=tuple(ckpt.get('std', IMAGENET_STD)))
    return info, ckpt['state_dict']


class Segmenter:
    """A loaded segmentation model: ``predict(rgb (H, W, 3) float [0, 1]) -> (H, W) uint8 labels``."""

    def __init__(self, model: nn.Module, info: SegmentationInfo, device: str | torch.device = 'cpu'):
        self.info = info
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self._mean = torch.tensor(info.mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(info.std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

    @classmethod
    def from_file(cls, path: str | Path, device: str | torch.device = 'cpu') -> 'Segmenter':
        info, state = load_segmentation_checkpoint(path)
        model = build_segmentation_model(info)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise SegmentationModelError(f'{path}: weights do not fit {info.arch}/{info.encoder} with '
                                         f'{info.classes} classes: {str(exc)[:300]}') from exc
        return cls(model, info, device)

    @property
    def class_names(self) -> list[str]:
        return self.info.class_names

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """Class id per pixel of an ``(H, W, 3)`` float32 image in [0, 1]: ``(H, W)`` uint8."""
        rgb = np.asarray(rgb, dtype=np.float32)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f'Segmenter.predict: expected (H, W, 3) float in [0, 1], got {rgb.shape}')
        x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].to(self.device)
        x = (x - self._mean) / self._std
        h, w = x.shape[-2:]
        m = self.info.stride
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:  # smp encoders need sides divisible by their total stride
            x = F.pad(x, (0, pw, 0, ph), mode='reflect' if min(h, w) > max(ph, pw) else 'replicate')
        with torch.inference_mode():
            logits = self.model(x)[..., :h, :w]
        if self.info.classes == 1:  # binary model: one logit, foreground where > 0
            labels = (logits[:, 0] > 0).to(torch.uint8)
        else:
            labels = logits.argmax(dim=1).to(torch.uint8)
        return labels[0].cpu().numpy()


def palette(n: int) -> np.ndarray:
    """``(n, 3)`` uint8 colours, the Pascal VOC colour map (class 0 black), stable for any ``n <= 256``."""
    colours = np.zeros((n, 3), np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        colours[i] = (r, g, b)
    return colours


def colour_overlay(rgb: np.ndarray, labels: np.ndarray, alpha: float = 0.5, classes: int = 256) -> np.ndarray:
    """Blend the class colours over the image: ``(H, W, 3)`` uint8.

    Args:
        rgb: ``(H, W, 3)`` float in [0, 1] or uint8.
        labels: ``(H, W)`` integer class ids.
        alpha: weight of the class colour (0: the image, 1: the colour map); class 0 (background)
            is left uncoloured.
    """
    img = np.asarray(rgb)
    img = img.astype(np.float32) if img.dtype == np.uint8 else np.clip(img, 0, 1).astype(np.float32) * 255.0
    colours = palette(max(int(classes), int(labels.max()) + 1 if labels.size else 1)).astype(np.float32)
    colour = colours[labels]
    a = np.where(labels[..., None] > 0, float(alpha), 0.0).astype(np.float32)
    return np.clip(np.round(img * (1 - a) + colour * a), 0, 255).astype(np.uint8)
