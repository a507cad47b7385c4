"""SSIM (Wang et al. 2004) as a function returning unreduced values, and a loss Module on top."""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from fusion_ros.filters import gaussian_kernel1d, separable_filter


def ssim_map(x: torch.Tensor, y: torch.Tensor, *, window_size: int = 11, sigma: float = 1.5,
             window: Literal['gaussian', 'box'] = 'gaussian', data_range: float = 1.0,
             k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Local SSIM of two images.

    Args:
        x, y: ``(B, C, H, W)`` float, same shape, values in ``[0, data_range]``.
        window_size: odd window side; 11 with ``sigma=1.5`` is the reference definition.
        window: ``'gaussian'`` (reference) or ``'box'`` (uniform; cheaper, used by fast recipes).
        data_range: the dynamic range L in ``C1 = (k1 L)^2, C2 = (k2 L)^2``.

    Returns:
        ``(B, C, H - window_size + 1, W - window_size + 1)``: SSIM per valid window position, in [-1, 1].

    Example:
        >>> x = torch.rand(1, 1, 32, 32)
        >>> bool(torch.allclose(ssim_map(x, x), torch.ones(1)))
        True
    """
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f'ssim: expected two (B, C, H, W) tensors of one shape, got {tuple(x.shape)} '
                         f'and {tuple(y.shape)}')
    if min(x.shape[-2:]) < window_size:
        raise ValueError(f'ssim: images of {tuple(x.shape[-2:])} are smaller than the {window_size}px window; '
                         'use a smaller window_size or larger images')
    if window == 'gaussian':
        k = gaussian_kernel1d(window_size, sigma, device=x.device)
    elif window == 'box':
        k = torch.full((window_size,), 1.0 / window_size, device=x.device)
    else:
        raise ValueError(f"ssim: window must be 'gaussian' or 'box', got {window!r}")
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    # One filtering pass over the five stacked moments.
    b, c = x.shape[:2]
    stats = separable_filter(torch.cat([x, y, x * x, y * y, x * y], dim=1), k)
    mu_x, mu_y, xx, yy, xy = stats.split(c, dim=1)
    var_x = xx - mu_x ** 2
    var_y = yy - mu_y ** 2
    cov = xy - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))


def ssim(x: torch.Tensor, y: torch.Tensor, **kwargs) -> torch.Tensor:
    """Mean SSIM per image: ``(B,)``. Keyword arguments as :func:`ssim_map`."""
    return ssim_map(x, y, **kwargs).flatten(1).mean(dim=1)


class SSIMLoss(nn.Module):
    """``1 - SSIM``, averaged over the batch. Same options as :func:`ssim_map`."""

    def __init__(self, window_size: int = 11, sigma: float = 1.5, window: str = 'gaussian',
                 data_range: float = 1.0):
        super().__init__()
        self.kwargs = dict(window_size=window_size, sigma=sigma, window=window, data_range=data_range)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (1.0 - ssim(x, y, **self.kwargs)).mean()
