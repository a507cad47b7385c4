"""Object detection on the fused image with an ultralytics model file (ROS-free).

Only a local file given at start-up is loaded: the path must exist (ultralytics would otherwise try to
download a model of that name), and ``YOLO_OFFLINE`` is set before ultralytics is imported so it makes
no network calls. An ultralytics ``.pt`` file is a pickle: loading it can run code. Load only files you
trust, from paths fixed at start-up (the node's ``detection_model_path`` parameter is read-only).

Boxes are drawn with OpenCV (ultralytics' own plotting may fetch fonts).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


class DetectionModelError(ValueError):
    """A detection model file that is missing or not an ultralytics detection model."""


@dataclass(frozen=True)
class Detection:
    """One box in pixels of the input image: ``(x1, y1)`` top-left, ``(x2, y2)`` bottom-right."""
    class_id: int
    class_name: str
    score: float
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def center(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2

    @property
    def size(self) -> tuple[float, float]:
        return self.x2 - self.x1, self.y2 - self.y1


DETECTION_SOURCES = ('fused', 'thermal')


@dataclass
class DetectorConfig:
    """confidence: minimum score; iou: NMS overlap threshold; image_size: inference size (pixels,
    multiple of 32); max_detections: most boxes per image; gray: detect on the image's luma (3 equal
    channels), the look of the thermal images a thermal-trained detector (the shipped one) has learned;
    source: what the detection head detects on, ``'fused'`` (the fused image) or ``'thermal'`` (the thermal
    image registered onto the fused image's grid: the boxes fit the fused image all the same)."""
    confidence: float = 0.25
    iou: float = 0.45
    image_size: int = 640
    max_detections: int = 100
    gray: bool = False
    source: str = 'fused'

    def __post_init__(self):
        if self.source not in DETECTION_SOURCES:
            raise ValueError(f"detection source must be one of {', '.join(DETECTION_SOURCES)}, got {self.source!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f'detection confidence must lie in [0, 1], got {self.confidence}')
        if not 0.0 < self.iou <= 1.0:
            raise ValueError(f'detection iou must lie in (0, 1], got {self.iou}')
        if self.image_size < 32 or self.image_size % 32:
            raise ValueError(f'detection image_size must be a multiple of 32 >= 32, got {self.image_size}')
        if self.max_detections < 1:
            raise ValueError(f'max_detections must be >= 1, got {self.max_detections}')


def offline_ultralytics() -> None:
    """Make ultralytics run offline: ``YOLO_OFFLINE`` (no online checks, telemetry or downloads of
    assets it can do without). Call before ultralytics is first imported; later calls are harmless."""
    os.environ.setdefault('YOLO_OFFLINE', '1')


def _ultralytics_device(device) -> str:
    """ultralytics' device names: ``'cpu'``, or the CUDA index (``'cuda:1'`` -> ``'1'``, ``'cuda'`` -> ``'0'``)."""
    name = str(device)
    if name == 'cpu':
        return 'cpu'
    return name.split(':', 1)[1] if ':' in name else '0'


class Detector:
    """An ultralytics detection model: ``predict(rgb (H, W, 3) uint8) -> list[Detection]``."""

    def __init__(self, path: str | Path, device: str = 'cpu', config: DetectorConfig | None = None):
        path = Path(path).expanduser()
        if not str(path) or not path.is_file():
            raise DetectionModelError(
                f'{path}: no such detection model file; give the path of a local ultralytics model '
                '(e.g. a trained yolo11n.pt): models are never downloaded')
        offline_ultralytics()  # no online checks or telemetry
        from ultralytics import YOLO  # heavy import, only when detection is used

        try:
            self.model = YOLO(str(path.resolve()))
        except Exception as exc:  # noqa: BLE001 - ultralytics raises many kinds for a bad file
            raise DetectionModelError(f'{path}: cannot be loaded by ultralytics ({type(exc).__name__}: '
                                      f'{str(exc)[:200]})') from exc
        if self.model.task != 'detect':
            raise DetectionModelError(f'{path}: an ultralytics {self.model.task!r} model; a detection '
                                      "('detect') model is needed")
        self.path = path
        self.device = _ultralytics_device(device)
        self.config = config or DetectorConfig()
        names = self.model.names
        self.class_names = [str(names[i]) for i in sorted(names)] if isinstance(names, dict) else list(names)

    def predict(self, rgb: np.ndarray) -> list[Detection]:
        """Detect objects in an ``(H, W, 3)`` uint8 RGB image (float [0, 1] is accepted too)."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f'Detector.predict: expected an (H, W, 3) RGB image, got {rgb.shape}')
        if rgb.dtype != np.uint8:
            rgb = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
        cfg = self.config
        if cfg.gray:  # BT.601 luma, as the metrics and cv2 compute it, in all three channels
            bgr = np.repeat(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
        else:
            bgr = np.ascontiguousarray(rgb[..., ::-1])
        results = self.model.predict(bgr, imgsz=cfg.image_size, conf=cfg.confidence,
                                     iou=cfg.iou, max_det=cfg.max_detections, device=self.device, verbose=False)
        boxes = results[0].boxes
        out = []
        for (x1, y1, x2, y2), score, cls in zip(boxes.xyxy.cpu().tolist(), boxes.conf.cpu().tolist(),
                                                boxes.cls.cpu().tolist()):
            cid = int(cls)
            name = self.class_names[cid] if 0 <= cid < len(self.class_names) else str(cid)
            out.append(Detection(cid, name, float(score), float(x1), float(y1), float(x2), float(y2)))
        return out


def draw_detections(rgb: np.ndarray, detections: list[Detection]) -> np.ndarray:
    """The image with a box and ``name score`` label per detection: ``(H, W, 3)`` uint8 RGB."""
    img = np.asarray(rgb)
    if img.dtype != np.uint8:
        img = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    from fusion_ros.segmentation import palette

    img = np.ascontiguousarray(img.copy())
    colours = palette(256)
    thickness = max(1, round(min(img.shape[:2]) / 300))
    for d in detections:
        colour = tuple(int(c) for c in colours[(d.class_id % 255) + 1])
        p1, p2 = (int(round(d.x1)), int(round(d.y1))), (int(round(d.x2)), int(round(d.y2)))
        cv2.rectangle(img, p1, p2, colour, thickness)
        label = f'{d.class_name} {d.score:.2f}'
        scale = 0.4 * thickness
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        y = max(p1[1], th + base)
        cv2.rectangle(img, (p1[0], y - th - base), (p1[0] + tw, y), colour, -1)
        cv2.putText(img, label, (p1[0], y - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return img
