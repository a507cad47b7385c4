"""SSVIF fusion loss (paper 004, Eq. 3) and the BT.601 YCbCr helpers."""
import pytest
import torch

from fusion_ros.losses.fusion import (FusionLoss, FusionLossConfig, fusion_loss, gradient_abs, rgb_to_ycbcr,
                                      ycbcr_to_rgb)




def _pair(b=2, h=32, w=32):
    torch.manual_seed(0)
    return torch.rand(b, 3, h, w), torch.rand(b, 1, h, w)


def test_ycbcr_known_values_and_round_trip():
    colours = torch.tensor([[1., 0., 0.], [0., 1., 0.], [0., 0., 1.], [0.5, 0.5, 0.5]]).view(4, 3, 1, 1)
    ycc = rgb_to_ycbcr(colours).flatten(1)
    assert torch.allclose(ycc[0], torch.tensor([0.299, 0.5 - 0.168736, 1.0]), atol=1e-6)
    assert torch.allclose(ycc[2], torch.tensor([0.114, 1.0, 0.5 - 0.081312]), atol=1e-6)
    assert torch.allclose(ycc[3], torch.tensor([0.5, 0.5, 0.5]), atol=1e-6)
    rgb, _ = _pair()
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-5)


def test_gray_thermal_in_ycbcr_is_its_value_without_chroma():
    _, t = _pair()
    ycc = rgb_to_ycbcr(t.expand(-1, 3, -1, -1))
    assert torch.allclose(ycc[:, :1], t, atol=1e-6)
    assert torch.allclose(ycc[:, 1:], torch.full_like(ycc[:, 1:], 0.5), atol=1e-6)


def test_color_term_is_zero_when_fused_is_the_visible():
    rgb, t = _pair()
    assert float(fusion_loss(rgb, rgb, t)['color']) == 0.0


def test_intensity_term_is_zero_when_fused_luma_is_the_max():
    rgb, t = _pair()
    ycc = rgb_to_ycbcr(rgb)
    target = torch.cat([torch.maximum(ycc[:, :1], t), ycc[:, 1:]], dim=1)
    fused = ycbcr_to_rgb(target)  # may leave [0, 1] slightly; the loss does not need it inside
    out = fusion_loss(fused, rgb, t)
    assert float(out['intensity']) < 1e-6
    assert float(out['color']) < 1e-6


def test_rgb_space_intensity_is_per_channel_max():
    rgb, t = _pair()
    out = fusion_loss(torch.maximum(rgb, t), rgb, t, space='rgb')
    assert float(out['intensity']) < 1e-7


def test_gradient_term_zero_when_gradients_match_the_max():
    # Thermal flat: the max gradient is the visible's, so fused = visible gives a zero gradient term.
    rgb, _ = _pair()
    out = fusion_loss(rgb, rgb, torch.full((2, 1, 32, 32), 0.3))
    assert float(out['gradient']) < 1e-6


def test_gradient_abs_of_a_step():
    x = torch.zeros(1, 1, 5, 6)
    x[..., 3:] = 1.0
    g = gradient_abs(x)
    assert float(g[0, 0, 2, 2]) == pytest.approx(4.0) and float(g[0, 0, 2, 0]) == 0.0


def test_ssim_term_and_total_weights():
    rgb, t = _pair()
    out = fusion_loss(rgb, rgb, t, reduction='none')
    assert out['loss'].shape == (2,)
    assert ((out['ssim'] > 0) & (out['ssim'] < 1)).all()
    total = 20 * out['intensity'] + 20 * out['gradient'] + 10 * out['ssim'] + 20 * out['color']
    assert torch.allclose(out['loss'], total)
    custom = fusion_loss(rgb, rgb, t, w_int=1, w_grad=0, w_ssim=0, w_color=0)
    assert torch.allclose(custom['loss'], custom['intensity'])


def test_module_matches_function_and_gradients_flow():
    rgb, t = _pair()
    fused = torch.rand_like(rgb, requires_grad=True)
    out = FusionLoss(FusionLossConfig.from_dict({'space': 'y'}))(fused, rgb, t)
    assert torch.allclose(out['loss'], fusion_loss(fused, rgb, t)['loss'])
    out['loss'].backward()
    assert torch.isfinite(fused.grad).all() and fused.grad.abs().sum() > 0


def test_errors_say_what_came():
    rgb, t = _pair()
    with pytest.raises(ValueError, match='thermal'):
        fusion_loss(rgb, rgb, t[..., :16])
    with pytest.raises(ValueError, match='space'):
        fusion_loss(rgb, rgb, t, space='lab')
    with pytest.raises(KeyError, match='valid keys'):
        FusionLossConfig.from_dict({'lambda1': 20})
