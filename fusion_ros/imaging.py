"""Arrays <-> tensors, thermal normalisation, gray <-> colour, resampling onto the RGB grid.

Conventions used across fusion_ros:

* numpy images are ``(H, W)`` or ``(H, W, C)``, RGB channel order (never BGR outside ``io``).
* tensors are ``(B, C, H, W)`` float32 in ``[0, 1]``.
* "thermal" covers LWIR and NIR: any single-channel second modality.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F

# ITU-R BT.601 luma weights (what OpenCV's RGB2GRAY and MATLAB's rgb2gray use).
GRAY_WEIGHTS = (0.299, 0.587, 0.114)


class ImageError(ValueError):
    """An image that cannot be used as it is; the message says what came and how to fix it."""


# --------------------------------------------------------------------------- numpy <-> float


def to_float01(image: np.ndarray, *, name: str = 'image') -> np.ndarray:
    """Scale an 8-bit, 16-bit or float image to float32 in [0, 1] by its dtype's range.

    Args:
        image: ``(H, W)`` or ``(H, W, C)``; uint8 (/255), uint16 (/65535), or float
            (taken as already in [0, 1]; NaN/inf become 0 and values are clipped).
        name: used in error messages.

    Returns:
        float32 array of the same shape, values in [0, 1].
    """
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    if np.issubdtype(image.dtype, np.floating):
        out = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return np.clip(out, 0.0, 1.0)
    raise ImageError(
        f'{name}: expected uint8, uint16 or float pixels, got {image.dtype}; '
        'convert the image to one of these before fusing')


def from_float01(image: np.ndarray, dtype=np.uint8) -> np.ndarray:
    """Inverse of :func:`to_float01`: float in [0, 1] to uint8/uint16 (rounded, clipped)."""
    image = np.asarray(image, dtype=np.float32)
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(np.dtype(dtype))
    if scale is not None:
        if dtype == np.uint8 and image.size and 0.0 <= image.min() and image.max() <= 1.0:
            # The node's case (every fused frame, already in [0, 1]; NaN fails the test): one multithreaded
            # pass with a saturating, rounding cast in OpenCV, 0.7 vs 2.1 ms at 640 x 480 (numpy below).
            flat = np.ascontiguousarray(image).reshape(image.shape[0] if image.ndim > 1 else 1, -1)  # 1 channel
            return cv2.multiply(flat, 255.0, dtype=cv2.CV_8U).reshape(image.shape)
        # One scaled copy, then in place (5 temporaries cost ~7 ms).
        out = np.multiply(image, np.float32(scale))
        np.nan_to_num(out, copy=False)
        np.clip(out, 0.0, scale, out=out)
        np.rint(out, out=out)
        return out.astype(dtype)
    if dtype == np.float32:
        return np.clip(np.nan_to_num(image), 0.0, 1.0)
    raise ImageError(f'from_float01: expected dtype uint8, uint16 or float32, got {dtype}')


# --------------------------------------------------------------------------- thermal normalisation


@dataclass
class ThermalNormConfig:
    """How raw thermal/NIR values become [0, 1].

    mode:
        ``'dtype'``: by the dtype's range (uint8 /255, uint16 /65535, float clipped to [0, 1]).
        ``'range'``: linear map of ``[low, high]`` (raw units, e.g. centi-kelvin) to [0, 1].
        ``'percentile'``: linear map of the ``[low, high]`` percentiles of the finite pixels,
        robust to a few hot spots (a default of 0.5 / 99.5 ignores 0.5 % at each end).
    """
    mode: Literal['dtype', 'range', 'percentile'] = 'percentile'
    low: float = 0.5
    high: float = 99.5

    def __post_init__(self):
        if self.mode not in ('dtype', 'range', 'percentile'):
            raise ValueError(
                f"thermal normalisation mode must be 'dtype', 'range' or 'percentile', got {self.mode!r}")
        if not self.low < self.high:
            raise ValueError(f'thermal normalisation needs low < high, got low={self.low}, high={self.high}')
        if self.mode == 'percentile' and not (0.0 <= self.low and self.high <= 100.0):
            raise ValueError(f'percentiles must lie in [0, 100], got {self.low}, {self.high}')


#: Percentiles of larger images are taken on a regular grid of about this many pixels: the full sort
#: cost ~10 ms per 640x480 frame in the node, and a 65k-pixel grid moves a 0.5/99.5 % percentile by a
#: fraction of one grey level on real thermal frames.
PERCENTILE_SAMPLE = 65536


def _percentile_sample(values: np.ndarray, finite: np.ndarray | None) -> np.ndarray:
    """The finite ``values`` (2-D) on a regular grid of about :data:`PERCENTILE_SAMPLE` pixels (all if fewer);
    ``finite`` None: every value is finite (integer images)."""
    step = int(np.sqrt(values.size / PERCENTILE_SAMPLE))
    if finite is None:
        return values[::step, ::step] if step > 1 else values
    if step > 1:
        grid_finite = finite[::step, ::step]
        if grid_finite.any():  # else the grid missed every finite pixel: use them all
            return values[::step, ::step][grid_finite]
    return values[finite]


def normalize_thermal(thermal: np.ndarray, config: ThermalNormConfig | None = None) -> np.ndarray:
    """Map a raw thermal/NIR image to float32 [0, 1], ignoring NaN/inf.

    Args:
        thermal: ``(H, W)`` (or ``(H, W, C)``, reduced to its first channel) uint8, uint16 or float
            (e.g. ``32FC1`` temperatures). NaN and +/-inf pixels are allowed.
        config: see :class:`ThermalNormConfig`; default: 0.5-99.5 percentiles.

    Returns:
        ``(H, W)`` float32 in [0, 1]; non-finite input pixels become 0. A constant image maps to 0.

    Example:
        >>> t = np.array([[0, 100], [200, 60000]], dtype=np.uint16)
        >>> normalize_thermal(t, ThermalNormConfig('range', 0, 200)).tolist()
        [[0.0, 0.5], [1.0, 1.0]]
    """
    config = config or ThermalNormConfig()
    thermal = np.asarray(thermal)
    if thermal.ndim == 3:
        thermal = thermal[..., 0]
    if thermal.ndim != 2:
        raise ImageError(f'thermal: expected an (H, W) image, got shape {thermal.shape}')
    if config.mode == 'dtype':
        out = to_float01(thermal, name='thermal')
        if np.issubdtype(thermal.dtype, np.floating):
            out[~np.isfinite(thermal)] = 0.0  # as the other modes (to_float01 alone maps +inf to 1)
        return out
    integer = np.issubdtype(thermal.dtype, np.integer)  # every pixel finite: no float64 copy, no mask (~2 ms)
    values = thermal if integer else thermal.astype(np.float64)
    finite = None if integer else np.isfinite(values)
    if finite is not None and not finite.any():
        return np.zeros(thermal.shape, np.float32)
    if config.mode == 'range':
        lo, hi = config.low, config.high
    else:
        lo, hi = np.percentile(_percentile_sample(values, finite), [config.low, config.high])
    if hi - lo <= 1e-12:
        return np.zeros(thermal.shape, np.float32)
    if integer:
        out = thermal.astype(np.float32)
        out -= np.float32(lo)
        out *= np.float32(1.0 / (hi - lo))
        return np.clip(out, 0.0, 1.0, out=out)
    out = ((values - lo) / (hi - lo)).astype(np.float32)
    out[~finite] = 0.0
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------- numpy <-> torch


def image_to_tensor(image: np.ndarray, device: str | torch.device = 'cpu') -> torch.Tensor:
    """``(H, W)`` or ``(H, W, C)`` float array in [0, 1] to a ``(1, C, H, W)`` float32 tensor."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ImageError(f'expected an (H, W) or (H, W, C) image, got shape {image.shape}')
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(device)


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """``(1, C, H, W)`` or ``(C, H, W)`` tensor to ``(H, W, C)`` float32 (``(H, W)`` if C == 1)."""
    t = tensor.detach().float().cpu()
    if t.ndim == 4:
        if t.shape[0] != 1:
            raise ImageError(f'tensor_to_image: expected batch size 1, got {tuple(t.shape)}')
        t = t[0]
    if t.ndim != 3:
        raise ImageError(f'tensor_to_image: expected (1, C, H, W) or (C, H, W), got {tuple(t.shape)}')
    out = t.permute(1, 2, 0).numpy()
    return out[..., 0] if out.shape[-1] == 1 else out


def as_image_tensor(image, channels: int, name: str, device='cpu') -> torch.Tensor:
    """Check and convert a public-API image: numpy ``(H, W[, C])`` or tensor ``([1, ]C, H, W)``, float in [0, 1].

    Returns ``(1, channels, H, W)`` float32 on ``device``. Raises :class:`ImageError` naming ``name``
    for integer pixels, a wrong shape, NaN/inf, or values outside [0, 1].
    """
    dtype = image.dtype if torch.is_tensor(image) else np.asarray(image).dtype
    if not (dtype.is_floating_point if torch.is_tensor(image) else np.issubdtype(dtype, np.floating)):
        raise ImageError(f'{name}: got {str(dtype).replace("torch.", "")} pixels, expected float in [0, 1]; '
                         'convert with fusion_ros.imaging.to_float01 (or normalize_thermal for thermal)')
    t = image if torch.is_tensor(image) else image_to_tensor(np.asarray(image, dtype=np.float32))
    if t.ndim == 3:
        t = t[None]
    if t.ndim != 4 or t.shape[0] != 1 or t.shape[1] != channels:
        raise ImageError(f'{name}: expected ({"H, W, 3" if channels == 3 else "H, W"}) float in [0, 1], '
                         f'got {tuple(np.shape(image))}')
    if not torch.isfinite(t).all():
        raise ImageError(f'{name} contains NaN or inf; normalise it first (fusion_ros.imaging.normalize_thermal)')
    lo, hi = float(t.min()), float(t.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ImageError(f'{name}: values span [{lo:.4g}, {hi:.4g}], expected [0, 1]; scale the image first '
                         '(fusion_ros.imaging.to_float01 or normalize_thermal)')
    return t.float().to(device)


# --------------------------------------------------------------------------- gray <-> colour


def rgb_to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 luma. ``rgb: (B, 3, H, W)`` float in [0, 1] -> ``(B, 1, H, W)`` in [0, 1]."""
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ImageError(f'rgb_to_gray: expected (B, 3, H, W), got {tuple(rgb.shape)}')
    w = rgb.new_tensor(GRAY_WEIGHTS).view(1, 3, 1, 1)
    return (rgb * w).sum(dim=1, keepdim=True)


#: How a gray fusion gets its colour back from the visible image (:func:`colorize`).
COLOUR_MODES = ('ycbcr', 'ratio')


def colorize(rgb: torch.Tensor, gray_fused: torch.Tensor, eps: float = 1e-3, *,
             gray: torch.Tensor | None = None, mode: str = 'ycbcr') -> torch.Tensor:
    """Colour back a gray fusion from the visible image.

    ``mode='ycbcr'`` (default) keeps the visible chroma and replaces the luma: ``RGB + (GrayFusion - GRAY)``
    on every channel, which leaves BT.601's Cb and Cr (``B - Y``, ``R - Y``) as they were. This is how the
    field colours a fused Y channel (CDDFuse, SeAFusion: fused Y with the visible CbCr). ``mode='ratio'``
    is paper 000's ``RGB * GrayFusion / GRAY``: it scales the chroma with the luma, so where a dark
    visible pixel gets a bright thermal value its colour noise is amplified (a pedestrian at night
    turns saturated green); on the development pairs it gives every method a higher Delta-E.

    Where a channel clips (or, for ``ratio``, where ``GRAY`` is near 0), the luminance still missing is
    added once as an achromatic (equal-channel) residual and clipped again: where no channel clips the
    result's luma equals ``gray_fused``; where one does (strongly coloured visible pixels pushed far in
    luma), it falls short (pure red taken to 0.6: 0.573 with ``ycbcr``, 0.510 with ``ratio``). One pass
    keeps the node's colour step at two element-wise passes over the frame.

    Args:
        rgb: ``(B, 3, H, W)`` float32 in [0, 1], the visible image.
        gray_fused: ``(B, 1, H, W)`` float32 in [0, 1], the fused luminance.
        eps: gray level below which a pixel is treated as having no colour information (``ratio``).
        gray: ``rgb_to_gray(rgb)`` when the caller has it already (saves a pass over the image).
        mode: one of :data:`COLOUR_MODES`.

    Returns:
        ``(B, 3, H, W)`` float32 in [0, 1].
    """
    if rgb.shape[0] != gray_fused.shape[0] or rgb.shape[-2:] != gray_fused.shape[-2:]:
        raise ImageError(
            f'colorize: rgb {tuple(rgb.shape)} and gray_fused {tuple(gray_fused.shape)} differ in size')
    if mode not in COLOUR_MODES:
        raise ValueError(f'colorize: mode must be one of {COLOUR_MODES}, got {mode!r}')
    gray = rgb_to_gray(rgb) if gray is None else gray
    out = rgb + (gray_fused - gray) if mode == 'ycbcr' else rgb * (gray_fused / gray.clamp_min(eps))
    if torch.is_grad_enabled() and (rgb.requires_grad or gray_fused.requires_grad):
        out = out.clamp(0.0, 1.0)
        return (out + (gray_fused - rgb_to_gray(out))).clamp(0.0, 1.0)
    # Inference: the rest in place (each 3-channel temporary is a 640x480 frame's worth).
    out.clamp_(0.0, 1.0)
    return out.add_(gray_fused - rgb_to_gray(out)).clamp_(0.0, 1.0)


def net_output_rgb(rgb: torch.Tensor, out: dict, network_colour: bool = False) -> torch.Tensor:
    """The fused RGB image of a fusion net's output dict, coloured as the node colours it.

    ``out['fused'] (B, 3, H, W)``; nets that colour from the visible image themselves (their dict has a
    ``'luma'``: the blend and texmax nets) and ``network_colour`` keep it; otherwise its luma is coloured
    from ``rgb (B, 3, H, W)`` by :func:`colorize`. Float in [0, 1].
    """
    if network_colour or 'luma' in out:
        return out['fused']
    return colorize(rgb, rgb_to_gray(out['fused'].clamp(0.0, 1.0)))


# --------------------------------------------------------------------------- resampling


def resize_to(image: torch.Tensor, size: tuple[int, int], mode: str = 'bilinear') -> torch.Tensor:
    """Resample ``(B, C, h, w)`` onto ``size = (H, W)``; identity when the size already matches.

    Used to put a thermal image of another resolution onto the RGB grid (assumes both cameras see
    the same field of view; a residual misalignment is the aligner's job, see ``fusion_ros.align``).
    """
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    kwargs = {'align_corners': False} if mode in ('bilinear', 'bicubic') else {}
    antialias = mode in ('bilinear', 'bicubic') and (image.shape[-2] > size[0] or image.shape[-1] > size[1])
    return F.interpolate(image, size=tuple(size), mode=mode, antialias=antialias, **kwargs)


def check_pair(rgb: torch.Tensor, thermal: torch.Tensor) -> None:
    """Check a fusion input pair: ``rgb (B, 3, H, W)`` and ``thermal (B, 1, H, W)``, finite, same B, H, W."""
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ImageError(f'rgb: expected (B, 3, H, W), got {tuple(rgb.shape)}')
    if thermal.ndim != 4 or thermal.shape[1] != 1:
        raise ImageError(f'thermal: expected (B, 1, H, W), got {tuple(thermal.shape)}')
    if rgb.shape[0] != thermal.shape[0] or rgb.shape[-2:] != thermal.shape[-2:]:
        raise ImageError(
            f'rgb {tuple(rgb.shape)} and thermal {tuple(thermal.shape)} differ; resample the thermal '
            'image onto the RGB grid first (fusion_ros.imaging.resize_to)')
    for name, t in (('rgb', rgb), ('thermal', thermal)):
        # A finite sum proves every value finite (one pass, 20x cheaper than isfinite().all() at 640x480);
        # only a non-finite sum (a NaN/inf, or an overflow) needs the exact test.
        if not torch.isfinite(t.sum()) and not torch.isfinite(t).all():
            raise ImageError(f'{name} contains NaN or inf; normalise it first (fusion_ros.imaging)')
