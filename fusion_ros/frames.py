"""What the fusion node does to each decoded input pair before fusing it (ROS-free).

:func:`prepare_pair` takes the decoded pixels of one RGB + thermal pair (as
:func:`fusion_ros.encodings.msg_to_array` returns them) and gives the float images the engine fuses:

* **Size bound.** An image whose longer side exceeds ``max_side`` (the node's ``max_input_side``) is
  resized to fit (``cv2.INTER_AREA``, on the raw pixels, before any float copy), so the time and
  memory per frame stay bounded whatever a camera sends (a 4000x3000 pair took 12 s and 4.2 GB
  unbounded, issue 9). The outputs then lie on the smaller RGB grid; :func:`scale_matrix` gives the
  pixel mapping, for the camera calibration (:func:`scale_intrinsics`) and a fixed homography.
* **Thermal content.** A colour image on the thermal input (``bgr8``, ``rgba8``, a colour JPEG) is
  reduced to its luma and noted (``'thermal_colour'``): a false-colour palette is not undone. A thermal
  image without one finite pixel (all NaN/inf ``32FC1``) is refused (:class:`ImageError`): there is
  nothing to fuse.

Notes (``PreparedPair.notes``) map a key to one line for people, saying what happened and how to
avoid it; the node counts them in ``/diagnostics`` and logs them, throttled (:class:`Throttle`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from fusion_ros.encodings import rgb_array_to_float, thermal_array_to_float
from fusion_ros.imaging import ImageError, ThermalNormConfig

NOTE_RESIZED = 'resized'
NOTE_THERMAL_COLOUR = 'thermal_colour'


def fitted_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """``(width, height)`` scaled down (aspect kept, at least 1 pixel) so the longer side is at most
    ``max_side``; unchanged when it already fits or ``max_side`` is 0 (no limit)."""
    longer = max(width, height)
    if max_side <= 0 or longer <= max_side:
        return int(width), int(height)
    scale = max_side / longer
    return max(1, round(width * scale)), max(1, round(height * scale))


def scale_matrix(scale: tuple[float, float]) -> np.ndarray:
    """The 3x3 map from pixel coordinates of an image to those of its copy resized by ``(sx, sy)``
    (pixel centres at integer coordinates, as cv2.resize and OpenCV's camera models use)."""
    sx, sy = scale
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def scale_intrinsics(k, p, scale: tuple[float, float], *, binning: tuple[int, int] = (1, 1),
                     offset: tuple[int, int] = (0, 0)) -> tuple[list[float], list[float]]:
    """A camera's ``K`` (9, row-major) and ``P`` (12) for its image resized by ``(sx, sy)``: ``S @ K``,
    ``S @ P`` with :func:`scale_matrix` (focal lengths, principal point and ``P``'s ``Tx``/``Ty`` scale;
    distortion and rectification are unchanged). A matrix of zeros (uncalibrated) stays zeros.

    ``binning`` and ``offset`` (a CameraInfo's ``binning_x/y`` and ROI offset, which ``K`` and ``P`` do
    not include) are applied first, so the result describes the resized image itself (binning 1, no ROI).
    """
    bx, by = (max(1, int(b)) for b in binning)
    to_image = np.array([[1.0 / bx, 0.0, -offset[0] / bx], [0.0, 1.0 / by, -offset[1] / by], [0.0, 0.0, 1.0]])
    s = scale_matrix(scale) @ to_image
    k = np.asarray(k, np.float64).reshape(3, 3)
    p = np.asarray(p, np.float64).reshape(3, 4)
    k_new = s @ k if k.any() else k
    p_new = s @ p if p.any() else p
    return [float(v) for v in k_new.ravel()], [float(v) for v in p_new.ravel()]


def bound_size(pixels: np.ndarray, max_side: int) -> tuple[np.ndarray, tuple[float, float]]:
    """``pixels`` resized (INTER_AREA) so the longer side is at most ``max_side``, and the scale
    ``(new_width / width, new_height / height)``; unchanged (scale 1, 1) when it fits."""
    height, width = pixels.shape[:2]
    new_w, new_h = fitted_size(width, height, max_side)
    if (new_w, new_h) == (width, height):
        return pixels, (1.0, 1.0)
    resized = cv2.resize(pixels, (new_w, new_h), interpolation=cv2.INTER_AREA)
    if pixels.ndim == 3 and resized.ndim == 2:  # cv2 drops a channel axis of size 1
        resized = resized[..., None]
    return resized, (new_w / width, new_h / height)


@dataclass
class PreparedPair:
    """One pair ready for the engine.

    rgb: ``(H, W, 3)`` float32 in [0, 1]; thermal: ``(h, w)`` float32 in [0, 1].
    rgb_scale, thermal_scale: ``(sx, sy)`` of the resize (``(1.0, 1.0)``: as received).
    rgb_input_size: ``(width, height)`` of the RGB image as received.
    notes: ``{key: one line}`` for what was done to the pair (see the module docstring).
    """
    rgb: np.ndarray
    thermal: np.ndarray
    rgb_scale: tuple[float, float] = (1.0, 1.0)
    thermal_scale: tuple[float, float] = (1.0, 1.0)
    rgb_input_size: tuple[int, int] = (0, 0)
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def resized(self) -> bool:
        return self.rgb_scale != (1.0, 1.0) or self.thermal_scale != (1.0, 1.0)


def check_thermal(pixels: np.ndarray, encoding: str = '') -> dict[str, str]:
    """Notes on a decoded thermal image; raises :class:`ImageError` when it has no finite pixel."""
    notes = {}
    what = f' ({encoding})' if encoding else ''
    if np.issubdtype(pixels.dtype, np.floating) and not np.isfinite(pixels).any():
        raise ImageError(f'thermal{what}: every pixel is NaN or inf, nothing to fuse; the pair is skipped. '
                         'Check the camera (still starting? out of its range?) or its driver\'s invalid-pixel value')
    if pixels.ndim == 3 and pixels.shape[2] > 1:
        notes[NOTE_THERMAL_COLOUR] = (
            f'thermal: colour images{what} on the thermal topic are reduced to their luma (a false-colour palette '
            "is not undone); publish the camera's raw mono8, mono16 or 32FC1, or its grayscale palette")
    return notes


def prepare_pair(rgb_pixels: np.ndarray, thermal_pixels: np.ndarray, *, max_side: int = 0,
                 thermal_norm: ThermalNormConfig | None = None, thermal_encoding: str = '') -> PreparedPair:
    """Bound, check and normalise one decoded pair (see the module docstring).

    Args:
        rgb_pixels, thermal_pixels: decoded arrays (:func:`fusion_ros.encodings.msg_to_array`).
        max_side: largest image side in pixels (0: no limit).
        thermal_norm: thermal normalisation (default: 0.5-99.5 percentiles).
        thermal_encoding: the thermal message's encoding or format, for the notes.

    Raises:
        ImageError: an unusable image (no finite thermal pixel, a shape that is not an image).
    """
    notes = check_thermal(thermal_pixels, thermal_encoding)
    height, width = rgb_pixels.shape[:2]
    rgb_pixels, rgb_scale = bound_size(rgb_pixels, max_side)
    thermal_in = thermal_pixels.shape[:2]
    thermal_pixels, thermal_scale = bound_size(thermal_pixels, max_side)
    if rgb_scale != (1.0, 1.0) or thermal_scale != (1.0, 1.0):
        parts = []
        if rgb_scale != (1.0, 1.0):
            parts.append(f'rgb {width}x{height} -> {rgb_pixels.shape[1]}x{rgb_pixels.shape[0]}')
        if thermal_scale != (1.0, 1.0):
            parts.append(f'thermal {thermal_in[1]}x{thermal_in[0]} -> '
                         f'{thermal_pixels.shape[1]}x{thermal_pixels.shape[0]}')
        notes[NOTE_RESIZED] = (
            f'inputs larger than max_input_side ({max_side} px) are resized: {", ".join(parts)}; fused/image, '
            'thermal/registered and fused/camera_info are on the resized RGB grid. Raise max_input_side '
            '(0: no limit) to keep the full resolution, at the cost of time and memory per frame')
    return PreparedPair(rgb_array_to_float(rgb_pixels), thermal_array_to_float(thermal_pixels, thermal_norm),
                        rgb_scale, thermal_scale, (int(width), int(height)), notes)


class Throttle:
    """At most one ``True`` per key every ``period_s`` seconds: for log lines that would repeat every frame."""

    def __init__(self, period_s: float = 10.0):
        self.period_s = period_s
        self._last: dict[str, float] = {}

    def ready(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        last = self._last.get(key)
        if last is not None and now - last < self.period_s:
            return False
        self._last[key] = now
        return True
