"""Paper 000's compact fusion CNN (Table 1), its UNet branch, the averaging warm start, the model factory."""
import pytest
import torch
import torch.nn.functional as F

from fusion_ros.models import MODELS, build_model, config_from_dict, config_to_dict
from fusion_ros.models.compact import CompactFusionConfig, CompactFusionNet, init_as_average
from fusion_ros.models.scene import SceneFusionModel, SceneModelConfig


def _conv(x, conv):
    """A 3x3 'same' convolution with reflect borders, written with F.pad + F.conv2d."""
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode='reflect'), conv.weight, conv.bias)


def _table1(net, x):
    """Table 1 by hand: c1 = ReLU(conv1), add1 = c1 + ReLU(conv2), add2 = add1 + ReLU(conv3), then
    sigmoid(conv4)."""
    c1 = torch.relu(_conv(x, net.conv1))
    add1 = c1 + torch.relu(_conv(c1, net.conv2))
    add2 = add1 + torch.relu(_conv(add1, net.conv3))
    return torch.sigmoid(_conv(add2, net.conv4))


def test_parameter_count_is_table_1():
    # 4 convs 3x3 with 8 channels: conv1 2->8, conv2 8->8, conv3 8->8, conv4 8->1, each with biases.
    c, k = 8, 3 * 3
    expected = (2 * c * k + c) + 2 * (c * c * k + c) + (c * k + 1)
    assert expected == 1393
    assert sum(p.numel() for p in CompactFusionNet().parameters()) == expected


def test_forward_matches_table_1_by_hand():
    torch.manual_seed(0)
    net = CompactFusionNet()
    x = torch.rand(2, 2, 13, 17)
    torch.testing.assert_close(net(x), _table1(net, x), atol=1e-6, rtol=0)


def test_output_shape_and_range():
    torch.manual_seed(1)
    net = CompactFusionNet()
    for h, w in [(8, 8), (13, 17), (31, 2 * 31)]:
        y = net(torch.rand(1, 2, h, w))
        assert y.shape == (1, 1, h, w)
        assert y.min() > 0 and y.max() < 1


def test_the_two_additive_skips_carry_conv1_to_conv4():
    # With conv2 and conv3 switched off, only the skips connect conv1 to conv4:
    # output = sigmoid(conv4(ReLU(conv1(x)))). A plain chain would give a constant sigmoid(conv4 bias).
    torch.manual_seed(2)
    net = CompactFusionNet()
    with torch.no_grad():
        for conv in (net.conv2, net.conv3):
            conv.weight.zero_()
            conv.bias.zero_()
    x = torch.rand(1, 2, 10, 12)
    expected = torch.sigmoid(_conv(torch.relu(_conv(x, net.conv1)), net.conv4))
    out = net(x)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    assert out.std() > 1e-3  # not the constant a chain without skips would give


def test_padding_mode_is_reflect_by_default():
    net = CompactFusionNet()
    assert all(c.padding_mode == 'reflect' for c in (net.conv1, net.conv2, net.conv3, net.conv4))
    assert CompactFusionNet(CompactFusionConfig(padding_mode='zeros')).conv1.padding_mode == 'zeros'


def test_width_and_in_channels_are_configurable():
    net = CompactFusionNet(CompactFusionConfig(in_channels=3, width=4))
    assert net.conv1.weight.shape == (4, 3, 3, 3) and net.conv4.weight.shape == (1, 4, 3, 3)
    assert net(torch.rand(1, 3, 9, 9)).shape == (1, 1, 9, 9)


def test_init_as_average_outputs_the_channel_mean():
    net = init_as_average(CompactFusionNet())
    g = torch.Generator().manual_seed(3)
    x = 0.02 + 0.96 * torch.rand(4, 2, 20, 24, generator=g)
    with torch.no_grad():
        err = (net(x) - x.mean(dim=1, keepdim=True)).abs().max()
    assert err < 0.02
    # conv2 / conv3 are not dead: every parameter gets a gradient from the first step.
    net(x).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_init_as_average_is_deterministic_per_seed():
    a = init_as_average(CompactFusionNet(), seed=5).state_dict()
    b = init_as_average(CompactFusionNet(), seed=5).state_dict()
    c = init_as_average(CompactFusionNet(), seed=6).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a['conv2.weight'], c['conv2.weight'])


def test_init_as_average_rejects_width_one():
    with pytest.raises(ValueError, match='needs width >= 2, got 1'):
        init_as_average(CompactFusionNet(CompactFusionConfig(width=1)))


@pytest.fixture(scope='module')
def unet_net():
    pytest.importorskip('segmentation_models_pytorch')
    torch.manual_seed(0)
    return CompactFusionNet(CompactFusionConfig(unet=True))


def test_unet_variant_odd_size_and_average_start(unet_net):
    n_params = sum(p.numel() for p in unet_net.parameters())
    assert 14_000_000 < n_params - 1393 < 15_000_000  # the UNet-ResNet18 branch, about 14.3M
    init_as_average(unet_net)
    x = 0.02 + 0.96 * torch.rand(1, 2, 50, 70)  # not a multiple of 32: padded inside, cropped back
    with torch.no_grad():
        y = unet_net(x)
    assert y.shape == (1, 1, 50, 70)
    # The UNet's last layer starts at zero, so the warm start is still the average.
    assert (y - x.mean(dim=1, keepdim=True)).abs().max() < 0.02


# --------------------------------------------------------------------------- factory


def test_build_model_by_name_from_config_dict_or_none():
    assert isinstance(build_model('compact'), CompactFusionNet)
    net = build_model('compact', {'width': 4})
    assert net.conv1.out_channels == 4
    scene = build_model('scene', {'stn': False, 'fusion': {'width': 6}})
    assert isinstance(scene, SceneFusionModel) and scene.stn is None and scene.fusion.config.width == 6
    same = build_model('scene', SceneModelConfig(stn=False))
    assert same.stn is None
    assert {'scene', 'compact'} <= set(MODELS)


def test_config_dict_round_trip():
    config = SceneModelConfig(stn=True)
    config.fusion.width = 5
    config.stn_config.loc_size = 32
    back = config_from_dict('scene', config_to_dict(config))
    assert back == config


def test_build_model_unknown_name_lists_valid_names():
    with pytest.raises(KeyError, match=r"unknown model 'resnet'; valid names: compact, scene"):
        build_model('resnet')


@pytest.mark.parametrize('name, config, message', [
    ('compact', {'depth': 3}, r"CompactFusionConfig: unknown keys \['depth'\]; valid keys: \[.*'width'"),
    ('scene', {'stm': False}, r"SceneModelConfig: unknown keys \['stm'\]; valid keys: \['fusion', 'stn', "),
    ('scene', {'fusion': {'widht': 4}}, r"CompactFusionConfig: unknown keys \['widht'\]"),
    ('scene', {'stn_config': {'loc': 3}}, r"STNConfig: unknown keys \['loc'\]; valid keys: \['loc_channels'"),
])
def test_build_model_unknown_config_keys_are_refused(name, config, message):
    with pytest.raises(KeyError, match=message):
        build_model(name, config)
