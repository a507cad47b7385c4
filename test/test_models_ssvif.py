"""SSVIF fusion model: shapes, range, exposed features, config, cost."""
import pytest
import torch

from fusion_ros.models import build_model
from fusion_ros.models.ssvif import SSVIFFusionNet, SSVIFModelConfig, count_macs




def _pair(b=2, h=64, w=64):
    torch.manual_seed(0)
    return torch.rand(b, 3, h, w), torch.rand(b, 1, h, w)


def test_output_shapes_and_range():
    net = SSVIFFusionNet()
    out = net(*_pair())
    assert out['fused'].shape == (2, 3, 64, 64)
    assert out['features'].shape == (2, net.feature_channels, 16, 16)
    assert out['fused'].min() >= 0 and out['fused'].max() <= 1
    assert torch.isfinite(out['features']).all()


def test_odd_sizes_keep_the_input_size():
    out = SSVIFFusionNet()(*_pair(1, 37, 50))
    assert out['fused'].shape == (1, 3, 37, 50)
    assert out['features'].shape[-2:] == (10, 13)


def test_three_channel_gray_thermal_equals_one_channel():
    net = SSVIFFusionNet().eval()
    rgb, t = _pair(1)
    with torch.no_grad():
        a = net(rgb, t)['fused']
        b = net(rgb, t.expand(-1, 3, -1, -1))['fused']
    assert torch.allclose(a, b, atol=1e-6)


def test_gradients_reach_both_encoders():
    net = SSVIFFusionNet()
    net(*_pair())['fused'].mean().backward()
    assert net.backbone.vis.stem[0].weight.grad.abs().sum() > 0
    assert net.backbone.ir.stem[0].weight.grad.abs().sum() > 0


def test_bad_inputs_say_what_came():
    net = SSVIFFusionNet()
    with pytest.raises(ValueError, match='thermal'):
        net(torch.rand(1, 3, 32, 32), torch.rand(1, 2, 32, 32))
    with pytest.raises(ValueError, match='resize_to'):
        net(torch.rand(1, 3, 32, 32), torch.rand(1, 1, 16, 16))


def test_registry_and_config_from_dict():
    net = build_model('ssvif', {'width': 16, 'depth': 3, 'dilations': [1, 2, 4]})
    assert isinstance(net, SSVIFFusionNet) and net.config.width == 16 and net.config.dilations == (1, 2, 4)
    assert net(*_pair(1, 32, 32))['features'].shape[1] == 16
    with pytest.raises(KeyError, match='valid keys'):
        SSVIFModelConfig.from_dict({'widht': 16})
    with pytest.raises(ValueError):
        SSVIFModelConfig(width=0)


def test_default_cost_at_640x480_is_well_under_one_gmac():
    net = SSVIFFusionNet()
    macs = count_macs(net, 480, 640)
    assert 1e8 < macs < 1e9
    bigger = count_macs(SSVIFFusionNet(SSVIFModelConfig(width=64, depth=4, stem_width=32)), 480, 640)
    assert bigger > macs
