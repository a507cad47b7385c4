"""SSVIF's fusion loss (paper 004, Section III-D, Eq. 3) and BT.601 RGB <-> YCbCr helpers.

``L_fusion = l1 L_int + l2 L_grad + l3 L_ssim + l4 L_color`` with ``(l1, l2, l3, l4) = (20, 20, 10, 20)``
(Appendix B-A: the first three from SwinFusion, ``l4 = 20`` from the paper's ablation, Table VII):

* ``L_int   = 1/HW || I_f - max(I_ir, I_vis) ||_1``
* ``L_grad  = 1/HW || |grad I_f| - max(|grad I_ir|, |grad I_vis|) ||_1`` (Sobel)
* ``L_ssim  = E_{j in {ir, vis}} (1 - ssim(I_f, I_j))``
* ``L_color = 1/HW E_{c in {Cb, Cr}} || I_f^c - I_vis^c ||_1``

What "max" means for 3-channel images. The paper writes the terms on ``3 x H x W`` images but does not
say how the element-wise max of an RGB image and a (repeated) gray infrared image is meant. Taken per RGB
channel, a hot pixel would ask for white while ``L_color`` asks for the visible chroma: the terms would
fight. SwinFusion, whose loss and weights SSVIF adopts, computes intensity, gradient and SSIM terms on the
luminance Y; with ``L_color`` on CbCr the four terms then split cleanly into "Y from both sources, colour
from the visible". So the default ``space='y'`` computes ``L_int``, ``L_grad`` and ``L_ssim`` on Y
(BT.601 full range; the infrared's Y is its gray value) and ``L_color`` on CbCr. ``space='rgb'`` is the
literal per-channel reading (infrared repeated to 3 channels, terms averaged over channels), for
comparison.

Other choices, as SwinFusion/SeAFusion implement the terms: ``|grad I| = |d/dx I| + |d/dy I|`` with the
unnormalised Sobel of :func:`fusion_ros.filters.sobel`; ``1/HW ||.||_1`` is a mean over pixels (and over
channels where there are several); SSIM is the Gaussian 11x11 reference of
:func:`fusion_ros.losses.ssim.ssim`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from fusion_ros.config import dataclass_from_dict
from fusion_ros.filters import sobel
from fusion_ros.losses.ssim import ssim

# BT.601 full range ("JPEG") RGB -> YCbCr, offsets of 0.5 on Cb and Cr for images in [0, 1].
_RGB_TO_YCBCR = ((0.299, 0.587, 0.114),
                 (-0.168736, -0.331264, 0.5),
                 (0.5, -0.418688, -0.081312))
_YCBCR_TO_RGB = ((1.0, 0.0, 1.402),
                 (1.0, -0.344136, -0.714136),
                 (1.0, 1.772, 0.0))


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 full-range RGB -> YCbCr.

    Args:
        rgb: ``(B, 3, H, W)`` float in [0, 1].

    Returns:
        ``(B, 3, H, W)``: Y in [0, 1], Cb and Cr in [0, 1] (0.5 = no colour).

    Example:
        >>> rgb_to_ycbcr(torch.ones(1, 3, 1, 1)).flatten().tolist()  # white: Y = 1, no chroma
        [1.0, 0.5, 0.5]
    """
    _check_rgb(rgb, 'rgb_to_ycbcr')
    m = rgb.new_tensor(_RGB_TO_YCBCR)
    out = torch.einsum('oc,bchw->bohw', m, rgb)
    return out + rgb.new_tensor([0.0, 0.5, 0.5]).view(1, 3, 1, 1)


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr`: ``(B, 3, H, W)`` YCbCr -> RGB (not clipped)."""
    _check_rgb(ycbcr, 'ycbcr_to_rgb')
    m = ycbcr.new_tensor(_YCBCR_TO_RGB)
    centred = ycbcr - ycbcr.new_tensor([0.0, 0.5, 0.5]).view(1, 3, 1, 1)
    return torch.einsum('oc,bchw->bohw', m, centred)


@dataclass
class FusionLossConfig:
    """Weights and options of :func:`fusion_loss` (defaults: the paper's, Appendix B-A).

    space: ``'y'`` (intensity, gradient, SSIM on luminance; see the module docstring) or ``'rgb'``.
    w_field_ssim, w_qabf, w_vif, w_delta_e: weights of the field-metric terms (0: the paper's loss), see
        :func:`field_terms`; they need ``space='y'``.
    """
    w_int: float = 20.0
    w_grad: float = 20.0
    w_ssim: float = 10.0
    w_color: float = 20.0
    space: Literal['y', 'rgb'] = 'y'
    window_size: int = 11
    w_field_ssim: float = 0.0
    w_qabf: float = 0.0
    w_vif: float = 0.0
    w_delta_e: float = 0.0

    def __post_init__(self):
        if self.space not in ('y', 'rgb'):
            raise ValueError(f"FusionLossConfig.space must be 'y' or 'rgb', got {self.space!r}")
        if self.space != 'y' and self.field_weights() != (0.0, 0.0, 0.0, 0.0):
            raise ValueError("FusionLossConfig: the field-metric terms work on luminance; use space='y'")

    def field_weights(self) -> tuple[float, float, float, float]:
        return (float(self.w_field_ssim), float(self.w_qabf), float(self.w_vif), float(self.w_delta_e))

    def kwargs(self) -> dict:
        """Keyword arguments of :func:`fusion_loss`."""
        return dict(w_int=self.w_int, w_grad=self.w_grad, w_ssim=self.w_ssim, w_color=self.w_color,
                    space=self.space, window_size=self.window_size, field=self.field_weights())

    @classmethod
    def from_dict(cls, d: dict) -> 'FusionLossConfig':
        return dataclass_from_dict(cls, d)


#: The field-aware fusion loss the shipped blend model is trained with: the paper's four terms at a tenth
#: of their weights plus the field's metrics (skimage-convention SSIM, Qabf, VIF, Delta-E lightness).
FIELD_LOSS = dict(w_int=2.0, w_grad=2.0, w_ssim=1.0, w_color=2.0,
                  w_field_ssim=2.0, w_qabf=4.0, w_vif=3.0, w_delta_e=0.1)


def field_terms(fused_y: torch.Tensor, visible_y: torch.Tensor, thermal: torch.Tensor,
                fused_rgb: torch.Tensor, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
    """The field-metric deficits, each ``(B,)`` and 0 at best (see :mod:`fusion_ros.losses.field`).

    ``field_ssim = 2 - SSIM(F, T) - SSIM(F, Y)`` (skimage convention), ``qabf = 1 - Qabf``,
    ``vif = (2 - VIF(T, F) - VIF(Y, F)) / 2`` (can go below 0: VIF rewards added contrast),
    ``delta_e = Delta-E lightness / 10``. Luma inputs ``(B, 1, H, W)``, colour ``(B, 3, H, W)``, in [0, 1].
    """
    from fusion_ros.losses.field import delta_e_lightness, qabf_soft, ssim_uniform_pair
    from fusion_ros.metrics.vif import vifp

    return {'field_ssim': 2.0 - ssim_uniform_pair(fused_y, thermal) - ssim_uniform_pair(fused_y, visible_y),
            'qabf': 1.0 - qabf_soft(thermal, visible_y, fused_y),
            'vif': (2.0 - vifp(thermal, fused_y) - vifp(visible_y, fused_y)).to(fused_y.dtype) / 2.0,
            'delta_e': delta_e_lightness(rgb, fused_rgb) / 10.0}


def gradient_abs(x: torch.Tensor) -> torch.Tensor:
    """``|d/dx x| + |d/dy x|`` (Sobel, replicate borders): ``(B, C, H, W) -> (B, C, H, W)``, >= 0."""
    return sobel(x).abs().sum(dim=2)


def fusion_loss(fused: torch.Tensor, rgb: torch.Tensor, thermal: torch.Tensor, *,
                w_int: float = 20.0, w_grad: float = 20.0, w_ssim: float = 10.0, w_color: float = 20.0,
                space: str = 'y', window_size: int = 11,
                field: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
                reduction: Literal['mean', 'none'] = 'mean') -> dict[str, torch.Tensor]:
    """The SSVIF fusion loss, Eq. (3), and its four terms.

    Args:
        fused: ``(B, 3, H, W)`` fused RGB in [0, 1].
        rgb: ``(B, 3, H, W)`` visible RGB in [0, 1].
        thermal: ``(B, 1, H, W)`` infrared in [0, 1] on the RGB grid (a ``(B, 3, H, W)`` gray image is
            reduced to its Y, which equals its value).
        w_int, w_grad, w_ssim, w_color: the lambdas (paper: 20, 20, 10, 20).
        space: ``'y'`` or ``'rgb'``, see the module docstring.
        window_size: SSIM window; H and W must be at least this.
        field: weights of the field-metric terms ``(field_ssim, qabf, vif, delta_e)`` of
            :func:`field_terms` (all 0: the paper's loss; with any non-zero the terms are returned too).
        reduction: ``'mean'`` (batch means, 0-d tensors) or ``'none'`` (``(B,)`` per image).

    Returns:
        dict ``loss`` (the weighted total), ``intensity``, ``gradient``, ``ssim``, ``color`` (unweighted),
        and with field weights ``field_ssim``, ``qabf``, ``vif``, ``delta_e``.

    Example:
        >>> vis, ir = torch.rand(2, 3, 32, 32), torch.rand(2, 1, 32, 32)
        >>> float(fusion_loss(vis, vis, ir)['color'])  # fused = visible: no colour error
        0.0
    """
    if reduction not in ('mean', 'none'):
        raise ValueError(f"fusion_loss: reduction must be 'mean' or 'none', got {reduction!r}")
    if space not in ('y', 'rgb'):
        raise ValueError(f"fusion_loss: space must be 'y' or 'rgb', got {space!r}")
    _check_rgb(fused, 'fusion_loss: fused')
    _check_rgb(rgb, 'fusion_loss: rgb')
    if fused.shape != rgb.shape:
        raise ValueError(f'fusion_loss: fused {tuple(fused.shape)} and rgb {tuple(rgb.shape)} differ in '
                         'shape; they must match')
    if thermal.ndim != 4 or thermal.shape[1] not in (1, 3) or thermal.shape[0] != rgb.shape[0] \
            or thermal.shape[-2:] != rgb.shape[-2:]:
        raise ValueError(f'fusion_loss: thermal must be (B, 1, H, W) matching rgb {tuple(rgb.shape)}, got '
                         f'{tuple(thermal.shape)}; resample it onto the RGB grid first')
    f_ycc, v_ycc = rgb_to_ycbcr(fused), rgb_to_ycbcr(rgb)
    ir = rgb_to_ycbcr(thermal)[:, :1] if thermal.shape[1] == 3 else thermal
    if space == 'y':
        f, v = f_ycc[:, :1], v_ycc[:, :1]
    else:
        f, v, ir = fused, rgb, ir.expand_as(rgb)

    intensity = _mean(f - torch.maximum(ir, v))
    g_f = gradient_abs(f)
    gradient = _mean(g_f - torch.maximum(gradient_abs(ir), gradient_abs(v)))
    ssim_term = 1.0 - 0.5 * (ssim(f, ir, window_size=window_size) + ssim(f, v, window_size=window_size))
    color = _mean(f_ycc[:, 1:] - v_ycc[:, 1:])
    total = w_int * intensity + w_grad * gradient + w_ssim * ssim_term + w_color * color
    out = {'loss': total, 'intensity': intensity, 'gradient': gradient, 'ssim': ssim_term, 'color': color}
    if any(w != 0.0 for w in field):
        if space != 'y':
            raise ValueError("fusion_loss: the field-metric terms work on luminance; use space='y'")
        terms = field_terms(f, v, ir, fused, rgb)
        for w, (name, value) in zip(field, terms.items()):
            total = total + w * value
        out.update(terms, loss=total)
    return out if reduction == 'none' else {k: v.mean() for k, v in out.items()}


class FusionLoss(nn.Module):
    """Module form of :func:`fusion_loss`; ``forward(fused, rgb, thermal)`` returns its dict (batch means)."""

    def __init__(self, config: FusionLossConfig | None = None):
        super().__init__()
        self.config = config or FusionLossConfig()

    def forward(self, fused: torch.Tensor, rgb: torch.Tensor,
                thermal: torch.Tensor) -> dict[str, torch.Tensor]:
        return fusion_loss(fused, rgb, thermal, **self.config.kwargs())


def _mean(diff: torch.Tensor) -> torch.Tensor:
    """Mean absolute value per image: ``(B, ...) -> (B,)``."""
    return diff.abs().flatten(1).mean(dim=1)


def _check_rgb(x: torch.Tensor, where: str) -> None:
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f'{where}: expected a (B, 3, H, W) image, got {tuple(x.shape)}')


__all__ = ['FIELD_LOSS', 'FusionLoss', 'FusionLossConfig', 'field_terms', 'fusion_loss', 'gradient_abs', 'rgb_to_ycbcr', 'ycbcr_to_rgb']
