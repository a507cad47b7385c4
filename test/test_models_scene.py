"""The per-scene model: STN (or none, or a fixed transform) in front of the compact CNN."""
import torch

from fusion_ros.align import STNConfig, identity_theta, pixels_to_theta, warp_affine
from fusion_ros.models.compact import CompactFusionNet
from fusion_ros.models.scene import SceneFusionModel, SceneModelConfig

KEYS = {'fused', 'thermal_registered', 'valid', 'thermal_from_rgb'}


def _inputs(b=1, h=24, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 1, h, w, generator=g), torch.rand(b, 1, h, w, generator=g)


def test_without_stn_fuses_the_inputs_as_they_come():
    torch.manual_seed(0)
    model = SceneFusionModel(SceneModelConfig(stn=False))
    assert model.stn is None
    thermal, gray = _inputs(b=2)
    out = model(thermal, gray)
    assert set(out) == KEYS
    assert out['thermal_registered'] is thermal
    torch.testing.assert_close(out['valid'], torch.ones_like(thermal))
    torch.testing.assert_close(out['thermal_from_rgb'], identity_theta(2))
    # Channel order [thermal, gray] into the fusion CNN.
    torch.testing.assert_close(out['fused'], model.fusion(torch.cat([thermal, gray], dim=1)))
    assert out['fused'].shape == (2, 1, 24, 32)


def test_with_stn_starts_as_the_identity():
    torch.manual_seed(1)
    model = SceneFusionModel(SceneModelConfig(stn=True, stn_config=STNConfig(loc_size=32)))
    assert model.stn is not None
    thermal, gray = _inputs()
    out = model(thermal, gray)
    torch.testing.assert_close(out['thermal_from_rgb'], identity_theta(1))
    torch.testing.assert_close(out['thermal_registered'], thermal, atol=1e-5, rtol=0)
    expected = model.fusion(torch.cat([thermal, gray], dim=1))
    torch.testing.assert_close(out['fused'], expected, atol=1e-5, rtol=0)


def test_fixed_theta_bypasses_the_stn():
    torch.manual_seed(2)
    model = SceneFusionModel(SceneModelConfig(stn=True))
    thermal, gray = _inputs(h=20, w=28)
    shift = torch.tensor([[[1.0, 0.0, 3.0], [0.0, 1.0, -2.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    theta = pixels_to_theta(shift, (20, 28), (20, 28))
    out = model(thermal, gray, thermal_from_rgb=theta)
    assert out['thermal_from_rgb'] is theta
    expected, _ = warp_affine(thermal, theta, (20, 28), padding_mode='border')
    torch.testing.assert_close(out['thermal_registered'], expected)
    # An integer shift copies pixels: RGB (x, y) shows thermal (x + 3, y - 2).
    torch.testing.assert_close(out['thermal_registered'][0, 0, 5, 4], thermal[0, 0, 3, 7], atol=1e-6, rtol=0)
    torch.testing.assert_close(out['fused'], model.fusion(torch.cat([expected, gray], dim=1)))


def test_fixed_theta_works_without_stn_and_with_a_thermal_of_another_size():
    model = SceneFusionModel(SceneModelConfig(stn=False))
    thermal = torch.rand(1, 1, 12, 16)
    gray = torch.rand(1, 1, 24, 32)
    out = model(thermal, gray, thermal_from_rgb=identity_theta(1))
    assert out['thermal_registered'].shape == (1, 1, 24, 32) and out['fused'].shape == (1, 1, 24, 32)


def test_fusion_is_a_compact_net_from_the_config():
    config = SceneModelConfig(stn=False)
    config.fusion.width = 4
    model = SceneFusionModel(config)
    assert isinstance(model.fusion, CompactFusionNet) and model.fusion.conv1.out_channels == 4
