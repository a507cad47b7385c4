"""Cross-spectral alignment loss for the STN: correlation of gradient magnitudes.

Thermal and visible intensities differ (even invert), but edges tend to coincide, so the STN is
driven to maximise the normalised cross-correlation of the two images' gradient magnitudes, computed
over the valid (inside-the-thermal-image) region at several blur scales (coarse scales widen the
capture range, fine scales give sub-pixel accuracy).
"""
from __future__ import annotations

import torch

from fusion_ros.filters import gaussian_blur, sobel, sobel_magnitude


def masked_ncc(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Weighted normalised cross-correlation per image. ``x, y, weight: (B, 1, H, W)`` -> ``(B,)`` in [-1, 1]."""
    w = weight.flatten(1)
    x, y = x.flatten(1), y.flatten(1)
    n = w.sum(1, keepdim=True).clamp_min(eps)
    mx, my = (w * x).sum(1, keepdim=True) / n, (w * y).sum(1, keepdim=True) / n
    dx, dy = x - mx, y - my
    cov = (w * dx * dy).sum(1)
    return cov / torch.sqrt((w * dx * dx).sum(1) * (w * dy * dy).sum(1) + eps)


def gradient_ncc_loss(moving: torch.Tensor, fixed: torch.Tensor, valid: torch.Tensor,
                      sigmas: tuple[float, ...] = (4.0, 2.0, 1.0)) -> torch.Tensor:
    """``mean over scales of 1 - NCC(|grad blur(moving)|, |grad blur(fixed)|)`` per image: ``(B,)`` in [0, 2].

    Args:
        moving: ``(B, 1, H, W)`` the warped thermal image.
        fixed: ``(B, 1, H, W)`` the gray visible image.
        valid: ``(B, 1, H, W)`` in [0, 1], where ``moving`` has real data.
        sigmas: blur scales in pixels of these images.
    """
    weight = (valid > 0.999).to(moving.dtype)
    terms = [1.0 - masked_ncc(sobel_magnitude(gaussian_blur(moving, s)), sobel_magnitude(gaussian_blur(fixed, s)),
                              weight) for s in sigmas]
    return torch.stack(terms).mean(0)


def normalized_gradient_loss(moving: torch.Tensor, fixed: torch.Tensor, valid: torch.Tensor,
                             sigmas: tuple[float, ...] = (4.0, 2.0, 1.0), eps: float = 1e-2) -> torch.Tensor:
    """Normalised gradient fields (Haber and Modersitzki 2006): ``1 - mean cos^2(angle of grad moving, grad fixed)``.

    Compares edge *directions* only, so it ignores contrast (even inverted contrast) between the two
    spectra; ``eps`` (in gradient units of [0, 1] images) keeps flat, noisy areas from voting.
    Same arguments and return shape as :func:`gradient_ncc_loss`; values in [0, 1].
    """
    weight = (valid > 0.999).to(moving.dtype)
    terms = []
    for s in sigmas:
        gm = sobel(gaussian_blur(moving, s))
        gf = sobel(gaussian_blur(fixed, s))
        dot = (gm * gf).sum(dim=2)
        nm = gm.pow(2).sum(dim=2) + eps ** 2
        nf = gf.pow(2).sum(dim=2) + eps ** 2
        cos2 = dot.pow(2) / (nm * nf)
        w = weight * torch.sqrt(nf)  # weight by the fixed image's edge strength
        terms.append(1.0 - (cos2 * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp_min(1e-8))
    return torch.stack(terms).mean(0)
