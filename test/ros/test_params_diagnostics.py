"""Parameter dataclasses (validation, agreement with the engine) and the diagnostics content, without DDS."""
import pytest

pytest.importorskip('rclpy', reason='ROS 2 (rclpy) is not installed')

from fusion_ros import engine  # noqa: E402
from fusion_ros.ros import params  # noqa: E402
from fusion_ros.ros.diagnostics import NodeStats, RateMeter, diagnostic_array, status_dicts  # noqa: E402
from fusion_ros.ros.params import FusionNodeConfig, PlayerConfig  # noqa: E402

pytestmark = pytest.mark.ros


def test_constants_agree_with_the_engine():
    assert params.ALIGN_MODES == engine.ALIGN_MODES
    assert params.IDENTITY_HOMOGRAPHY == engine.IDENTITY_HOMOGRAPHY


@pytest.mark.parametrize('bad, match', [
    (dict(queue_size=0), 'queue_size'), (dict(input_qos='fast'), 'input_qos'),
    (dict(fusion_model='nope'), 'fusion_model'), (dict(device='gpu'), 'device'),
    (dict(thermal_low=10.0, thermal_high=5.0), 'thermal_low'), (dict(homography=(1.0,) * 8), 'homography'),
    (dict(segmentation_enabled=True), 'segmentation_model_path'), (dict(record_enabled=True), 'record_directory'),
    (dict(detection_image_size=100), 'detection_image_size')])
def test_invalid_configs_name_the_parameter(bad, match):
    with pytest.raises(ValueError, match=match):
        FusionNodeConfig(**bad)


def test_head_parameters():
    """Issue 10: detection without a path means the shipped detector (no error here; the node says when it is
    missing); segmentation ships no model, so it needs a path. Head configs come from their parameters."""
    cfg = FusionNodeConfig(detection_enabled=True, detection_confidence=0.4, detection_image_size=320,
                           segmentation_overlay_alpha=0.3)
    assert cfg.enabled_heads() == ['detection'] and cfg.head_path('detection') == ''
    det = cfg.head_config('detection')
    assert (det.confidence, det.image_size, det.iou, det.max_detections) == (0.4, 320, 0.45, 100)
    assert cfg.head_config('segmentation').overlay_alpha == 0.3
    both = FusionNodeConfig(detection_enabled=True, segmentation_enabled=True, segmentation_model_path='seg.pt')
    assert both.enabled_heads() == ['segmentation', 'detection']


def test_core_configs():
    cfg = FusionNodeConfig(approximate_sync=False, align_mode='fixed', train_epochs=5, device='cpu')
    assert cfg.pairing().tolerance_ns == 1  # exact sync
    assert cfg.align().mode == 'fixed' and cfg.scene_fit().epochs == 5 and cfg.scene_fit().device == 'cpu'
    assert cfg.thermal_norm().mode == 'percentile'
    # the offline detection commands normalise thermal images as the node does by default
    from fusion_ros.imaging import ThermalNormConfig
    assert cfg.thermal_norm() == ThermalNormConfig()
    # training paces itself on the CPU only (train_duty / adapt_duty), never on a GPU
    assert cfg.scene_fit().duty == 0.5 and cfg.adapt().duty == 0.5
    gpu = FusionNodeConfig(device='cpu', train_duty=0.3, adapt_duty=0.7)
    assert gpu.scene_fit().duty == 0.3 and gpu.adapt().duty == 0.7
    gpu.device = 'cuda'
    assert gpu.scene_fit().duty == 1.0 and gpu.adapt().duty == 1.0
    with pytest.raises(ValueError, match='bag'):
        PlayerConfig()


def test_every_parameter_is_described():
    for config in (FusionNodeConfig, PlayerConfig):
        for name, (default, spec) in config.specs().items():
            assert spec.description, name
            descriptor = params._descriptor(name, default, spec)
            assert descriptor.read_only == spec.read_only
            if spec.range and isinstance(default, float):
                assert descriptor.floating_point_range[0].to_value == spec.range[1]


def test_rate_meter():
    meter = RateMeter(window_s=5.0)
    for i in range(11):
        meter.tick(100.0 + i * 0.1)
    assert meter.rate(101.0) == pytest.approx(10.0)
    assert meter.rate(110.0) == 0.0 and meter.count == 11


def test_status_dicts_and_message():
    stats = NodeStats()
    stats.arrived('rgb')
    stats.inputs['thermal'].hint = '/thermal/image: 1 of 1 publisher(s) cannot deliver ... best_effort'
    stats.paired(0.004)
    stats.published({'fuse': 0.01}, 0.05)
    stats.dropped('bad_input')
    statuses = status_dicts('/fusion_node', stats.snapshot(), {'pairs': 1, 'thermal_no_match': 2},
                            {'active': 'average v0 (baseline)', 'training': 'idle'})
    by_name = {s['name'].split(': ')[1]: s for s in statuses}
    assert by_name['inputs']['level'] == 1 and 'best_effort' in by_name['inputs']['message']
    assert by_name['sync']['values']['dropped thermal_no_match'] == '2'
    assert by_name['processing']['values']['dropped bad_input'] == '1' and by_name['processing']['level'] == 1
    assert by_name['processing']['values']['end-to-end latency (ms)'].startswith('50.0')
    assert by_name['model']['message'] == 'average v0 (baseline)'
    from builtin_interfaces.msg import Time
    array = diagnostic_array(statuses, Time(sec=1))
    assert len(array.status) == 4 and array.status[0].level == b'\x01'


def _statuses(stats, pairing, now, **kwargs):
    statuses = status_dicts('/n', stats.snapshot(), pairing, {'active': 'm'}, stats.recent(pairing, now=now),
                            **kwargs)
    return {s['name'].split(': ')[1]: s for s in statuses}


def test_processing_status_recovers_after_the_window():
    """Issue 9: after 15 bad frames, 300 good ones and 30 s the status was still WARN '15 unusable'."""
    stats = NodeStats(window_s=5.0, now=0.0)
    stats.dropped('bad_input', 15)
    assert _statuses(stats, {}, 1.0)['processing']['level'] == 1
    for i in range(300):
        stats.published({'fuse': 0.01}, 0.05)
    for t in (2.0, 4.0, 6.0):
        by_name = _statuses(stats, {}, t)
    assert by_name['processing']['level'] == 0
    assert '0 unusable in the last 5 s' in by_name['processing']['message']
    assert 'since start 300 out, 15 unusable' in by_name['processing']['message']
    assert by_name['processing']['values']['dropped bad_input'] == '15'  # totals stay in the values


def test_counter_window():
    from fusion_ros.ros.diagnostics import CounterWindow
    window = CounterWindow(5.0, now=0.0)
    assert window.update({'a': 3}, now=1.0) == ({'a': 3}, 1.0)  # younger than the window: since start
    assert window.update({'a': 5}, now=4.0) == ({'a': 5}, 4.0)
    assert window.update({'a': 9}, now=7.0) == ({'a': 6}, 6.0)  # since the snapshot at 1.0 (>= 5 s old)
    assert window.update({'a': 9}, now=12.0) == ({'a': 0}, 5.0)


def test_sync_warns_when_both_inputs_arrive_but_nothing_pairs():
    """Issue 9: after pairing worked once, stamps 10 s apart gave 0 frames while sync stayed OK."""
    stats = NodeStats(window_s=5.0, now=0.0)
    pairing = {'pairs': 50}
    for i in range(20):
        stats.arrived('rgb', 10**9 + i * 10**8, now=0.1 * i)
        stats.arrived('thermal', 10**9 + i * 10**8, now=0.1 * i)
    assert _statuses(stats, pairing, 2.0, tolerance_s=0.05)['sync']['level'] == 0
    for i in range(20, 80):  # the thermal camera's clock jumps 10 s ahead
        stats.arrived('rgb', 10**9 + i * 10**8, now=0.1 * i)
        stats.arrived('thermal', 11 * 10**9 + i * 10**8, now=0.1 * i)
        pairing = {'pairs': 50, 'rgb_no_match': pairing.get('rgb_no_match', 0) + 1}
        if i % 10 == 0:
            sync = _statuses(stats, pairing, 0.1 * i, tolerance_s=0.05)['sync']
    assert sync['level'] == 1
    assert 'no pair in the last 5 s' in sync['message'] and '+10.000 s' in sync['message']
    assert 'approximate_sync_tolerance_seconds (0.05 s)' in sync['message']
    assert sync['values']['pairs'] == '50' and sync['values']['pairs (in the last 5 s)'] == '0'
    exact = _statuses(stats, pairing, 8.0, exact_sync=True)['sync']
    assert exact['level'] == 1 and 'approximate_sync is false' in exact['message']
    # one input silent: no sync warning (the inputs status says it)
    for i in range(80, 160):
        stats.arrived('rgb', 10**9 + i * 10**8, now=0.1 * i)
    assert _statuses(stats, pairing, 16.0, tolerance_s=0.05)['sync']['level'] == 0


def test_thermal_notes_warn_while_they_happen():
    stats = NodeStats(window_s=5.0, now=0.0)
    stats.noted('thermal_colour', 3)
    stats.noted('resized', 2)
    by_name = _statuses(stats, {}, 1.0)
    assert by_name['inputs']['level'] == 1 and '3 colour images on the thermal topic' in by_name['inputs']['message']
    assert by_name['processing']['level'] == 0 and 'max_input_side' in by_name['processing']['message']
    assert by_name['processing']['values']['pairs resized to max_input_side'] == '2'
    by_name = _statuses(stats, {}, 7.0)
    assert by_name['inputs']['level'] == 0 and by_name['inputs']['values']['thermal colour frames (luma used)'] == '3'
