"""The image convention of the published fusion tables, applied in one place for the registry.

Published tables (CDDFuse, SeAFusion, paper 004's Table II, ...) are computed with CDDFuse's
``utils/Evaluator.py`` on image files. It reads every image with OpenCV as 8-bit 3-channel BGR
(``cv2.imread``), converts it to float32, turns it gray with ``cv2.COLOR_BGR2GRAY`` and rounds:

    gray = np.round(cv2.cvtColor(cv2.imread(path).astype(np.float32), cv2.COLOR_BGR2GRAY))

so the metrics see integer grey levels 0..255 held as floats, and a colour fusion is scored on that gray.
:func:`cddfuse_inputs` reproduces this from the tensors ``fusion-ros evaluate`` holds: each image is first
quantised to 8 bits as saving it to PNG does (``round(255 x)``, clipped; :func:`fusion_ros.io` saves so),
then grayed with :func:`opencv_gray`. A 1-channel thermal image read as 3 equal channels keeps its levels,
so the thermal gray is its 8-bit quantisation.

OpenCV computes ``0.299 R + 0.587 G + 0.114 B`` in float32. Before rounding, the result depends on the
order and on fused multiply-adds: OpenCV's vectorised path on CPUs with FMA (every x86-64 CPU with
AVX2) computes ``fma(R, 0.299, fma(B, 0.114, G * 0.587))``, which :func:`opencv_gray` reproduces bit for
bit; OpenCV's scalar path, ``(B * 0.114 + G * 0.587) + R * 0.299``, rounds 546 of the 2^24 colours (where
the exact value is a half level) to the other neighbour, one grey level apart.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from fusion_ros.imaging import GRAY_WEIGHTS, check_pair
from fusion_ros.metrics._checks import GRAY_LEVELS

EIGHT_BIT_MAX = float(GRAY_LEVELS - 1)
# The BT.601 weights as float32 numbers (OpenCV's R2YF, G2YF, B2YF), widened exactly to float64.
_R, _G, _B = (float(torch.tensor(w, dtype=torch.float32)) for w in GRAY_WEIGHTS)


class CddfuseInputs(NamedTuple):
    """What CDDFuse's evaluator sees of one batch.

    a: thermal gray, b: visible gray, f: fused gray; ``(B, 1, H, W)`` float64 holding integer grey
        levels 0..255 (``/ 255`` gives the [0, 1] images the metric functions take).
    rgb, fused_rgb: the visible and the fused colour image quantised to 8 bits, ``(B, 3, H, W)`` float64
        in [0, 1] (multiples of 1/255), RGB order.
    """
    a: torch.Tensor
    b: torch.Tensor
    f: torch.Tensor
    rgb: torch.Tensor
    fused_rgb: torch.Tensor


def to_8bit(x: torch.Tensor) -> torch.Tensor:
    """Quantise a float image in [0, 1] as saving it to an 8-bit PNG does: ``round(255 clip(x, 0, 1))``.

    Any shape; returns float64 grey levels 0..255 (integers; halves round to even, as ``np.round``). The
    product is taken in the input's float dtype, as :func:`fusion_ros.io.write_image` does with numpy, so a
    float32 image gives the levels of the PNG the project would write.
    """
    x = x.detach()
    if not x.is_floating_point():
        x = x.double()
    return torch.round(x.clamp(0.0, 1.0) * EIGHT_BIT_MAX).double()


def opencv_gray(rgb8: torch.Tensor) -> torch.Tensor:
    """``np.round(cv2.cvtColor(bgr.astype(np.float32), cv2.COLOR_BGR2GRAY))`` of an 8-bit image.

    Args:
        rgb8: ``(B, 3, H, W)`` grey levels 0..255 (integer values, any float or integer dtype), RGB order.

    Returns:
        ``(B, 1, H, W)`` float64 integer grey levels 0..255: BT.601 ``0.299 R + 0.587 G + 0.114 B`` in
        float32 with OpenCV's fused multiply-adds (module docstring), rounded half to even.
    """
    if not isinstance(rgb8, torch.Tensor) or rgb8.ndim != 4 or rgb8.shape[1] != 3:
        shape = tuple(rgb8.shape) if isinstance(rgb8, torch.Tensor) else type(rgb8).__name__
        raise ValueError(f'opencv_gray: expected (B, 3, H, W) 8-bit levels, got {shape}')
    r, g, b = rgb8.double().unbind(dim=1)
    # An 8-bit level times a float32 weight, plus a float32 partial sum, is exact in float64; casting
    # to float32 then rounds once, which is what a float32 fused multiply-add does.
    y = (g * _G).float().double()
    y = (b * _B + y).float().double()
    y = (r * _R + y).float().double()
    return torch.round(y).unsqueeze(1)


def check_inputs(thermal: torch.Tensor, rgb: torch.Tensor, fused_rgb: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``thermal (B, 1, H, W)``, ``rgb`` and ``fused_rgb (B, 3, H, W)`` are finite
    tensors on one grid (the registry's signature)."""
    check_pair(rgb, thermal)
    if not isinstance(fused_rgb, torch.Tensor) or tuple(fused_rgb.shape) != tuple(rgb.shape):
        shape = tuple(fused_rgb.shape) if isinstance(fused_rgb, torch.Tensor) else type(fused_rgb).__name__
        raise ValueError(f'fused_rgb: expected the shape of rgb {tuple(rgb.shape)}, got {shape}; '
                         'colour a gray fusion first (fusion_ros.imaging.colorize)')
    if not torch.isfinite(fused_rgb).all():
        raise ValueError('fused_rgb contains NaN or inf; metrics need finite images in [0, 1]')


def cddfuse_inputs(thermal: torch.Tensor, rgb: torch.Tensor, fused_rgb: torch.Tensor) -> CddfuseInputs:
    """The images CDDFuse's evaluator would score, had the three been saved as 8-bit PNGs.

    Args:
        thermal: ``(B, 1, H, W)`` float in [0, 1].
        rgb: the visible image, ``(B, 3, H, W)`` float in [0, 1].
        fused_rgb: the fused colour image, ``(B, 3, H, W)`` float in [0, 1] (colour a gray fusion first,
            ``fusion_ros.imaging.colorize``; a gray fusion repeated on 3 channels scores as itself).

    Returns:
        :class:`CddfuseInputs`: the three grays in 8-bit levels and the two colour images quantised.
        Values outside [0, 1] are clipped. Raises ``ValueError`` for shapes that do not match.
    """
    check_inputs(thermal, rgb, fused_rgb)
    rgb8, fused8 = to_8bit(rgb), to_8bit(fused_rgb)
    return CddfuseInputs(a=to_8bit(thermal), b=opencv_gray(rgb8), f=opencv_gray(fused8),
                         rgb=rgb8 / EIGHT_BIT_MAX, fused_rgb=fused8 / EIGHT_BIT_MAX)
