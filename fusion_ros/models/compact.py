"""Paper 000's compact fusion CNN (Table 1) and its optional parallel UNet-ResNet18 branch."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fusion_ros.config import dataclass_from_dict


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

    @classmethod
    def from_dict(cls, d: dict) -> 'CompactFusionConfig':
        """Build from a plain dict (YAML, checkpoints); unknown keys are refused, listing the valid ones."""
        return dataclass_from_dict(cls, d)


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


def init_as_average(net: CompactFusionNet, *, scale: float = 9.0, noise: float = 0.002,
                    seed: int = 0) -> CompactFusionNet:
    """Warm start: set ``net`` so that it computes the plain average of its input channels.

    conv1 builds 8 hinge functions ``relu(scale * (mean(x) - k_i))`` of the channel mean; conv4 combines them
    into a least-squares piecewise-linear fit of ``logit(mean)``, so ``sigmoid`` returns about the mean
    (error about 0.01). ``scale`` balances the weight magnitudes of conv1 and conv4 (about 4.5 each
    instead of 0.5 and 40), which keeps Adam's equal-size steps from blowing up the logits. conv2/conv3 get small random weights (``noise`` times the
    default init) so gradients flow through every layer from the first step. The UNet branch, when
    present, has its last layer zeroed so it starts as a no-op.
    """
    cfg = net.config
    if cfg.width < 2:
        raise ValueError(f'init_as_average needs width >= 2, got {cfg.width}')
    gen = torch.Generator().manual_seed(seed)
    knots = torch.sigmoid(torch.linspace(-3.5, 2.5, cfg.width))
    with torch.no_grad():
        net.conv1.weight.zero_()
        net.conv1.weight[:, :, 1, 1] = scale / cfg.in_channels
        net.conv1.bias.copy_(-scale * knots)
        for conv in (net.conv2, net.conv3):
            bound = noise / scale / (conv.in_channels * 9) ** 0.5
            conv.weight.copy_((torch.rand(conv.weight.shape, generator=gen) * 2 - 1) * bound)
            conv.bias.zero_()
        weights, bias = _average_readout(tuple(knots.tolist()))
        net.conv4.weight.zero_()
        net.conv4.weight[0, :, 1, 1] = torch.tensor(weights) / scale
        net.conv4.bias.fill_(bias)
        if net.unet is not None:
            head = net.unet.segmentation_head[0]
            head.weight.zero_()
            head.bias.zero_()
    return net


@functools.lru_cache(maxsize=8)
def _average_readout(knots: tuple[float, ...]) -> tuple[list[float], float]:
    """Weights ``w`` and bias ``b`` with ``sigmoid(sum_i w_i relu(a - k_i) + b) ~= a`` on [0, 1].

    Least squares on ``logit(a)`` gives the start; L-BFGS then minimises the error on ``a`` itself.
    """
    k = torch.tensor(knots, dtype=torch.float64)
    a = torch.linspace(0.0, 1.0, 1001, dtype=torch.float64)
    design = torch.cat([torch.relu(a[:, None] - k[None]), torch.ones_like(a)[:, None]], dim=1)
    sol = torch.linalg.lstsq(design, torch.logit(a.clamp(0.01, 0.99))[:, None]).solution[:, 0]
    sol = sol.clone().requires_grad_(True)
    with torch.enable_grad():
        opt = torch.optim.LBFGS([sol], max_iter=200, line_search_fn='strong_wolfe')

        def closure():
            opt.zero_grad()
            loss = (torch.sigmoid(design @ sol) - a).pow(2).mean()
            loss.backward()
            return loss
        opt.step(closure)
    sol = sol.detach()
    return sol[:-1].tolist(), float(sol[-1])
