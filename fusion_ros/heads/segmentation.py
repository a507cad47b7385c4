"""The segmentation head: a :class:`fusion_ros.segmentation.Segmenter` behind the :class:`fusion_ros.heads.Head`
protocol. Result: ``(H, W)`` uint8 class ids; drawn: the class colours over the fused image.

Importing this module (for :class:`SegmentationConfig`) does not import torch; loading a head does."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class SegmentationConfig:
    """overlay_alpha: weight of the class colours in the drawn image (0: the image, 1: the colours)."""
    overlay_alpha: float = 0.5

    def __post_init__(self):
        if not 0.0 <= self.overlay_alpha <= 1.0:
            raise ValueError(f'segmentation overlay_alpha must lie in [0, 1], got {self.overlay_alpha}')


class SegmentationHead:
    name = 'segmentation'
    stage = 'segment'

    def __init__(self, segmenter, config: SegmentationConfig | None = None, path=None):
        self.segmenter = segmenter
        self.config = config or SegmentationConfig()
        self.path = path  # the checkpoint it was loaded from (None: built in memory)

    @classmethod
    def load(cls, path, device='cpu', config: SegmentationConfig | None = None) -> 'SegmentationHead':
        """Raises :class:`fusion_ros.segmentation.SegmentationModelError` (a ValueError) for a bad file."""
        from fusion_ros.segmentation import Segmenter
        return cls(Segmenter.from_file(path, str(device)), config, Path(path))

    @property
    def class_names(self) -> list[str]:
        return self.segmenter.class_names

    def run(self, fused: np.ndarray) -> np.ndarray:
        return self.segmenter.predict(fused)

    def draw(self, fused: np.ndarray, result: np.ndarray) -> np.ndarray:
        from fusion_ros.segmentation import colour_overlay
        return colour_overlay(fused, result, self.config.overlay_alpha, self.segmenter.info.classes)
