"""Tests of fusion_ros.models.texmax (issue 8): the net starts as the texmax rule and learns its choice."""
import pytest
import torch

from fusion_ros.baselines import fuse_texmax, gray_texmax
from fusion_ros.checkpoint import load_model, save_checkpoint
from fusion_ros.models import build_model
from fusion_ros.models.texmax import TexMaxFusionNet, TexMaxModelConfig


def _pair(h=64, w=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    rgb = 0.2 + 0.6 * torch.rand(1, 3, h, w, generator=g)
    thermal = torch.rand(1, 1, h, w, generator=g)
    thermal[..., :, : w // 2] = 0.9  # flat and bright: the rule copies the visible half here
    return rgb, thermal


def test_untrained_net_is_the_texmax_rule_exactly():
    torch.manual_seed(0)
    net = TexMaxFusionNet().eval()
    rgb, thermal = _pair()
    out = net(rgb, thermal)
    assert torch.equal(out['fused'], fuse_texmax(rgb, thermal))
    from fusion_ros.imaging import rgb_to_gray
    assert torch.equal(out['luma'], gray_texmax(thermal, rgb_to_gray(rgb)))
    assert set(out['decision'].unique().tolist()) <= {0.0, 1.0, 2.0}
    assert out['features'].shape == (1, 16, 16, 24)


def test_training_mode_keeps_exact_copies_and_passes_gradients_to_the_correction():
    torch.manual_seed(0)
    net = TexMaxFusionNet(TexMaxModelConfig(width=8, depth=1)).train()
    rgb, thermal = _pair(seed=1)
    out = net(rgb, thermal)
    with torch.no_grad():
        hard = net.eval()(rgb, thermal)['luma']
    assert torch.allclose(out['luma'], hard, atol=1e-6)  # forward value: the hard choice
    out['luma'].mean().backward()
    assert net.delta.weight.grad is not None and net.delta.weight.grad.abs().sum() > 0
    # a correction moves the choice: a large delta_T makes every pixel a thermal copy
    with torch.no_grad():
        net.delta.bias.copy_(torch.tensor([1e3, 0.0]))
    forced = net.eval()(rgb, thermal)
    assert torch.equal(forced['luma'], thermal) and bool((forced['decision'] == 1).all())


def test_checkpoint_round_trip_and_config_checks(tmp_path):
    net = build_model('ssvif_texmax', {'width': 8, 'depth': 2})
    path = save_checkpoint(tmp_path / 't.pt', net, 'ssvif_texmax')
    loaded, ckpt = load_model(path)
    assert ckpt['model'] == 'ssvif_texmax' and loaded.config == net.config
    with pytest.raises(ValueError, match='scale must be'):
        TexMaxModelConfig(scale=3)
    with pytest.raises(ValueError, match='temperature'):
        TexMaxModelConfig(temperature=0)


def test_the_ssvif_method_loads_it_and_auto_falls_back_to_torch(tmp_path):
    """Its smoothing kernel depends on the image size, which the ONNX export cannot express: 'auto' runs it in
    torch (and says why); the output is the rule's."""
    from fusion_ros.engine import load_fusion_model
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / 't.pt', build_model('ssvif_texmax'), 'ssvif_texmax')
    model = load_fusion_model('ssvif', path, 'cpu', backend='auto')
    assert model.fuse.backend == 'torch' and 'auto' in model.backend and 'not exportable to ONNX' in model.backend
    # its time is full-size element-wise work: kept in NCHW, not converted to channels_last like other nets
    assert 'channels_last' not in model.backend
    assert next(model.fuse.net.parameters()).is_contiguous()
    rgb, thermal = _pair(48, 72, seed=3)
    with torch.inference_mode():
        assert torch.equal(model.fuse(rgb, thermal), fuse_texmax(rgb, thermal))
