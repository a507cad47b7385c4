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


# --------------------------------------------------------------------------- the heads package (issue 10)

def test_head_registry_and_protocol(segmentation_checkpoint, detection_model):
    from fusion_ros import heads
    from fusion_ros.heads.segmentation import SegmentationConfig

    assert heads.names() == ['segmentation', 'detection']
    assert heads.get('detection').shipped == 'detector_default.pt' and heads.get('segmentation').shipped is None
    with pytest.raises(KeyError, match='valid: segmentation, detection'):
        heads.get('depth')
    seg = heads.load_head('segmentation', segmentation_checkpoint, 'cpu', SegmentationConfig(0.25))
    det = heads.load_head('detection', detection_model, 'cpu', DetectorConfig(confidence=0.0, image_size=64))
    fused = np.random.default_rng(3).random((48, 64, 3), dtype=np.float32)
    for head, stage in ((seg, 'segment'), (det, 'detect')):
        assert isinstance(head, heads.Head) and head.stage == stage
        result = head.run(fused)
        drawn = head.draw(fused, result)
        assert drawn.shape == (48, 64, 3) and drawn.dtype == np.uint8
    assert seg.config.overlay_alpha == 0.25 and seg.path == segmentation_checkpoint
    det.config = DetectorConfig(confidence=0.5, image_size=64)  # run-time change reaches the detector
    assert det.detector.config.confidence == 0.5
    with pytest.raises(ValueError, match='none ships'):
        heads.load_head('segmentation')


def test_detection_head_without_a_path_looks_for_the_shipped_detector(tmp_path, monkeypatch, detection_model):
    import shutil

    from fusion_ros import heads, shipped
    monkeypatch.setattr(shipped, 'model_dirs', lambda: [tmp_path])
    with pytest.raises(FileNotFoundError, match='detector_default.pt not found'):
        heads.load_head('detection')
    shutil.copy(detection_model, tmp_path / 'detector_default.pt')
    assert heads.load_head('detection').path == tmp_path / 'detector_default.pt'


def test_engine_runs_a_list_of_heads(segmentation_checkpoint):
    """A new head needs no engine change: any object with name, stage, config, run and draw."""
    from fusion_ros.heads import load_head

    class Brightness:
        name, stage, config = 'brightness', 'bright', None

        def run(self, fused):
            return float(fused.mean())

        def draw(self, fused, result):
            return np.full(fused.shape, round(result * 255), np.uint8)
    engine = FusionEngine(load_fusion_model('average'), heads=[load_head('segmentation', segmentation_checkpoint),
                                                               Brightness()])
    out = engine.process(np.full((16, 16, 3), 0.5, np.float32), np.full((16, 16), 0.5, np.float32))
    assert list(out.heads) == ['segmentation', 'brightness'] and out.heads['brightness'].result == pytest.approx(0.5)
    assert {'segment', 'bright'} <= set(out.timings) and out.labels.shape == (16, 16) and out.detections is None
    assert engine.segmenter is not None and engine.detector is None
    with pytest.raises(ValueError, match='two'):
        FusionEngine(load_fusion_model('average'), heads=[Brightness(), Brightness()])


def test_segmentation_checkpoint_as_documented(tmp_path):
    """The checkpoint format of README (Segmentation) and fusion_ros/segmentation.py, written by hand as a plain
    dict, loads as the segmentation head."""
    pytest.importorskip('segmentation_models_pytorch')
    from fusion_ros.heads import load_head

    torch.manual_seed(0)
    net = build_segmentation_model(TINY_SEG)
    torch.save({'format': 'fusion_ros.segmentation', 'format_version': 1, 'arch': 'Unet', 'encoder': 'resnet18',
                'in_channels': 3, 'classes': 3, 'class_names': ['background', 'person', 'car'],
                'model_kwargs': {'encoder_depth': 3, 'decoder_channels': [16, 8, 4]},
                'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225], 'state_dict': net.state_dict()},
               tmp_path / 'mine.pt')
    head = load_head('segmentation', tmp_path / 'mine.pt')
    labels = head.run(np.zeros((32, 40, 3), np.float32))
    assert labels.shape == (32, 40) and head.class_names == ['background', 'person', 'car']


def test_detection_head_can_detect_on_the_registered_thermal_image():
    """detection source 'thermal': the engine hands the head the thermal image on the fused grid, and the boxes
    are drawn on the fused image; 'fused' (the default) detects on the fused image."""
    from fusion_ros.detection import DetectorConfig
    from fusion_ros.heads.detection import DetectionHead

    class FakeDetector:
        def __init__(self, source):
            self.config, self.seen, self.path = DetectorConfig(source=source), [], None

        def predict(self, image):
            self.seen.append(image)
            return []
    rgb = np.zeros((16, 20, 3), np.float32)
    rgb[..., 0] = 0.8
    thermal = np.linspace(0, 1, 16 * 20, dtype=np.float32).reshape(16, 20)
    for source in ('thermal', 'fused'):
        fake = FakeDetector(source)
        engine = FusionEngine(load_fusion_model('average'), heads=[DetectionHead(fake)])
        out = engine.process(rgb, thermal)
        image = fake.seen[0]
        assert image.dtype == np.uint8 and image.shape == (16, 20, 3)
        expected = np.round(out.thermal_registered * 255) if source == 'thermal' else np.round(out.fused * 255)
        if source == 'thermal':
            assert all(np.array_equal(image[..., c], expected.astype(np.uint8)) for c in range(3))
        else:
            assert np.array_equal(image, expected.astype(np.uint8))
        assert out.heads['detection'].image.shape == (16, 20, 3)
    with pytest.raises(ValueError, match='detection source'):
        DetectorConfig(source='visible')
