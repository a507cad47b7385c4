"""The fusion node over real DDS (rclpy, Fast DDS), on CPU, with small synthetic images."""
import threading

import pytest

pytest.importorskip('rclpy', reason='ROS 2 (rclpy) is not installed')
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from fusion_ros import engine as engine_mod  # noqa: E402
from fusion_ros.ros.conversions import array_to_image_msg, image_msg_to_array  # noqa: E402
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
    h = harness({'train_epochs': 3, 'train_work_size': 64, 'train_scene_mode': 'scene'})
    assert h.node.config.executor == 'events'  # the default: one executor thread; the training awaits its own
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


# ---------------------------------------------------------------------------- issue 12: cpu_threads auto

def test_cpu_threads_auto_is_decided_from_the_cores_at_start(harness, monkeypatch):
    import torch

    from fusion_ros import device
    monkeypatch.setattr(device, 'available_cores', lambda: 3)
    h = harness({'cpu_threads': 0}, connect=False)  # 0: auto, the shipped default
    assert torch.get_num_threads() == 2  # max(1, 3 - 1): one core left to the executor and DDS
    assert 'auto' in h.node.model_state()['cpu threads']
    h2 = harness({'cpu_threads': 1}, connect=False)  # an explicit count is used as given
    assert torch.get_num_threads() == 1 and 'auto' not in h2.node.model_state()['cpu threads']


# ---------------------------------------------------------------------------- issue 9: inference_backend

def test_inference_backend_is_used_and_shown_in_diagnostics(harness, tmp_path):
    pytest.importorskip('onnxruntime')
    from fusion_ros.checkpoint import save_checkpoint
    from fusion_ros.models import build_model
    path = str(save_checkpoint(tmp_path / 'ssvif.pt', build_model('ssvif'), 'ssvif'))  # an exportable net
    h = harness({'inference_backend': 'onnxruntime', 'cpu_threads': 1, 'fusion_model_path': path}, connect=False)
    assert h.node.engine.active.model.fuse.backend == 'onnxruntime'
    assert h.node.model_state()['backend'] == 'onnxruntime (1 thread, CPU)'
    h2 = harness({'inference_backend': 'torch', 'fusion_model_path': path}, connect=False)
    assert h2.node.model_state()['backend'] == 'torch channels_last'


# ---------------------------------------------------------------------------- issue 9

def test_reset_during_training_wins_and_both_responses_say_so(harness, monkeypatch):
    h = harness({'train_epochs': 3, 'train_work_size': 64, 'train_scene_mode': 'scene'})
    h.stream(2)
    gate, started = threading.Event(), threading.Event()
    real_fit = engine_mod.fit_scene

    def gated_fit(*args, **kwargs):
        started.set()
        assert gate.wait(60)
        return real_fit(*args, **kwargs)
    monkeypatch.setattr(engine_mod, 'fit_scene', gated_fit)
    future = h.train.call_async(Trigger.Request())
    assert wait_for(started.is_set)
    reset = h.call(h.reset)
    assert reset.success and 'now ssvif' in reset.message and 'cancelled' in reset.message
    version = h.node.engine.active.version
    gate.set()
    assert wait_for(future.done, timeout_s=120)
    trained = future.result()
    assert not trained.success and 'discarded' in trained.message and 'reset' in trained.message
    assert h.node.engine.active.model.name == 'ssvif' and h.node.engine.active.version == version
    h.send(9 * 10**9)
    assert wait_for(lambda: h.count() >= 3) and h.node.engine.active.version == version


def test_diagnostics_describe_a_recent_window_and_sync_warns_when_pairs_stop(harness):
    h = harness({'diagnostics_window_s': 1.0})
    wrong = array_to_image_msg(thermal_image(), 'mono8', header(10**9, 'thermal_optical_frame'))
    wrong.encoding = 'bayer_rggb8'
    h.send(10**9, thermal_msg=wrong)
    assert wait_for(lambda: h.latest_status('processing')[0] is not None
                    and h.latest_status('processing')[0].level == b'\x01')
    # good frames afterwards: the warning goes once the bad frame is out of the window, the total stays
    stamps = iter(range(2 * 10**9, 100 * 10**9, 100_000_000))

    def processing_ok():
        h.send(next(stamps))
        status, values = h.latest_status('processing')
        return status.level == b'\x00' and values.get('dropped bad_input') == '1'
    assert wait_for(processing_ok, timeout_s=30, period_s=0.1)
    assert h.latest_status('sync')[0].level == b'\x00'
    # then the thermal stamps jump 10 s ahead: both inputs arrive, nothing pairs -> WARN naming the fix
    base = 200 * 10**9

    def sync_warns():
        t = next(stamps) + base
        h.publish(t, thermal_stamp_ns=t + 10 * 10**9)
        status, _ = h.latest_status('sync')
        return status.level == b'\x01' and 'approximate_sync_tolerance_seconds' in status.message
    assert wait_for(sync_warns, timeout_s=30, period_s=0.1)
    status, values = h.latest_status('sync')
    assert '+10.0' in status.message and 'no pair in the last' in status.message
    assert values['newest thermal - rgb stamp (s)'].startswith('+10.0') or values[
        'newest thermal - rgb stamp (s)'].startswith('+9.9')
    assert h.node._sync_warned  # and it was logged


def test_unwritable_record_directory_exits_cleanly(ros_context, tmp_path):
    import os
    import subprocess
    import sys

    from fusion_ros.ros.bringup import run
    not_a_folder = tmp_path / 'a_file'
    not_a_folder.write_text('')
    target = not_a_folder / 'bags'  # cannot be created, even by root
    env = dict(os.environ, ROS_DOMAIN_ID=str(ros_context.get_domain_id()))
    proc = subprocess.run([sys.executable, '-m', 'fusion_ros.ros.fusion_node', '--ros-args', '-p',
                           'record_enabled:=true', '-p', f'record_directory:={target}', '-p', 'fusion_model:=average',
                           '-p', 'cpu_threads:=1'], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert 'cannot start: parameter record_directory' in proc.stderr and str(target) in proc.stderr
    assert 'Traceback' not in proc.stderr and 'AttributeError' not in proc.stderr, proc.stderr
    # `fusion-ros run` too (in a thread: rclpy's signal handlers belong to the main thread)
    import torch
    threads, codes = torch.get_num_threads(), []
    worker = threading.Thread(target=lambda: codes.append(run(
        params={'record_enabled': 'true', 'record_directory': str(target), 'fusion_model': 'average',
                'cpu_threads': '1'}, domain_id=ros_context.get_domain_id())))
    worker.start()
    worker.join(120)
    torch.set_num_threads(threads)
    assert codes == [1]


def test_large_inputs_are_resized_and_camera_info_scaled(harness):
    from sensor_msgs.msg import CameraInfo
    h = harness({'max_input_side': 32})
    info = CameraInfo(width=W, height=H, distortion_model='plumb_bob', d=[0.1, 0.0, 0.0, 0.0, 0.0],
                      k=[50.0, 0.0, 31.5, 0.0, 50.0, 23.5, 0.0, 0.0, 1.0],
                      p=[50.0, 0.0, 31.5, 0.0, 0.0, 50.0, 23.5, 0.0, 0.0, 0.0, 1.0, 0.0])
    info.header = header(0)
    assert wait_for(lambda: h.camera_info_pub.get_subscription_count() > 0)
    h.camera_info_pub.publish(info)
    assert wait_for(lambda: h.node._camera_info is not None)
    h.stream(2, thermal=thermal_image(48, 64, 'mono16'), thermal_encoding='mono16')
    assert wait_for(lambda: h.count() >= 2 and h.count('fused/camera_info') >= 2)
    fused, reg = h.outputs['fused/image'][-1], h.outputs['thermal/registered'][-1]
    assert (fused.width, fused.height) == (32, 24) and (reg.width, reg.height) == (32, 24)
    scaled = h.outputs['fused/camera_info'][-1]
    assert (scaled.width, scaled.height) == (32, 24) and stamp_of(scaled) == stamp_of(fused)
    assert list(scaled.k) == pytest.approx([25.0, 0.0, 15.5, 0.0, 25.0, 11.5, 0.0, 0.0, 1.0])
    assert list(scaled.d) == pytest.approx(list(info.d))
    assert wait_for(lambda: h.latest_status('processing')[1].get('pairs resized to max_input_side') == '2')
    assert 'resized' in h.latest_status('processing')[0].message


def test_colour_and_all_nan_thermal_are_reported(harness):
    import numpy as np
    h = harness()
    colour = array_to_image_msg(rgb_image()[..., ::-1].copy(), 'rgb8', header(10**9, 'thermal_optical_frame'))
    colour.encoding = 'bgr8'  # same bytes, channels swapped: what a colour camera driver publishes
    h.send(10**9, thermal_msg=colour)
    assert wait_for(lambda: h.count() >= 1)  # used (its luma), but said
    assert h.node.stats.snapshot()['notes'] == {'thermal_colour': 1}

    def inputs_warn():
        status, values = h.latest_status('inputs')
        return (status is not None and status.level == b'\x01' and 'colour images on the thermal topic' in
                status.message and values.get('thermal colour frames (luma used)') == '1')
    assert wait_for(inputs_warn)
    nan = array_to_image_msg(np.full((H, W), np.nan, np.float32), '32FC1', header(2 * 10**9, 'thermal_optical_frame'))
    h.send(2 * 10**9, thermal_msg=nan)
    h.settle()
    assert h.count() == 1 and h.node.stats.snapshot()['drops'] == {'bad_input': 1}  # skipped, counted
    assert wait_for(lambda: h.latest_status('processing')[1].get('dropped bad_input') == '1')


def test_only_enabled_outputs_are_advertised(harness):
    h = harness({'publish_registered': False}, connect=False)
    ns = h.namespace

    def advertised():
        names = {name for name, _ in h.node.get_publisher_names_and_types_by_node('fusion_node', ns)}
        return {n[len(ns) + 1:] for n in names if n.startswith(ns + '/')}
    assert wait_for(lambda: 'fused/image' in advertised())
    assert advertised() == {'fused/image', 'fused/camera_info'}  # no registered, segmentation or detections
    assert h.node.set_parameters([Parameter('publish_registered', value=True)])[0].successful
    assert wait_for(lambda: 'thermal/registered' in advertised())
    h.wait_connected()
    h.send(10**9)
    assert wait_for(lambda: h.count('thermal/registered') >= 1)
    assert h.node.set_parameters([Parameter('publish_registered', value=False)])[0].successful
    assert wait_for(lambda: 'thermal/registered' not in advertised())


def test_output_qos_is_a_parameter(harness):
    default = harness(connect=False)
    assert wait_for(lambda: default.client.get_publishers_info_by_topic(f'{default.namespace}/fused/image'))
    infos = default.client.get_publishers_info_by_topic(f'{default.namespace}/fused/image')
    assert infos[0].qos_profile.reliability == ReliabilityPolicy.RELIABLE  # default unchanged
    h = harness({'output_qos': 'best_effort', 'output_qos_depth': 3}, connect=False)
    topic = f'{h.namespace}/fused/image'
    assert wait_for(lambda: h.client.get_publishers_info_by_topic(topic))
    assert h.client.get_publishers_info_by_topic(topic)[0].qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
    assert h.node._output_qos.depth == 3
    assert not h.node.set_parameters([Parameter('output_qos', value='reliable')])[0].successful  # read-only


def test_fused_camera_info_follows_the_fused_image(harness):
    from sensor_msgs.msg import CameraInfo
    h = harness()
    h.send(10**9)  # no camera_info yet: none published, and the model status says why
    assert wait_for(lambda: h.count() >= 1)
    assert h.count('fused/camera_info') == 0
    assert 'none received on' in h.node.model_state()['camera_info']
    assert h.node.model_state()['camera_info'].startswith(f'none received on {h.namespace}/rgb/camera_info')
    info = CameraInfo(width=W, height=H, distortion_model='plumb_bob', d=[0.1, -0.2, 0.0, 0.0, 0.0],
                      k=[50.0, 0.0, 32.0, 0.0, 51.0, 24.0, 0.0, 0.0, 1.0],
                      p=[50.0, 0.0, 32.0, 0.0, 0.0, 51.0, 24.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    info.header = header(10**9, 'rgb_optical_frame')
    assert wait_for(lambda: h.camera_info_pub.get_subscription_count() > 0)
    h.camera_info_pub.publish(info)
    assert wait_for(lambda: h.node._camera_info is not None)
    h.stream(2, start_ns=2 * 10**9)
    assert wait_for(lambda: h.count('fused/camera_info') >= 2)
    fused_by_stamp = {stamp_of(m): m for m in h.outputs['fused/image']}
    for msg in h.outputs['fused/camera_info']:
        image = fused_by_stamp[stamp_of(msg)]  # one per fused image, with its header
        assert msg.header.frame_id == image.header.frame_id == 'rgb_optical_frame'
        assert (msg.width, msg.height) == (image.width, image.height)
        assert list(msg.k) == list(info.k) and list(msg.d) == list(info.d) and list(msg.p) == list(info.p)


def test_train_scene_adapt_mode_needs_recent_pairs_then_adapts_the_streaming_net(harness):
    """Issue 11: 'adapt' (the default mode) fine-tunes the active net on the newest kept pair, judged on older
    ones; it refuses, saying why, until enough pairs at least adapt_pair_interval_s apart have been fused."""
    h = harness({'adapt_time_budget_s': 3.0, 'adapt_pair_interval_s': 0.5})
    assert h.node.config.train_scene_mode == 'adapt'
    h.stream(3, period_ns=100_000_000)  # 0.2 s of stream: one pair kept
    refused = h.call(h.train)
    assert not refused.success and 'needs 3 recent pairs' in refused.message and '1 kept so far' in refused.message
    assert h.node.engine.active.version == 0
    h.stream(3, start_ns=2 * 10**9, period_ns=600_000_000)  # three more, 0.6 s apart: the buffer is full
    result = h.call(h.train)
    assert 'held-out' in result.message.lower() and 'VIF' in result.message, result.message
    trained = h.node.engine.last_training
    assert trained is not None and trained.before is not None and trained.epochs >= 1
    assert h.node.engine.active.version == (1 if result.success else 0)
    before = h.count()
    h.send(9 * 10**9)  # the node still fuses, with whichever model won
    assert wait_for(lambda: h.count() >= before + 1)
    assert h.node.model_state()['last training'] == result.message


def test_make_executor_kinds_and_fallback(ros_context, monkeypatch):
    import builtins

    from rclpy.executors import MultiThreadedExecutor

    from fusion_ros.ros.fusion_node import make_executor
    threaded = make_executor('multi_threaded', ros_context)
    events = make_executor('events', ros_context)
    try:
        assert isinstance(threaded, MultiThreadedExecutor)
        assert not isinstance(events, MultiThreadedExecutor) and 'EventsExecutor' in type(events).__name__
    finally:
        threaded.shutdown()
        events.shutdown()
    real_import, said = builtins.__import__, []

    def no_experimental(name, *args, **kwargs):
        if name == 'rclpy.experimental':
            raise ImportError('no EventsExecutor in this rclpy')
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, '__import__', no_experimental)
    fallback = make_executor('events', ros_context, said.append)
    try:
        assert isinstance(fallback, MultiThreadedExecutor)
        assert len(said) == 1 and "'events' is not available" in said[0] and 'multi_threaded' in said[0]
    finally:
        fallback.shutdown()



def test_train_scene_answers_on_the_multi_threaded_executor_too(harness):
    """The awaiting ~/train_scene callback also works where the node runs rclpy's MultiThreadedExecutor."""
    h = harness({'executor': 'multi_threaded', 'train_epochs': 2, 'train_work_size': 64,
                 'train_scene_mode': 'scene'})
    assert type(h.executor).__name__ == 'MultiThreadedExecutor'
    refused = h.call(h.train)
    assert not refused.success and 'no synchronised' in refused.message
    h.stream(2)
    answer = h.call(h.train)
    assert 'SSIM score' in answer.message
    h.send(5 * 10**9)  # and the node still fuses
    assert wait_for(lambda: h.count() >= 3)


def test_latest_slot_keeps_the_newest_pairs_up_to_its_capacity():
    from fusion_ros.ros.fusion_node import LatestSlot
    one, two = LatestSlot(1), LatestSlot(2)
    assert [one.put(i) for i in range(3)] == [False, True, True] and one.take(0.01) == 2
    assert [two.put(i) for i in range(4)] == [False, False, True, True]
    assert [two.take(0.01), two.take(0.01), two.take(0.01)] == [2, 3, None]  # oldest waiting first
    with pytest.raises(ValueError, match='capacity'):
        LatestSlot(0)


def test_lower_thread_priority_changes_only_the_calling_thread():
    import os

    from fusion_ros.ros.fusion_node import lower_thread_priority
    seen = {}

    def worker():
        seen['ok'] = lower_thread_priority(5)
        seen['nice'] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    before = os.getpriority(os.PRIO_PROCESS, 0)
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen['ok'] and seen['nice'] == min(before + 5, 19)
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the process (and this thread) unchanged


def test_train_scene_answers_when_the_training_raises_unexpectedly(harness, monkeypatch):
    h = harness({'train_scene_mode': 'scene'})
    h.stream(2)

    def broken():
        raise RuntimeError('simulated bug')
    monkeypatch.setattr(h.node, '_train_scene', broken)
    answer = h.call(h.train, timeout_s=20)
    assert not answer.success and 'RuntimeError: simulated bug' in answer.message and 'unchanged' in answer.message
    before = h.count()
    h.send(9 * 10**9)  # the node still fuses
    assert wait_for(lambda: h.count() > before)


def test_train_scene_ready_follows_what_each_mode_needs(harness):
    scene = harness({'train_scene_mode': 'scene'})
    assert not scene.node.train_scene_ready()
    scene.stream(1)
    assert scene.node.train_scene_ready()
    adapt = harness({'train_scene_mode': 'adapt', 'adapt_pair_interval_s': 0.0})
    adapt.stream(2)
    assert not adapt.node.train_scene_ready()  # adapt keeps 3 recent pairs
    adapt.stream(1, start_ns=5 * 10**9)
    assert adapt.node.train_scene_ready()


# ---------------------------------------------------------------------------- issue 9: DDS transport

def test_the_dds_transport_is_shown_in_diagnostics(harness):
    import os

    from rclpy.utilities import get_rmw_implementation_identifier

    from fusion_ros.ros.transport import describe_transport
    h = harness({}, connect=False)
    expected = describe_transport(get_rmw_implementation_identifier(), os.environ)[0]
    assert h.node.model_state()['transport'] == expected


def test_messages_are_built_only_for_topics_someone_reads(harness, monkeypatch):
    from fusion_ros.ros import outputs
    built = []
    real = outputs.array_to_image_msg
    monkeypatch.setattr(outputs, 'array_to_image_msg', lambda a, enc, hd: built.append(enc) or real(a, enc, hd))
    h = harness({'publish_registered': True}, connect=False)
    assert h.node._has_subscribers('fused/image')  # the harness reads it
    assert not h.node._has_subscribers('segmentation/mask')  # not advertised (head off)
    sub = next(s for s in h.client.subscriptions if s.topic_name.endswith('/thermal/registered'))
    h.client.destroy_subscription(sub)
    assert wait_for(lambda: not h.node._has_subscribers('thermal/registered'))
    built.clear()
    h.stream(3)
    assert h.count('fused/image') >= 1 and built and 'mono16' not in built  # registered thermal: not built
