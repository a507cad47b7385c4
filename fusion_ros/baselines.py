"""Classical (training-free) fusion baselines, colour-aware like the project's own methods.

Each ``fuse_<name>(rgb, thermal) -> rgb_fused`` fuses the thermal/NIR image with the visible luma
``gray = rgb_to_gray(rgb)`` into a gray fusion in [0, 1] (``gray_<name>(thermal, gray)``), then puts the
colour back with :func:`fusion_ros.imaging.colorize`.

Shapes: ``rgb (B, 3, H, W)``, ``thermal (B, 1, H, W)``, float in [0, 1], same B, H, W; the result is
``(B, 3, H, W)`` float in [0, 1], the dtype of ``rgb``. ``BASELINES`` maps names to the colour
functions, ``GRAY_BASELINES`` to the gray ones; :func:`get_baseline` looks one up.
"""
from __future__ import annotations

import functools
import math
from typing import Callable

import torch
import torch.nn.functional as F

from fusion_ros.filters import gaussian_kernel1d, separable_filter
from fusion_ros.imaging import check_pair, colorize, rgb_to_gray

GrayFusion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Baseline = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

# --------------------------------------------------------------------------- pixel-wise rules


def gray_average(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``0.5 a + 0.5 b`` of two ``(B, 1, H, W)`` images."""
    return 0.5 * (a + b)


def gray_max(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pixel-wise maximum of two ``(B, 1, H, W)`` images."""
    return torch.maximum(a, b)


@functools.lru_cache(maxsize=16)
def _window_scale(h: int, w: int, radius: int, dtype: torch.dtype) -> torch.Tensor:
    """``(2r+1)^2 / (pixels of the window clipped to the image)``: ``(H, W)``, cached per size (a stream has one)."""
    import numpy as np

    def counts(n):
        i = np.arange(n)
        return (np.minimum(i + radius, n - 1) - np.maximum(i - radius, 0) + 1).astype(np.float64)
    k = 2 * radius + 1
    return torch.from_numpy(k * k / np.outer(counts(h), counts(w))).to(dtype)


def _box_mean_fast(x: torch.Tensor, radius: int) -> torch.Tensor:
    """:func:`box_mean` (windows clipped to the image) of a tensor that needs no gradient: on the CPU with
    OpenCV's box filter (zero border, divided by the window's pixel count), about 20x faster than torch's
    pooling at 640 x 480 (0.5 vs 9 ms, one thread); elsewhere with two 1-D average pools (exact as well)."""
    k = 2 * radius + 1
    if x.device.type != 'cpu' or x.dtype not in (torch.float32, torch.float64):
        x = F.avg_pool2d(x, (1, k), stride=1, padding=(0, radius), count_include_pad=False)
        return F.avg_pool2d(x, (k, 1), stride=1, padding=(radius, 0), count_include_pad=False)
    import cv2
    import numpy as np
    h, w = x.shape[-2:]
    scale = _window_scale(h, w, radius, x.dtype)
    flat = x.detach().reshape(-1, h, w).contiguous()
    out = torch.stack([torch.from_numpy(cv2.blur(plane.numpy(), (k, k), borderType=cv2.BORDER_CONSTANT))
                       for plane in flat])
    return (out * scale).reshape(x.shape)


def local_log_variance(x: torch.Tensor, radius: int = 3, floor: float = 1.0) -> torch.Tensor:
    """``log(var + floor)`` of ``x`` in 8-bit grey levels over ``(2 radius + 1)^2`` windows: same shape as
    ``x: (B, 1, H, W)`` in [0, 1]. ``floor`` (levels^2) keeps flat and 8-bit-noise windows alike."""
    x = x * 255.0
    mean, mean_sq = (_box_mean_fast(y, radius) for y in (x, x * x))
    return torch.log((mean_sq - mean * mean).clamp_min(0.0) + floor)


def smooth_map(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian smoothing of a slowly varying ``(B, 1, H, W)`` map with a large ``sigma`` (pixels): computed
    on a copy shrunk by ``sigma // 3`` (area) and resized back (bilinear), a few ms at 640 x 480."""
    h, w = x.shape[-2:]
    f = max(1, min(int(sigma // 3), h // 4, w // 4))
    small = F.avg_pool2d(x, f, ceil_mode=True) if f > 1 else x
    s = sigma / f
    r = max(1, min(int(math.ceil(3 * s)), min(small.shape[-2:]) - 1))
    small = separable_filter(small, gaussian_kernel1d(2 * r + 1, s, device=x.device, dtype=x.dtype), 'reflect')
    return F.interpolate(small, size=(h, w), mode='bilinear', align_corners=False) if f > 1 else small


def gray_texmax(a: torch.Tensor, b: torch.Tensor, *, radius: int = 3, sigma: float = 24.0,
                tau_thermal: float = 3.0, tau_visible: float = 1.0) -> torch.Tensor:
    """Texture-aware maximum: the max rule, except where one source is far more textured than the other.

    ``d = smooth(log var(a) - log var(b))`` (local variances over ``(2 radius + 1)^2`` windows in 8-bit
    levels, smoothed with a Gaussian of ``sigma`` pixels); the result copies ``a`` (thermal) where
    ``d > tau_thermal``, ``b`` (visible) where ``d < -tau_visible``, and ``max(a, b)`` elsewhere. Every output
    pixel is an exact copy of a source pixel, as with the max rule (the field's SSIM and MI reward exact
    copies), but a textured source is no longer hidden behind a brighter flat one: a bright but flat thermal
    background no longer covers the visible scene, and a flat bright sky no longer hides thermal structure.
    Chosen on the training split's validation pairs (BENCHMARKS.md, issue 8): sigma 24, tau 3 / 1.

    ``a``, ``b``: ``(B, 1, H, W)`` float in [0, 1] (thermal, visible luma); returns the same shape.
    """
    d = smooth_map(local_log_variance(a, radius) - local_log_variance(b, radius), sigma)
    out = torch.maximum(a, b)
    out = torch.where(d > tau_thermal, a, out)
    return torch.where(d < -tau_visible, b, out)


def pca_weights(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Classic PCA fusion weights per image: ``(B, 2)``, non-negative, summing to 1.

    The principal eigenvector ``v`` of the 2x2 covariance of the two sources' pixels, normalised as
    ``|v| / sum |v|`` (absolute values keep the weights convex when the sources are anti-correlated,
    where the textbook ``v / sum v`` would give negative weights). A constant source gets weight 0; two
    constant sources get 0.5 / 0.5.
    """
    x = torch.stack([a.flatten(1), b.flatten(1)], dim=1).double()  # (B, 2, N)
    x = x - x.mean(dim=2, keepdim=True)
    cov = x @ x.transpose(1, 2) / max(x.shape[2] - 1, 1)
    _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
    v = vecs[..., -1].abs()
    w = v / v.sum(dim=1, keepdim=True)
    flat = cov.diagonal(dim1=1, dim2=2).sum(dim=1, keepdim=True) <= 1e-20
    return torch.where(flat, torch.full_like(w, 0.5), w).to(a.dtype)


def gray_pca(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``w_a a + w_b b`` with the per-image weights of :func:`pca_weights`."""
    w = pca_weights(a, b).view(-1, 2, 1, 1)
    return w[:, :1] * a + w[:, 1:] * b


def _max_abs(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pick, per element, the coefficient of larger magnitude (``x`` on ties)."""
    return torch.where(x.abs() >= y.abs(), x, y)

# --------------------------------------------------------------------------- Laplacian pyramid


def _binomial_blur(x: torch.Tensor) -> torch.Tensor:
    """5-tap binomial blur ``[1 4 6 4 1] / 16`` along H and W, reflect borders (as ``cv2.pyrDown``)."""
    k = x.new_tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    if min(x.shape[-2:]) < 3:
        return x
    return separable_filter(x, k, padding='reflect')


def _pyr_down(x: torch.Tensor) -> torch.Tensor:
    return _binomial_blur(x)[..., ::2, ::2]


def _pyr_up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Zero-insertion upsampling then 4 x the binomial blur (as ``cv2.pyrUp``), cropped to ``size``."""
    b, c, h, w = x.shape
    up = x.new_zeros(b, c, 2 * h, 2 * w)
    up[..., ::2, ::2] = 4.0 * x
    return _binomial_blur(up)[..., :size[0], :size[1]]


def pyramid_levels(height: int, width: int, levels: int) -> int:
    """Levels of detail that fit: the coarsest base keeps at least 4 px on its shorter side."""
    fit = max(int(math.floor(math.log2(max(min(height, width), 1) / 4))), 0)
    return min(levels, fit)


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``[L_0, ..., L_{n-1}, G_n]``: ``n`` detail bands (finest first) and the base; sums back exactly."""
    out = []
    for _ in range(levels):
        down = _pyr_down(x)
        out.append(x - _pyr_up(down, x.shape[-2:]))
        x = down
    return out + [x]


def reconstruct_laplacian(pyramid: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of :func:`laplacian_pyramid`."""
    x = pyramid[-1]
    for detail in reversed(pyramid[:-1]):
        x = detail + _pyr_up(x, detail.shape[-2:])
    return x


def gray_laplacian(a: torch.Tensor, b: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """Laplacian-pyramid fusion (Burt & Adelson): max-abs detail coefficients, average base.

    ``levels`` is reduced for small images (see :func:`pyramid_levels`); the result is clipped to [0, 1].
    """
    n = pyramid_levels(*a.shape[-2:], levels)
    pa, pb = laplacian_pyramid(a, n), laplacian_pyramid(b, n)
    fused = [_max_abs(da, db) for da, db in zip(pa[:-1], pb[:-1])] + [0.5 * (pa[-1] + pb[-1])]
    return reconstruct_laplacian(fused).clamp(0.0, 1.0)

# --------------------------------------------------------------------------- wavelet (Haar DWT)
# PyWavelets is not installed in this project, so the DWT is an orthonormal Haar transform written
# in torch (perfect reconstruction, batched, runs on the GPU too).


def haar_dwt(x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One level of the orthonormal 2-D Haar DWT of ``(B, C, H, W)``: ``(LL, (LH, HL, HH))``, each
    ``(B, C, ceil(H/2), ceil(W/2))``; odd sides are padded by repeating the last row/column."""
    x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2), mode='replicate')
    p, q = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    r, s = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    return 0.5 * (p + q + r + s), (0.5 * (p - q + r - s), 0.5 * (p + q - r - s), 0.5 * (p - q - r + s))


def haar_idwt(ll: torch.Tensor, details: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
              size: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`haar_dwt`, cropped to ``size = (H, W)``."""
    lh, hl, hh = details
    b, c, h, w = ll.shape
    out = ll.new_empty(b, c, 2 * h, 2 * w)
    out[..., 0::2, 0::2] = 0.5 * (ll + lh + hl + hh)
    out[..., 0::2, 1::2] = 0.5 * (ll - lh + hl - hh)
    out[..., 1::2, 0::2] = 0.5 * (ll + lh - hl - hh)
    out[..., 1::2, 1::2] = 0.5 * (ll - lh - hl + hh)
    return out[..., :size[0], :size[1]]


def gray_wavelet(a: torch.Tensor, b: torch.Tensor, levels: int = 3) -> torch.Tensor:
    """DWT fusion: ``levels``-level Haar DWT, average approximation, max-abs detail coefficients.

    ``levels`` is reduced so that the approximation keeps at least 4 px; the result is clipped to [0, 1].
    """
    n = pyramid_levels(*a.shape[-2:], levels)
    sizes, details = [], []
    for _ in range(n):
        sizes.append(tuple(a.shape[-2:]))
        a, da = haar_dwt(a)
        b, db = haar_dwt(b)
        details.append(tuple(_max_abs(u, v) for u, v in zip(da, db)))
    x = 0.5 * (a + b)
    for size, d in zip(reversed(sizes), reversed(details)):
        x = haar_idwt(x, d, size)
    return x.clamp(0.0, 1.0)

# --------------------------------------------------------------------------- guided filtering (GFF)
# opencv-contrib's ximgproc.guidedFilter is not installed, so the guided filter (He et al. 2013) is
# written with O(1) box filters (cumulative sums), batched in torch.


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the ``(2r+1)^2`` window clipped to the image (He's ``boxfilter / N``): same shape as ``x``.

    Windows larger than the image are fine (they average what is inside).
    """
    for dim in (-2, -1):
        n = x.shape[dim]
        c = F.pad(torch.cumsum(x, dim=dim).movedim(dim, -1), (1, 0)).movedim(-1, dim)
        idx = torch.arange(n, device=x.device)
        lo = (idx - radius).clamp(0, n)
        hi = (idx + radius + 1).clamp(0, n)
        count = (hi - lo).to(x.dtype)
        shape = [1] * x.ndim
        shape[dim] = n
        x = (c.index_select(dim, hi) - c.index_select(dim, lo)) / count.view(shape)
    return x


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Gray guided filter (He, Sun & Tang): ``q = mean(a) I + mean(b)``, ``a = cov(I, p) / (var(I) + eps)``.

    ``guide``, ``src``: ``(B, 1, H, W)``; returns the filtered ``src``, same shape.
    """
    mean_i = box_mean(guide, radius)
    mean_p = box_mean(src, radius)
    cov_ip = box_mean(guide * src, radius) - mean_i * mean_p
    var_i = box_mean(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box_mean(a, radius) * guide + box_mean(b, radius)


def _saliency(x: torch.Tensor, gauss_radius: int, gauss_sigma: float) -> torch.Tensor:
    """``|Laplacian(x)|`` smoothed by a ``(2r+1)^2`` Gaussian (GFF step 2), replicate borders."""
    lap = x.new_tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    h = F.conv2d(F.pad(x, (1, 1, 1, 1), mode='replicate'), lap).abs()
    k = gaussian_kernel1d(2 * gauss_radius + 1, gauss_sigma, device=x.device, dtype=x.dtype)
    return separable_filter(F.pad(h, (gauss_radius,) * 4, mode='replicate'), k)


def gray_guided(a: torch.Tensor, b: torch.Tensor, *, base_radius: int = 15, gauss_radius: int = 5,
                gauss_sigma: float = 5.0, r1: int = 45, eps1: float = 0.3, r2: int = 7,
                eps2: float = 1e-6) -> torch.Tensor:
    """Guided-filter fusion (GFF) of Li, Kang & Hu (2013), with the paper's parameters.

    1. two-scale split: base ``B = mean_31x31(I)``, detail ``D = I - B``;
    2. saliency ``S = Gauss_11x11,sigma5(|Laplacian(I)|)``; binary weights ``P`` = 1 where a source is
       the most salient (ties to ``a``);
    3. weights refined by guided filtering with the source as guide: base ``W_B = GF_{r1, eps1}(P, I)``,
       detail ``W_D = GF_{r2, eps2}(P, I)``, normalised to sum to 1 per pixel;
    4. ``F = sum W_B B + sum W_D D``, clipped to [0, 1].
    """
    sources = (a, b)
    bases = [box_mean(x, base_radius) for x in sources]
    sal_a, sal_b = (_saliency(x, gauss_radius, gauss_sigma) for x in sources)
    p_a = (sal_a >= sal_b).to(a.dtype)
    masks = (p_a, 1.0 - p_a)
    w_base = [guided_filter(x, p, r1, eps1) for x, p in zip(sources, masks)]
    w_detail = [guided_filter(x, p, r2, eps2) for x, p in zip(sources, masks)]
    fused = _weighted(w_base, bases) + _weighted(w_detail, [x - base for x, base in zip(sources, bases)])
    return fused.clamp(0.0, 1.0)


def _weighted(weights: list[torch.Tensor], layers: list[torch.Tensor]) -> torch.Tensor:
    """``sum w_i x_i / sum w_i`` with negative weights clipped; equal weights where all are ~0."""
    w = torch.stack(weights).clamp_min(0.0)
    total = w.sum(dim=0)
    w = torch.where(total > 1e-8, w / total.clamp_min(1e-8), torch.full_like(w, 1.0 / len(weights)))
    return (w * torch.stack(layers)).sum(dim=0)

# --------------------------------------------------------------------------- colour wrappers, registry


GRAY_BASELINES: dict[str, GrayFusion] = {
    'average': gray_average,
    'max': gray_max,
    'pca': gray_pca,
    'laplacian': gray_laplacian,
    'wavelet': gray_wavelet,
    'guided': gray_guided,
    'texmax': gray_texmax,
}


def fuse_with(gray_fusion: GrayFusion, rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    """Check the pair, fuse ``thermal`` with the luma of ``rgb`` by ``gray_fusion``, colour the result.

    Returns ``(B, 3, H, W)`` in [0, 1] whose luma equals the gray fusion wherever that is reachable.
    """
    check_pair(rgb, thermal)
    gray = rgb_to_gray(rgb)
    fused = gray_fusion(thermal.to(gray.dtype), gray).clamp(0.0, 1.0)
    return colorize(rgb, fused)


def fuse_average(rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    """Average of thermal and visible luma, coloured: ``(B, 3, H, W)``."""
    return fuse_with(gray_average, rgb, thermal)


def fuse_max(rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    """Pixel-wise maximum of thermal and visible luma, coloured: ``(B, 3, H, W)``."""
    return fuse_with(gray_max, rgb, thermal)


def fuse_pca(rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    """PCA-weighted average (:func:`pca_weights`), coloured: ``(B, 3, H, W)``."""
    return fuse_with(gray_pca, rgb, thermal)


def fuse_laplacian(rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    """Laplacian-pyramid fusion (:func:`gray_laplacian`), coloured: ``(B, 3, H, W)``."""
    return fuse_with(gray_laplacian, rgb, thermal)


def fuse_wavelet(rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    """Haar DWT fusion (:func:`gray_wavelet`), coloured: ``(B, 3, H, W)``."""
    return fuse_with(gray_wavelet, rgb, thermal)


def fuse_guided(rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    """Guided-filter fusion (:func:`gray_guided`), coloured: ``(B, 3, H, W)``."""
    return fuse_with(gray_guided, rgb, thermal)


def fuse_texmax(rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    """Texture-aware maximum (:func:`gray_texmax`), coloured: ``(B, 3, H, W)``."""
    return fuse_with(gray_texmax, rgb, thermal)


BASELINES: dict[str, Baseline] = {
    'average': fuse_average,
    'max': fuse_max,
    'pca': fuse_pca,
    'laplacian': fuse_laplacian,
    'wavelet': fuse_wavelet,
    'guided': fuse_guided,
    'texmax': fuse_texmax,
}


def get_baseline(name: str) -> Baseline:
    """``BASELINES[name]``, or ``KeyError`` listing the valid names."""
    try:
        return BASELINES[name]
    except KeyError:
        raise KeyError(f'unknown baseline {name!r}; valid names: {", ".join(BASELINES)}') from None
