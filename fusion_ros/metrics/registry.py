"""Every fusion metric behind one signature, for benchmarks and reports.

``METRICS[name](thermal, rgb, fused_rgb) -> (B,)`` with ``thermal (B, 1, H, W)``, ``rgb`` (the visible image)
and ``fused_rgb`` ``(B, 3, H, W)``, all float in [0, 1]. ``HIGHER_IS_BETTER[name]`` says which way is better
(only Delta-E is lower-is-better) and ``UNITS[name]`` the unit.

The field's metrics (EN, SD, SF, AG, MI, VIF, Qabf, SSIM, SSIM_gauss, MS-SSIM, SCD, DeltaE) follow the
convention of the published tables, CDDFuse's ``Evaluator.py``: each image is quantised to 8 bits as if
saved to PNG and grayed as OpenCV's ``BGR2GRAY`` in float32, rounded
(:func:`fusion_ros.metrics.convention.cddfuse_inputs`); a colour fusion is scored on that gray. With it,
SSIM is scikit-image's (7x7 uniform window, ``data_range`` 2;
:func:`~fusion_ros.metrics.structural.ssim_uniform`), SF and AG are plain means, MI is in nats;
``SSIM_gauss`` is the reference Gaussian 11x11 SSIM on the same grays. Paper 000's scores (SSIM_score,
Corr_score, Canny_score) keep that paper's protocol: the unquantised BT.601 luma
(``fusion_ros.imaging.rgb_to_gray``).

VIFB evaluates a colour fusion channel by channel and averages; the published Python tables, and this
project, score the gray.
"""
from __future__ import annotations

from typing import Callable

import torch

from fusion_ros.imaging import rgb_to_gray
from fusion_ros.metrics.color import delta_e
from fusion_ros.metrics.convention import EIGHT_BIT_MAX, CddfuseInputs, cddfuse_inputs, check_inputs
from fusion_ros.metrics.information import mutual_information
from fusion_ros.metrics.paper000 import canny_preservation, correlation_score, ssim_score
from fusion_ros.metrics.qabf import EXACT_TOL, qabf
from fusion_ros.metrics.statistics import average_gradient, entropy, spatial_frequency, standard_deviation
from fusion_ros.metrics.structural import ms_ssim_sum, scd, ssim_sum, ssim_uniform_sum
from fusion_ros.metrics.vif import vif

Metric = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _wrap(fn: Callable, body: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> Metric:
    body.__name__ = body.__qualname__ = fn.__name__
    body.__doc__ = fn.__doc__
    return body


def _unit(x: CddfuseInputs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return x.a / EIGHT_BIT_MAX, x.b / EIGHT_BIT_MAX, x.f / EIGHT_BIT_MAX


def on_fused(fn: Callable[..., torch.Tensor], **kwargs) -> Metric:
    """Wrap ``fn(f, **kwargs)`` into the uniform signature; ``f``: the fused gray of
    :func:`~fusion_ros.metrics.convention.cddfuse_inputs`, in [0, 1] (8-bit levels / 255)."""
    def metric(thermal, rgb, fused_rgb):
        return fn(_unit(cddfuse_inputs(thermal, rgb, fused_rgb))[2], **kwargs)
    return _wrap(fn, metric)


def on_sources(fn: Callable[..., torch.Tensor], *, levels: bool = False, **kwargs) -> Metric:
    """Wrap ``fn(a, b, f, **kwargs)`` (thermal, visible, fused grays of
    :func:`~fusion_ros.metrics.convention.cddfuse_inputs`) into the uniform signature: in [0, 1], or in 8-bit
    grey levels 0..255 with ``levels=True``."""
    def metric(thermal, rgb, fused_rgb):
        x = cddfuse_inputs(thermal, rgb, fused_rgb)
        return fn(*(x[:3] if levels else _unit(x)), **kwargs)
    return _wrap(fn, metric)


def on_colour(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Metric:
    """Wrap ``fn(rgb_visible, rgb_fused)`` into the uniform signature; both quantised to 8 bits first."""
    def metric(thermal, rgb, fused_rgb):
        x = cddfuse_inputs(thermal, rgb, fused_rgb)
        return fn(x.rgb, x.fused_rgb)
    return _wrap(fn, metric)


def on_luma(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> Metric:
    """Wrap ``fn(a, b, f)`` on the unquantised images: thermal, BT.601 luma of ``rgb`` and of ``fused_rgb``
    (paper 000's protocol)."""
    def metric(thermal, rgb, fused_rgb):
        check_inputs(thermal, rgb, fused_rgb)
        return fn(thermal, rgb_to_gray(rgb), rgb_to_gray(fused_rgb))
    return _wrap(fn, metric)


METRICS: dict[str, Metric] = {
    'EN': on_fused(entropy),
    'SD': on_fused(standard_deviation),
    'SF': on_fused(spatial_frequency, normalize='mean'),
    'AG': on_fused(average_gradient, normalize='mean'),
    'MI': on_sources(mutual_information),
    'VIF': on_sources(vif),
    'Qabf': on_sources(qabf, zero_tol=EXACT_TOL),
    'SSIM': on_sources(ssim_uniform_sum, levels=True),
    'SSIM_gauss': on_sources(ssim_sum),
    'MS-SSIM': on_sources(ms_ssim_sum),
    'SCD': on_sources(scd),
    'DeltaE': on_colour(delta_e),
    'SSIM_score': on_luma(ssim_score),
    'Corr_score': on_luma(correlation_score),
    'Canny_score': on_luma(canny_preservation),
}

HIGHER_IS_BETTER: dict[str, bool] = {name: name != 'DeltaE' for name in METRICS}

UNITS: dict[str, str] = {
    'EN': 'bits', 'SD': '8-bit grey levels', 'SF': '8-bit grey levels', 'AG': '8-bit grey levels',
    'MI': 'nats', 'VIF': 'ratio, sum of 2', 'Qabf': 'fraction', 'SSIM': 'sum of 2', 'SSIM_gauss': 'sum of 2',
    'MS-SSIM': 'sum of 2', 'SCD': 'sum of 2 correlations', 'DeltaE': 'CIEDE2000', 'SSIM_score': 'fraction',
    'Corr_score': 'fraction', 'Canny_score': 'fraction',
}


def get_metric(name: str) -> Metric:
    """``METRICS[name]``, or ``KeyError`` listing the valid names."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f'unknown metric {name!r}; valid names: {", ".join(METRICS)}') from None
