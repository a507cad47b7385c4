"""A streaming fusion net that starts as the max rule and learns where to depart from it.

Why this shape. On real thermal road scenes the per-pixel maximum of thermal and visible luma is the
strongest classical rule on MI, SSIM (field convention) and Delta-E, and the guided filter on VIF and
Qabf (BENCHMARKS.md, issue 8). A network trained from random weights must first rediscover such a rule
before it can improve on it, which a 2-core CPU cannot afford. So the fused luma is written as the max
rule plus learned, *linear* departures towards the sources and their details:

    M = max(T, Y)                                   (T: thermal, Y: visible luma, BT.601)
    F = clamp(M + c_T (T - M) + c_Y (Y - M) + c_dT D(T) + c_dY D(Y), 0, 1)
    D(x) = x - box_5x5(x)                           (detail layer)

The coefficient maps ``c = (c_T, c_Y, c_dT, c_dY)`` are predicted at 1/``scale`` resolution by a small
CNN (backbone B, whose features the SSVIF segmentation head reads) and upsampled bilinearly (decoder D).
The last layer of D starts at zero, so before any training step ``F = M`` exactly: the model *is* the max
rule (:func:`fusion_ros.baselines.fuse_max`) and training can only move it where the loss says. Because F
is a smooth per-region blend of the sources (not a re-synthesis), their fine structure and noise pass
through untouched, which the structural metrics reward. Colour comes from the visible image
(:func:`fusion_ros.imaging.colorize`), so the output's chroma is the visible chroma.

Cost: the CNN runs on a 1/4-resolution grid (0.03-0.1 GMAC at 640x480 for the default sizes); the
full-resolution part is a handful of element-wise operations and one 5x5 box filter.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fusion_ros.config import dataclass_from_dict
from fusion_ros.imaging import colorize, rgb_to_gray
from fusion_ros.models.ssvif import _check_inputs, check_lowres_trunk, residual_stack

#: The departures from the max rule the coefficient maps weight, in output-channel order.
BLEND_TERMS = ('thermal', 'visible', 'thermal_detail', 'visible_detail')


@dataclass
class BlendModelConfig:
    """Sizes of :class:`BlendFusionNet`.

    width: channels of the low-resolution features (the ``features`` output, C).
    depth: residual depthwise-separable blocks at low resolution.
    scale: the CNN runs at ``1/scale`` of the input resolution (2, 4 or 8).
    dilations: dilation of each residual block, cycled.
    detail_radius: radius of the box filter whose residual is the detail layer (2: 5x5).
    """
    width: int = 24
    depth: int = 4
    scale: int = 4
    dilations: tuple[int, ...] = (1, 2, 4)
    detail_radius: int = 2

    def __post_init__(self):
        self.dilations = check_lowres_trunk('BlendModelConfig', self.width, self.depth, self.scale, self.dilations)
        if self.detail_radius < 1:
            raise ValueError(f'BlendModelConfig.detail_radius must be >= 1, got {self.detail_radius}')

    @classmethod
    def from_dict(cls, d: dict) -> 'BlendModelConfig':
        """Build from a plain dict (YAML, checkpoints); unknown keys are refused with the valid ones."""
        return dataclass_from_dict(cls, d)


def box_blur(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the ``(2r+1)^2`` window, replicate borders: ``(B, C, H, W) -> (B, C, H, W)``."""
    k = 2 * radius + 1
    return F.avg_pool2d(F.pad(x, (radius,) * 4, mode='replicate'), k, stride=1)


def blend_candidates(thermal: torch.Tensor, gray: torch.Tensor, detail_radius: int = 2
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The max-rule anchor and the departures the coefficient maps weight.

    Args:
        thermal, gray: ``(B, 1, H, W)`` float in [0, 1] (thermal on the RGB grid, visible luma).
        detail_radius: box-filter radius of the detail layers.

    Returns:
        ``(anchor (B, 1, H, W), terms (B, 4, H, W))``: ``anchor = max(thermal, gray)``; ``terms`` in the
        order of :data:`BLEND_TERMS`.
    """
    anchor = torch.maximum(thermal, gray)
    both = torch.cat([thermal, gray], dim=1)
    detail = both - box_blur(both, detail_radius)
    return anchor, torch.cat([both - anchor, detail], dim=1)


class BlendBackbone(nn.Module):
    """B: ``(thermal, gray, anchor, |D(thermal)|, |D(gray)|)`` pooled to 1/scale -> features ``(B, C, h, w)``."""

    def __init__(self, config: BlendModelConfig):
        super().__init__()
        c = config
        self.scale = c.scale
        self.stem = nn.Sequential(nn.Conv2d(5, c.width, 3, padding=1, padding_mode='replicate'),
                                  nn.LeakyReLU(0.1))
        self.blocks = residual_stack(c.width, c.depth, c.dilations)

    def forward(self, thermal: torch.Tensor, gray: torch.Tensor, anchor: torch.Tensor,
                terms: torch.Tensor) -> torch.Tensor:
        x = torch.cat([thermal, gray, anchor, terms[:, 2:].abs()], dim=1)
        if self.scale > 1:
            x = F.avg_pool2d(x, self.scale, ceil_mode=True)
        return self.blocks(self.stem(x))


class BlendDecoder(nn.Module):
    """D: features -> coefficient maps (zero at initialisation) -> fused luma ``(B, 1, H, W)`` in [0, 1]."""

    def __init__(self, config: BlendModelConfig):
        super().__init__()
        self.act = nn.LeakyReLU(0.1)
        self.coef = nn.Conv2d(config.width, len(BLEND_TERMS), 1)
        nn.init.zeros_(self.coef.weight)
        nn.init.zeros_(self.coef.bias)

    def coefficients(self, features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``(B, 4, H, W)`` coefficient maps on the full-resolution grid."""
        c = self.coef(self.act(features))
        if tuple(c.shape[-2:]) != tuple(size):
            c = F.interpolate(c, size=tuple(size), mode='bilinear', align_corners=False)
        return c

    def forward(self, features: torch.Tensor, anchor: torch.Tensor, terms: torch.Tensor) -> torch.Tensor:
        c = self.coefficients(features, anchor.shape[-2:])
        return (anchor + (c * terms).sum(dim=1, keepdim=True)).clamp(0.0, 1.0)


class BlendFusionNet(nn.Module):
    """``F(I_ir, I_vis) = D(B(I_ir, I_vis))`` that equals the max rule before training.

    ``forward(rgb, thermal)``:
        rgb: ``(B, 3, H, W)`` float32 in [0, 1]; thermal: ``(B, 1, H, W)`` (or a 3-channel gray image)
        float32 in [0, 1], on the RGB grid. Any H, W >= 2.
    Returns a dict: ``fused (B, 3, H, W)`` RGB in [0, 1] (fused luma, visible colour), ``luma
    (B, 1, H, W)`` the fused luma, ``features (B, width, ceil(H/scale), ceil(W/scale))``.

    Example:
        >>> net = BlendFusionNet()
        >>> rgb, th = torch.rand(1, 3, 32, 32), torch.rand(1, 1, 32, 32)
        >>> from fusion_ros.baselines import fuse_max
        >>> bool(torch.equal(net(rgb, th)['fused'], fuse_max(rgb, th)))  # untrained: the max rule
        True
    """

    def __init__(self, config: BlendModelConfig | None = None):
        super().__init__()
        self.config = config or BlendModelConfig()
        self.backbone = BlendBackbone(self.config)
        self.decoder = BlendDecoder(self.config)
        self.feature_channels = self.config.width

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> dict[str, torch.Tensor]:
        thermal = _check_inputs(rgb, thermal)
        gray = rgb_to_gray(rgb)
        thermal = thermal.to(gray.dtype)
        anchor, terms = blend_candidates(thermal, gray, self.config.detail_radius)
        features = self.backbone(thermal, gray, anchor, terms)
        luma = self.decoder(features, anchor, terms)
        return {'fused': colorize(rgb, luma), 'luma': luma, 'features': features}


__all__ = ['BLEND_TERMS', 'BlendModelConfig', 'BlendFusionNet', 'blend_candidates', 'box_blur']
