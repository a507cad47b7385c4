"""Every fusion method behind one call: ``fuse_pair(method, rgb, thermal, options)``.

``--method`` on the command line and the evaluation harness both go through :data:`METHOD_NAMES`.
A method takes a visible image and a thermal image on the RGB grid and returns a colour fusion.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from fusion_ros.imaging import as_image_tensor, check_pair, resize_to, tensor_to_image
from fusion_ros.scene import SceneFit, SceneFitConfig, fit_scene


@dataclass
class FusionOutput:
    """fused: ``(H, W, 3)`` float32 in [0, 1]; ``info`` holds method-specific facts (times, transform)."""
    fused: np.ndarray
    info: dict = field(default_factory=dict)
    scene: SceneFit | None = None


def _baselines() -> dict:
    from fusion_ros.baselines import BASELINES
    return BASELINES


def method_names() -> list[str]:
    """All names ``--method`` accepts."""
    return ['scene', *sorted(_baselines())]


def _pair_tensors(rgb: np.ndarray, thermal: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    rgb_t = as_image_tensor(rgb, 3, 'rgb')
    th_t = resize_to(as_image_tensor(thermal, 1, 'thermal'), tuple(rgb_t.shape[-2:]))
    check_pair(rgb_t, th_t)
    return rgb_t, th_t


def fuse_pair(method: str, rgb: np.ndarray, thermal: np.ndarray, *, scene_config: SceneFitConfig | None = None,
              progress: bool = False) -> FusionOutput:
    """Fuse one pair with ``method``.

    Args:
        method: one of :func:`method_names`.
        rgb: ``(H, W, 3)`` float32 in [0, 1].
        thermal: ``(h, w)`` float32 in [0, 1], any resolution (resampled onto the RGB grid).
        scene_config: options of the ``scene`` method (paper 000).
    """
    if method == 'scene':
        fit = fit_scene(rgb, thermal, scene_config, progress=progress)
        info = {'train_s': fit.train_s, 'total_s': fit.total_s, 'epochs': fit.loop.epochs,
                'stopped': fit.loop.stopped, 'device': fit.device, 'rgb_from_thermal': fit.rgb_from_thermal}
        return FusionOutput(fit.fused, info, fit)
    baselines = _baselines()
    if method not in baselines:
        raise KeyError(f'unknown fusion method {method!r}; valid: {", ".join(method_names())}')
    rgb_t, th_t = _pair_tensors(rgb, thermal)
    with torch.inference_mode():
        fused = baselines[method](rgb_t, th_t)
    return FusionOutput(tensor_to_image(fused))
