"""Distributed data parallel set-up for ``torchrun`` launches (ROS-free, and a no-op in one process).

``torchrun --nproc_per_node N ...`` sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` and the rendezvous
variables; :func:`setup_distributed` then joins the process group: ``nccl`` with one GPU per process
(``cuda:LOCAL_RANK``) when CUDA is usable and the device is not forced to CPU, ``gloo`` on CPU.
Without ``WORLD_SIZE`` (or with 1) nothing is initialised and the helpers below act locally.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.distributed as dist

from fusion_ros.device import resolve_device


@dataclass
class DistContext:
    """Where this process stands: ``rank`` of ``world_size``, its ``device``, and ``backend``
    (``None`` in a single process). Only the main process (rank 0) writes files."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device('cpu')
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str = 'auto') -> DistContext:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1); else a local context.

    Args:
        device: ``'auto'``, ``'cpu'``, ``'cuda'`` (in DDP each process takes ``cuda:LOCAL_RANK``).
    """
    world = int(os.environ.get('WORLD_SIZE', '1'))
    if world <= 1:
        return DistContext(device=resolve_device(device))
    rank, local_rank = int(os.environ['RANK']), int(os.environ.get('LOCAL_RANK', '0'))
    name = str(device).strip().lower()
    use_cuda = torch.cuda.is_available() and name in ('auto', 'cuda') or name.startswith('cuda:')
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f'LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} GPU(s): start at '
                             'most one process per GPU (torchrun --nproc_per_node), or use --device cpu')
        dev = torch.device(f'cuda:{local_rank}')
        torch.cuda.set_device(dev)
    else:
        dev = torch.device('cpu')
    backend = 'nccl' if dev.type == 'cuda' else 'gloo'
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistContext(rank, world, local_rank, dev, backend)


def cleanup_distributed(ctx: DistContext, wait: bool = True) -> None:
    """Leave the process group; with ``wait``, after a barrier, so no rank exits while others still talk.

    After an error use ``wait=False``: the other ranks may be blocked in a collective that this rank
    will never join (torchrun then stops them when this process exits).
    """
    if ctx.distributed and dist.is_initialized():
        try:
            if wait:
                dist.barrier()
        finally:
            dist.destroy_process_group()


def all_reduce_sum(ctx: DistContext, values: Sequence[float]) -> list[float]:
    """Sum ``values`` element-wise over all ranks (float64); identity in one process."""
    if not ctx.distributed:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def all_have(ctx: DistContext, flag: bool) -> bool:
    """True only if ``flag`` is true on every rank (a collective: every rank must call it)."""
    if not ctx.distributed:
        return bool(flag)
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()
