"""Segmentation (segmentation-models-pytorch checkpoint) and detection (ultralytics file) heads, ROS-free.

Small random-weight models built offline: nothing is downloaded.
"""
import os

import numpy as np
import pytest
import torch

from fusion_ros.detection import Detection, DetectionModelError, Detector, DetectorConfig, draw_detections
from fusion_ros.engine import FusionEngine, load_fusion_model
from fusion_ros.segmentation import (SegmentationInfo, SegmentationModelError, Segmenter, build_segmentation_model,
                                     colour_overlay, load_segmentation_checkpoint, save_segmentation_checkpoint)

TINY_SEG = SegmentationInfo(arch='Unet', encoder='resnet18', classes=3, class_names=['background', 'person', 'car'],
                            model_kwargs={'encoder_depth': 3, 'decoder_channels': [16, 8, 4]})


def make_segmentation_checkpoint(path):
    torch.manual_seed(0)
    return save_segmentation_checkpoint(path, build_segmentation_model(TINY_SEG), TINY_SEG)


def make_detection_model(path):
    """ultralytics YOLO('yolo11n.yaml'): random weights, built offline, saved as a .pt file."""
    pytest.importorskip('ultralytics')
    os.environ.setdefault('YOLO_OFFLINE', '1')
    from ultralytics import YOLO
    YOLO('yolo11n.yaml').save(str(path))
    return path


@pytest.fixture(scope='session')
def segmentation_checkpoint(tmp_path_factory):
    pytest.importorskip('segmentation_models_pytorch')
    return make_segmentation_checkpoint(tmp_path_factory.mktemp('seg') / 'seg.pt')


@pytest.fixture(scope='session')
def detection_model(tmp_path_factory):
    return make_detection_model(tmp_path_factory.mktemp('det') / 'yolo_random.pt')


def test_segmentation_checkpoint_round_trip(segmentation_checkpoint):
    info, state = load_segmentation_checkpoint(segmentation_checkpoint)
    assert info.class_names == ['background', 'person', 'car'] and info.stride == 8
    seg = Segmenter.from_file(segmentation_checkpoint)
    labels = seg.predict(np.random.default_rng(0).random((45, 61, 3), dtype=np.float32))  # not a multiple of 8
    assert labels.shape == (45, 61) and labels.dtype == np.uint8 and labels.max() < 3
    overlay = colour_overlay(np.zeros((45, 61, 3), np.float32), labels, 0.5, 3)
    assert overlay.shape == (45, 61, 3) and overlay.dtype == np.uint8


def test_segmentation_checkpoint_refusals(tmp_path):
    with pytest.raises(SegmentationModelError, match='no such'):
        Segmenter.from_file(tmp_path / 'missing.pt')
    torch.save({'state_dict': {}}, tmp_path / 'other.pt')
    with pytest.raises(SegmentationModelError, match='not a fusion_ros segmentation'):
        Segmenter.from_file(tmp_path / 'other.pt')


def test_overlay_leaves_background():
    labels = np.array([[0, 1]], np.uint8)
    out = colour_overlay(np.full((1, 2, 3), 0.5, np.float32), labels, alpha=1.0, classes=2)
    assert tuple(out[0, 0]) == (128, 128, 128) and tuple(out[0, 1]) != (128, 128, 128)


def test_detector_runs_and_draws(detection_model):
    det = Detector(detection_model, 'cpu', DetectorConfig(confidence=0.0, image_size=64, max_detections=5))
    assert len(det.class_names) == 80
    img = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    found = det.predict(img)
    assert len(found) <= 5 and all(isinstance(d, Detection) for d in found)
    drawn = draw_detections(img, [Detection(0, 'person', 0.9, 5, 5, 30, 40)])
    assert drawn.shape == img.shape and not np.array_equal(drawn, img)


def test_detector_never_downloads(tmp_path):
    with pytest.raises(DetectionModelError, match='never downloaded'):
        Detector(tmp_path / 'yolo11n.pt')  # a name ultralytics would fetch: refused, not downloaded
    assert not (tmp_path / 'yolo11n.pt').exists()


def test_engine_with_heads(segmentation_checkpoint, detection_model):
    engine = FusionEngine(load_fusion_model('average'), segmenter=Segmenter.from_file(segmentation_checkpoint),
                          detector=Detector(detection_model, 'cpu', DetectorConfig(confidence=0.0, image_size=64)))
    out = engine.process(np.random.default_rng(1).random((48, 64, 3), dtype=np.float32),
                         np.random.default_rng(2).random((24, 32), dtype=np.float32))
    assert out.labels.shape == (48, 64) and out.overlay.shape == (48, 64, 3)
    assert out.annotated.shape == (48, 64, 3) and isinstance(out.detections, list)
    assert {'segment', 'detect'} <= set(out.timings)
