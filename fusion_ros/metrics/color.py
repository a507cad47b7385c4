"""Colour fidelity: sRGB -> CIELAB and the CIEDE2000 colour difference, Delta-E of a colour fusion.

Conventions: RGB tensors are gamma-encoded sRGB ``(B, 3, H, W)`` in [0, 1]; Lab uses the D65 white
(2 degree observer) and the IEC 61966-2-1 sRGB matrix, as ``skimage.color.rgb2lab`` and OpenCV's float
``RGB2Lab`` do. CIEDE2000 follows Sharma, Wu & Dalal (2005) with ``kL = kC = kH = 1``. Lab and Delta-E are
computed in float64.
"""
from __future__ import annotations

import math

import torch

from fusion_ros.metrics._checks import check_rgb

# sRGB (linear) -> CIE XYZ, D65 (IEC 61966-2-1).
_RGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375),
               (0.2126729, 0.7151522, 0.0721750),
               (0.0193339, 0.1191920, 0.9503041))
D65_WHITE = (0.95047, 1.0, 1.08883)
_LAB_EPS = 216.0 / 24389.0   # (6/29)^3
_LAB_KAPPA = 24389.0 / 27.0  # (29/3)^3


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    """Undo the sRGB transfer curve: same shape, linear light in [0, 1]."""
    return torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(B, 3, H, W)`` in [0, 1] -> CIELAB ``(B, 3, H, W)`` (L in [0, 100], a and b about +-100),
    same dtype as the input. White (1, 1, 1) -> (100, 0, 0); black -> (0, 0, 0)."""
    check_rgb(rgb, names=('rgb',))
    lin = srgb_to_linear(rgb.double().clamp(0.0, 1.0))
    m = lin.new_tensor(_RGB_TO_XYZ)
    xyz = torch.einsum('ij,bjhw->bihw', m, lin) / lin.new_tensor(D65_WHITE).view(1, 3, 1, 1)
    f = torch.where(xyz > _LAB_EPS, xyz.clamp_min(_LAB_EPS) ** (1.0 / 3.0), (_LAB_KAPPA * xyz + 16.0) / 116.0)
    fx, fy, fz = f.unbind(dim=1)
    lab = torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)
    return lab.to(rgb.dtype)


def ciede2000(lab1: torch.Tensor, lab2: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """CIEDE2000 colour difference of two Lab tensors, elementwise over all but ``dim`` (which holds
    L, a, b): e.g. ``(B, 3, H, W)`` -> ``(B, H, W)``. float64. Symmetric; 0 for equal colours.

    Implements Sharma, Wu & Dalal (2005), eqs. (1)-(17), hue angles in degrees, with their conventions
    for achromatic colours (hue 0; hue difference 0 and mean hue ``h1 + h2`` when ``C1' C2' = 0``).
    """
    l1, a1, b1 = lab1.double().unbind(dim=dim)
    l2, a2, b2 = lab2.double().unbind(dim=dim)
    deg = 180.0 / math.pi
    c_bar = 0.5 * (torch.sqrt(a1 * a1 + b1 * b1) + torch.sqrt(a2 * a2 + b2 * b2))
    g = 0.5 * (1.0 - torch.sqrt(c_bar ** 7 / (c_bar ** 7 + 25.0 ** 7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = torch.sqrt(a1p * a1p + b1 * b1), torch.sqrt(a2p * a2p + b2 * b2)
    h1p = torch.remainder(torch.atan2(b1, a1p) * deg, 360.0)
    h2p = torch.remainder(torch.atan2(b2, a2p) * deg, 360.0)
    chroma_product = c1p * c2p
    achromatic = chroma_product == 0

    dl = l2 - l1
    dc = c2p - c1p
    dh = h2p - h1p
    dh = torch.where(dh > 180.0, dh - 360.0, torch.where(dh < -180.0, dh + 360.0, dh))
    dh = torch.where(achromatic, torch.zeros_like(dh), dh)
    d_hue = 2.0 * torch.sqrt(chroma_product) * torch.sin(dh / (2.0 * deg))

    l_mean = 0.5 * (l1 + l2)
    c_mean = 0.5 * (c1p + c2p)
    h_sum = h1p + h2p
    h_mean = torch.where((h1p - h2p).abs() <= 180.0, 0.5 * h_sum,
                         torch.where(h_sum < 360.0, 0.5 * (h_sum + 360.0), 0.5 * (h_sum - 360.0)))
    h_mean = torch.where(achromatic, h_sum, h_mean)

    rad = 1.0 / deg
    t = (1.0 - 0.17 * torch.cos((h_mean - 30.0) * rad) + 0.24 * torch.cos(2.0 * h_mean * rad)
         + 0.32 * torch.cos((3.0 * h_mean + 6.0) * rad) - 0.20 * torch.cos((4.0 * h_mean - 63.0) * rad))
    d_theta = 30.0 * torch.exp(-(((h_mean - 275.0) / 25.0) ** 2))
    r_c = 2.0 * torch.sqrt(c_mean ** 7 / (c_mean ** 7 + 25.0 ** 7))
    s_l = 1.0 + 0.015 * (l_mean - 50.0) ** 2 / torch.sqrt(20.0 + (l_mean - 50.0) ** 2)
    s_c = 1.0 + 0.045 * c_mean
    s_h = 1.0 + 0.015 * c_mean * t
    r_t = -torch.sin(2.0 * d_theta * rad) * r_c

    tl, tc, th = dl / s_l, dc / s_c, d_hue / s_h
    return torch.sqrt((tl * tl + tc * tc + th * th + r_t * tc * th).clamp_min(0.0))


def delta_e(rgb_visible: torch.Tensor, rgb_fused: torch.Tensor) -> torch.Tensor:
    """Delta-E: mean CIEDE2000 difference between the visible and the fused colour image: ``(B,)`` float32.

    Args:
        rgb_visible, rgb_fused: sRGB ``(B, 3, H, W)`` float in [0, 1], same shape.

    Returns:
        Mean over pixels of ``CIEDE2000(Lab(visible), Lab(fused))``, in CIEDE2000 units (about 1 = a
        just-noticeable difference); 0 when the images are equal. Lower is better.
    """
    check_rgb(rgb_visible, rgb_fused)
    lab_v = rgb_to_lab(rgb_visible.double())
    lab_f = rgb_to_lab(rgb_fused.double())
    return ciede2000(lab_v, lab_f, dim=1).flatten(1).mean(1).float()
