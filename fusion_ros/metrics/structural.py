"""Structural fusion metrics: SSIM and MS-SSIM summed over both sources, and SCD.

All take ``a`` (thermal), ``b`` (visible luma) and ``f`` (fused luma), ``(B, 1, H, W)`` float in [0, 1],
and return ``(B,)`` float32; higher is better. The sums follow VIFB's ``metricsSsim.m`` and the
SeAFusion-family ``Metric.py`` (``SSIM(A, F) + SSIM(B, F)``, so a perfect score is 2, not 1); paper
000's ``ssim_score`` is the 0.5/0.5 average of the same two terms.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from fusion_ros.filters import gaussian_kernel1d, separable_filter
from fusion_ros.losses.ssim import ssim
from fusion_ros.metrics._checks import check_gray
from fusion_ros.metrics.paper000 import correlation

# Wang, Simoncelli & Bovik 2003, the weights of the 5 scales, finest first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ssim_sum(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """SSIM: ``SSIM(a, f) + SSIM(b, f)``, reference SSIM (Gaussian 11x11, sigma 1.5, L = 1 on [0, 1],
    i.e. L = 255 on 8-bit data; mean over the 'valid' window positions). Range [-2, 2]."""
    check_gray(a, b, f)
    return (ssim(a, f) + ssim(b, f)).float()


def _ssim_and_cs(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor,
                 data_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean contrast-structure term ``(2 cov + C2) / (var_x + var_y + C2)``: two ``(B,)``."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    stats = separable_filter(torch.cat([x, y, x * x, y * y, x * y], dim=1), kernel)
    mu_x, mu_y, xx, yy, xy = stats.split(1, dim=1)
    cs_map = (2 * (xy - mu_x * mu_y) + c2) / ((xx - mu_x ** 2) + (yy - mu_y ** 2) + c2)
    ssim_map = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1) * cs_map
    return ssim_map.flatten(1).mean(1), cs_map.flatten(1).mean(1)


def ms_ssim_levels(height: int, width: int, window_size: int = 11, max_levels: int = 5) -> int:
    """How many MS-SSIM scales fit: the window must fit the image at every scale (sides halve, rounded up)."""
    levels, side = 0, min(height, width)
    while levels < max_levels and side >= window_size:
        levels += 1
        side = (side + 1) // 2
    return levels


def ms_ssim(x: torch.Tensor, y: torch.Tensor, *, window_size: int = 11, sigma: float = 1.5,
            data_range: float = 1.0, weights: tuple[float, ...] = MS_SSIM_WEIGHTS) -> torch.Tensor:
    """Multi-scale SSIM (Wang et al. 2003) of two ``(B, 1, H, W)`` images: ``(B,)`` in [0, 1].

    As ``pytorch_msssim.ms_ssim``: Gaussian 11x11 window (sigma 1.5), 'valid' filtering,
    ``prod_{j<M} relu(cs_j)^w_j * relu(ssim_M)^w_M``, 2x2 average pooling between scales (odd sides
    zero-padded). Small images fall back gracefully: only the first ``M`` scales whose side is at least
    ``window_size`` are used (5 scales need a shorter side >= 161 px), with their weights renormalised
    to sum to 1; ``M = 1`` is plain SSIM (clipped at 0). Images smaller than the window raise ``ValueError``.
    Returns the input dtype.
    """
    check_gray(x, y, names=('x', 'y'))
    levels = ms_ssim_levels(*x.shape[-2:], window_size=window_size, max_levels=len(weights))
    if levels == 0:
        raise ValueError(f'ms_ssim: images of {tuple(x.shape[-2:])} are smaller than the {window_size}px '
                         'window; use larger images or a smaller window_size')
    # Computed in the input dtype: with C1, C2 >= 1e-4 L^2, float32 cancellation errors are negligible.
    w = torch.tensor(weights[:levels], dtype=x.dtype, device=x.device)
    w = w / w.sum()
    kernel = gaussian_kernel1d(window_size, sigma, device=x.device, dtype=x.dtype)
    out = torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
    for j in range(levels):
        s, cs = _ssim_and_cs(x, y, kernel, data_range)
        if j < levels - 1:
            out = out * cs.clamp_min(0.0) ** w[j]
            pad = (x.shape[-2] % 2, x.shape[-1] % 2)
            x = F.avg_pool2d(x, kernel_size=2, padding=pad)
            y = F.avg_pool2d(y, kernel_size=2, padding=pad)
        else:
            out = out * s.clamp_min(0.0) ** w[j]
    return out.float()


def ms_ssim_sum(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor, **kwargs) -> torch.Tensor:
    """MS-SSIM: ``MS-SSIM(a, f) + MS-SSIM(b, f)``, range [0, 2]. Keyword arguments as :func:`ms_ssim`."""
    check_gray(a, b, f)
    return ms_ssim(a, f, **kwargs) + ms_ssim(b, f, **kwargs)


def scd(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """SCD, the sum of the correlations of differences (Aslantas & Bendes 2015):
    ``corr(f - b, a) + corr(f - a, b)`` with Pearson correlation over all pixels. Range [-2, 2].

    ``f - b`` is what the fusion took from ``a`` and vice versa; ``f = a + b`` scores 2. A correlation with
    a constant image counts 0 (e.g. ``corr(f - a, b)`` when ``f == a``). Symmetric in ``a`` and ``b``.
    """
    check_gray(a, b, f)
    a64, b64, f64 = a.double(), b.double(), f.double()
    return correlation(f64 - b64, a64) + correlation(f64 - a64, b64)
