"""The one registry of fusion methods: every name the node, ``fusion-ros fuse``, ``fusion-ros
evaluate`` and the bench scripts accept is an entry here, and every one of them looks names up here.

An entry (:class:`FusionMethod`) has a name, a kind, a one-line description and what it needs to build
a ready :class:`fusion_ros.engine.FusionModel`
(``fuse(rgb (1, 3, H, W), thermal (1, 1, H, W)) -> (1, 3, H, W)``):

``'baseline'``    training-free, no file: ``fuse`` is the colour fusion function.
``'checkpoint'``  a trained net loaded from a fusion_ros checkpoint: ``checkpoints`` are the stored
                  ``'model'`` names it accepts, ``wrap(net, ckpt)`` turns the loaded net into a fuse
                  function, ``shipped`` is the file of :mod:`fusion_ros.shipped` used without a path.
``'scene'``       paper 000's per-scene training: ``fusion-ros fuse`` / ``evaluate`` train on each pair;
                  the node loads a trained per-scene checkpoint (``checkpoints``, ``wrap``), whose
                  ``meta['thermal_from_rgb']`` becomes the model's transform.

Adding a method is one :func:`register` call (or one entry in :data:`_BUILT_IN`). This module imports
neither torch nor the engine at import time (the node's parameters load without torch); functions are
resolved when a model is built.

Example:
    >>> [m.name for m in methods('baseline')][:3]
    ['average', 'max', 'pca']
    >>> get('ssvif').checkpoints
    ('ssvif', 'ssvif_blend', 'ssvif_texmax')
"""
from __future__ import annotations

import importlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

KINDS = ('baseline', 'checkpoint', 'scene')


class _Lazy:
    """A function named ``module:attr``, imported on first call (keeps this module free of torch)."""

    def __init__(self, target: str):
        self.target = target
        self._fn = None

    def __call__(self, *args, **kwargs):
        if self._fn is None:
            module, attr = self.target.split(':')
            self._fn = getattr(importlib.import_module(module), attr)
        return self._fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f'<{self.target}>'


@dataclass(frozen=True)
class FusionMethod:
    """One fusion method; see the module docstring for the kinds.

    fuse: ``'baseline'``: ``fuse(rgb, thermal)`` on tensors, as :data:`fusion_ros.baselines.BASELINES`.
    checkpoints: ``'checkpoint'`` and ``'scene'``: the checkpoint ``'model'`` names it loads.
    wrap: ``wrap(net, ckpt) -> fuse`` for a loaded net (``ckpt``: the checkpoint dict); a ``'checkpoint'``
        wrap that also takes ``backend`` and ``threads`` keywords offers the inference backends of
        :data:`fusion_ros.engine.BACKENDS` (as ``'ssvif'``: torch or onnxruntime).
    shipped: ``'checkpoint'``: file name found by :func:`fusion_ros.shipped.shipped_model_path` when no
        path is given (None: a path is required).
    """
    name: str
    kind: str
    description: str
    fuse: Callable | None = None
    checkpoints: tuple[str, ...] = ()
    wrap: Callable[[Any, dict], Callable] | None = None
    shipped: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f'fusion method {self.name!r}: kind must be one of {", ".join(KINDS)}, '
                             f'got {self.kind!r}')
        if self.kind == 'baseline' and self.fuse is None:
            raise ValueError(f'baseline {self.name!r} needs fuse(rgb, thermal)')
        if self.kind != 'baseline' and (not self.checkpoints or self.wrap is None):
            raise ValueError(f'{self.kind} method {self.name!r} needs checkpoints (accepted model names) '
                             'and wrap(net, ckpt)')
        object.__setattr__(self, 'checkpoints', tuple(self.checkpoints))

    @property
    def needs_file(self) -> bool:
        """Building it loads a checkpoint (``'checkpoint'`` and ``'scene'`` kinds)."""
        return self.kind != 'baseline'

    def default_path(self) -> Path | None:
        """The shipped checkpoint used without a path; None when there is none to look for.

        Raises:
            FileNotFoundError: ``shipped`` is set but not found (the message says where it looked).
        """
        if self.shipped is None:
            return None
        from fusion_ros.shipped import shipped_model_path
        return shipped_model_path(self.shipped)

    def build(self, path: str | Path | None = None, device='cpu', backend: str = 'auto',
              threads: int | None = None):
        """A ready :class:`fusion_ros.engine.FusionModel`: a baseline, or the net in checkpoint ``path``
        (``'checkpoint'`` without a path: the shipped file) on ``device``.

        backend: ``'auto'`` (default), ``'torch'`` or ``'onnxruntime'``: how a ``'checkpoint'`` net runs
        (see :class:`fusion_ros.engine._SSVIFFuse`); ``threads``: onnxruntime's intra-op threads (None:
        ``torch.get_num_threads()``). Baselines and ``'scene'`` always run in torch (``'auto'`` and
        ``'torch'`` accepted).

        Raises:
            fusion_ros.engine.FusionModelError: no path or a missing file, or a checkpoint of a model
                this method does not accept; an unknown backend, or ``'onnxruntime'`` for a method or
                an install that cannot use it.
        """
        from fusion_ros.engine import FusionModel, FusionModelError, check_backend

        check_backend(backend)
        if backend == 'onnxruntime' and (self.kind != 'checkpoint' or not _takes_backend(self.wrap)):
            raise FusionModelError(f"fusion model {self.name!r} runs in torch only; inference backend "
                                   f"'onnxruntime' is for checkpoint nets that offer it (ssvif); use 'auto' or 'torch'")

        if self.kind == 'baseline':
            return FusionModel(self.name, self.fuse, 'baseline')
        if not path and self.shipped is not None:
            try:
                path = self.default_path()
            except FileNotFoundError as exc:
                raise FusionModelError(f'fusion model {self.name!r} with no path: {exc}') from exc
        if not path:
            raise FusionModelError(f'fusion model {self.name!r} needs a checkpoint file path; none was given')
        return _load(self, Path(path).expanduser(), device, backend, threads)


def _takes_backend(wrap) -> bool:
    import inspect
    try:
        return 'backend' in inspect.signature(wrap).parameters
    except (TypeError, ValueError):
        return False


def _load(method: FusionMethod, path: Path, device, backend: str = 'auto', threads: int | None = None):
    import numpy as np

    from fusion_ros.checkpoint import CheckpointError, load_model
    from fusion_ros.device import resolve_device
    from fusion_ros.engine import FusionModel, FusionModelError

    name = method.name
    if not path.is_file():
        raise FusionModelError(f'fusion model {name!r}: checkpoint {path} does not exist')
    try:
        net, ckpt = load_model(path, resolve_device(str(device)))
    except (CheckpointError, KeyError) as exc:
        raise FusionModelError(f'fusion model {name!r}: {exc}') from exc
    stored = ckpt['model']
    if stored not in method.checkpoints:
        owner = next((m.name for m in _METHODS.values() if stored in m.checkpoints), None)
        fix = f'set the model name to {owner!r} or give' if owner else 'no fusion method loads it; give'
        accepted = ' or '.join(map(repr, method.checkpoints))
        raise FusionModelError(f'{path} holds a {stored!r} model, not {accepted}; '
                               f'{fix} a {name!r} checkpoint')
    theta = ckpt.get('meta', {}).get('thermal_from_rgb') if method.kind == 'scene' else None
    if method.kind == 'checkpoint' and _takes_backend(method.wrap):
        fuse = method.wrap(net, ckpt, backend=backend, threads=threads)
    else:
        fuse = method.wrap(net, ckpt)
    return FusionModel(name, fuse, str(path),
                       None if theta is None else np.asarray(theta, np.float32).reshape(2, 3),
                       getattr(fuse, 'backend_label', 'torch'))


def _wrap_ssvif(net, ckpt, backend='auto', threads=None):
    from fusion_ros.engine import _SSVIFFuse
    return _SSVIFFuse(net, backend=backend, threads=threads)


def _wrap_scene(net, ckpt):
    from fusion_ros.engine import _SceneFuse
    return _SceneFuse(net.fusion)


_BUILT_IN = (
    FusionMethod('ssvif', 'checkpoint', 'the shipped real-time streaming fusion net (SSVIF, paper 004)',
                 checkpoints=('ssvif', 'ssvif_blend', 'ssvif_texmax'), wrap=_wrap_ssvif, shipped='ssvif_default.pt'),
    FusionMethod('scene', 'scene', 'per-scene training on the pair (paper 000; the node loads a trained one)',
                 checkpoints=('scene',), wrap=_wrap_scene),
    FusionMethod('average', 'baseline', 'mean of the thermal image and the visible luma',
                 fuse=_Lazy('fusion_ros.baselines:fuse_average')),
    FusionMethod('max', 'baseline', 'pixel-wise maximum of the thermal image and the visible luma',
                 fuse=_Lazy('fusion_ros.baselines:fuse_max')),
    FusionMethod('pca', 'baseline', 'weights from the principal component of the two sources',
                 fuse=_Lazy('fusion_ros.baselines:fuse_pca')),
    FusionMethod('laplacian', 'baseline', 'Laplacian pyramid, larger detail coefficient per level',
                 fuse=_Lazy('fusion_ros.baselines:fuse_laplacian')),
    FusionMethod('wavelet', 'baseline', 'Haar wavelet, larger detail coefficient per level',
                 fuse=_Lazy('fusion_ros.baselines:fuse_wavelet')),
    FusionMethod('guided', 'baseline', 'guided-filter fusion of base and detail layers',
                 fuse=_Lazy('fusion_ros.baselines:fuse_guided')),
    FusionMethod('texmax', 'baseline', 'texture-aware max: exact copies of the more textured source where the '
                 'other is flat, the max rule elsewhere', fuse=_Lazy('fusion_ros.baselines:fuse_texmax')),
)
_METHODS: dict[str, FusionMethod] = {m.name: m for m in _BUILT_IN}


def names(kind: str | None = None) -> list[str]:
    """Registered names in registration order (ssvif, scene, the baselines), or only those of ``kind``."""
    return [m.name for m in methods(kind)]


def methods(kind: str | None = None) -> list[FusionMethod]:
    """Registered entries in registration order, or only those of ``kind``."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f'kind must be one of {", ".join(KINDS)}, got {kind!r}')
    return [m for m in _METHODS.values() if kind is None or m.kind == kind]


def get(name: str) -> FusionMethod:
    """The entry called ``name``; ``KeyError`` listing the valid names otherwise."""
    try:
        return _METHODS[name]
    except (KeyError, TypeError):
        raise KeyError(f'unknown fusion method {name!r}; valid: {", ".join(_METHODS)}') from None


def register(method: FusionMethod, *, replace: bool = False) -> FusionMethod:
    """Add ``method``; a name already registered is refused unless ``replace``."""
    if method.name in _METHODS and not replace:
        raise ValueError(f'fusion method {method.name!r} is already registered; pick another name')
    if not method.name or '=' in method.name or ',' in method.name or method.name == 'baselines':
        raise ValueError(f'{method.name!r} cannot name a fusion method (empty, reserved, or with = or ,)')
    _METHODS[method.name] = method
    return method


def unregister(name: str) -> FusionMethod:
    """Remove and return the entry called ``name`` (``KeyError`` listing the valid names when absent)."""
    method = get(name)
    del _METHODS[name]
    return method


@contextmanager
def registered(method: FusionMethod) -> Iterator[FusionMethod]:
    """Register ``method`` for the ``with`` block only (tests, experiments)."""
    register(method)
    try:
        yield method
    finally:
        _METHODS.pop(method.name, None)


def describe(kind: str | None = None) -> str:
    """``name: description`` of each entry, ``'; '``-joined (for help texts)."""
    return '; '.join(f'{m.name}: {m.description}' for m in methods(kind))
