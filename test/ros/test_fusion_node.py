"""The fusion node over real DDS (rclpy, Fast DDS), on CPU, with small synthetic images."""
import threading

import pytest

pytest.importorskip('rclpy', reason='ROS 2 (rclpy) is not installed')
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from fusion_ros import engine as engine_mod  # noqa: E402
from fusion_ros.ros.conversions import image_msg_to_array  # noqa: E402
from fusion_ros.ros.fusion_node import FusionNode  # noqa: E402
from node_harness import NodeHarness, header, rgb_image, thermal_image, wait_for  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
H, W = 48, 64


@pytest.fixture
def harness(ros_context):
    made = []

    def make(params=None, connect=True, **kwargs):
        h = NodeHarness(ros_context, params, **kwargs)
        made.append(h)
        if connect:
            h.wait_connected()
        return h
    yield make
    for h in made:
        h.close()


def stamp_of(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def test_synchronised_pairs_fused_with_rgb_header(harness):
    h = harness()
    stamps = h.stream(3)
    assert wait_for(lambda: h.count() >= 3 and h.count('thermal/registered') >= 3)
    for msg in h.outputs['fused/image']:
        assert stamp_of(msg) in stamps
        assert msg.header.frame_id == 'rgb_optical_frame'  # the RGB header, not the thermal one
        assert (msg.width, msg.height, msg.encoding) == (W, H, 'rgb8')
        assert len(msg.data) == msg.step * msg.height
    reg = h.outputs['thermal/registered'][0]
    assert (reg.width, reg.height, reg.encoding, reg.header.frame_id) == (W, H, 'mono16', 'rgb_optical_frame')
    assert h.node.pairing_counters()['pairs'] == 3


def test_pairs_too_far_apart_are_counted_not_fused(harness):
    h = harness({'approximate_sync_tolerance_seconds': 0.05})
    for i in range(3):  # thermal 0.3 s after RGB: never within tolerance
        t = (i + 1) * 10**9
        h.publish(t, thermal_stamp_ns=t + 300_000_000)
    assert wait_for(lambda: h.received() == (3, 3))
    h.send(10 * 10**9)  # a good pair afterwards is fused
    assert wait_for(lambda: h.count() >= 1)
    assert all(stamp_of(m) == 10 * 10**9 for m in h.outputs['fused/image'])
    counters = h.node.pairing_counters()
    assert counters['rgb_no_match'] >= 3 and counters['thermal_no_match'] >= 2
    assert wait_for(lambda: 'dropped rgb_no_match' in h.latest_status('sync')[1])


@pytest.mark.parametrize('encoding', ['mono16', '32FC1'])
def test_thermal_encodings(harness, encoding):
    h = harness()
    h.stream(2, thermal_encoding=encoding)
    assert wait_for(lambda: h.count() >= 2)
    reg, _ = image_msg_to_array(h.outputs['thermal/registered'][-1])
    assert reg[H // 3, W // 3] > reg[H - 2, W - 2]  # the hot square survives the normalisation


def test_different_resolutions(harness):
    h = harness()
    h.stream(2, rgb=rgb_image(H, W), thermal=thermal_image(24, 32, 'mono16'), thermal_encoding='mono16')
    assert wait_for(lambda: h.count() >= 2)
    fused = h.outputs['fused/image'][-1]
    assert (fused.width, fused.height) == (W, H)
    reg = h.outputs['thermal/registered'][-1]
    assert (reg.width, reg.height) == (W, H)


def test_bad_messages_are_logged_and_the_node_keeps_running(harness):
    from fusion_ros.ros.conversions import array_to_image_msg
    h = harness()
    wrong = array_to_image_msg(thermal_image(), 'mono8', header(10**9, 'thermal_optical_frame'))
    wrong.encoding = 'bayer_rggb8'
    h.send(10**9, thermal_msg=wrong)
    corrupt = array_to_image_msg(rgb_image(), 'rgb8', header(2 * 10**9))
    corrupt.data = corrupt.data[:100]  # truncated
    h.send(2 * 10**9, rgb_msg=corrupt)
    h.send(3 * 10**9)
    assert wait_for(lambda: h.count() >= 1)
    assert h.node.stats.snapshot()['drops']['bad_input'] == 2
    assert wait_for(lambda: h.latest_status('processing')[1].get('dropped bad_input') == '2')
    assert h.latest_status('processing')[0].level == b'\x01'


def test_compressed_rgb_input(harness):
    import cv2
    from sensor_msgs.msg import CompressedImage
    h = harness({'rgb_transport': 'compressed'}, rgb_compressed=True)
    ok, buf = cv2.imencode('.jpg', rgb_image()[..., ::-1])
    assert ok
    for i in range(2):
        msg = CompressedImage()
        msg.header, msg.format, msg.data = header((i + 1) * 10**9), 'rgb8; jpeg compressed bgr8', buf.tobytes()
        h.send((i + 1) * 10**9, rgb_msg=msg)
    assert wait_for(lambda: h.count() >= 2)
    assert h.node.stats.inputs['rgb'].topic.endswith('/rgb/image/compressed')


def test_qos_mismatch_is_reported(harness):
    best_effort = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
    h = harness({'no_data_timeout_s': 0.5}, input_qos=best_effort, connect=False)
    topic = h.node.stats.inputs['rgb'].topic
    assert wait_for(lambda: h.node.count_publishers(topic) > 0)
    h.publish(10**9)

    def message():
        status, _ = h.latest_status('inputs')
        return status.message if status is not None else ''
    assert wait_for(lambda: 'best_effort' in message() and topic in message())
    assert h.latest_status('inputs')[0].level == b'\x01'
    assert h.received() == (0, 0)


def test_training_while_output_flows_refuses_concurrent_and_keeps_model_on_failure(harness, monkeypatch):
    h = harness({'train_epochs': 3, 'train_work_size': 64})
    # before any pair: refused
    refused = h.call(h.train)
    assert not refused.success and 'no synchronised' in refused.message

    h.stream(2)
    gate, started = threading.Event(), threading.Event()
    real_fit = engine_mod.fit_scene

    def gated_fit(*args, **kwargs):  # hold the training until the test has seen output flow meanwhile
        started.set()
        assert gate.wait(60)
        return real_fit(*args, **kwargs)
    monkeypatch.setattr(engine_mod, 'fit_scene', gated_fit)
    future = h.train.call_async(Trigger.Request())
    assert wait_for(started.is_set)
    h.settle()
    before = h.count()
    h.stream(3, start_ns=5 * 10**9)  # fused output keeps flowing while training runs
    assert wait_for(lambda: h.count() >= before + 3)
    second = h.call(h.train)  # a concurrent call is refused at once
    assert not second.success and 'already running' in second.message
    assert h.node.model_state()['training'].startswith('running')
    gate.set()
    assert wait_for(future.done, timeout_s=120)
    first = future.result()
    assert 'SSIM score' in first.message and ' s' in first.message
    if first.success:
        assert h.node.engine.active.model.name == 'scene'
    version = h.node.engine.active.version

    # a failing run keeps the model it had
    def failing_fit(*args, **kwargs):
        raise RuntimeError('CUDA out of memory (simulated)')
    monkeypatch.setattr(engine_mod, 'fit_scene', failing_fit)
    failed = h.call(h.train)
    assert not failed.success and 'training failed' in failed.message and 'out of memory' in failed.message
    assert h.node.engine.active.version == version
    h.send(9 * 10**9)  # and the node still fuses
    assert wait_for(lambda: h.count() >= before + 4)

    reset = h.call(h.reset)
    assert reset.success and 'ssvif' in reset.message  # the shipped default
    assert h.node.engine.active.model.name == 'ssvif'


def test_parameters_validated_when_set(harness):
    h = harness()
    node = h.node
    bad = node.set_parameters([Parameter('thermal_low', value=200.0)])[0]  # > thermal_high (99.5)
    assert not bad.successful and 'thermal_low' in bad.reason
    out_of_range = node.set_parameters([Parameter('approximate_sync_tolerance_seconds', value=-1.0)])[0]
    assert not out_of_range.successful
    read_only = node.set_parameters([Parameter('device', value='cpu')])[0]
    assert not read_only.successful
    ok = node.set_parameters([Parameter('approximate_sync_tolerance_seconds', value=0.2),
                              Parameter('align_mode', value='fixed'),
                              Parameter('homography', value=[1.0, 0.0, 2.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])])
    assert all(r.successful for r in ok)
    assert node.config.pairing().tolerance_s == 0.2 and node.engine.align.mode == 'fixed'
    h.stream(2)
    assert wait_for(lambda: h.count() >= 2)


def test_start_fails_clearly_on_a_missing_model(ros_context, tmp_path):
    with pytest.raises(ValueError, match='fusion_model_path'):
        FusionNode(context=ros_context, parameter_overrides=[
            Parameter('fusion_model', value='ssvif'), Parameter('fusion_model_path', value=str(tmp_path / 'x.pt'))])
    with pytest.raises(ValueError, match='segmentation_model_path'):
        FusionNode(context=ros_context, parameter_overrides=[
            Parameter('segmentation_enabled', value=True),
            Parameter('segmentation_model_path', value=str(tmp_path / 'seg.pt'))])


def test_training_can_be_disabled(harness):
    h = harness({'train_enabled': False})
    h.stream(1)
    refused = h.call(h.train)
    assert not refused.success and 'train_enabled' in refused.message
    assert not h.node.set_parameters([Parameter('train_enabled', value=True)])[0].successful  # read-only


def test_slow_processing_skips_stale_pairs_and_keeps_the_newest(harness, monkeypatch):
    """Newest pair first: while the worker is busy, waiting pairs are replaced (counted), never queued up."""
    import time
    h = harness()
    real = h.node.engine.process

    def slow(*args, **kwargs):  # simulate a model slower than the cameras
        time.sleep(0.2)
        return real(*args, **kwargs)
    monkeypatch.setattr(h.node.engine, 'process', slow)
    stamps = [(i + 1) * 50_000_000 for i in range(10)]
    for stamp in stamps:  # 10 pairs at once, much faster than 5 per second
        h.publish(stamp)
    assert wait_for(lambda: h.received() == (10, 10))
    assert wait_for(lambda: h.handled() >= h.node.pairing_counters()['pairs'] == 10)
    h.settle()
    busy = h.node.stats.snapshot()['drops'].get('worker_busy', 0)
    assert busy > 0 and h.count() + busy == 10
    assert stamp_of(h.outputs['fused/image'][-1]) == stamps[-1]  # the newest pair is always fused
