"""Tests of fusion_ros.engine (ROS-free): alignment modes, model loading, atomic swap, per-scene training."""
import threading

import numpy as np
import pytest
import torch

from fusion_ros import engine as engine_mod
from fusion_ros.engine import (AlignConfig, FusionEngine, FusionModelError, TrainingBusyError, load_fusion_model,
                               register_thermal)
from fusion_ros.scene import SceneFitConfig
from fusion_ros.training.loop import DivergedError

H, W = 48, 64


def scene_pair(h=H, w=W, th_h=None, th_w=None):
    """A smooth RGB image and a thermal image with a hot square (thermal at its own resolution)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([x / w, y / h, 0.5 + 0.3 * np.sin(x / 5)], axis=-1).astype(np.float32)
    th_h, th_w = th_h or h, th_w or w
    thermal = np.full((th_h, th_w), 0.2, np.float32)
    thermal[th_h // 4:th_h // 2, th_w // 4:th_w // 2] = 0.9
    return rgb, thermal


FAST = SceneFitConfig(epochs=5, work_size=64, align_epochs=5)


def test_process_average_shapes_and_timings():
    eng = FusionEngine(load_fusion_model('average'))
    rgb, thermal = scene_pair(th_h=24, th_w=32)
    out = eng.process(rgb, thermal)
    assert out.fused.shape == (H, W, 3) and out.fused.dtype == np.float32
    assert out.thermal_registered.shape == (H, W)
    assert 0.0 <= out.fused.min() and out.fused.max() <= 1.0
    assert set(out.timings) == {'align', 'fuse'} and out.model == 'average' and out.version == 0
    assert out.labels is None and out.detections is None


def test_fixed_homography_shifts_thermal():
    thermal = np.zeros((H, W), np.float32)
    thermal[10, 20] = 1.0
    shift = AlignConfig('fixed', (1, 0, 5, 0, 1, 3, 0, 0, 1))  # rgb = thermal + (5, 3)
    reg = register_thermal(thermal, (H, W), shift)[0, 0].numpy()
    assert np.unravel_index(reg.argmax(), reg.shape) == (13, 25)
    # identity with a smaller thermal image: 'fixed' maps pixels as they are, 'none' resamples
    small = np.ones((24, 32), np.float32)
    fixed = register_thermal(small, (H, W), AlignConfig('fixed'))[0, 0].numpy()
    assert fixed.shape == (H, W)
    assert register_thermal(small, (H, W), AlignConfig('none')).shape == (1, 1, H, W)


def test_stn_mode_uses_model_transform():
    thermal = np.zeros((H, W), np.float32)
    thermal[:, W // 2:] = 1.0
    theta = np.array([[1, 0, 0.5], [0, 1, 0]], np.float32)  # sample half a half-width to the right
    moved = register_thermal(thermal, (H, W), AlignConfig('stn'), theta)[0, 0].numpy()
    plain = register_thermal(thermal, (H, W), AlignConfig('stn'), None)[0, 0].numpy()
    assert moved.mean() > plain.mean() + 0.1


@pytest.mark.parametrize('bad', [dict(mode='affine'), dict(homography=(1, 0, 0)), dict(homography=(0,) * 9),
                                 dict(homography=(1, 0, 0, 0, 1, 0, 0, 0, float('nan')))])
def test_align_config_validation(bad):
    with pytest.raises(ValueError):
        AlignConfig(**bad)


def test_load_fusion_model_errors(tmp_path, monkeypatch):
    import fusion_ros.shipped as shipped
    with pytest.raises(FusionModelError, match='valid'):
        load_fusion_model('nope')
    with pytest.raises(FusionModelError, match='needs a checkpoint'):
        load_fusion_model('scene', '')
    monkeypatch.setattr(shipped, 'model_dirs', lambda: [tmp_path])  # no shipped model anywhere
    with pytest.raises(FusionModelError, match='not found in .*never downloaded'):
        load_fusion_model('ssvif', '')
    with pytest.raises(FusionModelError, match='does not exist'):
        load_fusion_model('ssvif', tmp_path / 'missing.pt')


def test_load_checkpoint_models(tmp_path):
    from fusion_ros.checkpoint import save_checkpoint
    from fusion_ros.models import build_model
    from fusion_ros.models.scene import SceneModelConfig
    path = save_checkpoint(tmp_path / 'ssvif.pt', build_model('ssvif'), 'ssvif')
    model = load_fusion_model('ssvif', path)
    assert model.name == 'ssvif' and model.source == str(path)
    out = FusionEngine(model).process(*scene_pair())
    assert out.fused.shape == (H, W, 3)
    with pytest.raises(FusionModelError, match="holds a 'ssvif' model"):
        load_fusion_model('scene', path)
    theta = [[1.0, 0.0, 0.1], [0.0, 1.0, 0.0]]
    scene = save_checkpoint(tmp_path / 'scene.pt', build_model('scene', SceneModelConfig(stn=False)), 'scene',
                            meta={'thermal_from_rgb': theta})
    loaded = load_fusion_model('scene', scene)
    assert np.allclose(loaded.thermal_from_rgb, theta)


def test_swap_and_reset_versions():
    eng = FusionEngine(load_fusion_model('average'))
    new = eng.swap(load_fusion_model('max'))
    assert new.version == 1 and eng.active.model.name == 'max'
    assert eng.process(*scene_pair()).model == 'max'
    back = eng.reset()
    assert back.version == 2 and back.model is eng.shipped


def test_train_scene_swaps_in_a_better_model():
    eng = FusionEngine(load_fusion_model('average'))
    rgb, thermal = scene_pair(th_h=24, th_w=32)
    result = eng.train_scene(rgb, thermal, FAST)
    assert result.before is not None and result.after is not None
    assert result.seconds > 0 and 'SSIM score' in result.message
    if result.accepted:
        assert eng.active.model.name == 'scene' and eng.active.version == result.version == 1
        assert result.after['ssim_score'] >= result.before['ssim_score']
    else:
        assert 'not better' in result.message and eng.active.version == 0
    assert eng.process(rgb, thermal).fused.shape == (H, W, 3)


def test_train_scene_stn_mode_sets_transform():
    eng = FusionEngine(load_fusion_model('average'), AlignConfig('stn'))
    result = eng.train_scene(*scene_pair(), FAST)
    if result.accepted:
        assert eng.active.model.thermal_from_rgb.shape == (2, 3)


def test_train_scene_stn_mode_registers_with_fusion_ros_registration(monkeypatch):
    """The node's 'stn' mode and `fusion-ros align` share one registration: the training's transform is
    what fusion_ros.registration.register finds on the full-resolution pair (thermal resampled)."""
    import fusion_ros.scene as scene_mod
    calls = []
    real = scene_mod.register

    def spy(gray, thermal, config=None):
        calls.append((gray.shape, thermal.shape))
        return real(gray, thermal, config)

    monkeypatch.setattr(scene_mod, 'register', spy)
    eng = FusionEngine(load_fusion_model('average'), AlignConfig('stn'))
    result = eng.train_scene(*scene_pair(th_h=24, th_w=32), FAST)
    assert calls == [((H, W), (H, W))]
    if result.accepted:
        assert eng.active.model.thermal_from_rgb.shape == (2, 3)


def test_train_scene_failure_keeps_model(monkeypatch):
    def boom(*args, **kwargs):
        raise DivergedError('loss became nan at epoch 3')
    monkeypatch.setattr(engine_mod, 'fit_scene', boom)
    eng = FusionEngine(load_fusion_model('average'))
    result = eng.train_scene(*scene_pair(), FAST)
    assert not result.accepted and 'training failed' in result.message and 'kept average v0' in result.message
    assert eng.active.version == 0 and eng.last_training is result


def test_train_scene_not_better_keeps_model(monkeypatch):
    real = engine_mod.fit_scene

    def worse(*args, **kwargs):
        fit = real(*args, **kwargs)
        with torch.no_grad():  # a net that outputs a constant: a poor fusion
            for p in fit.model.fusion.parameters():
                p.zero_()
        return fit
    monkeypatch.setattr(engine_mod, 'fit_scene', worse)
    eng = FusionEngine(load_fusion_model('average'))
    result = eng.train_scene(*scene_pair(), FAST)
    assert not result.accepted and 'not better' in result.message
    assert eng.active.model.name == 'average'


def test_train_scene_refuses_concurrent_call(monkeypatch):
    started, release = threading.Event(), threading.Event()
    real = engine_mod.fit_scene

    def slow(*args, **kwargs):
        started.set()
        assert release.wait(30)
        return real(*args, **kwargs)
    monkeypatch.setattr(engine_mod, 'fit_scene', slow)
    eng = FusionEngine(load_fusion_model('average'))
    results = []
    worker = threading.Thread(target=lambda: results.append(eng.train_scene(*scene_pair(), FAST)))
    worker.start()
    try:
        assert started.wait(30)
        assert eng.training_since is not None
        with pytest.raises(TrainingBusyError, match='already running'):
            eng.train_scene(*scene_pair(), FAST)
        # inference goes on meanwhile
        assert eng.process(*scene_pair()).fused.shape == (H, W, 3)
    finally:
        release.set()
        worker.join(60)
    assert results and eng.training_since is None


def test_reset_during_training_wins(monkeypatch):
    """Issue 9: a reset while a training runs must not be undone when the training finishes."""
    started, release = threading.Event(), threading.Event()
    real = engine_mod.fit_scene

    def gated(*args, **kwargs):
        started.set()
        assert release.wait(30)
        return real(*args, **kwargs)
    monkeypatch.setattr(engine_mod, 'fit_scene', gated)
    eng = FusionEngine(load_fusion_model('average'))
    eng.swap(load_fusion_model('max'))  # v1: something to reset from
    results = []
    worker = threading.Thread(target=lambda: results.append(eng.train_scene(*scene_pair(), FAST)))
    worker.start()
    try:
        assert started.wait(30)
        active, running_s = eng.reset_training()
        assert active.version == 2 and active.model is eng.shipped and running_s is not None and running_s >= 0
    finally:
        release.set()
        worker.join(60)
    result = results[0]
    assert not result.accepted and result.discarded and result.after is not None
    assert 'discarded' in result.message and 'reset' in result.message and 'average v2' in result.message
    assert eng.active.version == 2 and eng.active.model is eng.shipped  # the reset stays
    # without a reset, training swaps in as before; a reset with no training running says so
    assert eng.reset_training()[1] is None
    monkeypatch.setattr(engine_mod, 'fit_scene', real)
    assert not eng.train_scene(*scene_pair(), FAST).discarded


def test_rescaled_homography_matches_warping_the_resized_images():
    from fusion_ros.frames import bound_size
    # a 40 x 30 px shift at full size; both images then halved
    align = AlignConfig('fixed', (1.0, 0.0, 40.0, 0.0, 1.0, 30.0, 0.0, 0.0, 1.0))
    assert AlignConfig('none').rescaled((0.5, 0.5), (0.5, 0.5)).mode == 'none'
    assert align.rescaled((1.0, 1.0), (1.0, 1.0)) is align
    y, x = np.mgrid[0:240, 0:320].astype(np.float32)
    thermal = (0.5 + 0.25 * np.sin(x / 17) * np.cos(y / 13)).astype(np.float32)
    full = register_thermal(thermal, (240, 320), align)[0, 0].numpy()
    small_th, th_scale = bound_size(thermal, 160)
    half = AlignConfig.rescaled(align, (0.5, 0.5), th_scale)
    small = register_thermal(small_th, (120, 160), half)[0, 0].numpy()
    expected, _ = bound_size(full, 160)
    assert np.abs(small - expected)[20:-20, 25:-25].max() < 0.02  # away from the replicated border


def test_ssvif_without_a_path_loads_the_shipped_model_from_the_model_dir(tmp_path, monkeypatch):
    from fusion_ros.checkpoint import save_checkpoint
    from fusion_ros.models import build_model
    save_checkpoint(tmp_path / 'ssvif_default.pt', build_model('ssvif'), 'ssvif')
    monkeypatch.setenv('FUSION_ROS_MODEL_DIR', str(tmp_path))
    model = load_fusion_model('ssvif', '')
    assert model.source == str(tmp_path / 'ssvif_default.pt')
