"""Edge preservation (paper 000, Section 3.3): ``EP(I1, I2) = ||grad I1 - grad I2||_2^2``."""
from __future__ import annotations

import torch
from torch import nn

from fusion_ros.filters import sobel


def edge_preservation_map(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared difference of Sobel gradients, summed over d/dx and d/dy.

    Args:
        x, y: ``(B, C, H, W)`` float, same shape.

    Returns:
        ``(B, C, H, W)``, >= 0; zero where the two images have the same gradient.
    """
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f'edge preservation: expected two (B, C, H, W) tensors of one shape, '
                         f'got {tuple(x.shape)} and {tuple(y.shape)}')
    return (sobel(x) - sobel(y)).pow(2).sum(dim=2)


def edge_preservation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean edge-preservation error per image: ``(B,)``."""
    return edge_preservation_map(x, y).flatten(1).mean(dim=1)


class EdgePreservationLoss(nn.Module):
    """Batch mean of :func:`edge_preservation`."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return edge_preservation(x, y).mean()
