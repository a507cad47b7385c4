"""Inference backends of checkpoint fusion nets (issue 9): torch (channels_last on the CPU) and onnxruntime
(the net exported to ONNX in memory, dynamic H and W) give the same fused image; ``'auto'`` falls back to
torch and ``'onnxruntime'`` fails clearly when onnxruntime cannot be imported."""
import logging
import sys

import pytest
import torch

from fusion_ros import engine, registry
from fusion_ros.checkpoint import save_checkpoint
from fusion_ros.engine import BACKENDS, FusionModelError, load_fusion_model
from fusion_ros.models import build_model
from fusion_ros.models.ssvif import SSVIFFusionNet, SSVIFModelConfig

pytest.importorskip('onnxruntime')
pytest.importorskip('onnx')


@pytest.fixture(scope='module')
def ssvif_path(tmp_path_factory):
    torch.manual_seed(0)
    net = SSVIFFusionNet(SSVIFModelConfig())  # random weights, built from its config
    return save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'ssvif.pt', net, 'ssvif')


def _pair(h, w, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g), torch.rand(1, 1, h, w, generator=g)


@pytest.mark.parametrize('model_name', ['ssvif', 'ssvif_blend'])
def test_onnxruntime_matches_torch_on_two_sizes(tmp_path, ssvif_path, model_name):
    if model_name == 'ssvif':
        path = ssvif_path
    else:  # the blend and texmax nets colour from the visible image themselves: the 'luma' path
        torch.manual_seed(0)
        path = save_checkpoint(tmp_path / f'{model_name}.pt', build_model(model_name), model_name)
    ref = load_fusion_model('ssvif', path, 'cpu', backend='torch')
    ort = registry.get('ssvif').build(path, 'cpu', backend='onnxruntime', threads=2)
    assert ref.fuse.backend == 'torch' and ref.backend == 'torch channels_last'
    assert ort.fuse.backend == 'onnxruntime' and ort.backend.startswith('onnxruntime (2 threads')
    assert ort.fuse._ort.session.get_session_options().intra_op_num_threads == 2
    for h, w in ((48, 64), (37, 90)):  # the second is not the export size and odd: dynamic axes
        rgb, thermal = _pair(h, w)
        with torch.inference_mode():
            a, b = ref.fuse(rgb, thermal), ort.fuse(rgb, thermal)
        assert a.shape == b.shape == (1, 3, h, w)
        assert (a - b).abs().max().item() <= 1 / 255


def test_channels_last_torch_matches_nchw(ssvif_path):
    ref = load_fusion_model('ssvif', ssvif_path, 'cpu', backend='torch')
    rgb, thermal = _pair(40, 56)
    with torch.inference_mode():
        cl = ref.fuse(rgb, thermal)
        ref.fuse.net.to(memory_format=torch.contiguous_format)
        nchw = ref.fuse(rgb, thermal)
    assert (cl - nchw).abs().max().item() < 1e-5


def test_default_load_is_auto(ssvif_path):
    model = load_fusion_model('ssvif', ssvif_path, 'cpu')  # the old three-argument call
    assert model.fuse.backend == 'onnxruntime'
    assert model.fuse._ort.threads == torch.get_num_threads()  # the node's cpu_threads


def test_without_onnxruntime(monkeypatch, caplog, ssvif_path):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)  # import onnxruntime -> ImportError
    monkeypatch.setattr(engine, '_logged_notes', set())
    with pytest.raises(FusionModelError, match="backend 'onnxruntime'.*onnxruntime is not installed.*install onnxruntime"):
        load_fusion_model('ssvif', ssvif_path, 'cpu', backend='onnxruntime')
    with caplog.at_level(logging.WARNING, logger='fusion_ros.engine'):
        model = load_fusion_model('ssvif', ssvif_path, 'cpu', backend='auto')
        load_fusion_model('ssvif', ssvif_path, 'cpu', backend='auto')
    assert model.fuse.backend == 'torch' and model.backend == 'torch channels_last (auto: onnxruntime is not installed)'
    assert sum('runs in torch, not onnxruntime' in r.getMessage() for r in caplog.records) == 1  # logged once
    with torch.inference_mode():
        assert model.fuse(*_pair(32, 48)).shape == (1, 3, 32, 48)


def test_backend_errors(ssvif_path):
    with pytest.raises(FusionModelError, match='must be one of auto, torch, onnxruntime'):
        load_fusion_model('ssvif', ssvif_path, 'cpu', backend='tensorrt')
    with pytest.raises(FusionModelError, match="runs in torch only"):
        load_fusion_model('average', backend='onnxruntime')
    assert load_fusion_model('average', backend='auto').backend == 'torch'


def test_node_parameter_lists_the_backends():
    from fusion_ros.ros.params import INFERENCE_BACKENDS, FusionNodeConfig

    assert INFERENCE_BACKENDS == BACKENDS
    default, spec = FusionNodeConfig.specs()['inference_backend']
    assert default == 'auto' and spec.choices == BACKENDS and spec.read_only
    with pytest.raises(ValueError, match='inference_backend'):
        FusionNodeConfig(inference_backend='gpu').check_specs()
