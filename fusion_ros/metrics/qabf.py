"""Qabf: gradient-based fusion performance of Xydeas & Petrovic (2000), as in VIFB's ``metricsQabf.m``.

For each source X in {A, B}, with Sobel responses ``sx, sy`` (3x3, zero padding as MATLAB's
``conv2(..., 'same')``), strength ``g = sqrt(sx^2 + sy^2)`` and orientation ``alpha = atan(sy / sx)``
(``pi / 2`` where ``sx == 0``; "0" and "equal" here mean within ``ZERO_TOL = 1e-3`` grey levels):

* relative strength ``G_XF = g_F / g_X`` if ``g_X > g_F``, ``g_X / g_F`` if ``g_X < g_F``, and, as in the
  reference code, ``g_F`` itself where they are equal (a quirk: 0 where both are 0; where they are
  equal and non-zero it is the 8-bit gradient, which saturates the sigmoid like ``G = 1`` would);
* relative orientation ``A_XF = 1 - |alpha_X - alpha_F| / (pi / 2)``;
* ``Q_XF = Tg / (1 + exp(kg (G_XF - Dg))) * Ta / (1 + exp(ka (A_XF - Da)))``, constants
  ``L = 1, Tg = 0.9994, kg = -15, Dg = 0.5, Ta = 0.9879, ka = -22, Da = 0.8``;

and ``Qabf = sum(Q_AF g_A + Q_BF g_B) / sum(g_A + g_B)`` (weights ``g^L``, L = 1). Images are scaled to
8-bit grey levels (only the equal-strength quirk and ``ZERO_TOL`` depend on it). Range [0, ~0.975]: the
sigmoids cap a perfect transfer at ``Q0 = 0.9994 * 0.9879 / (1 + e^-4.4) ~= 0.9753``. Higher is better.
Sources without any gradient (both constant) give 0 (the reference divides 0 by 0).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fusion_ros.metrics._checks import check_gray

TG, KG, DG = 0.9994, -15.0, 0.5
TA, KA, DA = 0.9879, -22.0, 0.8
L_EXPONENT = 1.0
# Responses below this many 8-bit grey levels count as 0: on 8-bit data the reference's exact tests
# (``sx == 0``, ``g_A == g_F``) see integers, while float32 input carries ~1e-4 of rounding noise.
ZERO_TOL = 1e-3
# For integer-valued (8-bit) images held in float64, as the registry passes them: their noise is ~1e-12,
# while distinct Sobel strengths sqrt(n) != sqrt(m) of 8-bit data can differ by only ~3e-4, which
# ZERO_TOL would merge; this tolerance keeps the reference's exact tests exact.
EXACT_TOL = 1e-6


def sobel_strength_orientation(x: torch.Tensor, scale: float = 255.0,
                               zero_tol: float = ZERO_TOL) -> tuple[torch.Tensor, torch.Tensor]:
    """Sobel strength and orientation of ``x: (B, 1, H, W)`` (zero padding): two ``(B, 1, H, W)`` float64.

    ``|sx| < zero_tol`` (in the units of ``scale * x``) counts as ``sx == 0`` (orientation ``pi / 2``)."""
    x = x.double() * scale
    kx = x.new_tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])
    ky = x.new_tensor([[1., 2., 1.], [0., 0., 0.], [-1., -2., -1.]])
    # conv2d correlates where MATLAB's conv2 convolves: both responses change sign, which leaves the
    # strength and atan(sy / sx) unchanged.
    s = F.conv2d(x, torch.stack([kx, ky]).unsqueeze(1), padding=1)
    sx, sy = s[:, :1], s[:, 1:]
    g = torch.sqrt(sx * sx + sy * sy)
    zero = sx.abs() < zero_tol
    alpha = torch.where(zero, torch.full_like(sx, math.pi / 2), torch.atan(sy / torch.where(zero, 1.0, sx)))
    return g, alpha


def gradient_transfer(g_src: torch.Tensor, a_src: torch.Tensor, g_f: torch.Tensor,
                      a_f: torch.Tensor, zero_tol: float = ZERO_TOL) -> torch.Tensor:
    """Per-pixel ``Q_XF`` of the module docstring from strengths and orientations: same shape as inputs.
    Strengths closer than ``zero_tol`` count as equal."""
    ratio = torch.where(g_src > g_f, g_f / g_src.clamp_min(1e-300), g_src / g_f.clamp_min(1e-300))
    rel_g = torch.where((g_src - g_f).abs() < zero_tol, g_f, ratio)
    rel_a = 1.0 - (a_src - a_f).abs() / (math.pi / 2)
    q_g = TG / (1.0 + torch.exp(KG * (rel_g - DG)))
    q_a = TA / (1.0 + torch.exp(KA * (rel_a - DA)))
    return q_g * q_a


def qabf(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor, *, zero_tol: float = ZERO_TOL) -> torch.Tensor:
    """Qabf of fusion ``f`` of sources ``a`` and ``b`` (module docstring): ``(B,)`` float32.

    ``a`` (thermal), ``b`` (visible luma), ``f`` (fused luma): ``(B, 1, H, W)`` float in [0, 1].
    ``zero_tol``: grey levels below which a Sobel response or a strength difference counts as 0
    (``ZERO_TOL`` for float32 images; ``EXACT_TOL`` for 8-bit images held in float64, as the registry
    passes them, which makes the reference's exact tests exact). Symmetric in ``a`` and ``b``.
    """
    check_gray(a, b, f)
    g_a, al_a = sobel_strength_orientation(a, zero_tol=zero_tol)
    g_b, al_b = sobel_strength_orientation(b, zero_tol=zero_tol)
    g_f, al_f = sobel_strength_orientation(f, zero_tol=zero_tol)
    w_a, w_b = g_a ** L_EXPONENT, g_b ** L_EXPONENT
    num = (gradient_transfer(g_a, al_a, g_f, al_f, zero_tol) * w_a
           + gradient_transfer(g_b, al_b, g_f, al_f, zero_tol) * w_b)
    num = num.flatten(1).sum(1)
    den = (w_a + w_b).flatten(1).sum(1)
    return torch.where(den > 0, num / den.clamp_min(1e-300), torch.zeros_like(den)).float()
