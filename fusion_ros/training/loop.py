"""The one training loop: per-scene fits (one pair, many epochs) and offline runs (many batches).

The loop knows nothing of fusion: an ``objective(batch) -> dict`` returns named scalar losses with the
total under ``'loss'``; the loop steps the optimiser, averages the losses per epoch, stops on an epoch
count, a time budget, or when ``on_epoch_end`` says so, and refuses to continue on NaN/inf.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from tqdm.auto import tqdm


class DivergedError(RuntimeError):
    """The loss became NaN or inf; the caller keeps its previous model."""


class Pacer:
    """Call it between pieces of work: it sleeps so the calling thread computes at most ``duty`` of the wall
    time (busy time since the last call x ``(1 - duty) / duty``); ``duty`` 1 never sleeps."""

    def __init__(self, duty: float = 1.0):
        self.duty = duty
        self.slept_s = 0.0
        self._since = time.perf_counter()

    def __call__(self) -> None:
        if self.duty < 1.0:
            pause = (time.perf_counter() - self._since) * (1.0 - self.duty) / self.duty
            time.sleep(pause)
            self.slept_s += pause
        self._since = time.perf_counter()


@dataclass
class LoopConfig:
    max_epochs: int = 100
    time_budget_s: float | None = None  # wall-clock limit, checked after every step
    grad_clip: float | None = None
    progress: bool = False
    desc: str = 'train'

    def __post_init__(self):
        if self.max_epochs < 1:
            raise ValueError(f'max_epochs must be >= 1, got {self.max_epochs}')
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ValueError(f'time_budget_s must be > 0 (or None for no limit), got {self.time_budget_s}')


@dataclass
class LoopResult:
    epochs: int = 0
    steps: int = 0
    elapsed_s: float = 0.0
    stopped: str = 'max_epochs'  # 'max_epochs' | 'time_budget' | 'callback'
    history: list[dict] = field(default_factory=list)  # per-epoch means of every named loss


def train_loop(objective: Callable[[object], dict], optimizer: torch.optim.Optimizer,
               epoch_batches: Callable[[int], Iterable], config: LoopConfig,
               scheduler=None, on_epoch_end: Callable[[int, dict], bool] | None = None,
               start_epoch: int = 0, pace: Callable[[], None] | None = None) -> LoopResult:
    """Run epochs ``start_epoch .. config.max_epochs - 1``.

    Args:
        objective: ``batch -> {'loss': scalar tensor, other named scalars...}``.
        optimizer: steps the parameters the objective depends on.
        epoch_batches: ``epoch -> iterable of batches`` (a one-item list for a per-scene fit).
        scheduler: optional LR scheduler, stepped once per optimiser step.
        on_epoch_end: ``(epoch, epoch_means) -> stop?``; validation, early stopping, checkpoints.
        pace: called after every optimiser step (e.g. a :class:`Pacer`, which sleeps there).

    Raises:
        DivergedError: when a loss is NaN or inf (no step is taken with it).
    """
    params = [p for g in optimizer.param_groups for p in g['params']]
    result = LoopResult(epochs=start_epoch)
    t0 = time.perf_counter()
    bar = tqdm(range(start_epoch, config.max_epochs), desc=config.desc, disable=not config.progress,
               leave=False, dynamic_ncols=True)
    for epoch in bar:
        sums: dict[str, float] = {}
        count = 0
        for batch in epoch_batches(epoch):
            losses = objective(batch)
            loss = losses['loss']
            if not torch.isfinite(loss):
                raise DivergedError(f'loss became {loss.item()} at epoch {epoch}, step {result.steps}; '
                                    'lower the learning rate or check the inputs for NaN/inf')
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            result.steps += 1
            count += 1
            if pace is not None:
                pace()
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach() if torch.is_tensor(v) else v)
            if config.time_budget_s is not None and time.perf_counter() - t0 >= config.time_budget_s:
                result.stopped = 'time_budget'
                break
        means = {k: v / max(count, 1) for k, v in sums.items()}
        result.history.append(means)
        result.epochs = epoch + 1
        bar.set_postfix(loss=f"{means.get('loss', math.nan):.4f}")
        if result.stopped == 'time_budget':
            break
        if on_epoch_end is not None and on_epoch_end(epoch, means):
            result.stopped = 'callback'
            break
    bar.close()
    result.elapsed_s = time.perf_counter() - t0
    return result
