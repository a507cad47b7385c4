"""Cross-spectral alignment loss for the STN: correlation of gradient magnitudes.

Thermal and visible intensities differ (even invert), but edges tend to coincide, so the STN is
driven to maximise the normalised cross-correlation of the two images' gradient magnitudes, computed
over the valid (inside-the-thermal-image) region at several blur scales (coarse scales widen the
capture range, fine scales give sub-pixel accuracy).
"""
from __future__ import annotations

import torch

from fusion_ros.filters import gaussian_blur, sobel_magnitude


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
