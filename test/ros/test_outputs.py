"""Output messages built from a FrameOutput: topics, encodings, the RGB header; Detection2DArray filling."""
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip('sensor_msgs.msg', reason='ROS 2 message packages are not installed')
from std_msgs.msg import Header  # noqa: E402

from fusion_ros.detection import Detection  # noqa: E402
from fusion_ros.engine import FrameOutput  # noqa: E402
from fusion_ros.ros import outputs  # noqa: E402

pytestmark = pytest.mark.ros


def frame(**heads):
    return FrameOutput(np.full((4, 6, 3), 0.5, np.float32), np.linspace(0, 1, 24, dtype=np.float32).reshape(4, 6),
                       'average', 0, **heads)


def test_messages_keep_the_rgb_header():
    header = Header(frame_id='rgb_optical_frame')
    header.stamp.sec, header.stamp.nanosec = 7, 9
    labels = np.zeros((4, 6), np.uint8)
    msgs = outputs.output_messages(frame(labels=labels, overlay=np.zeros((4, 6, 3), np.uint8),
                                         detections=[], annotated=np.zeros((4, 6, 3), np.uint8)), header)
    expected = {'fused/image': 'rgb8', 'thermal/registered': 'mono16', 'segmentation/mask': 'mono8',
                'segmentation/overlay': 'rgb8', 'detections/image': 'rgb8'}
    assert {k: m.encoding for k, m in msgs.items() if k != 'detections'} == expected
    for msg in msgs.values():
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (7, 9, 'rgb_optical_frame')
    assert 'thermal/registered' not in outputs.output_messages(frame(), header, registered=False)


def test_only_the_wanted_topics_are_built():
    header = Header(frame_id='rgb_optical_frame')
    full = frame(labels=np.zeros((4, 6), np.uint8), overlay=np.zeros((4, 6, 3), np.uint8), detections=[],
                 annotated=np.zeros((4, 6, 3), np.uint8))
    assert set(outputs.output_messages(full, header, wanted=lambda t: t == 'fused/image')) == {'fused/image'}
    picked = {'thermal/registered', 'segmentation/overlay', 'detections/image'}
    assert set(outputs.output_messages(full, header, wanted=picked.__contains__)) == picked
    assert outputs.output_messages(full, header, wanted=lambda t: False) == {}


def _fake(**fields):
    return lambda: SimpleNamespace(**{k: v() if callable(v) else v for k, v in fields.items()})


def test_detection_array_fields(monkeypatch):
    """vision_msgs 4.x layout, checked with stand-in classes (vision_msgs has no PyPI wheel)."""
    point = _fake(x=0.0, y=0.0)
    monkeypatch.setattr(outputs, 'HAVE_VISION_MSGS', True)
    monkeypatch.setattr(outputs, 'Detection2DArray', _fake(header=None, detections=list), raising=False)
    monkeypatch.setattr(outputs, 'Detection2D', _fake(header=None, id='', results=list, bbox=_fake(
        center=_fake(position=point, theta=0.0), size_x=0.0, size_y=0.0)), raising=False)
    monkeypatch.setattr(outputs, 'ObjectHypothesisWithPose', _fake(hypothesis=_fake(class_id='', score=0.0)),
                        raising=False)
    msg = outputs.detections_msg([Detection(2, 'car', 0.8, 10, 20, 30, 60)], 'HEADER')
    det = msg.detections[0]
    assert msg.header == det.header == 'HEADER'
    assert (det.bbox.center.position.x, det.bbox.center.position.y, det.bbox.size_x, det.bbox.size_y) == (
        20.0, 40.0, 20.0, 40.0)
    assert det.results[0].hypothesis.class_id == 'car' and det.results[0].hypothesis.score == pytest.approx(0.8)


def test_no_vision_msgs_means_no_detection_array(monkeypatch):
    monkeypatch.setattr(outputs, 'HAVE_VISION_MSGS', False)
    assert outputs.detections_msg([], Header()) is None


def test_output_topics_and_camera_info():
    from sensor_msgs.msg import CameraInfo
    assert outputs.output_topics(registered=False, segmentation=False, detection=False) == ['fused/image']
    assert outputs.output_topics(registered=True, segmentation=True, detection=True) == [
        'fused/image', 'thermal/registered', 'segmentation/mask', 'segmentation/overlay', 'detections/image']
    assert outputs.camera_info_topic('/camera/color/image_raw') == '/camera/color/camera_info'
    header = Header(frame_id='rgb_optical_frame')
    header.stamp.sec = 3
    info = CameraInfo(width=640, height=480, distortion_model='plumb_bob', d=[0.1] * 5, binning_x=0,
                      k=[500.0, 0.0, 319.5, 0.0, 500.0, 239.5, 0.0, 0.0, 1.0],
                      p=[500.0, 0.0, 319.5, 0.0, 0.0, 500.0, 239.5, 0.0, 0.0, 0.0, 1.0, 0.0])
    info.header.frame_id = 'other'
    same = outputs.camera_info_msg(info, header, (640, 480), (640, 480))
    assert (same.header.stamp.sec, same.header.frame_id) == (3, 'rgb_optical_frame')  # the fused image's header
    assert list(same.k) == list(info.k) and (same.width, same.height) == (640, 480)
    half = outputs.camera_info_msg(info, header, (320, 240), (640, 480))
    assert (half.width, half.height) == (320, 240) and list(half.d) == [0.1] * 5
    assert list(half.k) == pytest.approx([250.0, 0.0, 159.5, 0.0, 250.0, 119.5, 0.0, 0.0, 1.0])
