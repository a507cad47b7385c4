"""Choosing the torch device from a user string (`auto`, `cpu`, `cuda`, `cuda:N`)."""
from __future__ import annotations

import re

import cv2
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


# --------------------------------------------------------------------------- CPU threads

AUTO_THREADS = 0  # the cpu_threads value that means "decide from the cores available at start"


def available_cores() -> int:
    """CPU cores this process may use: its CPU affinity (taskset, cpusets), further limited by a cgroup
    CPU quota (``docker --cpus``, Kubernetes CPU limits), rounded up; at least 1."""
    import math
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def _cgroup_cpu_quota() -> float | None:
    """CPUs allowed by the cgroup quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``); None when unlimited."""
    from pathlib import Path

    try:
        text = Path('/sys/fs/cgroup/cpu.max').read_text().split()
        if text and text[0] != 'max':
            return int(text[0]) / int(text[1])
        return None
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int(Path('/sys/fs/cgroup/cpu/cpu.cfs_quota_us').read_text())
        period = int(Path('/sys/fs/cgroup/cpu/cpu.cfs_period_us').read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def auto_cpu_threads(cores: int) -> int:
    """torch intra-op threads for a node on a machine with ``cores`` usable cores: ``max(1, cores - 1)``.

    One core is left to the ROS executor and the DDS threads (receiving, pairing, publishing): on a
    2-core machine torch's default (one thread per core) made them fight for the CPU, 5.5 Hz out with
    p99 551 ms against 14.0 Hz with one torch thread (issue 12).
    """
    return max(1, int(cores) - 1)


def cpu_threads_for(requested: int, cores: int | None = None) -> int:
    """The torch thread count for a ``cpu_threads`` parameter: ``requested`` itself, or for
    :data:`AUTO_THREADS` (0) :func:`auto_cpu_threads` of ``cores`` (default :func:`available_cores`)."""
    if requested < 0:
        raise ValueError(f'cpu_threads must be >= 0 (0: auto), got {requested}')
    if requested != AUTO_THREADS:
        return int(requested)
    return auto_cpu_threads(available_cores() if cores is None else cores)


# glibc mallopt parameters (malloc.h): M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_allocator_state: str | None = None


def keep_frame_buffers(mmap_threshold_mb: int = 256) -> str:
    """Let the C allocator reuse freed frame-sized buffers instead of returning them to the system.

    By default glibc serves every allocation above a few MB (one 640x480 RGB float image is 3.7 MB) with a
    fresh ``mmap`` and unmaps it on free, so each of the ~40 temporary images of one fused frame costs
    page faults on first touch: about a third of the texmax net's time at 640x480 (26.8 -> 19.2 ms per
    frame on one core here, BENCHMARKS.md). Raising the mmap and trim thresholds keeps those buffers in
    the heap. Process-wide and idempotent; a no-op (said in the returned line) where the C library is not
    glibc. Done by hand with ``mallopt`` because no Python library exposes it; torch has no CPU caching
    allocator.

    Returns one line for the log.
    """
    global _allocator_state
    if _allocator_state is not None:
        return _allocator_state
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        _allocator_state = 'allocator: default (no glibc mallopt here)'
        return _allocator_state
    size = int(mmap_threshold_mb) << 20
    ok = all(mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, size), (_M_TRIM_THRESHOLD, 2 * size), (_M_TOP_PAD, 64 << 20)))
    _allocator_state = (f'allocator: freed buffers up to {mmap_threshold_mb} MB are reused' if ok
                        else 'allocator: default (mallopt refused the settings)')
    return _allocator_state


def apply_cpu_threads(requested: int, cores: int | None = None) -> str:
    """Set torch's intra-op threads from a ``cpu_threads`` parameter and its inter-op threads to 1;
    returns one line for the log, e.g. ``'1 torch thread (auto: 2 cores, one left to ROS)'``.

    ``torch.set_num_threads`` is process-wide. Inter-op threads (used by TorchScript forks, not by
    eager inference) can only be set before torch has run parallel work; later calls are skipped.
    """
    import torch

    cores = available_cores() if cores is None else cores
    threads = cpu_threads_for(requested, cores)
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)  # OpenCV's pool too (box filters of the fusion rule), else it takes every core
    if torch.get_num_interop_threads() != 1:
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # parallel work has started (e.g. a second node in this process)
            pass
    plural = 's' if threads != 1 else ''
    if requested == AUTO_THREADS:
        return f'{threads} torch thread{plural} (cpu_threads 0 = auto: {cores} cores, one left to ROS and DDS)'
    return f'{threads} torch thread{plural} (cpu_threads {requested}; {cores} cores)'
