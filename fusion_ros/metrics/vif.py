"""VIF for fusion: pixel-domain visual information fidelity (VIFP, Sheikh & Bovik 2006) of the fusion
against each source, summed: ``VIF = VIFP(a, f) + VIFP(b, f)``.

VIFP is the multi-scale pixel-domain version of Sheikh's ``vifp_mscale.m``, as used by the common
fusion evaluators (CDDFuse, SeAFusion/"Metric.py"): 4 scales; at scale ``s = 1..4`` a Gaussian window
of side ``N = 2^(5-s) + 1`` (17, 9, 5, 3) and sigma ``N / 5``; between scales the image is filtered
with that window ('valid') and subsampled by 2; noise variance ``sigma_n^2 = 2`` in 8-bit grey levels,
so images are scaled to [0, 255] first (VIFP is *not* scale invariant). Computed in float64.
"""
from __future__ import annotations

import torch

from fusion_ros.filters import gaussian_kernel1d, separable_filter
from fusion_ros.metrics._checks import check_gray

SIGMA_NSQ = 2.0
_EPS = 1e-10
_SCALES = 4


def _scale_terms(ref: torch.Tensor, dist: torch.Tensor, kernel: torch.Tensor,
                 sigma_nsq: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Numerator and denominator sums of one scale: two ``(B,)`` tensors (reference's masking order)."""
    c = ref.shape[1]
    stats = separable_filter(torch.cat([ref, dist, ref * ref, dist * dist, ref * dist], dim=1), kernel)
    mu1, mu2, rr, dd, rd = stats.split(c, dim=1)
    s1 = (rr - mu1 * mu1).clamp_min(0.0)
    s2 = (dd - mu2 * mu2).clamp_min(0.0)
    s12 = rd - mu1 * mu2

    g = s12 / (s1 + _EPS)
    sv = s2 - g * s12
    flat_ref = s1 < _EPS
    g = torch.where(flat_ref, torch.zeros_like(g), g)
    sv = torch.where(flat_ref, s2, sv)
    s1 = torch.where(flat_ref, torch.zeros_like(s1), s1)
    flat_dist = s2 < _EPS
    g = torch.where(flat_dist, torch.zeros_like(g), g)
    sv = torch.where(flat_dist, torch.zeros_like(sv), sv)
    negative = g < 0
    sv = torch.where(negative, s2, sv)
    g = torch.where(negative, torch.zeros_like(g), g)
    sv = torch.where(sv <= _EPS, torch.full_like(sv, _EPS), sv)

    num = torch.log10(1.0 + g * g * s1 / (sv + sigma_nsq)).flatten(1).sum(1)
    den = torch.log10(1.0 + s1 / sigma_nsq).flatten(1).sum(1)
    return num, den


def vifp(ref: torch.Tensor, dist: torch.Tensor, *, sigma_nsq: float = SIGMA_NSQ,
         scale: float = 255.0) -> torch.Tensor:
    """Multi-scale pixel-domain VIF of ``dist`` against ``ref``: ``(B,)`` float32.

    Args:
        ref, dist: ``(B, 1, H, W)`` float in [0, 1]; at least 17 x 17.
        sigma_nsq: HVS noise variance in the units of ``scale * image``.
        scale: multiplies the images first (255: 8-bit grey levels, as the reference code).

    Returns:
        ``sum_s num_s / sum_s den_s``; 1 for ``dist == ref``; can exceed 1 for a contrast-enhanced ``dist``.
        A constant ``ref`` carries no information (0 / 0); it gets 1, as in CDDFuse's evaluator.
        Scales whose window no longer fits the (subsampled) image are skipped: images smaller than
        about 64 x 64 px use fewer than 4 scales.
    """
    check_gray(ref, dist, names=('ref', 'dist'))
    if min(ref.shape[-2:]) < 2 ** _SCALES + 1:
        raise ValueError(f'vifp: images of {tuple(ref.shape[-2:])} are smaller than the 17x17 window of the '
                         'finest scale; use images of at least 17x17 pixels')
    x = ref.double() * scale
    y = dist.double() * scale
    num = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    den = torch.zeros_like(num)
    for s in range(1, _SCALES + 1):
        n = 2 ** (_SCALES - s + 1) + 1
        kernel = gaussian_kernel1d(n, n / 5.0, device=x.device, dtype=torch.float64)
        if s > 1:
            if min(x.shape[-2:]) < n:
                break
            x = separable_filter(x, kernel)[..., ::2, ::2]
            y = separable_filter(y, kernel)[..., ::2, ::2]
        if min(x.shape[-2:]) < n:
            break
        n_s, d_s = _scale_terms(x, y, kernel, sigma_nsq)
        num, den = num + n_s, den + d_s
    out = torch.where(den > 0, num / den.clamp_min(1e-300), torch.ones_like(den))
    return out.float()


def vif(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor, **kwargs) -> torch.Tensor:
    """VIF: ``VIFP(a, f) + VIFP(b, f)``: ``(B,)`` float32, higher is better (2 when ``f == a == b``).

    ``a``, ``b`` (thermal, visible luma) and ``f`` (fused luma): ``(B, 1, H, W)`` float in [0, 1].
    Keyword arguments as :func:`vifp`.
    """
    check_gray(a, b, f)
    return vifp(a, f, **kwargs) + vifp(b, f, **kwargs)
