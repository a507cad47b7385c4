"""Every fusion metric behind one signature, for benchmarks and reports.

``METRICS[name](thermal, rgb, fused_rgb) -> (B,)`` with ``thermal (B, 1, H, W)``, ``rgb`` (the visible image)
and ``fused_rgb`` ``(B, 3, H, W)``, all float in [0, 1]. Gray metrics see the BT.601 luma of ``rgb`` and
``fused_rgb`` (``fusion_ros.imaging.rgb_to_gray``); ``'DeltaE'`` compares the two colour images.
``HIGHER_IS_BETTER[name]`` says which way is better (only Delta-E is lower-is-better).

VIFB evaluates a colour fusion channel by channel and averages; this project scores the luma instead,
which is what the gray metrics of a luma-only fusion (plus :func:`fusion_ros.imaging.colorize`) measure.
"""
from __future__ import annotations

from typing import Callable

import torch

from fusion_ros.imaging import check_pair, rgb_to_gray
from fusion_ros.metrics.color import delta_e
from fusion_ros.metrics.information import mutual_information
from fusion_ros.metrics.paper000 import canny_preservation, correlation_score, ssim_score
from fusion_ros.metrics.qabf import qabf
from fusion_ros.metrics.statistics import average_gradient, entropy, spatial_frequency, standard_deviation
from fusion_ros.metrics.structural import ms_ssim_sum, scd, ssim_sum
from fusion_ros.metrics.vif import vif

Metric = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _check(thermal: torch.Tensor, rgb: torch.Tensor, fused_rgb: torch.Tensor) -> None:
    check_pair(rgb, thermal)
    if not isinstance(fused_rgb, torch.Tensor) or tuple(fused_rgb.shape) != tuple(rgb.shape):
        shape = tuple(fused_rgb.shape) if isinstance(fused_rgb, torch.Tensor) else type(fused_rgb).__name__
        raise ValueError(f'fused_rgb: expected the shape of rgb {tuple(rgb.shape)}, got {shape}; '
                         'colour a gray fusion first (fusion_ros.imaging.colorize)')


def on_fused(fn: Callable[[torch.Tensor], torch.Tensor]) -> Metric:
    """Wrap ``fn(f)`` (fused luma only) into the uniform signature."""
    def metric(thermal, rgb, fused_rgb):
        _check(thermal, rgb, fused_rgb)
        return fn(rgb_to_gray(fused_rgb))
    metric.__name__ = metric.__qualname__ = fn.__name__
    metric.__doc__ = fn.__doc__
    return metric


def on_sources(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> Metric:
    """Wrap ``fn(a, b, f)`` (thermal, visible luma, fused luma) into the uniform signature."""
    def metric(thermal, rgb, fused_rgb):
        _check(thermal, rgb, fused_rgb)
        return fn(thermal, rgb_to_gray(rgb), rgb_to_gray(fused_rgb))
    metric.__name__ = metric.__qualname__ = fn.__name__
    metric.__doc__ = fn.__doc__
    return metric


def on_colour(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Metric:
    """Wrap ``fn(rgb_visible, rgb_fused)`` into the uniform signature."""
    def metric(thermal, rgb, fused_rgb):
        _check(thermal, rgb, fused_rgb)
        return fn(rgb, fused_rgb)
    metric.__name__ = metric.__qualname__ = fn.__name__
    metric.__doc__ = fn.__doc__
    return metric


METRICS: dict[str, Metric] = {
    'EN': on_fused(entropy),
    'SD': on_fused(standard_deviation),
    'SF': on_fused(spatial_frequency),
    'AG': on_fused(average_gradient),
    'MI': on_sources(mutual_information),
    'VIF': on_sources(vif),
    'Qabf': on_sources(qabf),
    'SSIM': on_sources(ssim_sum),
    'MS-SSIM': on_sources(ms_ssim_sum),
    'SCD': on_sources(scd),
    'DeltaE': on_colour(delta_e),
    'SSIM_score': on_sources(ssim_score),
    'Corr_score': on_sources(correlation_score),
    'Canny_score': on_sources(canny_preservation),
}

HIGHER_IS_BETTER: dict[str, bool] = {name: name != 'DeltaE' for name in METRICS}

UNITS: dict[str, str] = {
    'EN': 'bits', 'SD': '8-bit grey levels', 'SF': '8-bit grey levels', 'AG': '8-bit grey levels',
    'MI': 'nats', 'VIF': 'ratio, sum of 2', 'Qabf': 'fraction', 'SSIM': 'sum of 2', 'MS-SSIM': 'sum of 2',
    'SCD': 'sum of 2 correlations', 'DeltaE': 'CIEDE2000', 'SSIM_score': 'fraction',
    'Corr_score': 'fraction', 'Canny_score': 'fraction',
}


def get_metric(name: str) -> Metric:
    """``METRICS[name]``, or ``KeyError`` listing the valid names."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f'unknown metric {name!r}; valid names: {", ".join(METRICS)}') from None
