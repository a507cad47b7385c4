"""The fusion engine behind the ROS node, ROS-free: align, fuse, run the heads; per-scene training.

``FusionEngine.process(rgb, thermal)`` takes one synchronised pair as float arrays and returns every
output image with per-stage timings. The active fusion model sits behind one reference that is
replaced atomically (:meth:`FusionEngine.swap`): a frame is always processed with one model and its
transform from start to end, while :meth:`FusionEngine.train_scene` trains a new per-scene model on
another thread.

Alignment modes (thermal onto the RGB grid):

``'none'``   resample the thermal image onto the RGB grid (same field of view assumed).
``'fixed'``  a fixed 3x3 homography ``rgb_from_thermal`` in pixels, from the thermal image as it is
             published to the RGB image (what ``cv2.findHomography(thermal_pts, rgb_pts)`` returns).
``'stn'``    the affine transform found by the last per-scene training: its alignment phase runs
             :func:`fusion_ros.registration.register` (the code of ``fusion-ros align``), or with
             paper 000's recipe the STN trained end to end; resample only until a training has run.

Example:
    >>> engine = FusionEngine(load_fusion_model('average'))
    >>> out = engine.process(np.zeros((48, 64, 3), np.float32), np.zeros((24, 32), np.float32))
    >>> out.fused.shape, out.thermal_registered.shape, out.model
    ((48, 64, 3), (48, 64), 'average')
"""
from __future__ import annotations

import copy
import logging
import math
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from fusion_ros import registry
from fusion_ros.adapt import AdaptConfig, adapt_net, format_scores
from fusion_ros.align import warp_affine
from fusion_ros.device import resolve_device
from fusion_ros.imaging import (ImageError, colorize, image_to_tensor, net_output_rgb, resize_to, rgb_to_gray,
                                tensor_to_image)
from fusion_ros.report import pair_scores
from fusion_ros.scene import SceneFitConfig, fit_scene

ALIGN_MODES = ('none', 'fixed', 'stn')
IDENTITY_HOMOGRAPHY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
ADAPTED_FROM = ' from '
QUALITY_KEY = 'ssim_score'  # the score a new per-scene model must not lower to be swapped in

FuseFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class FusionModelError(ValueError):
    """A fusion model that cannot be used: unknown name, missing or unfitting checkpoint."""


class TrainingBusyError(RuntimeError):
    """A per-scene training is already running."""


def fusion_model_names() -> list[str]:
    """Names :func:`load_fusion_model` accepts: every method of :mod:`fusion_ros.registry`."""
    return registry.names()


# --------------------------------------------------------------------------- alignment


@dataclass
class AlignConfig:
    """How the thermal image is put onto the RGB grid; see the module docstring for the modes.

    homography: 9 numbers, row-major ``rgb_from_thermal`` in pixels (used by ``'fixed'``).
    """
    mode: str = 'none'
    homography: tuple[float, ...] = IDENTITY_HOMOGRAPHY

    def __post_init__(self):
        if self.mode not in ALIGN_MODES:
            raise ValueError(f"align mode must be one of {', '.join(ALIGN_MODES)}, got {self.mode!r}")
        h = tuple(float(v) for v in self.homography)
        if len(h) != 9 or not all(math.isfinite(v) for v in h):
            raise ValueError(f'homography must be 9 finite numbers (row-major 3x3 rgb_from_thermal in pixels), '
                             f'got {list(self.homography)}')
        if abs(np.linalg.det(np.array(h).reshape(3, 3))) < 1e-12:
            raise ValueError(f'homography {list(h)} is singular; give an invertible rgb_from_thermal matrix')
        self.homography = h

    @property
    def matrix(self) -> np.ndarray:
        return np.array(self.homography, np.float64).reshape(3, 3)

    def rescaled(self, rgb_scale: tuple[float, float], thermal_scale: tuple[float, float]) -> AlignConfig:
        """The same alignment for images resized by ``(sx, sy)`` (e.g. to bound the work, see
        :mod:`fusion_ros.frames`): the homography becomes ``S_rgb @ H @ inv(S_thermal)``; the other modes
        do not depend on the resolution."""
        if self.mode != 'fixed' or (rgb_scale == (1.0, 1.0) and thermal_scale == (1.0, 1.0)):
            return self
        from fusion_ros.frames import scale_matrix
        h = scale_matrix(rgb_scale) @ self.matrix @ np.linalg.inv(scale_matrix(thermal_scale))
        return AlignConfig(self.mode, tuple(float(v) for v in (h / h[2, 2]).ravel()))


def register_thermal(thermal: np.ndarray, rgb_size: tuple[int, int], align: AlignConfig,
                     thermal_from_rgb: np.ndarray | None = None, device='cpu') -> torch.Tensor:
    """Put an ``(h, w)`` float thermal image onto the ``(H, W)`` RGB grid: ``(1, 1, H, W)`` tensor.

    ``thermal_from_rgb`` is the STN's ``(2, 3)`` normalised theta, used in ``'stn'`` mode.
    """
    thermal = np.asarray(thermal, dtype=np.float32)
    if thermal.ndim != 2:
        raise ImageError(f'thermal: expected an (h, w) image, got shape {thermal.shape}')
    h, w = rgb_size
    if align.mode == 'fixed':
        warped = cv2.warpPerspective(thermal, align.matrix, (w, h), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)
        return image_to_tensor(warped, device)
    th_t = image_to_tensor(thermal, device)
    if align.mode == 'stn' and thermal_from_rgb is not None:
        theta = torch.as_tensor(np.asarray(thermal_from_rgb, np.float32), device=th_t.device).view(1, 2, 3)
        return warp_affine(th_t, theta, (h, w), padding_mode='border')[0]
    return resize_to(th_t, (h, w))


# --------------------------------------------------------------------------- fusion models


@dataclass(frozen=True)
class FusionModel:
    """A fusion model ready to run: ``fuse(rgb (1, 3, H, W), thermal (1, 1, H, W)) -> (1, 3, H, W)``.

    thermal_from_rgb: the ``(2, 3)`` transform the model was trained with (per-scene models with an
    STN), used in ``'stn'`` alignment mode. ``source`` says where it came from (for diagnostics).
    """
    name: str
    fuse: FuseFn
    source: str = 'built in'
    thermal_from_rgb: np.ndarray | None = None
    backend: str = 'torch'  # how the net runs, for diagnostics (e.g. 'onnxruntime (1 thread, CPU)')


class _SceneFuse:
    """Paper 000's fusion net on a registered pair, coloured back from the visible image (``colorize``)."""

    def __init__(self, net: torch.nn.Module):
        self.net = net.eval()

    def __call__(self, rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        return colorize(rgb, self.net(torch.cat([thermal, rgb_to_gray(rgb)], dim=1)))


BACKENDS = ('auto', 'torch', 'onnxruntime')
_logged_notes: set[str] = set()


def check_backend(backend: str) -> str:
    """``backend`` if it is one of :data:`BACKENDS`; :class:`FusionModelError` otherwise."""
    if backend not in BACKENDS:
        raise FusionModelError(f'inference backend must be one of {", ".join(BACKENDS)}, got {backend!r}')
    return backend


def _log_once(text: str) -> None:
    if text not in _logged_notes:
        _logged_notes.add(text)
        logging.getLogger('fusion_ros.engine').warning(text)


class _FusedOutput(torch.nn.Module):
    """The net with one output, ``fused`` (what is exported to ONNX; features are not needed to fuse)."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        return self.net(rgb, thermal)['fused']


class OnnxRuntimeNet:
    """``net(rgb, thermal)['fused']`` through an onnxruntime CPU session: the net is exported to ONNX in
    memory (opset 17, dynamic H and W), never written to disk, so no cache can go stale when the model code,
    torch or onnxruntime change; the export takes well under a second at start.

    threads: ``intra_op_num_threads`` (the node's ``cpu_threads``, i.e. ``torch.get_num_threads()``).
    spinning: let idle intra-op threads spin-wait (onnxruntime's default). Off by default: torch's own
    threads (colouring, heads) share the cores in the same process, and with 2 threads on 2 cores
    the fused frame took 27.6 ms without spinning vs 31.4 ms with it (interleaved runs, 640x480).

    Raises:
        ImportError: onnxruntime (or onnx, which ``torch.onnx.export`` needs) is not installed.
        Exception: whatever the export or the session raises for a net it cannot handle.
    """

    def __init__(self, net: torch.nn.Module, threads: int, spinning: bool = False):
        import io
        import warnings

        import onnxruntime as ort
        import onnx  # noqa: F401  (torch.onnx.export needs it; fail here with a clear ImportError)

        rgb, thermal = torch.rand(1, 3, 48, 64), torch.rand(1, 1, 48, 64)
        buf = io.BytesIO()
        hw = {2: 'height', 3: 'width'}
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter('ignore')  # tracer warnings on the input checks (shapes are static per call)
            torch.onnx.export(_FusedOutput(net).cpu().eval(), (rgb, thermal), buf, input_names=['rgb', 'thermal'],
                              output_names=['fused'], dynamic_axes={'rgb': hw, 'thermal': hw, 'fused': hw},
                              opset_version=17, dynamo=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry('session.intra_op.allow_spinning', '1' if spinning else '0')
        self.threads = options.intra_op_num_threads
        self.session = ort.InferenceSession(buf.getvalue(), options, providers=['CPUExecutionProvider'])

    def __call__(self, rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        feed = {'rgb': np.ascontiguousarray(rgb.detach().cpu().numpy(), np.float32),
                'thermal': np.ascontiguousarray(thermal.detach().cpu().numpy(), np.float32)}
        return torch.from_numpy(self.session.run(None, feed)[0])


class _SSVIFFuse:
    """SSVIF's fusion net. ``colour='visible'`` (default) keeps the net's luma and takes the colour from the
    visible image (``colorize``, as every other method here); ``'network'`` returns the net's RGB as is.

    On the shipped model's validation split the two give the same MI/VIF/Qabf/SSIM/EN (all on luma) to
    three decimals, and ``'visible'`` lowers Delta-E from 18.8 to 16.9 (models/README.md). A net that
    already returns its ``luma`` with the visible colour (the blend net) is used as it is.

    backend (:data:`BACKENDS`): ``'torch'`` runs the net in torch (on the CPU in channels_last memory
    format: about 1.5x faster than NCHW for these depthwise-separable convolutions, same output to
    1e-6); ``'onnxruntime'`` runs it through :class:`OnnxRuntimeNet` with ``threads`` intra-op threads
    (CPU only; :class:`FusionModelError` when onnxruntime/onnx is missing or the export fails);
    ``'auto'``: onnxruntime on the CPU when it is importable and the export succeeds, else torch (the
    reason is logged once and kept in :attr:`backend_label`). Colouring stays in torch either way.
    ``threads`` None: ``torch.get_num_threads()`` (what ``cpu_threads`` set).
    """

    def __init__(self, net: torch.nn.Module, colour: str = 'visible', backend: str = 'torch',
                 threads: int | None = None):
        if colour not in ('visible', 'network'):
            raise FusionModelError(f"SSVIF colour must be 'visible' or 'network', got {colour!r}")
        check_backend(backend)
        self.net = net.eval()
        self.colour = colour
        self._ort = None
        cpu = next(net.parameters()).device.type == 'cpu'
        note = ''
        if backend in ('auto', 'onnxruntime'):
            threads = torch.get_num_threads() if threads is None else threads
            try:
                if not cpu:
                    raise FusionModelError(f'onnxruntime runs on the CPU here, the net is on '
                                           f'{next(net.parameters()).device}')
                self._ort = OnnxRuntimeNet(net, threads)
            except Exception as exc:  # noqa: BLE001 (any export/session failure: torch instead, or say why)
                why = (f'{exc.name or "onnxruntime"} is not installed' if isinstance(exc, ImportError)
                       else f'{type(exc).__name__}: {exc}'.splitlines()[0])
                if backend == 'onnxruntime':
                    raise FusionModelError(f"inference backend 'onnxruntime' cannot run the SSVIF net ({why}); "
                                           "install onnxruntime and onnx (requirements.txt) or set the "
                                           "backend to 'torch' or 'auto'") from exc
                note = f'auto: {why}'
                _log_once(f"inference backend 'auto': the SSVIF net runs in torch, not onnxruntime: {why}")
        if self._ort is not None:
            self.backend = 'onnxruntime'
            self.backend_label = f'onnxruntime ({self._ort.threads} thread{"s" if self._ort.threads != 1 else ""}, CPU)'
            with torch.no_grad():  # does the net colour from the visible image itself (the blend net)?
                self._net_colours = 'luma' in net(torch.rand(1, 3, 48, 64), torch.rand(1, 1, 48, 64))
        else:
            self.backend = 'torch'
            channels_last = cpu and getattr(self.net, 'prefers_channels_last', True)
            if channels_last:
                self.net = self.net.to(memory_format=torch.channels_last)
            self.backend_label = 'torch' + (' channels_last' if channels_last else '') + (f' ({note})' if note else '')

    def __call__(self, rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        if self._ort is not None:
            fused = self._ort(rgb, thermal)
            if self.colour == 'network' or self._net_colours:
                return fused
            return colorize(rgb, rgb_to_gray(fused))
        return net_output_rgb(rgb, self.net(rgb, thermal), self.colour == 'network')


def scene_fusion_model(net: torch.nn.Module, thermal_from_rgb: np.ndarray | None, device='cpu',
                       source: str = 'train_scene') -> FusionModel:
    """A :class:`FusionModel` from a trained per-scene fusion net (``SceneFusionModel.fusion``)."""
    net = copy.deepcopy(net).to(device if isinstance(device, torch.device) else resolve_device(str(device)))
    theta = None if thermal_from_rgb is None else np.asarray(thermal_from_rgb, np.float32).reshape(2, 3)
    return FusionModel('scene', _SceneFuse(net), source, theta)


def load_fusion_model(name: str, path: str | Path | None = None, device='cpu', backend: str = 'auto',
                      threads: int | None = None) -> FusionModel:
    """Build the fusion model called ``name`` (see :func:`fusion_model_names`): ``registry.get(name).build``.

    Baselines need no file. Checkpoint methods (``'ssvif'``) and ``'scene'`` load a fusion_ros checkpoint
    from ``path`` (``'ssvif'`` without a path: the shipped default, see :mod:`fusion_ros.shipped`)
    (weights only, see :mod:`fusion_ros.checkpoint`) whose stored model is one the method accepts
    (``'ssvif'``: ``'ssvif'`` or ``'ssvif_blend'``); a ``'scene'`` checkpoint's
    ``meta['thermal_from_rgb']`` becomes the model's transform. ``backend`` and ``threads``: how a
    checkpoint net runs (see :class:`_SSVIFFuse`; baselines and ``'scene'`` run in torch).

    Raises:
        FusionModelError: unknown name, no path or a missing file, or a checkpoint of another model;
            ``backend='onnxruntime'`` that cannot be used.
    """
    try:
        method = registry.get(name)
    except KeyError:
        raise FusionModelError(f'unknown fusion model {name!r}; '
                               f'valid: {", ".join(fusion_model_names())}') from None
    return method.build(path, device, backend=backend, threads=threads)


@dataclass(frozen=True)
class ActiveModel:
    """The model the engine fuses with now, with a version that changes on every swap."""
    model: FusionModel
    version: int
    since: float  # time.time() when it became active

    @property
    def label(self) -> str:
        return f'{self.model.name} v{self.version} ({self.model.source})'


# --------------------------------------------------------------------------- outputs


class FrameOutput:
    """Everything computed for one pair.

    fused: ``(H, W, 3)`` float32 in [0, 1] on the RGB grid; thermal_registered: ``(H, W)`` float32;
    heads: ``{head name: HeadOutput(result, image)}`` for each head that ran (:mod:`fusion_ros.heads`);
    timings: seconds per stage (``align``, ``fuse``, and each head's stage: ``segment``, ``detect``);
    model, version: who fused.

    ``labels`` / ``overlay`` (segmentation: ``(H, W)`` uint8 class ids, ``(H, W, 3)`` uint8 overlay) and
    ``detections`` / ``annotated`` (detection: boxes, ``(H, W, 3)`` uint8 annotated image) are shorthands
    for ``heads['segmentation']`` and ``heads['detection']`` (None when that head did not run); they are
    accepted as keyword arguments too.
    """

    def __init__(self, fused: np.ndarray, thermal_registered: np.ndarray, model: str, version: int,
                 timings: dict[str, float] | None = None, heads: dict | None = None, *, labels=None, overlay=None,
                 detections=None, annotated=None):
        from fusion_ros.heads import HeadOutput

        self.fused, self.thermal_registered, self.model, self.version = fused, thermal_registered, model, version
        self.timings = dict(timings or {})
        self.heads = dict(heads or {})
        if labels is not None:
            self.heads['segmentation'] = HeadOutput(labels, overlay)
        if detections is not None:
            self.heads['detection'] = HeadOutput(detections, annotated)

    def _head(self, name: str, image: bool):
        out = self.heads.get(name)
        return None if out is None else (out.image if image else out.result)

    labels = property(lambda self: self._head('segmentation', False))
    overlay = property(lambda self: self._head('segmentation', True))
    detections = property(lambda self: self._head('detection', False))
    annotated = property(lambda self: self._head('detection', True))

    def __repr__(self) -> str:
        h, w = self.fused.shape[:2]
        return f'FrameOutput({w}x{h}, model={self.model!r} v{self.version}, heads={list(self.heads)})'


@dataclass
class TrainResult:
    """What :meth:`FusionEngine.train_scene` did.

    accepted: the new model is active. discarded: a :meth:`FusionEngine.reset` during the training
    won, and the trained model was thrown away. seconds: wall time of the whole call. before / after:
    :func:`fusion_ros.report.pair_scores` of the previous and of the new model on the pair (after
    is None when training failed). message: one line for people (the service response).
    """
    accepted: bool
    message: str
    seconds: float
    before: dict[str, float] | None = None
    after: dict[str, float] | None = None
    version: int | None = None
    epochs: int | None = None
    device: str | None = None
    discarded: bool = False


def _fmt_scores(scores: dict[str, float] | None) -> str:
    if not scores:
        return 'n/a'
    if 'ssim_score' not in scores:  # adapt's held-out field metrics
        return format_scores(scores)
    return (f"SSIM score {scores['ssim_score']:.4f}, correlation {scores['correlation_score']:.4f}, "
            f"Canny {scores['canny_score']:.4f}")


# --------------------------------------------------------------------------- engine


class FusionEngine:
    """Align, fuse and run the heads on one pair at a time; swap models atomically; train per scene.

    Args:
        shipped: the fusion model to start with and to return to on :meth:`reset`.
        align: alignment settings (:class:`AlignConfig`); change them with :meth:`set_align`.
        device: inference device (``'auto'``, ``'cpu'``, ``'cuda:N'`` or a torch.device).
        heads: the heads to run on every fused image, in order (:class:`fusion_ros.heads.Head`, e.g.
            from :func:`fusion_ros.heads.load_head`); :attr:`heads` maps their names to them.
        segmenter, detector: shorthands: a :class:`fusion_ros.segmentation.Segmenter` or
            :class:`fusion_ros.detection.Detector` is run as the ``segmentation`` / ``detection`` head
            (``overlay_alpha``: the segmentation overlay's colour weight).

    ``process`` may be called from one thread while ``train_scene`` runs on another; ``swap``,
    ``reset`` and ``set_align`` from any thread.
    """

    def __init__(self, shipped: FusionModel, align: AlignConfig | None = None, device='cpu', *,
                 heads=(), segmenter=None, detector=None, overlay_alpha: float = 0.5):
        self.device = device if isinstance(device, torch.device) else resolve_device(str(device))
        self.shipped = shipped
        heads = list(heads)
        if segmenter is not None:
            from fusion_ros.heads.segmentation import SegmentationConfig, SegmentationHead
            heads.append(SegmentationHead(segmenter, SegmentationConfig(float(overlay_alpha))))
        if detector is not None:
            from fusion_ros.heads.detection import DetectionHead
            heads.append(DetectionHead(detector))
        self.heads: dict[str, object] = {}
        for head in heads:
            if head.name in self.heads:
                raise ValueError(f'two {head.name!r} heads given; give each head once')
            self.heads[head.name] = head
        self._align = align or AlignConfig()
        self._swap_lock = threading.Lock()
        self._train_lock = threading.Lock()
        self._training_since: float | None = None
        self._resets = 0  # reset() count: a training started before a reset is discarded
        self.last_training: TrainResult | None = None
        self._version = 0
        self._active = ActiveModel(shipped, 0, time.time())

    # ------------------------------------------------------------------ state

    @property
    def segmenter(self):
        """The segmentation head's :class:`fusion_ros.segmentation.Segmenter`, or None."""
        head = self.heads.get('segmentation')
        return None if head is None else head.segmenter

    @property
    def detector(self):
        """The detection head's :class:`fusion_ros.detection.Detector`, or None."""
        head = self.heads.get('detection')
        return None if head is None else head.detector

    @property
    def active(self) -> ActiveModel:
        return self._active

    @property
    def align(self) -> AlignConfig:
        return self._align

    def set_align(self, align: AlignConfig) -> None:
        self._align = align

    @property
    def training_since(self) -> float | None:
        """``time.monotonic()`` when the running training started; None when none runs."""
        return self._training_since

    def swap(self, model: FusionModel) -> ActiveModel:
        """Make ``model`` the active one (atomically: frames in flight finish with the old one)."""
        with self._swap_lock:
            self._version += 1
            self._active = ActiveModel(model, self._version, time.time())
            return self._active

    def reset(self) -> ActiveModel:
        """Return to the shipped model (a new version number, so the change shows).

        A reset wins over a per-scene training running meanwhile: that training's model is discarded
        when it finishes, never swapped in (its :class:`TrainResult` says so). Whether one was running:
        :meth:`reset_training`.
        """
        return self.reset_training()[0]

    def reset_training(self) -> tuple[ActiveModel, float | None]:
        """:meth:`reset`, and for how long a training (now discarded) had been running (None: none was)."""
        with self._swap_lock:
            self._resets += 1
            since = self._training_since
            self._version += 1
            self._active = ActiveModel(self.shipped, self._version, time.time())
            return self._active, None if since is None else time.monotonic() - since

    # ------------------------------------------------------------------ inference

    def _fuse(self, rgb: np.ndarray, thermal: np.ndarray, model: FusionModel,
              align: AlignConfig) -> tuple[np.ndarray, np.ndarray, float, float]:
        rgb = np.asarray(rgb, dtype=np.float32)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ImageError(f'rgb: expected an (H, W, 3) image, got shape {rgb.shape}')
        t0 = time.perf_counter()
        registered = register_thermal(thermal, rgb.shape[:2], align, model.thermal_from_rgb, self.device)
        rgb_t = image_to_tensor(rgb, self.device)
        t1 = time.perf_counter()
        with torch.inference_mode():
            fused = model.fuse(rgb_t, registered).clamp(0.0, 1.0)
        fused_np, registered_np = tensor_to_image(fused), tensor_to_image(registered)
        return fused_np, registered_np, t1 - t0, time.perf_counter() - t1

    def process(self, rgb: np.ndarray, thermal: np.ndarray, *, heads: bool = True,
                align: AlignConfig | None = None) -> FrameOutput:
        """Fuse one pair (and run the heads).

        Args:
            rgb: ``(H, W, 3)`` float32 in [0, 1].
            thermal: ``(h, w)`` float32 in [0, 1], any resolution.
            heads: run the heads (:attr:`heads`) on the fused image.
            align: for this pair instead of :attr:`align` (e.g. :meth:`AlignConfig.rescaled` for resized inputs).
        """
        from fusion_ros.heads import HeadOutput

        active = self._active  # one read: the whole frame uses one model and its transform
        fused, registered, t_align, t_fuse = self._fuse(rgb, thermal, active.model, align or self._align)
        out = FrameOutput(fused, registered, active.model.name, active.version,
                          timings={'align': t_align, 'fuse': t_fuse})
        for name, head in (self.heads.items() if heads else ()):
            t0 = time.perf_counter()
            result = head.run(fused, thermal=registered) if getattr(head, 'uses_thermal', False) else head.run(fused)
            out.heads[name] = HeadOutput(result, head.draw(fused, result))
            out.timings[head.stage] = time.perf_counter() - t0
        return out

    # ------------------------------------------------------------------ per-scene training

    def train_scene(self, rgb: np.ndarray, thermal: np.ndarray, config: SceneFitConfig | None = None, *,
                    align: AlignConfig | None = None) -> TrainResult:
        """Train paper 000's per-scene model on one pair and swap it in if it is at least as good.

        The STN is trained when the alignment mode is ``'stn'``; otherwise the net is trained on the
        thermal image registered by the current alignment. The new model replaces the active one
        only if training finished, its output is finite and its SSIM score on the pair is not lower
        than the active model's; otherwise the active model stays and the message says why. A
        :meth:`reset` while it trains wins: the new model is discarded (``TrainResult.discarded``).
        ``align``: for this pair instead of :attr:`align` (see :meth:`process`).

        Raises:
            TrainingBusyError: a training is already running (this call does nothing).
        """
        return self._training(lambda resets: self._train(rgb, thermal, config or SceneFitConfig(), align, resets))

    def adapt_scene(self, pairs, config: AdaptConfig | None = None) -> TrainResult:
        """Fine-tune the active streaming net on the newest pairs of the stream (:mod:`fusion_ros.adapt`).

        ``pairs``: oldest first, ``(rgb (H, W, 3), thermal (H, W))`` float32 in [0, 1] with the thermal
        image already on the RGB grid (:attr:`FrameOutput.thermal_registered`); at least
        ``config.pairs_needed``. The newest ``train_pairs`` are trained on, the ``holdout_pairs`` before
        them judge: the new net replaces the active one only if none of its VIF, Qabf and SSIM (means
        over the held-out pairs) is lower and their sum is higher; ``before`` / ``after`` hold those
        scores. A :meth:`reset` while it
        trains wins (the training stops early and its net is discarded).

        Raises:
            TrainingBusyError: a training is already running (this call does nothing).
        """
        return self._training(lambda resets: self._adapt(list(pairs), config or AdaptConfig(), resets))

    def _training(self, run: Callable[[int], TrainResult]) -> TrainResult:
        if not self._train_lock.acquire(blocking=False):
            since = self._training_since
            running = f' for {time.monotonic() - since:.1f} s' if since is not None else ''
            raise TrainingBusyError(f'a scene training is already running{running}; wait for its result '
                                    'and call again')
        try:
            with self._swap_lock:  # one step: a reset() from now on discards this training
                self._training_since, resets = time.monotonic(), self._resets
            result = run(resets)
            self.last_training = result
            return result
        finally:
            self._training_since = None
            self._train_lock.release()

    def _adapt(self, pairs, config: AdaptConfig, resets: int) -> TrainResult:
        t0 = time.perf_counter()
        active = self._active
        net = getattr(active.model.fuse, 'net', None)
        if not isinstance(net, torch.nn.Module) or active.model.name == 'scene':
            return TrainResult(False, f"refused: adapt fine-tunes the active streaming net, but the active model is "
                               f"{active.label}, which has none; use train_scene_mode 'scene' (or "
                               f"fusion_model 'ssvif')", 0.0)
        if len(pairs) < config.pairs_needed:
            return TrainResult(False, f'refused: adapt needs {config.pairs_needed} recent pairs ({config.train_pairs} '
                               f'to train on, {config.holdout_pairs} to judge the result on), {len(pairs)} kept so '
                               'far; wait a few seconds of streaming and call again', 0.0)
        try:
            fit = adapt_net(net, pairs, config, should_stop=lambda: self._resets != resets)
        except Exception as exc:  # noqa: BLE001 - any failure keeps the previous model; reported, not hidden
            seconds = time.perf_counter() - t0
            return TrainResult(False, f'adapt failed after {seconds:.1f} s ({type(exc).__name__}: {exc}); '
                               f'kept {self._active.label}', seconds)
        seconds = time.perf_counter() - t0
        info = dict(epochs=fit.loop.steps, device=str(next(fit.net.parameters()).device))
        what = (f'trained on {config.train_pairs} pair(s), judged on {config.holdout_pairs} other recent '
                'pair(s)')
        if fit.skipped:
            return TrainResult(False, f'refused: {fit.skipped}; kept {active.label}. Raise the time '
                               'budget (adapt_time_budget_s; a streaming node and a duty below 1 slow the '
                               "judging) or use train_scene_mode 'scene'", seconds, fit.before, None, **info)
        if self._resets != resets:
            return self._discarded(fit.after, seconds, fit.before, info)
        if not fit.improved:
            return TrainResult(False, f'the adapted model ({what}) is not better on the held-out pairs '
                               f'({format_scores(fit.after)}) than {active.label} ({format_scores(fit.before)}); '
                               f'kept it. Took {seconds:.1f} s ({fit.timing()})', seconds, fit.before,
                               fit.after, **info)
        root = active.model.source.split(ADAPTED_FROM)[-1]  # repeated adapts name the file they started from
        candidate = FusionModel('ssvif', registry.get('ssvif').wrap(fit.net, None, backend='torch'),
                                f'adapted on the stream ({fit.loop.steps} steps){ADAPTED_FROM}{root}', None,
                                'torch channels_last')
        with self._swap_lock:  # a reset() since the start wins: discard, never swap in
            if self._resets != resets:
                return self._discarded(fit.after, seconds, fit.before, info)
            self._version += 1
            self._active = new = ActiveModel(candidate, self._version, time.time())
        return TrainResult(True, f'adapted in {seconds:.1f} s ({what}; {fit.timing()}); now {new.label}. '
                           f'Held-out before: '
                           f'{format_scores(fit.before)}. After: {format_scores(fit.after)}',
                           seconds, fit.before, fit.after, version=new.version, **info)

    def _train(self, rgb, thermal, config: SceneFitConfig, align: AlignConfig | None, resets: int) -> TrainResult:
        t0 = time.perf_counter()
        active, align = self._active, align or self._align
        rgb = np.asarray(rgb, dtype=np.float32)
        fused, registered, _, _ = self._fuse(rgb, thermal, active.model, align)
        before = pair_scores(rgb, registered, fused)
        stn = align.mode == 'stn'
        config = replace(config, model=replace(config.model, stn=stn))
        try:
            fit = fit_scene(rgb, np.asarray(thermal, np.float32) if stn else registered, config)
        except Exception as exc:  # noqa: BLE001 - any failure keeps the previous model; reported, not hidden
            seconds = time.perf_counter() - t0
            return TrainResult(False, f'training failed after {seconds:.1f} s ({type(exc).__name__}: {exc}); '
                               f'kept {self._active.label}', seconds, before, None)
        candidate = scene_fusion_model(fit.model.fusion, fit.thermal_from_rgb if stn else None, self.device,
                                       source=f'train_scene ({fit.loop.epochs} epochs on {fit.device})')
        fused_new, registered_new, _, _ = self._fuse(rgb, thermal, candidate, align)
        after = pair_scores(rgb, registered_new, fused_new)
        seconds = time.perf_counter() - t0
        info = dict(epochs=fit.loop.epochs, device=fit.device)
        if self._resets != resets:
            return self._discarded(after, seconds, before, info)
        if not (np.isfinite(fused_new).all() and all(math.isfinite(v) for v in after.values())):
            return TrainResult(False, f'training diverged (non-finite output) after {seconds:.1f} s; kept '
                               f'{active.label}', seconds, before, after, **info)
        if after[QUALITY_KEY] < before[QUALITY_KEY]:
            return TrainResult(False, f'the new model is not better ({_fmt_scores(after)}) than {active.label} '
                               f'({_fmt_scores(before)}); kept it. Took {seconds:.1f} s', seconds, before, after,
                               **info)
        with self._swap_lock:  # a reset() since the start wins: discard, never swap in
            if self._resets != resets:
                return self._discarded(after, seconds, before, info)
            self._version += 1
            self._active = new = ActiveModel(candidate, self._version, time.time())
        return TrainResult(True, f'trained in {seconds:.1f} s ({fit.loop.epochs} epochs on {fit.device}); '
                           f'now {new.label}. Before: {_fmt_scores(before)}. After: {_fmt_scores(after)}',
                           seconds, before, after, version=new.version, **info)

    def _discarded(self, after, seconds, before, info) -> TrainResult:
        return TrainResult(False, f'discarded: the model was reset (~/reset_model) during this training, so it '
                           f'stays {self._active.label}; the trained model ({_fmt_scores(after)}; '
                           f"{info['epochs']} epochs, {seconds:.1f} s) was thrown away", seconds, before, after,
                           discarded=True, **info)
