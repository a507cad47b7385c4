"""Small helpers shared by the benchmark scripts (run as ``python bench/NAME.py``, so importable as ``benchlib``)."""
from __future__ import annotations

import platform
from pathlib import Path

import torch


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else what ``platform`` knows)."""
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """CPU, torch threads and version, GPU: one line for a benchmark record."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'
    return f'{cpu_model()}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}, {gpu}'


def append_record(path: str | Path | None, text: str) -> None:
    """Append ``text`` (a Markdown section) to ``path`` (BENCHMARKS.md), after a blank line; no-op for None."""
    if path:
        with open(path, 'a') as f:
            f.write('\n' + text.rstrip('\n') + '\n')
