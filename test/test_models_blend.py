"""The blend fusion net: the max rule before training, linear departures after, sizes and costs."""
import pytest
import torch

from fusion_ros.baselines import fuse_max
from fusion_ros.checkpoint import load_model, save_checkpoint
from fusion_ros.models import build_model
from fusion_ros.models.blend import BLEND_TERMS, BlendFusionNet, BlendModelConfig, blend_candidates, box_blur
from fusion_ros.models.ssvif import count_macs


def test_untrained_net_is_the_max_rule_exactly():
    torch.manual_seed(0)
    rgb, th = torch.rand(2, 3, 37, 53), torch.rand(2, 1, 37, 53)
    out = BlendFusionNet()(rgb, th)
    assert torch.equal(out['fused'], fuse_max(rgb, th))
    assert out['luma'].shape == (2, 1, 37, 53)
    assert out['features'].shape == (2, 24, 10, 14)


def test_coefficients_move_the_output_as_written():
    net = BlendFusionNet(BlendModelConfig(depth=0))
    with torch.no_grad():  # c_T = 1 everywhere: the output is the thermal image
        net.decoder.coef.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
    rgb, th = torch.rand(1, 3, 16, 16), torch.rand(1, 1, 16, 16)
    assert torch.allclose(net(rgb, th)['luma'], th, atol=1e-6)
    with torch.no_grad():  # c_Y = 1: the visible luma, i.e. the visible image itself
        net.decoder.coef.bias.copy_(torch.tensor([0.0, 1.0, 0.0, 0.0]))
    assert torch.allclose(net(rgb, th)['fused'], rgb, atol=1e-5)


def test_candidates_and_box_blur():
    th, gray = torch.rand(1, 1, 12, 12), torch.rand(1, 1, 12, 12)
    anchor, terms = blend_candidates(th, gray, 1)
    assert terms.shape[1] == len(BLEND_TERMS)
    assert torch.equal(anchor, torch.maximum(th, gray))
    assert (terms[:, :2] <= 0).all()
    flat = torch.full((1, 1, 9, 9), 0.3)
    assert torch.allclose(box_blur(flat, 2), flat)


def test_gradients_reach_every_parameter():
    net = BlendFusionNet(BlendModelConfig(depth=1))
    with torch.no_grad():
        net.decoder.coef.weight.normal_(std=0.1)
    out = net(torch.rand(1, 3, 32, 32), torch.rand(1, 1, 32, 32))
    out['luma'].mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_cost_well_under_one_gmac_and_checkpoint_round_trip(tmp_path):
    net = build_model('ssvif_blend', {'width': 16, 'depth': 2})
    assert count_macs(net, 480, 640) < 0.5e9
    path = save_checkpoint(tmp_path / 'b.pt', net, 'ssvif_blend')
    loaded, ckpt = load_model(path)
    assert ckpt['model'] == 'ssvif_blend' and loaded.config == net.config


@pytest.mark.parametrize('bad', [dict(scale=3), dict(width=0), dict(dilations=(0,)), dict(detail_radius=0)])
def test_bad_config_is_refused(bad):
    with pytest.raises(ValueError):
        BlendModelConfig(**bad)


def test_wrong_inputs_say_what_came():
    with pytest.raises(ValueError, match='differ'):
        BlendFusionNet()(torch.rand(1, 3, 16, 16), torch.rand(1, 1, 8, 8))
