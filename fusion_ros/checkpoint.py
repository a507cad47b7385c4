"""Checkpoints: plain dicts holding the model name, its config and a format version.

One loader serves the node, the trainer and evaluation. Files are read with
``torch.load(weights_only=True)``: a file that needs code execution to load is refused, never loaded
the unsafe way.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from fusion_ros.models import build_model, config_to_dict

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, unsafe, corrupt or of another format."""


def save_checkpoint(path: str | Path, model: nn.Module, model_name: str, *, meta: dict | None = None,
                    extra: dict | None = None) -> Path:
    """Write ``{'format_version', 'model', 'config', 'state_dict', 'meta', **extra}`` atomically.

    ``meta`` holds plain, human-readable facts (data, epochs, metrics); ``extra`` holds training state
    for resuming (optimizer state dict, epoch, RNG...). Everything must be tensors or plain Python.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {'format_version': FORMAT_VERSION, 'model': model_name, 'config': config_to_dict(model.config),
            'state_dict': {k: v.detach().cpu() for k, v in model.state_dict().items()}, 'meta': meta or {}}
    ckpt.update(extra or {})
    tmp = path.with_name(path.name + '.tmp')
    torch.save(ckpt, tmp)
    tmp.replace(path)  # never leave a half-written checkpoint under the real name
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Read and validate a checkpoint dict (weights only; no code runs)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'{path}: no such checkpoint file; check the path or train one first')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds here; all mean "cannot load safely"
        raise CheckpointError(
            f'{path}: cannot be loaded as a weights-only checkpoint ({type(exc).__name__}: {str(exc)[:200]}); '
            'it is corrupt, truncated, or was not written by fusion_ros (files needing code execution are '
            'refused)') from exc
    if not isinstance(ckpt, dict) or 'format_version' not in ckpt:
        raise CheckpointError(f'{path}: not a fusion_ros checkpoint (no format_version key)')
    if ckpt['format_version'] != FORMAT_VERSION:
        raise CheckpointError(f'{path}: checkpoint format {ckpt["format_version"]}, this fusion_ros reads '
                              f'format {FORMAT_VERSION}; re-export it with a matching fusion_ros version')
    for key in ('model', 'config', 'state_dict'):
        if key not in ckpt:
            raise CheckpointError(f'{path}: checkpoint lacks {key!r}')
    return ckpt


def load_model(path: str | Path, device: str | torch.device = 'cpu') -> tuple[nn.Module, dict]:
    """Build the checkpoint's model from its config, load its weights, move it to ``device``, eval mode."""
    ckpt = load_checkpoint(path)
    try:
        model = build_model(ckpt['model'], ckpt['config'])
    except (KeyError, TypeError, ValueError) as exc:  # unknown model name, config keys or values
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise CheckpointError(f'{path}: cannot build its model: {msg}; it was written by another fusion_ros '
                              'version or edited') from exc
    try:
        model.load_state_dict(ckpt['state_dict'])
    except RuntimeError as exc:
        raise CheckpointError(f'{path}: weights do not fit model {ckpt["model"]!r} with its stored config: '
                              f'{str(exc)[:300]}') from exc
    return model.to(device).eval(), ckpt
