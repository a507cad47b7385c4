"""MI: mutual information between each source and the fusion, from 256 x 256 joint histograms.

Unit: nats by default, as the VIFB MATLAB code (``metricsMutinf.m``, natural ``log``) and the Python
evaluators built on ``sklearn.metrics.mutual_info_score`` (e.g. CDDFuse's ``Evaluator.MI``) compute it.
Some public Python evaluators use ``log2`` (bits, 1.443 x larger); pass ``base=2`` to match them.

Images are quantised to 8 bits (``round(255 x)``). VIFB first stretches each image to [0, 255] by its
own min/max; on 8-bit data that stretch maps distinct levels to distinct bins, so MI is unchanged.
"""
from __future__ import annotations

import math

import torch

from fusion_ros.metrics._checks import GRAY_LEVELS, check_gray, quantize8


def joint_histogram(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Joint 256 x 256 histogram of two 8-bit quantised images: ``(B, 256, 256)`` float64 probabilities."""
    qx, qy = quantize8(x), quantize8(y)
    b, n = qx.shape
    cells = GRAY_LEVELS * GRAY_LEVELS
    offset = torch.arange(b, device=qx.device).unsqueeze(1) * cells
    counts = torch.bincount((offset + qx * GRAY_LEVELS + qy).flatten(), minlength=b * cells)
    return counts.view(b, GRAY_LEVELS, GRAY_LEVELS).double() / n


def _entropy_nats(p: torch.Tensor) -> torch.Tensor:
    """``-sum p ln p`` over all but the batch dimension: ``(B,)``."""
    return -torch.xlogy(p, p).flatten(1).sum(1)


def mutual_information_pair(x: torch.Tensor, y: torch.Tensor, base: float = math.e) -> torch.Tensor:
    """``MI(x, y) = H(x) + H(y) - H(x, y)`` of two ``(B, 1, H, W)`` images in [0, 1]: ``(B,)``.

    In log-``base`` units (nats by default).
    Symmetric; ``MI(x, x) = H(x)``; 0 when either image is constant.
    """
    check_gray(x, y, names=('x', 'y'))
    p = joint_histogram(x, y)
    mi = (_entropy_nats(p.sum(dim=2)) + _entropy_nats(p.sum(dim=1)) - _entropy_nats(p)).clamp_min(0.0)
    return (mi / math.log(base)).float()


def mutual_information(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor,
                       base: float = math.e) -> torch.Tensor:
    """MI: ``MI(a, f) + MI(b, f)`` (Qu et al. 2002), nats by default. Higher is better.

    Args:
        a, b: sources (thermal, visible luma), ``(B, 1, H, W)`` float in [0, 1].
        f: fused luma, same shape.
        base: logarithm base; ``math.e`` (nats, VIFB / sklearn) or ``2`` (bits).

    Returns:
        ``(B,)`` float32, at least 0; each term is at most ``min(H(source), H(f))``, so at most
        2 x 8 bits = 2 x 5.545 nats.
    """
    check_gray(a, b, f)
    return mutual_information_pair(a, f, base) + mutual_information_pair(b, f, base)
