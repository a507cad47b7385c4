"""Per-scene adaptation of the streaming model (issue 11; papers 000 and 004 together).

Paper 000 trains a small net on the one pair in front of the robot; paper 004 trains the streaming net
self-supervised with its fusion loss. ``adapt`` does both: it fine-tunes a copy of the *active streaming
net* on the latest ``train_pairs`` synchronised pairs of the stream with SSVIF's fusion loss (no labels),
for a few seconds, then scores the copy and the current net on *other* recent pairs of the same stream
that it did not train on (``holdout_pairs``). The copy is only worth swapping in when it scores better
there: no criterion lower, their sum higher (:func:`adapt_net` returns both scores; the engine decides, see
:meth:`fusion_ros.engine.FusionEngine.adapt_scene`).

Pairs are ``(rgb, thermal)`` numpy images on one grid: ``rgb (H, W, 3)`` and ``thermal (H, W)`` float32 in
[0, 1] (thermal already registered onto the RGB grid). :class:`RecentPairs` keeps the last few of a stream,
spaced in time so that the held-out pairs are not copies of the training pair.
"""
from __future__ import annotations

import copy
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np
import torch

from fusion_ros.config import dataclass_from_dict
from fusion_ros.imaging import ImageError, image_to_tensor, net_output_rgb
from fusion_ros.losses.fusion import FIELD_LOSS, FusionLoss, FusionLossConfig
from fusion_ros.training.loop import LoopConfig, LoopResult, Pacer, train_loop

Pair = tuple[np.ndarray, np.ndarray]
ADAPT_LOSSES = ('ssvif', 'field')
#: The field metrics (CDDFuse convention, higher is better) an adapted net must raise on held-out pairs.
CRITERIA = ('VIF', 'Qabf', 'SSIM')


@dataclass
class AdaptConfig:
    """How :func:`adapt_net` fine-tunes.

    train_pairs: the newest this many pairs are trained on; holdout_pairs: the ones before them are only
        scored (at least 1: the result is judged on frames it did not see).
    time_budget_s: wall time of the whole adaptation (scoring included). Judging the current net stops
        between held-out pairs once it is spent; training stops early enough that judging the new net,
        reserved at 1.2x as long as judging the current one took, fits in it.
    max_steps: optimiser steps at most.
    min_train_s: when that leaves less than this for training, nothing is trained and the call says why.
    lr: Adam learning rate. crop_size, crops_per_step: random crops per step from the training pairs.
    work_size: longest side of the pairs trained on (larger pairs are shrunk first).
    judge_size: longest side of the held-out pairs when scoring (VIF of a 640 x 480 pair takes 0.7 s on
        one CPU core, of a 320 x 240 one 0.08 s: scoring at full size would eat the budget).
    duty: share of the wall time the adaptation computes; below 1 it sleeps in between (after each optimiser
        step and each held-out pair) so a node streaming meanwhile keeps its CPU (the node's ``adapt_duty``).
    loss: ``'ssvif'`` (paper 004's fusion loss and weights: keeps the visible colour) or ``'field'``
        (:data:`fusion_ros.losses.fusion.FIELD_LOSS`: larger VIF/SSIM gains, higher Delta-E).
    seed: crop positions.

    Defaults (``lr`` 1e-3, ``ssvif`` loss, 3 s) were chosen on m3fd blocks of nearby frames outside the
    fixed test split (BENCHMARKS.md, issue 11).
    """
    train_pairs: int = 1
    holdout_pairs: int = 2
    time_budget_s: float = 3.0
    min_train_s: float = 0.5
    max_steps: int = 10000
    lr: float = 1e-3
    crop_size: int = 128
    crops_per_step: int = 4
    work_size: int = 640
    judge_size: int = 320
    loss: str = 'ssvif'
    seed: int = 0
    duty: float = 1.0

    def __post_init__(self):
        if self.train_pairs < 1:
            raise ValueError(f'AdaptConfig.train_pairs must be >= 1, got {self.train_pairs}')
        if self.holdout_pairs < 1:
            raise ValueError(f'AdaptConfig.holdout_pairs must be >= 1 (the result is judged on pairs it did '
                             f'not train on), got {self.holdout_pairs}')
        if not self.time_budget_s > 0:
            raise ValueError(f'AdaptConfig.time_budget_s must be > 0, got {self.time_budget_s}')
        if not 0.0 < self.duty <= 1.0:
            raise ValueError(f'AdaptConfig.duty must lie in (0, 1], got {self.duty}')
        if not 0.0 <= self.min_train_s < self.time_budget_s:
            raise ValueError(f'AdaptConfig.min_train_s must lie in [0, time_budget_s = '
                             f'{self.time_budget_s}), got {self.min_train_s}; give a longer time budget '
                             "(the node's adapt_time_budget_s) or a smaller min_train_s")
        if self.max_steps < 1 or self.crops_per_step < 1:
            raise ValueError('AdaptConfig.max_steps and crops_per_step must be >= 1')
        if min(self.crop_size, self.work_size, self.judge_size) < 32:
            raise ValueError(f'AdaptConfig.crop_size, work_size and judge_size must be >= 32 pixels, got '
                             f'{self.crop_size}, {self.work_size}, {self.judge_size}')
        if self.loss not in ADAPT_LOSSES:
            raise ValueError(f'AdaptConfig.loss must be one of {ADAPT_LOSSES}, got {self.loss!r}')
        if not self.lr > 0:
            raise ValueError(f'AdaptConfig.lr must be > 0, got {self.lr}')

    @property
    def pairs_needed(self) -> int:
        return self.train_pairs + self.holdout_pairs

    @classmethod
    def from_dict(cls, d: dict) -> 'AdaptConfig':
        return dataclass_from_dict(cls, d)


@dataclass
class AdaptFit:
    """What :func:`adapt_net` did. ``net``: the fine-tuned copy (eval mode, same device as the input net; the
    input net itself when nothing was trained); ``before`` / ``after``: mean :data:`CRITERIA` scores of the
    given and of the new net on the held-out pairs (``after`` empty when nothing was trained); ``seconds``:
    wall time of the whole call; ``judge_s``: wall time of scoring the given net and the new one;
    ``skipped``: why nothing was trained ('' when it trained)."""
    net: torch.nn.Module
    before: dict[str, float]
    after: dict[str, float]
    loop: LoopResult
    seconds: float
    judge_s: tuple[float, float] = (0.0, 0.0)
    skipped: str = ''

    @property
    def improved(self) -> bool:
        """The new net is better on the held-out pairs: no criterion lower, their sum higher, all finite.

        A higher sum alone would accept trades (VIF up, SSIM down) that the user did not ask for."""
        if self.skipped or not self.after or set(self.after) != set(self.before):
            return False
        if not all(math.isfinite(v) for v in (*self.before.values(), *self.after.values())):
            return False
        return (all(self.after[k] >= self.before[k] for k in self.before)
                and sum(self.after.values()) > sum(self.before.values()))

    def timing(self) -> str:
        """Where the wall time went, e.g. ``judging 0.2 + 0.2 s, training 2.6 s (49 steps)``."""
        first, second = self.judge_s
        judged = f'{first:.1f} s' if self.skipped else f'{first:.1f} + {second:.1f} s'
        steps = self.loop.steps
        return (f'judging {judged}, training {self.loop.elapsed_s:.1f} s '
                f'({steps} step{"" if steps == 1 else "s"})')


class RecentPairs:
    """The last ``capacity`` pairs of a stream, at least ``min_interval_s`` apart (thread-safe).

    ``add`` keeps a pair only when it is that much newer than the last kept one, shrunk to ``work_size``
    (longest side) so the buffer stays small; ``pairs()`` returns them oldest first.
    """

    def __init__(self, capacity: int, min_interval_s: float = 0.5, work_size: int = 640):
        if capacity < 1:
            raise ValueError(f'RecentPairs: capacity must be >= 1, got {capacity}')
        self.capacity, self.min_interval_s, self.work_size = capacity, float(min_interval_s), work_size
        self._pairs: deque = deque(maxlen=capacity)
        self._last_s: float | None = None
        self._lock = threading.Lock()

    def due(self, stamp_s: float) -> bool:
        """Would a pair stamped ``stamp_s`` be kept? (call before doing work to produce it)."""
        last = self._last_s
        return last is None or stamp_s - last >= self.min_interval_s or stamp_s < last

    def add(self, stamp_s: float, rgb: np.ndarray, thermal: np.ndarray) -> bool:
        """Keep the pair if it is due (a stamp going backwards, e.g. a replayed bag, restarts the buffer)."""
        if not self.due(stamp_s):
            return False
        rgb, thermal = shrink_pair(rgb, thermal, self.work_size)
        with self._lock:
            if self._last_s is not None and stamp_s < self._last_s:
                self._pairs.clear()
            self._pairs.append((rgb, thermal))
            self._last_s = stamp_s
        return True

    def pairs(self) -> list[Pair]:
        with self._lock:
            return list(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)


def shrink_pair(rgb: np.ndarray, thermal: np.ndarray, work_size: int) -> Pair:
    """Check a pair on one grid and shrink it (area averaging) so its longest side is at most ``work_size``."""
    rgb, thermal = np.asarray(rgb, np.float32), np.asarray(thermal, np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or thermal.ndim != 2 or thermal.shape != rgb.shape[:2]:
        raise ImageError(f'adapt: expected rgb (H, W, 3) and thermal (H, W) on the same grid, got {rgb.shape} '
                         f'and {thermal.shape}; register the thermal image onto the RGB grid first')
    h, w = thermal.shape
    if max(h, w) > work_size:
        s = work_size / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        thermal = cv2.resize(thermal, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb), np.ascontiguousarray(thermal)


def net_fuse(net: torch.nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``(rgb (1, 3, H, W), thermal (1, 1, H, W)) -> fused RGB (1, 3, H, W)`` of an SSVIF-style net
    (``net(rgb, thermal)['fused']``), coloured from the visible image as the node does."""
    def fuse(rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        return net_output_rgb(rgb, net(rgb, thermal))
    return fuse


def holdout_scores(fuse: Callable, pairs: Sequence[Pair], device='cpu', metrics: Sequence[str] = CRITERIA,
                   pace: Callable[[], None] | None = None,
                   deadline: float | None = None) -> dict[str, float] | None:
    """Mean field metrics (CDDFuse convention, :mod:`fusion_ros.metrics`) of ``fuse`` over ``pairs``;
    ``pace()`` (e.g. a :class:`Pacer`) is called after each pair. ``deadline`` (a ``time.perf_counter()``
    value): None is returned when it passes before every pair is scored."""
    from fusion_ros.metrics.registry import METRICS
    sums = {m: 0.0 for m in metrics}
    with torch.inference_mode():
        for i, (rgb, thermal) in enumerate(pairs):
            r, t = image_to_tensor(rgb, device), image_to_tensor(thermal, device)
            fused = fuse(r, t).clamp(0.0, 1.0)
            r, t, fused = r.cpu(), t.cpu(), fused.cpu()
            for m in metrics:
                sums[m] += float(METRICS[m](t, r, fused)[0])
            if pace is not None:
                pace()
            if deadline is not None and i < len(pairs) - 1 and time.perf_counter() > deadline:
                return None
    return {m: v / max(len(pairs), 1) for m, v in sums.items()}


def _crops(pairs: list[tuple[torch.Tensor, torch.Tensor]], size: int, count: int, gen: torch.Generator):
    rgbs, ths = [], []
    for i in torch.randint(0, len(pairs), (count,), generator=gen).tolist():
        r, t = pairs[i]
        h, w = r.shape[-2:]
        c = min(size, h, w)
        y = int(torch.randint(0, h - c + 1, (1,), generator=gen))
        x = int(torch.randint(0, w - c + 1, (1,), generator=gen))
        rgbs.append(r[:, :, y:y + c, x:x + c])
        ths.append(t[:, :, y:y + c, x:x + c])
    if len({tuple(x.shape) for x in rgbs}) > 1:  # pairs smaller than the crop: one pair per step
        return rgbs[0], ths[0]
    return torch.cat(rgbs), torch.cat(ths)


def adapt_net(net: torch.nn.Module, pairs: Sequence[Pair], config: AdaptConfig | None = None,
              *, should_stop: Callable[[], bool] | None = None) -> AdaptFit:
    """Fine-tune a copy of ``net`` on the newest pairs, score both on the older ones.

    Args:
        net: an SSVIF-style fusion net (``net(rgb, thermal) -> {'fused': (B, 3, H, W), ...}``); not changed.
        pairs: oldest first, at least ``config.pairs_needed``; the last ``train_pairs`` are trained on, the
            ``holdout_pairs`` before them are scored. Each ``(rgb (H, W, 3), thermal (H, W))`` float32 in
            [0, 1] on one grid.
        should_stop: polled every step; True ends the training early (e.g. a model reset).

    Raises:
        ValueError: too few pairs. ImageError: a pair of the wrong shape or with NaN/inf.
        fusion_ros.training.loop.DivergedError: the loss became NaN/inf.
    """
    config = config or AdaptConfig()
    t0 = time.perf_counter()
    if len(pairs) < config.pairs_needed:
        raise ValueError(f'adapt needs {config.pairs_needed} pairs ({config.train_pairs} to train on, '
                         f'{config.holdout_pairs} to judge on), got {len(pairs)}')
    pairs = [shrink_pair(r, t, config.work_size) for r, t in pairs[-config.pairs_needed:]]
    for rgb, thermal in pairs:
        if not (np.isfinite(rgb).all() and np.isfinite(thermal).all()):
            raise ImageError('adapt: a pair contains NaN or inf; normalise the images first')
    train = pairs[config.holdout_pairs:]
    holdout = [shrink_pair(r, t, config.judge_size) for r, t in pairs[:config.holdout_pairs]]
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    pacer = Pacer(config.duty)
    deadline = t0 + config.time_budget_s
    t_score = time.perf_counter()
    before = holdout_scores(net_fuse(net), holdout, device, pace=pacer, deadline=deadline)
    score_s = time.perf_counter() - t_score
    net.train(was_training)

    def skip(why: str) -> AdaptFit:
        return AdaptFit(net, before or {}, {}, LoopResult(), time.perf_counter() - t0, (score_s, 0.0), why)
    if before is None:
        return skip(f'judging the current net on {len(holdout)} held-out pair(s) did not finish within the '
                    f'{config.time_budget_s:.1f} s budget ({score_s:.2f} s)')

    model = copy.deepcopy(net).to(device).train()
    criterion = FusionLoss(FusionLossConfig(**FIELD_LOSS) if config.loss == 'field' else FusionLossConfig())
    tensors = [(image_to_tensor(r, device), image_to_tensor(t, device)) for r, t in train]
    gen = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    # what is left once judging the new net is reserved (1.2x as long as judging the current one took)
    budget = deadline - time.perf_counter() - 1.2 * score_s
    if budget < config.min_train_s:
        return skip(f'judging the current net on {len(holdout)} held-out pair(s) took {score_s:.2f} s of '
                    f'the {config.time_budget_s:.1f} s budget; after reserving {1.2 * score_s:.2f} s to '
                    f'judge the result, {max(budget, 0.0):.2f} s were left to train (at least '
                    f'{config.min_train_s:.2f} s needed)')

    def batches(epoch):
        for _ in range(config.max_steps):
            if should_stop is not None and should_stop():
                return
            yield _crops(tensors, config.crop_size, config.crops_per_step, gen)

    def objective(batch):
        rgb, thermal = batch
        return criterion(model(rgb, thermal)['fused'], rgb, thermal)

    loop = train_loop(objective, optimizer, batches,
                      LoopConfig(max_epochs=1, time_budget_s=max(budget, 1e-3), desc='adapt'), pace=pacer)
    model.eval()
    t_score = time.perf_counter()
    after = holdout_scores(net_fuse(model), holdout, device, pace=pacer)
    return AdaptFit(model, before, after, loop, time.perf_counter() - t0,
                    (score_s, time.perf_counter() - t_score))


def format_scores(scores: dict[str, float] | None) -> str:
    """``VIF 0.6237, Qabf 0.5378, SSIM 0.9466`` (``n/a`` for None)."""
    if not scores:
        return 'n/a'
    return ', '.join(f'{k} {v:.4f}' for k, v in scores.items())
