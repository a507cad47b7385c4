"""Tests of fusion_ros.adapt and FusionEngine.adapt_scene (issue 11: ~/train_scene 'adapt')."""
import re
import threading
import time

import numpy as np
import pytest
import torch

from fusion_ros import engine as engine_mod
from fusion_ros.adapt import AdaptConfig, AdaptFit, RecentPairs, adapt_net, holdout_scores, net_fuse, shrink_pair
from fusion_ros.engine import FusionEngine, FusionModel, load_fusion_model
from fusion_ros.imaging import ImageError
from fusion_ros.models import build_model
from fusion_ros.training.loop import LoopResult

H, W = 64, 80
FAST = AdaptConfig(time_budget_s=5.0, crop_size=48, crops_per_step=2, judge_size=64, max_steps=4)


def stream_pair(seed: int, h=H, w=W):
    """A textured RGB frame and a thermal frame with a warm blob that moves with ``seed``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([x / w, y / h, 0.5 + 0.3 * np.sin(x / 4 + seed)], axis=-1)
    rgb = np.clip(rgb + 0.02 * rng.standard_normal(rgb.shape), 0, 1).astype(np.float32)
    cy, cx = h / 2, w / 4 + 3 * seed
    thermal = 0.2 + 0.7 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 60.0)
    return rgb, np.clip(thermal + 0.01 * rng.standard_normal(thermal.shape), 0, 1).astype(np.float32)


def ssvif_net():
    torch.manual_seed(0)
    return build_model('ssvif').eval()


def test_config_checks():
    with pytest.raises(ValueError, match='holdout_pairs must be >= 1'):
        AdaptConfig(holdout_pairs=0)
    with pytest.raises(ValueError, match='loss must be one of'):
        AdaptConfig(loss='l2')
    with pytest.raises(ValueError, match='time_budget_s'):
        AdaptConfig(time_budget_s=0)
    with pytest.raises(ValueError, match=r'min_train_s must lie in \[0, time_budget_s = 1.0\), got 1.0'):
        AdaptConfig(time_budget_s=1.0, min_train_s=1.0)
    assert AdaptConfig(train_pairs=2, holdout_pairs=3).pairs_needed == 5


def test_recent_pairs_keeps_spaced_pairs_and_restarts_on_a_replay():
    buf = RecentPairs(3, min_interval_s=0.5, work_size=40)
    rgb, thermal = stream_pair(0)
    kept = [buf.add(t, rgb, thermal) for t in (10.0, 10.1, 10.6, 10.7, 11.2, 11.8)]
    assert kept == [True, False, True, False, True, True]
    pairs = buf.pairs()
    assert len(pairs) == 3 and len(buf) == 3  # capacity: the oldest dropped
    assert pairs[0][0].shape == (32, 40, 3) and pairs[0][1].shape == (32, 40)  # shrunk to work_size
    assert not buf.due(12.0) and buf.due(12.3)
    assert buf.add(1.0, rgb, thermal) and len(buf) == 1  # stamps went backwards: a new stream


def test_shrink_pair_checks_the_grid():
    rgb, thermal = stream_pair(0)
    with pytest.raises(ImageError, match='same grid'):
        shrink_pair(rgb, thermal[:10], 640)
    r, t = shrink_pair(rgb, thermal, 640)
    assert r.shape == rgb.shape and np.array_equal(t, thermal)  # never enlarged


def test_adapt_net_trains_a_copy_and_scores_both_on_held_out_pairs():
    net = ssvif_net()
    weights = {k: v.clone() for k, v in net.state_dict().items()}
    pairs = [stream_pair(s) for s in range(3)]
    fit = adapt_net(net, pairs, FAST)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in weights.items())  # the input net is untouched
    assert any(not torch.equal(v, fit.net.state_dict()[k]) for k, v in weights.items())
    assert fit.loop.steps >= 1 and not fit.net.training
    assert set(fit.before) == set(fit.after) == {'VIF', 'Qabf', 'SSIM'}
    # before = the given net on the two older pairs (not the newest, trained-on one)
    held = [shrink_pair(*p, FAST.judge_size) for p in pairs[:2]]
    assert holdout_scores(net_fuse(net), held) == pytest.approx(fit.before)
    assert fit.seconds < FAST.time_budget_s + 2.0
    assert fit.judge_s[0] > 0 and fit.judge_s[1] > 0 and not fit.skipped
    assert fit.judge_s[0] + fit.judge_s[1] + fit.loop.elapsed_s <= fit.seconds
    assert fit.timing().startswith('judging ') and f'({fit.loop.steps} step' in fit.timing()


def test_adapt_net_trains_nothing_when_judging_leaves_no_time(monkeypatch):
    import fusion_ros.adapt as adapt_mod
    real = adapt_mod.holdout_scores

    def slow(*args, **kwargs):  # judging as slow as in a busy node
        import time
        time.sleep(0.6)
        return real(*args, **kwargs)
    monkeypatch.setattr(adapt_mod, 'holdout_scores', slow)
    net = ssvif_net()
    config = AdaptConfig(time_budget_s=1.5, min_train_s=0.5, crop_size=48, judge_size=64)
    fit = adapt_net(net, [stream_pair(s) for s in range(3)], config)
    assert fit.skipped and fit.loop.steps == 0 and fit.after == {} and fit.net is net and not fit.improved
    assert re.search(r'took 0\.\d\d s of the 1\.5 s budget; after reserving 0\.\d\d s', fit.skipped)
    assert 'at least 0.50 s needed' in fit.skipped
    assert fit.seconds < config.time_budget_s  # did not overrun the budget judging a second time
    assert re.fullmatch(r'judging 0\.\d s, training 0\.0 s \(0 steps\)', fit.timing())
    eng, _ = _engine_with_net()  # the engine refuses and says what to change
    result = eng.adapt_scene([stream_pair(s) for s in range(3)], config)
    assert not result.accepted and result.message.startswith('refused: judging the current net')
    assert 'adapt_time_budget_s' in result.message and result.after is None and eng.active.version == 0


def test_adapt_net_stops_judging_when_the_budget_runs_out(monkeypatch):
    import fusion_ros.adapt as adapt_mod
    real = adapt_mod.holdout_scores
    calls = []

    def slow_fuse(fuse):  # each held-out pair takes 0.7 s to fuse: the 1.0 s budget ends after the first
        def fused(rgb, thermal):
            calls.append(1)
            time.sleep(0.7)
            return fuse(rgb, thermal)
        return fused
    monkeypatch.setattr(adapt_mod, 'holdout_scores', lambda fuse, *a, **k: real(slow_fuse(fuse), *a, **k))
    config = AdaptConfig(time_budget_s=1.0, min_train_s=0.5, crop_size=48, judge_size=64, holdout_pairs=3)
    fit = adapt_net(ssvif_net(), [stream_pair(s) for s in range(4)], config)
    assert len(calls) == 2  # the second pair started before the deadline; the third never did
    assert fit.skipped.startswith('judging the current net on 3 held-out pair(s) did not finish within the '
                                  '1.0 s')
    assert fit.before == {} and fit.loop.steps == 0 and fit.seconds < 1.0 + 0.7 + 0.5


def test_holdout_scores_returns_none_when_the_deadline_passes_between_pairs():
    net = ssvif_net()
    pairs = [shrink_pair(*stream_pair(s), 64) for s in range(3)]
    assert holdout_scores(net_fuse(net), pairs, deadline=time.perf_counter() - 1.0) is None
    late = time.perf_counter() - 1.0
    assert holdout_scores(net_fuse(net), pairs[:1], deadline=late) is not None  # the last pair is scored
    full = holdout_scores(net_fuse(net), pairs, deadline=time.perf_counter() + 60.0)
    assert full == pytest.approx(holdout_scores(net_fuse(net), pairs))


def test_adapt_net_stops_when_asked_and_checks_inputs():
    net = ssvif_net()
    pairs = [stream_pair(s) for s in range(3)]
    fit = adapt_net(net, pairs, AdaptConfig(time_budget_s=30, crop_size=48, judge_size=64),
                    should_stop=lambda: True)
    assert fit.loop.steps == 0
    with pytest.raises(ValueError, match='needs 3 pairs'):
        adapt_net(net, pairs[:2], FAST)
    bad = (pairs[2][0], np.full_like(pairs[2][1], np.nan))
    with pytest.raises(ImageError, match='NaN'):
        adapt_net(net, [pairs[0], pairs[1], bad], FAST)


def test_improved_needs_no_criterion_lower_and_a_higher_finite_sum():
    fit = AdaptFit(None, {'VIF': 0.5, 'SSIM': 1.0}, {'VIF': 0.6, 'SSIM': 1.0}, LoopResult(), 1.0)
    assert fit.improved
    fit.after = {'VIF': 0.6, 'SSIM': 0.95}  # the sum is higher, but SSIM fell: a trade, refused
    assert not fit.improved
    fit.after = {'VIF': 0.5, 'SSIM': 1.0}  # equal: nothing gained
    assert not fit.improved
    fit.after = {'VIF': float('nan'), 'SSIM': 2.0}
    assert not fit.improved
    fit.after = {'VIF': 0.7}  # a criterion missing
    assert not fit.improved


def _engine_with_net():
    net = ssvif_net()
    model = FusionModel('ssvif', engine_mod._SSVIFFuse(net, backend='torch'), 'random weights')
    return FusionEngine(model), net


def _fake_fit(better: bool):
    def fake(net, pairs, config, should_stop=None):
        before = {'VIF': 0.5, 'Qabf': 0.5, 'SSIM': 1.0}
        after = {k: v + (0.01 if better else -0.01) for k, v in before.items()}
        return AdaptFit(net, before, after, LoopResult(steps=7), 0.1)
    return fake


def test_adapt_scene_swaps_only_a_better_model(monkeypatch):
    eng, _ = _engine_with_net()
    pairs = [stream_pair(s) for s in range(3)]
    monkeypatch.setattr(engine_mod, 'adapt_net', _fake_fit(better=False))
    result = eng.adapt_scene(pairs, FAST)
    assert not result.accepted and 'not better on the held-out pairs' in result.message
    assert eng.active.version == 0 and eng.last_training is result
    monkeypatch.setattr(engine_mod, 'adapt_net', _fake_fit(better=True))
    result = eng.adapt_scene(pairs, FAST)
    assert result.accepted and eng.active.version == 1 and 'adapted on the stream (7 steps) from random weights' in eng.active.label
    assert 'Held-out before: VIF 0.5000' in result.message and result.after['VIF'] == pytest.approx(0.51)
    assert eng.process(*pairs[0]).fused.shape == (H, W, 3)


def test_adapt_scene_end_to_end_with_a_real_training():
    eng, _ = _engine_with_net()
    frames = [stream_pair(s) for s in range(3)]
    outs = [eng.process(*f) for f in frames]
    result = eng.adapt_scene([(f[0], o.thermal_registered) for f, o in zip(frames, outs)], FAST)
    assert result.epochs >= 1 and result.before is not None and result.after is not None
    better = (all(result.after[k] >= result.before[k] for k in result.before)
              and sum(result.after.values()) > sum(result.before.values()))
    assert result.accepted == better
    assert eng.active.version == (1 if result.accepted else 0)


def test_adapt_scene_refusals_say_what_to_do():
    eng = FusionEngine(load_fusion_model('max'))
    result = eng.adapt_scene([stream_pair(s) for s in range(3)], FAST)
    assert not result.accepted and "train_scene_mode 'scene'" in result.message and 'max v0' in result.message
    eng, _ = _engine_with_net()
    result = eng.adapt_scene([stream_pair(0)], FAST)
    assert not result.accepted and 'needs 3 recent pairs' in result.message and '1 kept so far' in result.message
    assert eng.active.version == 0


def test_reset_during_adapt_wins(monkeypatch):
    started, release = threading.Event(), threading.Event()

    def gated(net, pairs, config, should_stop=None):
        started.set()
        assert release.wait(30)
        assert should_stop()  # the training sees the reset and stops early
        return _fake_fit(better=True)(net, pairs, config)
    monkeypatch.setattr(engine_mod, 'adapt_net', gated)
    eng, _ = _engine_with_net()
    results = []
    worker = threading.Thread(target=lambda: results.append(eng.adapt_scene([stream_pair(s) for s in range(3)],
                                                                           FAST)))
    worker.start()
    try:
        assert started.wait(30)
        eng.reset_training()
    finally:
        release.set()
        worker.join(60)
    assert results[0].discarded and not results[0].accepted
    assert eng.active.version == 1 and eng.active.model is eng.shipped


def test_repeated_adapts_name_the_model_they_started_from(monkeypatch):
    eng, _ = _engine_with_net()
    monkeypatch.setattr(engine_mod, 'adapt_net', _fake_fit(better=True))
    for version in (1, 2):
        assert eng.adapt_scene([stream_pair(s) for s in range(3)], FAST).accepted
        assert eng.active.label == f'ssvif v{version} (adapted on the stream (7 steps) from random weights)'


def test_pacer_sleeps_in_proportion_to_the_work_and_duty_is_checked():
    import time as _time
    from fusion_ros.adapt import AdaptConfig
    from fusion_ros.training.loop import Pacer
    half = Pacer(0.5)
    t0 = _time.perf_counter()
    while _time.perf_counter() - t0 < 0.05:  # 50 ms of work
        pass
    half()
    assert 0.045 <= half.slept_s <= 0.08
    full = Pacer(1.0)
    full()
    assert full.slept_s == 0.0
    with pytest.raises(ValueError, match='duty'):
        AdaptConfig(duty=0.0)
