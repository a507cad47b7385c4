"""Paper 000's self-supervised loss: SSIM + edge preservation against both inputs (Algorithm 1)."""
from __future__ import annotations

import torch
from torch import nn

from fusion_ros.losses.edge import edge_preservation
from fusion_ros.losses.ssim import ssim


def scene_loss(fused: torch.Tensor, thermal: torch.Tensor, gray: torch.Tensor, *, edge_weight: float = 1.0,
               window_size: int = 11, window: str = 'gaussian') -> dict[str, torch.Tensor]:
    """``(1 - SSIM(F, T)) + (1 - SSIM(F, G)) + edge_weight * (EP(F, T) + EP(F, G))``.

    Args:
        fused, thermal, gray: ``(B, 1, H, W)`` float32 in [0, 1]; ``thermal`` already aligned.
        edge_weight: weight of the edge term (1 in the paper).
        window_size, window: SSIM window (see :func:`fusion_ros.losses.ssim.ssim_map`).

    Returns:
        dict of batch means: ``loss`` (total), ``ssim`` (the SSIM part) and ``edge`` (the EP part).
    """
    kw = dict(window_size=window_size, window=window)
    ssim_part = (2.0 - ssim(fused, thermal, **kw) - ssim(fused, gray, **kw)).mean()
    edge_part = (edge_preservation(fused, thermal) + edge_preservation(fused, gray)).mean()
    return {'loss': ssim_part + edge_weight * edge_part, 'ssim': ssim_part, 'edge': edge_part}


class SceneLoss(nn.Module):
    """Module form of :func:`scene_loss`; ``forward`` returns the total loss."""

    def __init__(self, edge_weight: float = 1.0, window_size: int = 11, window: str = 'gaussian'):
        super().__init__()
        self.kwargs = dict(edge_weight=edge_weight, window_size=window_size, window=window)

    def forward(self, fused, thermal, gray):
        return scene_loss(fused, thermal, gray, **self.kwargs)['loss']
