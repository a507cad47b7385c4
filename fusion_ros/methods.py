"""Every fusion method behind one call: ``fuse_pair(method, rgb, thermal, options)``.

``--method`` on the command line and the evaluation harness both go through it; the names are those of
:mod:`fusion_ros.registry`. A method takes a visible image and a thermal image on the RGB grid and returns a
colour fusion.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fusion_ros import registry
from fusion_ros.device import resolve_device
from fusion_ros.imaging import as_image_tensor, check_pair, resize_to, tensor_to_image
from fusion_ros.scene import SceneFit, SceneFitConfig, fit_scene


@dataclass
class FusionOutput:
    """fused: ``(H, W, 3)`` float32 in [0, 1]; ``info`` holds method-specific facts (times, transform)."""
    fused: np.ndarray
    info: dict = field(default_factory=dict)
    scene: SceneFit | None = None


def method_names() -> list[str]:
    """All names ``--method`` accepts: every method of :mod:`fusion_ros.registry`."""
    return registry.names()


@functools.lru_cache(maxsize=4)
def _checkpoint_model(method: registry.FusionMethod, path: str | None, device: str):
    """Load a checkpoint fusion model once per process (``path`` None: the shipped default)."""
    return method.build(path, device)


def _pair_tensors(rgb: np.ndarray, thermal: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    rgb_t = as_image_tensor(rgb, 3, 'rgb')
    th_t = resize_to(as_image_tensor(thermal, 1, 'thermal'), tuple(rgb_t.shape[-2:]))
    check_pair(rgb_t, th_t)
    return rgb_t, th_t


def fuse_pair(method: str, rgb: np.ndarray, thermal: np.ndarray, *, scene_config: SceneFitConfig | None = None,
              model_path: str | Path | None = None, device: str = 'auto', progress: bool = False) -> FusionOutput:
    """Fuse one pair with ``method``.

    Args:
        method: one of :func:`method_names` (``KeyError`` listing them otherwise).
        rgb: ``(H, W, 3)`` float32 in [0, 1].
        thermal: ``(h, w)`` float32 in [0, 1], any resolution (resampled onto the RGB grid).
        scene_config: options of the ``scene`` method (paper 000).
        model_path: checkpoint of a checkpoint method such as ``ssvif`` (None: its shipped file,
            ``models/ssvif_default.pt``).
        device: torch device of a checkpoint method.
    """
    entry = registry.get(method)
    if entry.kind == 'scene':
        fit = fit_scene(rgb, thermal, scene_config, progress=progress)
        info = {'train_s': fit.train_s, 'total_s': fit.total_s, 'epochs': fit.loop.epochs,
                'stopped': fit.loop.stopped, 'device': fit.device, 'rgb_from_thermal': fit.rgb_from_thermal}
        return FusionOutput(fit.fused, info, fit)
    if entry.kind == 'checkpoint':
        dev = resolve_device(device)
        model = _checkpoint_model(entry, None if model_path is None else str(model_path), str(dev))
        rgb_t, th_t = _pair_tensors(rgb, thermal)
        t0 = time.perf_counter()
        with torch.inference_mode():
            fused = model.fuse(rgb_t.to(dev), th_t.to(dev))
        return FusionOutput(tensor_to_image(fused), {'total_s': time.perf_counter() - t0, 'device': str(dev),
                                                     'model': model.source})
    rgb_t, th_t = _pair_tensors(rgb, thermal)
    with torch.inference_mode():
        fused = entry.fuse(rgb_t, th_t)
    return FusionOutput(tensor_to_image(fused))
