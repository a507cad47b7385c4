"""Structural fusion metrics: SSIM and MS-SSIM summed over both sources, and SCD.

The sums take ``a`` (thermal), ``b`` (visible luma) and ``f`` (fused luma), ``(B, 1, H, W)`` float in
[0, 1] (:func:`ssim_uniform_sum`: in 8-bit grey levels), and return ``(B,)`` float32; higher is better.
They follow VIFB's ``metricsSsim.m``, CDDFuse's ``Evaluator.SSIM`` and the SeAFusion-family
``Metric.py`` (``SSIM(A, F) + SSIM(B, F)``, so a perfect score is 2, not 1); paper 000's
``ssim_score`` is the 0.5/0.5 average of the same two terms.

Two SSIMs: :func:`ssim_uniform` is scikit-image's ``structural_similarity`` (7x7 uniform window, sample
covariance), which CDDFuse's evaluator calls, and so the registry's ``'SSIM'``; :func:`ssim_sum` is the
reference Gaussian 11x11 SSIM (the registry's ``'SSIM_gauss'``).
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
    """SSIM_gauss: ``SSIM(a, f) + SSIM(b, f)``, reference SSIM (Gaussian 11x11, sigma 1.5, L = 1 on [0, 1],
    i.e. L = 255 on 8-bit data; mean over the 'valid' window positions). Range [-2, 2].

    Not what the published tables call SSIM (that is :func:`ssim_uniform_sum`)."""
    check_gray(a, b, f)
    return (ssim(a, f) + ssim(b, f)).float()


# CDDFuse's evaluator calls skimage's SSIM on float images without data_range: skimage then takes the
# float dtype's range, [-1, 1], so data_range = 2 while the images hold 0..255 grey levels.
CDDFUSE_SSIM_DATA_RANGE = 2.0


def ssim_uniform(x: torch.Tensor, y: torch.Tensor, *, win: int = 7, data_range: float,
                 k1: float = 0.01, k2: float = 0.03, sample_covariance: bool = True) -> torch.Tensor:
    """Mean SSIM with a uniform window, as ``skimage.metrics.structural_similarity`` computes it.

    The local means, variances and covariance are ``win x win`` box averages; with
    ``sample_covariance`` (skimage's default) the variances and covariance are multiplied by
    ``n / (n - 1)``, ``n = win^2``. ``C1 = (k1 data_range)^2``, ``C2 = (k2 data_range)^2``. The SSIM map is
    averaged over the positions where the window fits inside the image, which is skimage's map (reflect
    padding) cropped by ``(win - 1) // 2`` pixels on each side. Computed in float64.

    Args:
        x, y: ``(B, C, H, W)`` float, same shape, any value range (``data_range`` must say it); ``H, W >=
            win``. With several channels the mean runs over channels too (skimage's ``channel_axis``).
        win: odd window side (skimage's ``win_size``, default 7).
        data_range: the ``L`` of ``C1`` and ``C2``; keyword-only and required, because the conventions
            differ: 255 for 8-bit grey levels by the book, but :data:`CDDFUSE_SSIM_DATA_RANGE` (2) for
            the published fusion tables, whose evaluator passes 0..255 values as floats (see
            :mod:`fusion_ros.metrics.convention`).
        k1, k2: the SSIM constants.
        sample_covariance: ``False`` for the population covariance of Wang et al. 2004.

    Returns:
        ``(B,)`` float32, in [-1, 1]; 1 for ``x == y``.

    Example:
        >>> x = torch.rand(2, 1, 16, 16) * 255
        >>> ssim_uniform(x, x, data_range=255.0).tolist()
        [1.0, 1.0]
    """
    tensors = isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)
    if not tensors or x.ndim != 4 or x.shape != y.shape:
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__ for t in (x, y)]
        raise ValueError(f'ssim_uniform: expected two (B, C, H, W) tensors of one shape, got {shapes}')
    if win < 1 or win % 2 == 0:
        raise ValueError(f'ssim_uniform: win must be odd and positive, got {win}')
    if min(x.shape[-2:]) < win:
        raise ValueError(f'ssim_uniform: images of {tuple(x.shape[-2:])} are smaller than the {win}px '
                         'window; use larger images or a smaller win')
    x, y = x.double(), y.double()
    c = x.shape[1]
    kernel = torch.full((win,), 1.0 / win, dtype=torch.float64, device=x.device)
    stats = separable_filter(torch.cat([x, y, x * x, y * y, x * y], dim=1), kernel)
    ux, uy, uxx, uyy, uxy = stats.split(c, dim=1)
    n = win * win
    cov_norm = n / (n - 1) if sample_covariance else 1.0
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1).float()


def ssim_uniform_sum(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor, *, win: int = 7,
                     data_range: float = CDDFUSE_SSIM_DATA_RANGE) -> torch.Tensor:
    """SSIM as the published tables compute it: ``ssim_uniform(a, f) + ssim_uniform(b, f)``.

    ``a``, ``b``, ``f``: ``(B, 1, H, W)`` in 8-bit grey levels (0..255 values as floats, as CDDFuse's
    evaluator holds them); ``data_range`` defaults to CDDFuse's effective 2 (so ``C1, C2`` are nearly 0).
    Returns ``(B,)`` float32, range [-2, 2].
    """
    check_gray(a, b, f)
    return (ssim_uniform(a, f, win=win, data_range=data_range)
            + ssim_uniform(b, f, win=win, data_range=data_range))


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
