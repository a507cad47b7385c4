"""Aligning the thermal image onto the RGB grid: affine warps and the spatial transformer (STN).

Frames and conventions
----------------------
``theta`` is what ``torch.nn.functional.affine_grid`` takes: a ``(B, 2, 3)`` matrix in normalised
coordinates (``align_corners=False``, x and y in [-1, 1] across each image) that maps a point of the
*output* (RGB) grid to where it is sampled in the *input* (thermal) image, i.e. ``thermal_from_rgb``.
Normalised coordinates make ``theta`` independent of resolution: a transform learned on a small
working copy applies unchanged at full size.

For OpenCV and for people, :func:`theta_to_pixels` gives the same transform as a 3x3 matrix in pixel
coordinates (pixel centres at integers, as OpenCV), and ``rgb_from_thermal`` is its inverse:
``cv2.warpAffine(thermal, rgb_from_thermal[:2], (W, H))`` registers the thermal image.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fusion_ros.imaging import resize_to


def identity_theta(batch: int = 1, device=None, dtype=torch.float32) -> torch.Tensor:
    """``(B, 2, 3)`` identity ``thermal_from_rgb``."""
    return torch.eye(2, 3, device=device, dtype=dtype).expand(batch, 2, 3).clone()


def _pixels_to_normalised(size: tuple[int, int], dtype=torch.float64) -> torch.Tensor:
    h, w = size
    return torch.tensor([[2.0 / w, 0.0, 1.0 / w - 1.0],
                         [0.0, 2.0 / h, 1.0 / h - 1.0],
                         [0.0, 0.0, 1.0]], dtype=dtype)


def _to3x3(m: torch.Tensor) -> torch.Tensor:
    bottom = m.new_tensor([0.0, 0.0, 1.0]).expand(*m.shape[:-2], 1, 3)
    return torch.cat([m, bottom], dim=-2)


def theta_to_pixels(theta: torch.Tensor, rgb_size: tuple[int, int],
                    thermal_size: tuple[int, int]) -> torch.Tensor:
    """Normalised ``thermal_from_rgb`` ``(B, 2, 3)`` -> pixel ``thermal_from_rgb`` ``(B, 3, 3)`` float64.

    ``rgb_size`` and ``thermal_size`` are ``(H, W)`` of the two images.
    """
    n_rgb = _pixels_to_normalised(rgb_size)
    n_th = _pixels_to_normalised(thermal_size)
    return torch.linalg.inv(n_th) @ _to3x3(theta.double().cpu()) @ n_rgb


def pixels_to_theta(thermal_from_rgb: torch.Tensor, rgb_size: tuple[int, int],
                    thermal_size: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`theta_to_pixels`: pixel ``(B, 3, 3)`` or ``(B, 2, 3)`` -> normalised ``(B, 2, 3)``."""
    m = thermal_from_rgb.double().cpu()
    if m.shape[-2] == 2:
        m = _to3x3(m)
    n_rgb = _pixels_to_normalised(rgb_size)
    n_th = _pixels_to_normalised(thermal_size)
    return (n_th @ m @ torch.linalg.inv(n_rgb))[..., :2, :].float()


def warp_affine(thermal: torch.Tensor, thermal_from_rgb: torch.Tensor, rgb_size: tuple[int, int],
                *, padding_mode: str = 'zeros') -> tuple[torch.Tensor, torch.Tensor]:
    """Resample ``thermal`` onto the RGB grid through an affine ``thermal_from_rgb`` (normalised theta).

    Args:
        thermal: ``(B, C, h, w)`` float; any resolution.
        thermal_from_rgb: ``(B, 2, 3)`` normalised theta (see module docstring).
        rgb_size: ``(H, W)`` of the output grid.
        padding_mode: ``grid_sample`` padding outside the thermal image.

    Returns:
        ``registered (B, C, H, W)`` and ``valid (B, 1, H, W)`` in [0, 1]: 1 where the sample falls
        inside the thermal image.
    """
    if thermal.ndim != 4:
        raise ValueError(f'warp_affine: expected thermal (B, C, h, w), got {tuple(thermal.shape)}')
    if thermal_from_rgb.shape != (thermal.shape[0], 2, 3):
        raise ValueError(f'warp_affine: expected theta ({thermal.shape[0]}, 2, 3), '
                         f'got {tuple(thermal_from_rgb.shape)}')
    b, c = thermal.shape[:2]
    grid = F.affine_grid(thermal_from_rgb.to(thermal.dtype), [b, c, *rgb_size], align_corners=False)
    registered = F.grid_sample(thermal, grid, mode='bilinear', padding_mode=padding_mode, align_corners=False)
    ones = torch.ones_like(thermal[:, :1])
    valid = F.grid_sample(ones, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
    return registered, valid


@dataclass
class STNConfig:
    """Affine spatial transformer on the thermal input (Jaderberg et al. 2015).

    A small localisation network sees the thermal and gray images at ``loc_size`` x ``loc_size`` and
    regresses ``thermal_from_rgb``; its last layer starts at zero weights and identity bias, so the
    STN starts as the identity transform.
    """
    loc_size: int = 64
    loc_channels: int = 8
    max_shift: float = 0.5  # bound on translation, as a fraction of the half-width (normalised units)


class AffineSTN(nn.Module):
    """``forward(thermal (B,1,H,W), gray (B,1,H,W)) -> (registered, valid, thermal_from_rgb (B,2,3))``."""

    def __init__(self, config: STNConfig | None = None):
        super().__init__()
        self.config = config or STNConfig()
        c = self.config.loc_channels
        self.localization = nn.Sequential(
            nn.Conv2d(2, c, 5, stride=2, padding=2), nn.ReLU(inplace=True),
            nn.Conv2d(c, 2 * c, 5, stride=2, padding=2), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(2 * c * 16, 32), nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(32, 6)
        nn.init.zeros_(self.head.weight)
        with torch.no_grad():
            self.head.bias.copy_(identity_theta(1).flatten())

    def theta(self, thermal: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
        """``thermal_from_rgb (B, 2, 3)`` for a pair already on one grid."""
        s = self.config.loc_size
        x = torch.cat([resize_to(thermal, (s, s)), resize_to(gray, (s, s))], dim=1)
        theta = self.head(self.localization(x)).view(-1, 2, 3)
        lim = self.config.max_shift
        return torch.cat([theta[..., :2], theta[..., 2:].clamp(-lim, lim)], dim=-1)

    def forward(self, thermal: torch.Tensor, gray: torch.Tensor):
        theta = self.theta(thermal, gray)
        registered, valid = warp_affine(thermal, theta, tuple(gray.shape[-2:]), padding_mode='border')
        return registered, valid, theta
