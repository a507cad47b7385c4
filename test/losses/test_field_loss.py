"""Differentiable field-metric terms agree with the evaluators and give finite gradients."""
import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from fusion_ros.losses.field import delta_e_lightness, qabf_soft, ssim_uniform_pair
from fusion_ros.losses.fusion import FIELD_LOSS, FusionLossConfig, fusion_loss
from fusion_ros.metrics.qabf import qabf


def _pair(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.round(torch.rand(1, 1, 40, 48, generator=g) * 255) / 255
    y = torch.round((0.6 * x + 0.4 * torch.rand(1, 1, 40, 48, generator=g)) * 255) / 255
    return x, y


def test_ssim_uniform_pair_matches_skimage_float_call():
    x, y = _pair()
    want = structural_similarity(x[0, 0].double().numpy() * 255, y[0, 0].double().numpy() * 255, data_range=2.0)
    assert float(ssim_uniform_pair(x, y)) == pytest.approx(want, abs=1e-4)


def test_qabf_soft_close_to_qabf():
    a, b = _pair(1)
    f = 0.5 * (a + b)
    assert float(qabf_soft(a, b, f)) == pytest.approx(float(qabf(a, b, f)), abs=5e-3)


def test_delta_e_lightness_zero_for_same_image_and_grows():
    rgb = torch.rand(1, 3, 16, 16)
    assert float(delta_e_lightness(rgb, rgb)) < 1e-2
    assert float(delta_e_lightness(rgb, (rgb * 1.3).clamp(0, 1))) > 1.0


def test_field_loss_terms_have_finite_gradients_and_the_paper_loss_is_unchanged():
    rgb, th = torch.rand(2, 3, 48, 48), torch.rand(2, 1, 48, 48)
    fused = rgb.clone().requires_grad_(True)
    d = fusion_loss(fused, rgb, th, **FusionLossConfig(**FIELD_LOSS).kwargs())
    assert {'field_ssim', 'qabf', 'vif', 'delta_e'} <= set(d)
    d['loss'].backward()
    assert torch.isfinite(fused.grad).all() and fused.grad.abs().sum() > 0
    paper = fusion_loss(rgb, rgb, th)
    assert 'qabf' not in paper and float(paper['loss']) == pytest.approx(float(fusion_loss(
        rgb, rgb, th, **FusionLossConfig().kwargs())['loss']))


def test_field_terms_need_luminance_space():
    with pytest.raises(ValueError, match='luminance'):
        FusionLossConfig(space='rgb', w_qabf=1.0)
