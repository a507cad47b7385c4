"""The detection head: a :class:`fusion_ros.detection.Detector` behind the :class:`fusion_ros.heads.Head`
protocol. Result: a list of :class:`fusion_ros.detection.Detection` (pixels); drawn: boxes and labels."""
from __future__ import annotations

import numpy as np

from fusion_ros.detection import Detection, Detector, DetectorConfig, draw_detections


def _to_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    return image if image.dtype == np.uint8 else np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


class DetectionHead:
    name = 'detection'
    stage = 'detect'
    uses_thermal = True  # the engine passes the registered thermal image too (config.source 'thermal')

    def __init__(self, detector: Detector):
        self.detector = detector

    @classmethod
    def load(cls, path, device='cpu', config: DetectorConfig | None = None) -> 'DetectionHead':
        """Raises :class:`fusion_ros.detection.DetectionModelError` (a ValueError) for a bad file."""
        return cls(Detector(path, str(device), config))

    @property
    def config(self) -> DetectorConfig:
        return self.detector.config

    @config.setter
    def config(self, value: DetectorConfig) -> None:
        self.detector.config = value

    @property
    def path(self):
        return self.detector.path

    def run(self, fused: np.ndarray, thermal: np.ndarray | None = None) -> list[Detection]:
        """Detections for the fused image ``(H, W, 3)``; with ``config.source == 'thermal'`` they are found on
        ``thermal`` ``(H, W)`` float32 in [0, 1], the thermal image on the fused image's grid."""
        if self.config.source == 'thermal' and thermal is not None:
            gray = _to_uint8(thermal)
            return self.detector.predict(np.repeat(gray.reshape(gray.shape[0], gray.shape[1], 1), 3, axis=2))
        return self.detector.predict(_to_uint8(fused))

    def draw(self, fused: np.ndarray, result: list[Detection]) -> np.ndarray:
        return draw_detections(_to_uint8(fused), result)
