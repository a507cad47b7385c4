"""Differentiable forms of the field's fusion metrics (CDDFuse/VIFB conventions), as loss terms.

The published tables score a fusion with SSIM (7x7 uniform window, near-zero constants), Qabf, VIF and
Delta-E (:mod:`fusion_ros.metrics`). Their evaluation code is written for scoring, not for gradients
(square roots at zero, hard masks, 8-bit rounding). These are the same formulas on float luma in
[0, 1] with the singular points smoothed, so that a fusion model can be trained towards them:

* :func:`ssim_uniform_pair` - skimage's ``structural_similarity`` (7x7 uniform window, sample covariance,
  ``data_range`` given in 8-bit levels as CDDFuse's float call implies: 2), per image;
* :func:`qabf_soft` - Xydeas-Petrovic Qabf with ``sqrt(sx^2 + sy^2 + eps)`` and a smooth ``atan2``-free
  orientation, per image;
* :func:`fusion_ros.metrics.vif.vifp` is differentiable as written and is used directly;
* :func:`delta_e_lightness` - the CIEDE2000 lightness term between visible and fused colour images (for
  a fusion that keeps the visible chroma, as :func:`fusion_ros.imaging.colorize` does, this is what
  Delta-E measures).

All take ``(B, 1, H, W)`` (or ``(B, 3, H, W)`` for colour) float tensors in [0, 1] and return ``(B,)``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fusion_ros.metrics.color import rgb_to_lab
from fusion_ros.metrics.qabf import DA, DG, KA, KG, TA, TG
from fusion_ros.metrics.structural import ssim_uniform


def ssim_uniform_pair(x: torch.Tensor, y: torch.Tensor, *, win: int = 7, data_range: float = 2.0,
                      scale: float = 255.0) -> torch.Tensor:
    """skimage-convention SSIM of two ``(B, 1, H, W)`` images in [0, 1]: ``(B,)``.

    The metric's own :func:`fusion_ros.metrics.structural.ssim_uniform` (differentiable) on the images
    scaled by ``scale`` (8-bit levels), with CDDFuse's effective ``data_range`` 2 by default.
    """
    return ssim_uniform(x * scale, y * scale, win=win, data_range=data_range)


def _sobel(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    k = x.new_tensor([[[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]],
                      [[1., 2., 1.], [0., 0., 0.], [-1., -2., -1.]]]).unsqueeze(1)
    s = F.conv2d(x * 255.0, k, padding=1)
    sx, sy = s[:, :1], s[:, 1:]
    g = torch.sqrt(sx * sx + sy * sy + eps)
    # atan(sy / sx) in (-pi/2, pi/2): written as atan2 of sign-folded components so it stays smooth
    alpha = torch.atan2(sy * torch.sign(sx + 1e-12), sx.abs() + 1e-6)
    return g, alpha


def qabf_soft(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor, eps: float = 1e-2) -> torch.Tensor:
    """Qabf (L = 1, the usual constants) with smoothed strength and orientation: ``(B,)`` in [0, 1]."""
    ga, aa = _sobel(a, eps)
    gb, ab = _sobel(b, eps)
    gf, af = _sobel(f, eps)

    def transfer(gs, as_):
        rel_g = torch.minimum(gs, gf) / torch.maximum(gs, gf)
        rel_a = 1.0 - (as_ - af).abs() / (math.pi / 2)
        return TG / (1.0 + torch.exp(KG * (rel_g - DG))) * TA / (1.0 + torch.exp(KA * (rel_a - DA)))

    num = (transfer(ga, aa) * ga + transfer(gb, ab) * gb).flatten(1).sum(1)
    return num / (ga + gb).flatten(1).sum(1)


def delta_e_lightness(rgb_visible: torch.Tensor, rgb_fused: torch.Tensor) -> torch.Tensor:
    """Mean CIEDE2000 lightness difference ``|dL| / S_L`` of two ``(B, 3, H, W)`` sRGB images: ``(B,)``."""
    l1 = rgb_to_lab(rgb_visible.clamp(1e-4, 1.0))[:, :1]
    l2 = rgb_to_lab(rgb_fused.clamp(1e-4, 1.0))[:, :1]
    lbar = 0.5 * (l1 + l2)
    s_l = 1.0 + 0.015 * (lbar - 50.0) ** 2 / torch.sqrt(20.0 + (lbar - 50.0) ** 2)
    return (torch.sqrt((l1 - l2) ** 2 + 1e-6) / s_l).flatten(1).mean(1)
