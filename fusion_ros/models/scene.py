"""The per-scene model of paper 000: STN on the thermal input, then the compact fusion CNN."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from fusion_ros.align import AffineSTN, STNConfig, identity_theta, warp_affine
from fusion_ros.config import dataclass_from_dict
from fusion_ros.models.compact import CompactFusionConfig, CompactFusionNet


@dataclass
class SceneModelConfig:
    """``stn=False`` fuses the inputs as they come (already registered)."""
    fusion: CompactFusionConfig = field(default_factory=CompactFusionConfig)
    stn: bool = True
    stn_config: STNConfig = field(default_factory=STNConfig)

    @classmethod
    def from_dict(cls, d: dict) -> 'SceneModelConfig':
        """Build from a plain (nested) dict; unknown keys are refused with the list of valid ones."""
        d = dict(d)
        d['fusion'] = dataclass_from_dict(CompactFusionConfig, d.get('fusion', {}))
        d['stn_config'] = dataclass_from_dict(STNConfig, d.get('stn_config', {}))
        return dataclass_from_dict(cls, d)


class SceneFusionModel(nn.Module):
    """Gray fusion of a thermal + gray pair.

    ``forward(thermal, gray, thermal_from_rgb=None)``:
        thermal, gray: ``(B, 1, H, W)`` float32 in [0, 1], on the same grid.
        thermal_from_rgb: optional fixed ``(B, 2, 3)`` normalised theta; when given the STN is
        bypassed (inference at another resolution with the theta learned in training).
    Returns a dict: ``fused (B, 1, H, W)`` in (0, 1), ``thermal_registered (B, 1, H, W)``,
    ``valid (B, 1, H, W)`` and ``thermal_from_rgb (B, 2, 3)``.
    """

    def __init__(self, config: SceneModelConfig | None = None):
        super().__init__()
        self.config = config or SceneModelConfig()
        self.stn = AffineSTN(self.config.stn_config) if self.config.stn else None
        self.fusion = CompactFusionNet(self.config.fusion)

    def forward(self, thermal: torch.Tensor, gray: torch.Tensor, thermal_from_rgb: torch.Tensor | None = None):
        size = tuple(gray.shape[-2:])
        if thermal_from_rgb is not None:
            registered, valid = warp_affine(thermal, thermal_from_rgb, size, padding_mode='border')
            theta = thermal_from_rgb
        elif self.stn is not None:
            registered, valid, theta = self.stn(thermal, gray)
        else:
            registered, valid = thermal, torch.ones_like(thermal)
            theta = identity_theta(thermal.shape[0], thermal.device)
        fused = self.fusion(torch.cat([registered, gray], dim=1))
        return {'fused': fused, 'thermal_registered': registered, 'valid': valid, 'thermal_from_rgb': theta}
