"""Small differentiable filters shared by losses and metrics (Gaussian window, Sobel gradient).

Written here rather than taken from kornia: each is a few lines of ``conv2d``, and the losses need
control (window kind, 'valid' borders) that a dependency would not save.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def gaussian_kernel1d(size: int, sigma: float, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """Normalised 1-D Gaussian of odd ``size``: ``(size,)``."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f'gaussian window size must be odd and positive, got {size}')
    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    k = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return k / k.sum()


def separable_filter(x: torch.Tensor, kernel1d: torch.Tensor, padding: str = 'valid') -> torch.Tensor:
    """Filter every channel of ``x: (B, C, H, W)`` with ``kernel1d`` along H and W.

    padding: ``'valid'`` (output shrinks by ``len(kernel1d) - 1``) or ``'reflect'`` (same size).
    """
    c = x.shape[1]
    k = kernel1d.to(x.dtype)
    n = k.numel()
    if padding == 'reflect':
        x = F.pad(x, (n // 2, n // 2, n // 2, n // 2), mode='reflect')
    elif padding != 'valid':
        raise ValueError(f"padding must be 'valid' or 'reflect', got {padding!r}")
    x = F.conv2d(x, k.view(1, 1, 1, n).expand(c, 1, 1, n), groups=c)
    return F.conv2d(x, k.view(1, 1, n, 1).expand(c, 1, n, 1), groups=c)


def gaussian_blur(x: torch.Tensor, sigma: float, padding: str = 'reflect') -> torch.Tensor:
    """Gaussian blur of ``(B, C, H, W)`` with a window of about 3 sigma each side."""
    size = 2 * max(1, int(round(3 * sigma))) + 1
    return separable_filter(x, gaussian_kernel1d(size, sigma, device=x.device), padding)


def sobel(x: torch.Tensor) -> torch.Tensor:
    """Sobel gradient of ``x: (B, C, H, W)`` -> ``(B, C, 2, H, W)`` (d/dx, d/dy), replicate borders.

    Not normalised: a unit step gives a response of 4 at the edge, as OpenCV's ``Sobel`` does.
    """
    b, c, h, w = x.shape
    kx = x.new_tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])
    kernel = torch.stack([kx, kx.t()]).unsqueeze(1)  # (2, 1, 3, 3)
    xp = F.pad(x.reshape(b * c, 1, h, w), (1, 1, 1, 1), mode='replicate')
    return F.conv2d(xp, kernel).view(b, c, 2, h, w)


def sobel_magnitude(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``|grad x|`` from :func:`sobel`: ``(B, C, H, W)``."""
    g = sobel(x)
    return torch.sqrt(g.pow(2).sum(dim=2) + eps)
