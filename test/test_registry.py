"""fusion_ros.registry: one list of fusion methods that the node's parameters, ``fuse_pair`` (``fusion-ros
fuse``), ``evaluate.build_methods`` (``fusion-ros evaluate``) and ``load_fusion_model`` all look names up in."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from fusion_ros import registry
from fusion_ros.baselines import BASELINES
from fusion_ros.engine import FusionModelError, _SSVIFFuse, fusion_model_names, load_fusion_model
from fusion_ros.evaluate import EvalConfig, ModelMethod, build_methods
from fusion_ros.evaluate import make_pair as eval_pair
from fusion_ros.methods import fuse_pair, method_names
from fusion_ros.registry import FusionMethod
from fusion_ros.ros.params import FusionNodeConfig
from fusion_ros.scene import SceneFitConfig

SCENE = SceneFitConfig(epochs=2, work_size=32, device='cpu')


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """A checkpoint file per stored model name the built-in methods load (random weights)."""
    from fusion_ros.checkpoint import save_checkpoint
    from fusion_ros.models import build_model
    from fusion_ros.models.scene import SceneModelConfig

    folder = tmp_path_factory.mktemp('ckpt')
    torch.manual_seed(0)
    return {'ssvif': save_checkpoint(folder / 'ssvif.pt', build_model('ssvif'), 'ssvif'),
            'scene': save_checkpoint(folder / 'scene.pt', build_model('scene', SceneModelConfig(stn=False)),
                                     'scene', meta={'thermal_from_rgb': [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]})}


def _path_for(method: FusionMethod, checkpoints):
    return checkpoints[method.checkpoints[0]] if method.needs_file else None


def test_built_in_methods():
    assert registry.names() == ['ssvif', 'scene', 'average', 'max', 'pca', 'laplacian', 'wavelet', 'guided', 'texmax']
    assert registry.names('baseline') == list(BASELINES)
    assert registry.names('checkpoint') == ['ssvif'] and registry.names('scene') == ['scene']
    assert registry.get('ssvif').checkpoints == ('ssvif', 'ssvif_blend', 'ssvif_texmax')
    assert registry.get('ssvif').shipped == 'ssvif_default.pt' and registry.get('scene').shipped is None
    assert all(m.description and '\n' not in m.description for m in registry.methods())
    assert method_names() == fusion_model_names() == registry.names()
    rgb, th = torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8)
    for name in registry.names('baseline'):
        assert torch.equal(registry.get(name).build().fuse(rgb, th), BASELINES[name](rgb, th))


@pytest.mark.parametrize('name', registry.names())
def test_every_name_resolves_everywhere(name, checkpoints, make_pair, tmp_path):
    method = registry.get(name)
    path = _path_for(method, checkpoints)
    rgb, thermal = make_pair(24, 32)
    # the node: parameter validation and the model it loads
    assert FusionNodeConfig(fusion_model=name, device='cpu').fusion_model == name
    model = load_fusion_model(name, path)
    assert model.name == name
    with torch.inference_mode():
        assert model.fuse(torch.rand(1, 3, 24, 32), torch.rand(1, 1, 24, 32)).shape == (1, 3, 24, 32)
    # fusion-ros fuse
    out = fuse_pair(name, rgb, thermal, scene_config=SCENE, model_path=path, device='cpu')
    assert out.fused.shape == (24, 32, 3) and np.isfinite(out.fused).all()
    # fusion-ros evaluate
    methods, skipped = build_methods([name], EvalConfig(scene=SCENE, model_path=path))
    assert skipped == [] and [m.name for m in methods] == [name]
    fused, _ = methods[0].fuse(eval_pair('p', 'all', rgb, thermal))
    assert fused.shape == (24, 32, 3)


def test_a_registered_method_is_available_everywhere_until_removed(make_pair):
    negative = FusionMethod('negative', 'baseline', 'one minus the visible image (a test)',
                            fuse=lambda rgb, thermal: 1.0 - rgb)
    rgb, thermal = make_pair(24, 32)
    with registry.registered(negative):
        assert 'negative' in method_names() and 'negative' in fusion_model_names()
        FusionNodeConfig(fusion_model='negative', device='cpu')
        assert load_fusion_model('negative').source == 'baseline'
        np.testing.assert_allclose(fuse_pair('negative', rgb, thermal).fused, 1.0 - rgb, atol=1e-6)
        methods, _ = build_methods(['negative'])
        np.testing.assert_allclose(methods[0].fuse(eval_pair('p', 'all', rgb, thermal))[0], 1.0 - rgb, atol=1e-6)
        assert 'negative' in [m.name for m in build_methods(['baselines'])[0]]
    assert 'negative' not in registry.names()
    with pytest.raises(ValueError, match='fusion_model'):
        FusionNodeConfig(fusion_model='negative', device='cpu')
    with pytest.raises(KeyError):
        fuse_pair('negative', rgb, thermal)
    with pytest.raises(KeyError):
        build_methods(['negative'])
    with pytest.raises(FusionModelError):
        load_fusion_model('negative')


def test_a_registered_checkpoint_method(checkpoints, make_pair):
    calls = []

    def wrap(net, ckpt):
        calls.append(ckpt['model'])
        return _SSVIFFuse(net, colour='network')

    copy = FusionMethod('ssvif_network', 'checkpoint', "SSVIF with the net's own colour (a test)",
                        checkpoints=('ssvif',), wrap=wrap)
    rgb, thermal = make_pair(24, 32)
    with registry.registered(copy):
        model = load_fusion_model('ssvif_network', checkpoints['ssvif'])
        assert model.name == 'ssvif_network' and model.fuse.colour == 'network' and calls == ['ssvif']
        with pytest.raises(FusionModelError, match="'ssvif_network' needs a checkpoint file path"):
            load_fusion_model('ssvif_network')  # no shipped file to fall back to
        out = fuse_pair('ssvif_network', rgb, thermal, model_path=checkpoints['ssvif'], device='cpu')
        assert out.info['model'] == str(checkpoints['ssvif'])
        methods, _ = build_methods(['ssvif_network'], EvalConfig(model_path=checkpoints['ssvif']))
        assert methods == [ModelMethod('ssvif_network', checkpoints['ssvif'], 'cpu', 'ssvif_network')]
        methods, skipped = build_methods(['ssvif_network'])
        assert methods == [] and "'ssvif_network' ships none" in skipped[0]
        with pytest.raises(FusionModelError, match="holds a 'scene' model, not 'ssvif'; set the model name to "
                                                   "'scene'"):
            load_fusion_model('ssvif_network', checkpoints['scene'])


def test_ssvif_loads_ssvif_and_ssvif_blend_checkpoints(tmp_path, monkeypatch):
    from fusion_ros import models
    from fusion_ros.checkpoint import save_checkpoint

    # a stand-in for the blend family with SSVIF's forward contract; the registry only reads the stored name
    monkeypatch.setitem(models.MODELS, 'ssvif_blend', models.MODELS['ssvif'])
    path = save_checkpoint(tmp_path / 'blend.pt', models.build_model('ssvif_blend'), 'ssvif_blend')
    model = load_fusion_model('ssvif', path)
    assert model.name == 'ssvif' and isinstance(model.fuse, _SSVIFFuse) and model.source == str(path)
    with torch.inference_mode():
        assert model.fuse(torch.rand(1, 3, 16, 16), torch.rand(1, 1, 16, 16)).shape == (1, 3, 16, 16)
    with pytest.raises(FusionModelError, match="holds a 'ssvif_blend' model, not 'scene'; set the model name to "
                                               "'ssvif'"):
        load_fusion_model('scene', path)
    compact = save_checkpoint(tmp_path / 'compact.pt', models.build_model('compact'), 'compact')
    with pytest.raises(FusionModelError, match="holds a 'compact' model, not 'ssvif' or 'ssvif_blend' or 'ssvif_texmax'; no fusion "
                                               'method loads it'):
        load_fusion_model('ssvif', compact)


def test_unknown_names_list_the_valid_ones(make_pair):
    valid = ', '.join(registry.names())
    with pytest.raises(KeyError, match=f"unknown fusion method 'median'; valid: {valid}"):
        registry.get('median')
    with pytest.raises(FusionModelError, match=f"unknown fusion model 'median'; valid: {valid}"):
        load_fusion_model('median')
    with pytest.raises(KeyError, match=f"unknown fusion method 'median'; valid: {valid}"):
        fuse_pair('median', *make_pair(16, 16))
    with pytest.raises(KeyError, match=f"unknown method 'median'; valid: {valid}, baselines"):
        build_methods(['median'])
    with pytest.raises(ValueError, match=f"parameter fusion_model: 'median' is not one of {valid}"):
        FusionNodeConfig(fusion_model='median', device='cpu')


def test_registration_is_checked():
    with pytest.raises(ValueError, match='already registered'):
        registry.register(FusionMethod('average', 'baseline', 'again', fuse=BASELINES['average']))
    for bad in ('baselines', 'a=b', 'a,b', ''):
        with pytest.raises(ValueError, match='cannot name'):
            registry.register(FusionMethod(bad, 'baseline', 'x', fuse=BASELINES['average']))
    with pytest.raises(ValueError, match='kind must be one of'):
        FusionMethod('x', 'gan', 'x')
    with pytest.raises(ValueError, match='needs fuse'):
        FusionMethod('x', 'baseline', 'x')
    with pytest.raises(ValueError, match='needs checkpoints'):
        FusionMethod('x', 'checkpoint', 'x', checkpoints=('ssvif',))
    assert registry.names()[:2] == ['ssvif', 'scene'] and 'x' not in registry.names()


def test_the_registry_and_the_node_parameters_import_without_torch():
    code = ('import sys, fusion_ros.registry as r, fusion_ros.ros.params; r.names(); '
            'assert "torch" not in sys.modules, "torch imported"')
    subprocess.run([sys.executable, '-c', code], check=True)
