"""Metrics of the fused image alone: EN, SD, SF, AG (VIFB / MEFB definitions).

Every function takes the fused luma ``f: (B, 1, H, W)`` float in [0, 1] and returns ``(B,)`` float32.
SD, SF and AG are reported in 8-bit grey levels (the image is multiplied by ``scale = 255`` first), so
the numbers are comparable with published tables, which evaluate 8-bit PNGs; they are not quantised.
EN needs a histogram and quantises to 8 bits (``round(255 f)``). Higher is better for all four.

SF and AG have two normalisations in use: VIFB's MATLAB code (the default, ``normalize='vifb'``) and
CDDFuse's ``Evaluator.py`` (``normalize='mean'``: plain means, what the registry reports, see
:mod:`fusion_ros.metrics.convention`). SF differs by a factor near ``sqrt(1 - 1/N)``, AG by
``(M - 1)(N - 1) / (M N)``: a fraction of a percent on real images.
"""
from __future__ import annotations

import math
from typing import Literal

import torch

from fusion_ros.metrics._checks import GRAY_LEVELS, check_gray, quantize8

EIGHT_BIT = 255.0
NORMALIZATIONS = ('vifb', 'mean')


def _check_normalize(normalize: str) -> None:
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be 'vifb' or 'mean', got {normalize!r}")


def gray_histogram(x: torch.Tensor) -> torch.Tensor:
    """256-bin histogram of the 8-bit quantised image, per image: ``(B, 256)`` float64 probabilities."""
    q = quantize8(x)
    b, n = q.shape
    offset = torch.arange(b, device=q.device).unsqueeze(1) * GRAY_LEVELS
    counts = torch.bincount((q + offset).flatten(), minlength=b * GRAY_LEVELS)
    return counts.view(b, GRAY_LEVELS).double() / n


def entropy(f: torch.Tensor) -> torch.Tensor:
    """EN: Shannon entropy ``-sum_k p_k log2 p_k`` of the 256-bin histogram of the 8-bit image, in bits.

    Range [0, 8]: 0 for a constant image, 1 for two equally frequent levels, 8 for a flat histogram.
    """
    check_gray(f, names=('f',))
    p = gray_histogram(f)
    return (-torch.xlogy(p, p).sum(dim=1) / math.log(2.0)).float()


def standard_deviation(f: torch.Tensor, scale: float = EIGHT_BIT) -> torch.Tensor:
    """SD: population standard deviation ``sqrt(mean((f - mean f)^2))`` of ``scale * f`` (grey levels)."""
    check_gray(f, names=('f',))
    x = f.double().flatten(1) * scale
    return x.std(dim=1, unbiased=False).float()


def spatial_frequency(f: torch.Tensor, scale: float = EIGHT_BIT, *,
                      normalize: Literal['vifb', 'mean'] = 'vifb') -> torch.Tensor:
    """SF: ``sqrt(RF^2 + CF^2)`` with ``RF^2 = sum (f[i, j] - f[i, j-1])^2 / (M N)`` (row frequency) and
    ``CF^2`` the same down the columns; ``M x N`` the image size, ``f`` scaled to 8-bit grey levels.

    ``normalize='vifb'``: both sums divided by ``M N``, as the VIFB code does. ``'mean'``: each divided by
    its number of differences (``M (N - 1)`` and ``(M - 1) N``), as CDDFuse's ``Evaluator.SF``.
    """
    check_gray(f, names=('f',))
    _check_normalize(normalize)
    x = f.double() * scale
    dx = (x[..., :, 1:] - x[..., :, :-1]).pow(2).flatten(1)
    dy = (x[..., 1:, :] - x[..., :-1, :]).pow(2).flatten(1)
    if normalize == 'mean':
        rf = dx.mean(1) if dx.shape[1] else dx.sum(1)
        cf = dy.mean(1) if dy.shape[1] else dy.sum(1)
    else:
        mn = x.shape[-2] * x.shape[-1]
        rf, cf = dx.sum(1) / mn, dy.sum(1) / mn
    return torch.sqrt(rf + cf).float()


def average_gradient(f: torch.Tensor, scale: float = EIGHT_BIT, *,
                     normalize: Literal['vifb', 'mean'] = 'vifb') -> torch.Tensor:
    """AG: ``sum sqrt((gx^2 + gy^2) / 2) / ((M - 1)(N - 1))`` with MATLAB's ``gradient`` (central differences
    inside, one-sided at the borders) of ``scale * f``; the VIFB normalisation by ``(M - 1)(N - 1)``.

    ``normalize='mean'`` divides by ``M N`` instead (the plain mean over pixels), as CDDFuse's
    ``Evaluator.AG``. Needs at least 2 x 2 pixels.
    """
    check_gray(f, names=('f',))
    _check_normalize(normalize)
    h, w = f.shape[-2:]
    if h < 2 or w < 2:
        raise ValueError(f'average_gradient: needs at least a 2x2 image, got {h}x{w}')
    x = f.double()[:, 0] * scale
    gy, gx = torch.gradient(x, dim=(1, 2))
    s = torch.sqrt((gx * gx + gy * gy) / 2.0)
    count = h * w if normalize == 'mean' else (h - 1) * (w - 1)
    return (s.flatten(1).sum(1) / count).float()
