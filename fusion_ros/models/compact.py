"""Paper 000's compact fusion CNN (Table 1) and its optional parallel UNet-ResNet18 branch."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class CompactFusionConfig:
    """Table 1 of paper 000: 4 convs 3x3, ``width`` channels, two additive skips, sigmoid out.

    ``unet=True`` adds the UNet-ResNet18 branch (segmentation-models-pytorch, random init) whose
    1-channel output is added to conv4's before the sigmoid (about 14.3M parameters more).
    """
    in_channels: int = 2
    width: int = 8
    unet: bool = False
    unet_encoder: str = 'resnet18'
    padding_mode: str = 'reflect'


class CompactFusionNet(nn.Module):
    """``forward(x: (B, in_channels, H, W) float32 in [0, 1]) -> (B, 1, H, W) in (0, 1)``.

    Channel order of ``x`` for paper 000: ``[thermal, gray]``. Any H, W (the UNet branch pads to a
    multiple of 32 internally).

    Example:
        >>> net = CompactFusionNet()
        >>> sum(p.numel() for p in net.parameters())
        1393
    """

    def __init__(self, config: CompactFusionConfig | None = None):
        super().__init__()
        self.config = cfg = config or CompactFusionConfig()

        def conv(i, o):
            return nn.Conv2d(i, o, 3, padding=1, padding_mode=cfg.padding_mode)

        self.conv1 = conv(cfg.in_channels, cfg.width)
        self.conv2 = conv(cfg.width, cfg.width)
        self.conv3 = conv(cfg.width, cfg.width)
        self.conv4 = conv(cfg.width, 1)
        self.unet = None
        if cfg.unet:
            import segmentation_models_pytorch as smp  # heavy import, only when asked for
            self.unet = smp.Unet(cfg.unet_encoder, encoder_weights=None, in_channels=cfg.in_channels, classes=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1 = F.relu(self.conv1(x))
        add1 = c1 + F.relu(self.conv2(c1))
        add2 = add1 + F.relu(self.conv3(add1))
        logits = self.conv4(add2)
        if self.unet is not None:
            logits = logits + _run_padded(self.unet, x, 32)
        return torch.sigmoid(logits)


def _run_padded(net: nn.Module, x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Run ``net`` on ``x`` reflect-padded to a multiple of ``multiple``, then crop back."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode='reflect' if min(h, w) > max(ph, pw) else 'replicate')
    return net(x)[..., :h, :w]
