"""A real-time RGB + thermal fusion network shaped for SSVIF (paper 004): backbone B + decoder D.

SSVIF (Section III-B) trains any fusion model ``F = D(B(I_ir, I_vis))`` whose backbone B extracts
and fuses features and whose decoder D reconstructs the fused image; a segmentation head reads B's
fused features, a segmentation model reads D's image. This module supplies such a model, built to
run at camera rate on a CPU:

* **backbone** (:class:`SSVIFBackbone`): one encoder per modality (3x3 conv stride 2, then a
  depthwise-separable conv stride 2: 1/2 and 1/4 resolution), a 1x1 fusion of the two 1/4 maps,
  ``depth`` residual depthwise-separable blocks (dilations cycling through ``dilations``) giving the
  fused ``features (B, width, H/4, W/4)``; plus the 1/2-resolution fused skip and a shallow
  full-resolution path (one 3x3 conv over ``[rgb, thermal]``) that keeps fine detail cheaply.
* **decoder** (:class:`SSVIFDecoder`): 1x1 + bilinear x2 onto the 1/2 skip, a depthwise-separable
  conv, 1x1 + bilinear x2 onto the full-resolution path, a 1x1 conv to 3 channels, sigmoid.

Colour (paper Appendix B-B): SSVIF fuses **three-channel** images: RGB in, RGB out (no Y-only fusion
with CbCr pasted back; the single-channel variant is the paper's ablation and is worse). So the
output here is RGB directly; colour fidelity comes from the loss' CbCr term
(:func:`fusion_ros.losses.fusion.fusion_loss`).

Thermal input: the paper feeds the infrared image as 3 channels (gray repeated). A convolution over
three equal channels equals a convolution over one channel with the three kernels summed, so the
thermal encoder takes ``(B, 1, H, W)`` directly: the same function class as the paper's input at a
third of the stem cost. A ``(B, 3, H, W)`` thermal (e.g. a 3-channel IR png) is accepted and reduced
to its channel mean, which is exact for a repeated gray image.

Cost of the default config (``count_macs``, conv/matmul only): 0.345 GMAC per 640x480 frame, 8.8k
parameters; on this project's 2-core CPU (shared with other jobs while measured) 33-41 ms median per
640x480 frame with one thread (torch.inference_mode, batch 1), i.e. 25-30 frames/s. Beware of
oversubscription: with 2 OpenMP threads on a busy 2-core machine the same frame took ~690 ms (threads
spin-wait for descheduled peers); ``OMP_WAIT_POLICY=PASSIVE`` or ``torch.set_num_threads(1)`` avoids it.
Larger variants: raise ``width``, ``depth``, ``stem_width``, ``full_res_width`` (e.g. 48/4/24/12 with
dilations 1, 2, 4: 0.75 GMAC; the full-resolution stage dominates the count).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fusion_ros.config import dataclass_from_dict


@dataclass
class SSVIFModelConfig:
    """Sizes of :class:`SSVIFFusionNet`. Defaults: the real-time CPU model (0.345 GMAC @ 640x480).

    width: channels of the fused features at 1/4 resolution (the ``features`` output, C).
    depth: residual depthwise-separable blocks after the fusion at 1/4 resolution.
    stem_width: channels per modality at 1/2 resolution.
    full_res_width: channels of the full-resolution path (input conv and decoder output stage).
    dilations: dilation of each residual block, cycled (more context at no extra cost).
    """
    width: int = 32
    depth: int = 2
    stem_width: int = 16
    full_res_width: int = 8
    dilations: tuple[int, ...] = (1, 2)

    def __post_init__(self):
        self.dilations = tuple(int(d) for d in self.dilations)
        for name in ('width', 'stem_width', 'full_res_width'):
            if int(getattr(self, name)) < 1:
                raise ValueError(f'SSVIFModelConfig.{name} must be >= 1, got {getattr(self, name)}')
        if self.depth < 0:
            raise ValueError(f'SSVIFModelConfig.depth must be >= 0, got {self.depth}')
        if not self.dilations or min(self.dilations) < 1:
            raise ValueError(f'SSVIFModelConfig.dilations must be positive integers, got {self.dilations}')

    @classmethod
    def from_dict(cls, d: dict) -> 'SSVIFModelConfig':
        """Build from a plain dict (YAML); unknown keys are refused with the list of valid ones."""
        return dataclass_from_dict(cls, d)


def _act(inplace: bool = True) -> nn.Module:
    return nn.LeakyReLU(0.1, inplace=inplace)


class DSConv(nn.Module):
    """Depthwise 3x3 (stride, dilation) then pointwise 1x1: ``(B, cin, H, W) -> (B, cout, H/s, W/s)``."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 3, stride, padding=dilation, dilation=dilation, groups=cin,
                            padding_mode='reflect' if stride == 1 else 'zeros')
        self.pw = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


class ResidualDSBlock(nn.Module):
    """``x + DSConv(act(x))``; the pointwise weights start small so a deep stack starts near identity."""

    def __init__(self, channels: int, dilation: int = 1):
        super().__init__()
        self.act = _act(inplace=False)  # x is also the residual
        self.conv = DSConv(channels, channels, dilation=dilation)
        nn.init.normal_(self.conv.pw.weight, std=1e-2)
        nn.init.zeros_(self.conv.pw.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(self.act(x))


def residual_stack(width: int, depth: int, dilations: tuple[int, ...]) -> nn.Sequential:
    """``depth`` :class:`ResidualDSBlock` of ``width`` channels, their dilations cycling through ``dilations``."""
    return nn.Sequential(*[ResidualDSBlock(width, dilations[i % len(dilations)]) for i in range(depth)])


def check_lowres_trunk(owner: str, width: int, depth: int, scale: int, dilations) -> tuple[int, ...]:
    """Check the sizes of a low-resolution CNN trunk (:func:`residual_stack` at ``1/scale``); returns the
    dilations as a tuple of ints. ``owner`` names the config in the messages (e.g. ``'BlendModelConfig'``)."""
    dilations = tuple(int(d) for d in dilations)
    if width < 1 or depth < 0:
        raise ValueError(f'{owner}: width must be >= 1 and depth >= 0, got {width}, {depth}')
    if scale not in (1, 2, 4, 8):
        raise ValueError(f'{owner}.scale must be 1, 2, 4 or 8, got {scale}')
    if not dilations or min(dilations) < 1:
        raise ValueError(f'{owner}.dilations must be positive integers, got {dilations}')
    return dilations


class ModalityEncoder(nn.Module):
    """Per-modality features: ``(B, cin, H, W)`` -> ``(half, quarter)``.

    ``half (B, stem_width, H/2, W/2)``, ``quarter (B, width, H/4, W/4)`` (sizes rounded up).
    """

    def __init__(self, cin: int, stem_width: int, width: int):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(cin, stem_width, 3, 2, padding=1), _act())
        self.down = nn.Sequential(DSConv(stem_width, width, stride=2), _act())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        half = self.stem(x)
        return half, self.down(half)


class SSVIFBackbone(nn.Module):
    """B(I_ir, I_vis): feature extraction per modality and fusion.

    ``forward(rgb (B, 3, H, W), thermal (B, 1, H, W))`` (float in [0, 1]) returns a dict:
    ``features (B, width, ceil(H/4), ceil(W/4))`` the fused features (what the segmentation head reads),
    ``half (B, 2 * stem_width, ceil(H/2), ceil(W/2))`` the fused 1/2-resolution skip and
    ``full (B, full_res_width, H, W)`` the shallow full-resolution path.
    """

    def __init__(self, config: SSVIFModelConfig):
        super().__init__()
        c = config
        self.vis = ModalityEncoder(3, c.stem_width, c.width)
        self.ir = ModalityEncoder(1, c.stem_width, c.width)
        self.fuse = nn.Sequential(nn.Conv2d(2 * c.width, c.width, 1), _act())
        self.blocks = residual_stack(c.width, c.depth, c.dilations)
        self.full = nn.Conv2d(4, c.full_res_width, 3, padding=1, padding_mode='reflect')

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> dict[str, torch.Tensor]:
        vis_half, vis_q = self.vis(rgb)
        ir_half, ir_q = self.ir(thermal)
        features = self.blocks(self.fuse(torch.cat([vis_q, ir_q], dim=1)))
        return {'features': features, 'half': torch.cat([vis_half, ir_half], dim=1),
                'full': self.full(torch.cat([rgb, thermal], dim=1))}


class SSVIFDecoder(nn.Module):
    """D: the backbone's dict -> fused RGB ``(B, 3, H, W)`` in (0, 1) (sigmoid)."""

    def __init__(self, config: SSVIFModelConfig):
        super().__init__()
        c = config
        self.reduce_q = nn.Conv2d(c.width, c.stem_width, 1)
        self.reduce_half = nn.Conv2d(2 * c.stem_width, c.stem_width, 1)
        self.act = _act()
        self.refine_half = DSConv(c.stem_width, c.stem_width)
        self.to_full = nn.Conv2d(c.stem_width, c.full_res_width, 1)
        self.out = nn.Conv2d(c.full_res_width, 3, 1)  # 1x1: a 3x3 here would double the full-res cost

    def forward(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        half = b['half']
        x = _upsample(self.reduce_q(b['features']), half.shape[-2:]) + self.reduce_half(half)
        x = self.refine_half(self.act(x))
        full = b['full']
        x = _upsample(self.to_full(self.act(x)), full.shape[-2:]) + full
        return torch.sigmoid(self.out(self.act(x)))


class SSVIFFusionNet(nn.Module):
    """``F(I_ir, I_vis) = D(B(I_ir, I_vis))``: real-time RGB + thermal fusion with exposed features.

    ``forward(rgb, thermal)``:
        rgb: ``(B, 3, H, W)`` float32 in [0, 1]; thermal: ``(B, 1, H, W)`` (or ``(B, 3, H, W)``, reduced
        to its channel mean) float32 in [0, 1], on the RGB grid. Any H, W >= 2.
    Returns a dict:
        ``fused (B, 3, H, W)`` RGB in (0, 1); ``features (B, width, ceil(H/4), ceil(W/4))`` the fused
        features B produces (input of the SSVIF segmentation head).

    ``backbone`` and ``decoder`` are attributes, so training code can pick the backbone's parameters
    (e.g. the shared parameters of GDWA, see ``fusion_ros.ssvif``). ``feature_channels`` = C.

    Example:
        >>> net = SSVIFFusionNet()
        >>> out = net(torch.rand(1, 3, 64, 64), torch.rand(1, 1, 64, 64))
        >>> tuple(out['fused'].shape), tuple(out['features'].shape)
        ((1, 3, 64, 64), (1, 32, 16, 16))
    """

    def __init__(self, config: SSVIFModelConfig | None = None):
        super().__init__()
        self.config = config or SSVIFModelConfig()
        self.backbone = SSVIFBackbone(self.config)
        self.decoder = SSVIFDecoder(self.config)
        self.feature_channels = self.config.width

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> dict[str, torch.Tensor]:
        thermal = _check_inputs(rgb, thermal)
        b = self.backbone(rgb, thermal)
        return {'fused': self.decoder(b), 'features': b['features']}


def _check_inputs(rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f'SSVIFFusionNet: rgb must be (B, 3, H, W), got {tuple(rgb.shape)}')
    if thermal.ndim != 4 or thermal.shape[1] not in (1, 3):
        raise ValueError(f'SSVIFFusionNet: thermal must be (B, 1, H, W) (or a 3-channel gray image), '
                         f'got {tuple(thermal.shape)}')
    if rgb.shape[0] != thermal.shape[0] or rgb.shape[-2:] != thermal.shape[-2:]:
        raise ValueError(f'SSVIFFusionNet: rgb {tuple(rgb.shape)} and thermal {tuple(thermal.shape)} differ '
                         'in batch or size; resample the thermal onto the RGB grid '
                         '(fusion_ros.imaging.resize_to)')
    if min(rgb.shape[-2:]) < 2:
        raise ValueError(f'SSVIFFusionNet: images must be at least 2x2 pixels, got {tuple(rgb.shape[-2:])}')
    return thermal.mean(dim=1, keepdim=True) if thermal.shape[1] == 3 else thermal


def _upsample(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)


def count_macs(model: nn.Module, h: int = 480, w: int = 640, *, batch: int = 1) -> int:
    """Multiply-accumulates of one forward pass of a fusion model on an ``h x w`` frame.

    Counted with ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix products;
    element-wise ops and interpolation are not counted), ``MACs = FLOPs / 2``. A copy of the model is
    called on the meta device as ``model(rgb (batch, 3, h, w), thermal (batch, 1, h, w))``, so counting
    is instant and deterministic; ``model`` itself is not touched.

    Example:
        >>> count_macs(SSVIFFusionNet(), 480, 640) < 1e9
        True
    """
    import copy

    from torch.utils.flop_counter import FlopCounterMode

    # Shapes are all the counter needs: run a copy on the meta device (no memory, no compute).
    meta = copy.deepcopy(model).to('meta').eval()
    dtype = next(model.parameters()).dtype
    rgb = torch.empty(batch, 3, h, w, device='meta', dtype=dtype)
    thermal = torch.empty(batch, 1, h, w, device='meta', dtype=dtype)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        meta(rgb, thermal)
    return int(counter.get_total_flops()) // 2


__all__ = ['SSVIFModelConfig', 'SSVIFFusionNet', 'SSVIFBackbone', 'SSVIFDecoder', 'count_macs']
