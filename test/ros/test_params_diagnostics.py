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
    (dict(detection_enabled=True), 'detection_model_path'), (dict(record_enabled=True), 'record_directory'),
    (dict(detection_image_size=100), 'detection_image_size')])
def test_invalid_configs_name_the_parameter(bad, match):
    with pytest.raises(ValueError, match=match):
        FusionNodeConfig(**bad)


def test_core_configs():
    cfg = FusionNodeConfig(approximate_sync=False, align_mode='fixed', train_epochs=5, device='cpu')
    assert cfg.pairing().tolerance_ns == 1  # exact sync
    assert cfg.align().mode == 'fixed' and cfg.scene_fit().epochs == 5 and cfg.scene_fit().device == 'cpu'
    assert cfg.thermal_norm().mode == 'percentile'
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
