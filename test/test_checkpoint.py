"""Checkpoints: round trips, atomic writes, and refusal of missing, corrupt, unsafe or mismatched files."""
import pytest
import torch

from fusion_ros.checkpoint import (FORMAT_VERSION, CheckpointError, load_checkpoint, load_model,
                                   save_checkpoint)
from fusion_ros.models import build_model
from fusion_ros.models.compact import CompactFusionNet, init_as_average
from fusion_ros.models.scene import SceneFusionModel, SceneModelConfig


def _touch(path):  # what an unsafe pickle would run while loading
    open(path, 'w').close()


class Payload:
    """A pickle that needs code execution: unpickling it would call _touch(marker)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return _touch, (str(self.marker),)


def test_round_trip_reproduces_outputs(tmp_path):
    torch.manual_seed(0)
    model = SceneFusionModel(SceneModelConfig(stn=True))
    init_as_average(model.fusion, seed=3)
    with torch.no_grad():
        model.stn.head.bias.add_(0.01 * torch.randn(6))  # not the identity start
    path = save_checkpoint(tmp_path / 'scene.pt', model, 'scene', meta={'epochs': 5, 'note': 'test'},
                           extra={'optimizer': {'lr': 0.001}})
    loaded, ckpt = load_model(path)
    assert isinstance(loaded, SceneFusionModel) and not loaded.training
    assert ckpt['meta'] == {'epochs': 5, 'note': 'test'} and ckpt['optimizer'] == {'lr': 0.001}
    assert ckpt['format_version'] == FORMAT_VERSION and ckpt['model'] == 'scene'
    thermal, gray = torch.rand(1, 1, 20, 24), torch.rand(1, 1, 20, 24)
    model.eval()
    with torch.no_grad():
        expected, got = model(thermal, gray), loaded(thermal, gray)
    for key in ('fused', 'thermal_from_rgb'):
        assert torch.equal(expected[key], got[key]), key


def test_round_trip_keeps_a_non_default_config(tmp_path):
    model = build_model('compact', {'width': 5})
    path = save_checkpoint(tmp_path / 'c.pt', model, 'compact')
    loaded, _ = load_model(path)
    assert isinstance(loaded, CompactFusionNet) and loaded.conv1.out_channels == 5


def test_write_is_atomic_and_overwrites(tmp_path):
    path = tmp_path / 'deep' / 'm.pt'
    save_checkpoint(path, CompactFusionNet(), 'compact', meta={'v': 1})
    save_checkpoint(path, CompactFusionNet(), 'compact', meta={'v': 2})
    assert load_checkpoint(path)['meta'] == {'v': 2}
    assert sorted(p.name for p in path.parent.iterdir()) == ['m.pt']  # no m.pt.tmp left behind


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match='nope.pt: no such checkpoint file; check the path'):
        load_checkpoint(tmp_path / 'nope.pt')


@pytest.mark.parametrize('content', [b'', b'not a checkpoint at all', b'PK\x03\x04garbage'])
def test_garbage_file(tmp_path, content):
    path = tmp_path / 'bad.pt'
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match='bad.pt: cannot be loaded as a weights-only checkpoint'):
        load_checkpoint(path)


def test_truncated_checkpoint(tmp_path):
    path = save_checkpoint(tmp_path / 'm.pt', CompactFusionNet(), 'compact')
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match='corrupt, truncated'):
        load_checkpoint(path)


def test_pickle_needing_code_execution_is_refused_and_not_run(tmp_path):
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'evil.pt'
    torch.save({'format_version': FORMAT_VERSION, 'model': 'compact', 'config': {}, 'state_dict': {},
                'meta': Payload(marker)}, path)
    with pytest.raises(CheckpointError, match='files needing code execution are refused'):
        load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize('ckpt, message', [
    ([1, 2, 3], r'not a fusion_ros checkpoint \(no format_version key\)'),
    ({'model': 'compact'}, 'no format_version key'),
    ({'format_version': FORMAT_VERSION + 1, 'model': 'compact', 'config': {}, 'state_dict': {}},
     f'checkpoint format {FORMAT_VERSION + 1}, this fusion_ros reads format {FORMAT_VERSION}; re-export'),
    ({'format_version': FORMAT_VERSION, 'config': {}, 'state_dict': {}}, "checkpoint lacks 'model'"),
    ({'format_version': FORMAT_VERSION, 'model': 'compact', 'state_dict': {}}, "checkpoint lacks 'config'"),
])
def test_wrong_contents_are_refused(tmp_path, ckpt, message):
    path = tmp_path / 'x.pt'
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path):
    path = save_checkpoint(tmp_path / 'm.pt', CompactFusionNet(), 'compact')
    ckpt = torch.load(path, weights_only=True)
    ckpt['config']['width'] = 4  # the stored weights are for width 8
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=r"weights do not fit model 'compact' with its stored config"):
        load_model(path)


@pytest.mark.parametrize('key, value, message', [
    ('model', 'mystery', r"cannot build its model: unknown model 'mystery'; valid names: compact, scene"),
    ('config', {'depth': 3}, r"cannot build its model: CompactFusionConfig: unknown keys \['depth'\]; valid"),
])
def test_a_model_this_version_cannot_build_is_refused(tmp_path, key, value, message):
    path = save_checkpoint(tmp_path / 'm.pt', CompactFusionNet(), 'compact')
    ckpt = torch.load(path, weights_only=True)
    ckpt[key] = value
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=message):
        load_model(path)
