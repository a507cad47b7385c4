"""A streaming fusion net that starts as the texture-aware max rule and learns where to choose otherwise.

:func:`fusion_ros.baselines.gray_texmax` copies, per pixel, the thermal image, the visible luma or their
maximum, chosen by a smoothed contrast of local log-variances ``d`` and two thresholds. On the fixed test
split it beats every classical rule on MI, SSIM and Delta-E, but not the guided filter on VIF and Qabf
(BENCHMARKS.md, issue 8). This net keeps the rule's form, exact copies of source pixels, and learns
corrections of its two decision maps:

    z_T = d - tau_T + delta_T        copy the thermal image where z_T > 0
    z_Y = -d - tau_Y + delta_Y       else copy the visible luma where z_Y > 0, else max(T, Y)

``delta = (delta_T, delta_Y)`` comes from a small CNN at 1/``scale`` resolution (upsampled bilinearly)
whose last layer starts at zero, so before any training step the net *is* ``gray_texmax`` (test). In
training the hard choice passes gradients through sigmoid relaxations of the two maps (``temperature``,
straight-through): the forward value stays an exact copy. Colour comes from the visible image.

Cost at 640 x 480: the rule's local variances and smoothing, plus a CNN on a 160 x 120 grid
(``width`` 16, ``depth`` 3: about 0.02 GMAC).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fusion_ros.baselines import local_log_variance, smooth_map
from fusion_ros.config import dataclass_from_dict
from fusion_ros.imaging import colorize, rgb_to_gray
from fusion_ros.models.ssvif import _check_inputs, check_lowres_trunk, residual_stack


@dataclass
class TexMaxModelConfig:
    """Sizes of :class:`TexMaxFusionNet` and the rule it starts from (:func:`fusion_ros.baselines.gray_texmax`).

    width, depth, scale, dilations: the correction CNN (channels, residual blocks, runs at 1/scale).
    radius, sigma, tau_thermal, tau_visible: the rule's settings (its defaults).
    temperature: of the sigmoid relaxation used for gradients in training (in units of ``d``).
    """
    width: int = 16
    depth: int = 3
    scale: int = 4
    dilations: tuple[int, ...] = (1, 2, 4)
    radius: int = 3
    sigma: float = 24.0
    tau_thermal: float = 3.0
    tau_visible: float = 1.0
    temperature: float = 0.5

    def __post_init__(self):
        self.dilations = check_lowres_trunk('TexMaxModelConfig', self.width, self.depth, self.scale, self.dilations)
        if self.temperature <= 0 or self.sigma <= 0 or self.radius < 1:
            raise ValueError('TexMaxModelConfig: temperature and sigma must be > 0 and radius >= 1')

    @classmethod
    def from_dict(cls, d: dict) -> 'TexMaxModelConfig':
        return dataclass_from_dict(cls, d)


class TexMaxFusionNet(nn.Module):
    """``forward(rgb (B, 3, H, W), thermal (B, 1, H, W))``, float32 in [0, 1] on one grid, H, W >= 2.

    Returns a dict: ``fused (B, 3, H, W)`` RGB (fused luma, visible colour), ``luma (B, 1, H, W)``,
    ``features (B, width, ceil(H/scale), ceil(W/scale))`` (for SSVIF's segmentation head) and
    ``decision (B, 1, H, W)``: 1 thermal copied, 2 visible copied, 0 the max rule.
    """

    # Its time goes to full-size element-wise work on NCHW images, not to its small convolutions:
    # channels_last weights cost more (format conversions) than they save (bench/bench_ssvif.py).
    prefers_channels_last = False

    def __init__(self, config: TexMaxModelConfig | None = None):
        super().__init__()
        self.config = c = config or TexMaxModelConfig()
        self.stem = nn.Sequential(nn.Conv2d(4, c.width, 3, padding=1, padding_mode='replicate'), nn.LeakyReLU(0.1))
        self.blocks = residual_stack(c.width, c.depth, c.dilations)
        self.act = nn.LeakyReLU(0.1)
        self.delta = nn.Conv2d(c.width, 2, 1)
        nn.init.zeros_(self.delta.weight)
        nn.init.zeros_(self.delta.bias)
        self.feature_channels = c.width

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.config
        if torch.onnx.is_in_onnx_export():
            raise RuntimeError('the texmax net is not exportable to ONNX (its smoothing kernel depends on the image '
                               'size, and its local variances use OpenCV); it runs in torch')
        thermal = _check_inputs(rgb, thermal)
        gray = rgb_to_gray(rgb)
        thermal = thermal.to(gray.dtype)
        with torch.no_grad():  # the rule's decision map: fixed, not learned
            d = smooth_map(local_log_variance(thermal, c.radius) - local_log_variance(gray, c.radius), c.sigma)
        anchor = torch.maximum(thermal, gray)
        planes = (thermal, gray, anchor, d)
        if c.scale > 1:  # pooled one plane at a time: no full-size 4-channel copy
            planes = [F.avg_pool2d(p, c.scale, ceil_mode=True) for p in planes]
        x = torch.cat([*planes[:3], planes[3] / 4.0], dim=1)
        features = self.blocks(self.stem(x))
        delta = self.delta(self.act(features))
        if tuple(delta.shape[-2:]) != tuple(gray.shape[-2:]):
            delta = F.interpolate(delta, size=tuple(gray.shape[-2:]), mode='bilinear', align_corners=False)
        z_t = d - c.tau_thermal + delta[:, :1]
        z_y = -d - c.tau_visible + delta[:, 1:]
        take_t = z_t > 0
        take_y = (z_y > 0) & ~take_t
        luma = torch.where(take_t, thermal, torch.where(take_y, gray, anchor))
        if self.training:  # straight-through: exact copies forward, relaxed choice backward
            w_t = torch.sigmoid(z_t / c.temperature)
            w_y = torch.sigmoid(z_y / c.temperature) * (1.0 - w_t)
            soft = w_t * thermal + w_y * gray + (1.0 - w_t - w_y) * anchor
            luma = luma + (soft - soft.detach())
        decision = take_t.to(gray.dtype) + 2.0 * take_y.to(gray.dtype)
        return {'fused': colorize(rgb, luma, gray=gray), 'luma': luma, 'features': features, 'decision': decision}


__all__ = ['TexMaxFusionNet', 'TexMaxModelConfig']
