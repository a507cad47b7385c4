"""Segmentation and detection outputs of the fusion node, with small random-weight models (no downloads)."""
import os

import pytest

pytest.importorskip('rclpy', reason='ROS 2 (rclpy) is not installed')
pytest.importorskip('segmentation_models_pytorch')
pytest.importorskip('ultralytics')
import torch  # noqa: E402

from fusion_ros.ros.conversions import image_msg_to_array  # noqa: E402
from fusion_ros.segmentation import (SegmentationInfo, build_segmentation_model,  # noqa: E402
                                     save_segmentation_checkpoint)
from node_harness import NodeHarness, wait_for  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp('heads')
    info = SegmentationInfo(arch='Unet', encoder='resnet18', classes=3, class_names=['background', 'hot', 'cold'],
                            model_kwargs={'encoder_depth': 3, 'decoder_channels': [16, 8, 4]})
    torch.manual_seed(0)
    seg = save_segmentation_checkpoint(folder / 'seg.pt', build_segmentation_model(info), info)
    os.environ.setdefault('YOLO_OFFLINE', '1')
    from ultralytics import YOLO
    det = folder / 'det.pt'
    YOLO('yolo11n.yaml').save(str(det))
    return seg, det


def test_segmentation_and_detection_outputs(ros_context, models):
    seg, det = models
    h = NodeHarness(ros_context, {'segmentation_enabled': True, 'segmentation_model_path': str(seg),
                                  'detection_enabled': True, 'detection_model_path': str(det),
                                  'detection_confidence': 0.0, 'detection_image_size': 64, 'detection_max': 3})
    try:
        h.wait_connected()
        stamps = h.stream(2)
        topics = ('segmentation/mask', 'segmentation/overlay', 'detections/image')
        assert wait_for(lambda: all(h.count(t) >= 2 for t in topics))
        mask = h.outputs['segmentation/mask'][-1]
        assert (mask.width, mask.height, mask.encoding) == (64, 48, 'mono8')
        assert mask.header.stamp.sec * 10**9 + mask.header.stamp.nanosec in stamps
        assert mask.header.frame_id == 'rgb_optical_frame'
        labels, _ = image_msg_to_array(mask)
        assert labels.max() < 3
        for topic in ('segmentation/overlay', 'detections/image'):
            msg = h.outputs[topic][-1]
            assert (msg.width, msg.height, msg.encoding) == (64, 48, 'rgb8')
        state = h.node.model_state()
        assert state['segmentation'] == 'on' and state['detection'] == 'on'
        assert {'segment', 'detect'} <= set(h.node.stats.snapshot()['stages_ms'])
    finally:
        h.close()


def _advertised(h):
    ns = h.namespace
    names = {name for name, _ in h.node.get_publisher_names_and_types_by_node('fusion_node', ns)}
    return {n[len(ns) + 1:] for n in names if n.startswith(ns + '/')}


def test_detection_without_a_path_loads_the_shipped_detector(ros_context, models, tmp_path, monkeypatch):
    """Issue 10: detection_enabled with no detection_model_path loads models/detector_default.pt (found as
    fusion_ros.shipped finds the fusion model)."""
    import shutil

    from fusion_ros import shipped
    shutil.copy(models[1], tmp_path / shipped.DETECTOR_DEFAULT)
    monkeypatch.setattr(shipped, 'model_dirs', lambda: [tmp_path])
    h = NodeHarness(ros_context, {'fusion_model': 'average', 'detection_enabled': True,
                                  'detection_confidence': 0.0, 'detection_image_size': 64})
    try:
        h.wait_connected()
        h.stream(1)
        assert wait_for(lambda: h.count('detections/image') >= 1)
        state = h.node.model_state()
        assert state['detection'] == 'on' and state['detection model'] == str(tmp_path / shipped.DETECTOR_DEFAULT)
        assert state['segmentation'] == 'off'
    finally:
        h.close()


def test_detection_without_a_shipped_detector_runs_without_it(ros_context, tmp_path, monkeypatch):
    """No path and no shipped file: the node says so (log and /diagnostics) and keeps fusing, no detections."""
    from fusion_ros import shipped
    monkeypatch.setattr(shipped, 'model_dirs', lambda: [tmp_path])
    h = NodeHarness(ros_context, {'fusion_model': 'average', 'detection_enabled': True})
    try:
        h.wait_connected()
        h.stream(1)
        assert wait_for(lambda: h.count() >= 1)
        assert h.count('detections/image') == 0 and 'detections/image' not in _advertised(h)
        state = h.node.model_state()
        assert state['detection'].startswith('off: detection_enabled is true but detection_model_path is empty')
        assert 'detector_default.pt not found' in state['detection']
    finally:
        h.close()
