"""Choosing the torch device from a user string (`auto`, `cpu`, `cuda`, `cuda:N`)."""
from __future__ import annotations

import re

import torch

_VALID = re.compile(r'^(auto|cpu|cuda(:\d+)?)$')


def resolve_device(name: str = 'auto') -> torch.device:
    """``'auto'`` -> ``cuda`` when a GPU is usable, else ``cpu``; ``'cuda:N'`` is checked to exist."""
    name = str(name).strip().lower()
    if not _VALID.match(name):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}")
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if name.startswith('cuda'):
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but no CUDA GPU is usable here; use 'auto' or 'cpu'")
        index = int(name.split(':')[1]) if ':' in name else 0
        if index >= torch.cuda.device_count():
            raise ValueError(f'device {name!r} asked for, but only {torch.cuda.device_count()} GPU(s) exist')
    return torch.device(name)
