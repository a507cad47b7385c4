"""Heads: what runs on the fused image after fusion (segmentation, detection), ROS-free, one protocol.

A head is loaded once from a model file and then run on every fused frame::

    head = load_head('detection', 'models/detector_default.pt', device='cpu')
    result = head.run(fused)             # fused: (H, W, 3) float32 in [0, 1]
    image = head.draw(fused, result)     # (H, W, 3) uint8: the fused image with the result drawn on it

Every head implements :class:`Head`; each kind of head is one :class:`HeadSpec` in the registry below
(:func:`register`, :func:`get`, :func:`names`). The engine (:class:`fusion_ros.engine.FusionEngine`) runs
whatever heads it is given and puts each one's :class:`HeadOutput` in ``FrameOutput.heads[name]``; the
ROS side (:mod:`fusion_ros.ros.heads`) advertises and publishes per head. Adding a head is: a module with
its :class:`Head` class, one :func:`register` call (or an entry in :data:`_BUILT_IN`), its topics in
:mod:`fusion_ros.ros.heads` and its parameters in :class:`fusion_ros.ros.params.FusionNodeConfig`
(``<name>_enabled``, ``<name>_model_path`` and the config fields named in :attr:`HeadSpec.params`).

This module imports neither torch nor the model libraries (the node's parameters load without them).

Built-in heads:

``segmentation``  a segmentation-models-pytorch checkpoint in the :mod:`fusion_ros.segmentation` format
                  (user checkpoints only: none ships; ``models/segmenter_ssvif.pt`` is SSVIF's degenerate
                  self-supervised segmenter, see ``models/README.md``, not a working model).
``detection``     an ultralytics detection model file (:mod:`fusion_ros.detection`); without a path the
                  shipped ``models/detector_default.pt`` when it is installed (``fusion-ros train-detector``).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable


@runtime_checkable
class Head(Protocol):
    """A loaded head.

    name: the registry name (``'detection'``); stage: its timing key (``'detect'``); config: its config
    dataclass (:attr:`HeadSpec.config`), which may be replaced at run time (e.g. a new confidence).
    """
    name: str
    stage: str
    config: Any

    def run(self, fused: Any) -> Any:
        """The head's result for one fused image, ``(H, W, 3)`` float32 in [0, 1]. A head whose class sets
        ``uses_thermal = True`` is called as ``run(fused, thermal=...)`` with the thermal image registered onto
        the fused grid, ``(H, W)`` float32 in [0, 1]."""

    def draw(self, fused: Any, result: Any) -> Any:
        """``(H, W, 3)`` uint8: ``fused`` with ``result`` drawn on it."""


@dataclass
class HeadOutput:
    """One head's output for one frame: its ``result`` (class ids, boxes...) and ``image`` (drawn)."""
    result: Any
    image: Any = None


class _Lazy:
    """A callable named ``module:attr``, imported on first call (keeps this module free of torch)."""

    def __init__(self, target: str):
        self.target = target

    def __call__(self, *args, **kwargs):
        module, attr = self.target.split(':')
        obj = importlib.import_module(module)
        for part in attr.split('.'):
            obj = getattr(obj, part)
        return obj(*args, **kwargs)

    def __repr__(self) -> str:
        return f'<{self.target}>'


@dataclass(frozen=True)
class HeadSpec:
    """One kind of head.

    name: registry name, also the prefix of its node parameters (``<name>_enabled``, ``<name>_model_path``).
    stage: timing key in ``FrameOutput.timings`` and the node's diagnostics.
    description: one line for people.
    load: ``load(path, device, config) -> Head``.
    config: ``config(**fields) -> the head's config dataclass``.
    params: ``{config field: node parameter name}`` (the node builds the config from these parameters).
    shipped: file name found by :func:`fusion_ros.shipped.shipped_model_path` when no path is given; None:
        a path is required.
    """
    name: str
    stage: str
    description: str
    load: Callable[..., Head]
    config: Callable[..., Any]
    params: dict[str, str] = field(default_factory=dict)
    shipped: str | None = None

    def default_path(self) -> Path | None:
        """The shipped model file, or None when this head ships none.

        Raises:
            FileNotFoundError: it ships one but the file is not installed (the message says where it looked).
        """
        if self.shipped is None:
            return None
        from fusion_ros.shipped import shipped_model_path
        return shipped_model_path(self.shipped)


_BUILT_IN = (
    HeadSpec('segmentation', 'segment', 'semantic segmentation of the fused image (a segmentation-models-pytorch '
             'checkpoint in the fusion_ros.segmentation format)',
             load=_Lazy('fusion_ros.heads.segmentation:SegmentationHead.load'),
             config=_Lazy('fusion_ros.heads.segmentation:SegmentationConfig'),
             params={'overlay_alpha': 'segmentation_overlay_alpha'}),
    HeadSpec('detection', 'detect', 'object detection on the fused image (an ultralytics detection model file)',
             load=_Lazy('fusion_ros.heads.detection:DetectionHead.load'),
             config=_Lazy('fusion_ros.detection:DetectorConfig'),
             params={'confidence': 'detection_confidence', 'iou': 'detection_iou',
                     'image_size': 'detection_image_size', 'max_detections': 'detection_max',
                     'gray': 'detection_gray', 'source': 'detection_source'},
             shipped='detector_default.pt'),  # fusion_ros.shipped.DETECTOR_DEFAULT
)
_HEADS: dict[str, HeadSpec] = {h.name: h for h in _BUILT_IN}


def names() -> list[str]:
    """Registered head names, in registration order (``segmentation``, ``detection``)."""
    return list(_HEADS)


def specs() -> list[HeadSpec]:
    return list(_HEADS.values())


def get(name: str) -> HeadSpec:
    """The head called ``name``; ``KeyError`` listing the valid names otherwise."""
    try:
        return _HEADS[name]
    except (KeyError, TypeError):
        raise KeyError(f'unknown head {name!r}; valid: {", ".join(_HEADS)}') from None


def register(spec: HeadSpec, *, replace: bool = False) -> HeadSpec:
    """Add a head kind; a name already registered is refused unless ``replace``."""
    if spec.name in _HEADS and not replace:
        raise ValueError(f'head {spec.name!r} is already registered; pick another name')
    _HEADS[spec.name] = spec
    return spec


def unregister(name: str) -> HeadSpec:
    spec = get(name)
    del _HEADS[name]
    return spec


def load_head(name: str, path: str | Path | None = None, device='cpu', config: Any = None) -> Head:
    """Load head ``name`` from ``path`` (None: its shipped file) on ``device`` with ``config`` (None: defaults).

    Raises:
        FileNotFoundError: no path given and its shipped file is not installed.
        ValueError: no path given and the head ships none, or a file the head cannot load.
    """
    spec = get(name)
    if not path:
        path = spec.default_path()
        if path is None:
            raise ValueError(f'the {name} head needs a model file; none ships with fusion_ros')
    return spec.load(path, device, config if config is not None else spec.config())
