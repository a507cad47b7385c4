"""Paper 000's three fusion scores (Tables 2-4): SSIM score, correlation score, Canny edge preservation.

All take gray images ``(B, 1, H, W)`` float in [0, 1]: the two sources ``a`` (thermal/NIR) and ``b``
(visible, as luma) and the fusion ``f`` (as luma for a colour fusion). They return one value per image,
``(B,)``, as fractions (the paper prints percentages).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from fusion_ros.losses.ssim import ssim


def _check(a, b, f):
    if not (a.shape == b.shape == f.shape) or a.ndim != 4 or a.shape[1] != 1:
        raise ValueError(f'expected three (B, 1, H, W) gray images of one shape, got {tuple(a.shape)}, '
                         f'{tuple(b.shape)}, {tuple(f.shape)}; convert colour to luma first')


def ssim_score(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """``0.5 SSIM(a, f) + 0.5 SSIM(b, f)`` with the reference SSIM (Gaussian 11x11, sigma 1.5, L = 1)."""
    _check(a, b, f)
    return 0.5 * ssim(a, f) + 0.5 * ssim(b, f)


def correlation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson correlation over all pixels of each image: ``(B,)``; 0 when either image is constant."""
    x = x.flatten(1).double()
    y = y.flatten(1).double()
    x = x - x.mean(dim=1, keepdim=True)
    y = y - y.mean(dim=1, keepdim=True)
    den = torch.sqrt((x * x).sum(1) * (y * y).sum(1))
    return torch.where(den > 0, (x * y).sum(1) / den.clamp_min(1e-300), torch.zeros_like(den)).float()


def correlation_score(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """``0.5 corr(a, f) + 0.5 corr(b, f)``."""
    _check(a, b, f)
    return 0.5 * correlation(a, f) + 0.5 * correlation(b, f)


def canny_edges(image: torch.Tensor, low: float = 50, high: float = 150) -> torch.Tensor:
    """Binary Canny edge maps (OpenCV, on the 8-bit image, thresholds in 8-bit units): ``(B, 1, H, W)`` bool."""
    out = []
    for img in image.detach().cpu().numpy():
        u8 = np.round(np.clip(img[0], 0, 1) * 255).astype(np.uint8)
        out.append(cv2.Canny(u8, low, high) > 0)
    return torch.from_numpy(np.stack(out))[:, None]


def canny_preservation(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor, low: float = 50,
                       high: float = 150) -> torch.Tensor:
    """``0.5 * sum_i (sum_x C_i(x) C_F(x) / sum_x C_i(x))`` over the sources i in {a, b}.

    The share of each source's Canny edge pixels that are also edge pixels of the fusion. A source
    with no edges counts as fully preserved (1).
    """
    _check(a, b, f)
    cf = canny_edges(f, low, high)
    scores = []
    for src in (a, b):
        cs = canny_edges(src, low, high)
        n = cs.flatten(1).sum(1).double()
        kept = (cs & cf).flatten(1).sum(1).double()
        scores.append(torch.where(n > 0, kept / n.clamp_min(1), torch.ones_like(n)))
    return (0.5 * (scores[0] + scores[1])).float()
