"""The offline SSVIF training run (paper 004, Section IV-A): data -> epochs -> checkpoints, logs, plots.

``run_ssvif(SSVIFRunConfig(...))`` builds the real-time fusion net (:class:`SSVIFFusionNet`) and the
SSVIF objective (:class:`fusion_ros.ssvif.SSVIFObjective`: two-stage training, CSC loss, GDWA), then
trains with the project's one loop (:func:`fusion_ros.training.loop.train_loop`). The paper's recipe
is the default: Adam at 1e-4, batches of 10 random 160x160 crops, a 9:1 train/validation split, at
most 110 epochs with early stopping (patience 10) on the validation loss.

Each epoch: train; validate (mean losses over the validation crops, in the stage just trained);
``objective.end_epoch()`` (stage switch, loss histories); early stopping; checkpoints; logs.

Early stopping monitors the mean validation ``loss`` (with ``val_fraction=0``: the training loss). At
the switch to stage II the loss gains ``w_csc L_csc`` and is no longer comparable with stage I, so the
best value is forgotten there: ``best.pt`` is the best stage-II model once stage II has run.

Files in ``out_dir`` (written by rank 0 only):

* ``last.pt``: after every epoch; resumes the run (``resume=True``): fusion model, optimiser, objective
  state (segmentation head and model, stage switch, loss weighting histories), epoch, early stopping,
  history, RNG state. ``best.pt``: the best epoch's model. Both are plain-dict checkpoints
  (:mod:`fusion_ros.checkpoint`, model name ``'ssvif'`` with its config) that
  :func:`fusion_ros.checkpoint.load_model` loads for the node.
* ``log.csv``: one row per epoch (losses, stage, w_csc, learning rate, time).
* ``curves.png``: loss curves; ``samples.png``: RGB, thermal and fused validation crops of the best model.

Distributed: launched by ``torchrun --nproc_per_node N`` (``WORLD_SIZE`` > 1) the run uses DDP (``gloo``
on CPU, ``nccl`` with one GPU per process); each rank sees its share of the data (``DistributedSampler``
for folders, sharded streams for bags); the batch size is per process. The epoch means that drive the
stage switch, loss weighting, validation and early stopping are reduced over all ranks, so every rank
takes the same decisions.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Iterable, Iterator

import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Subset
from tqdm.auto import tqdm

from fusion_ros import registry
from fusion_ros.checkpoint import load_checkpoint, save_checkpoint
from fusion_ros.data import DataConfig, DataError, Datasets, build_datasets
from fusion_ros.models import build_model, config_from_dict
from fusion_ros.ssvif import SSVIFConfig, SSVIFObjective
from fusion_ros.training.distributed import (DistContext, all_have, all_reduce_sum, cleanup_distributed,
                                             setup_distributed)
from fusion_ros.training.early_stopping import EarlyStopping
from fusion_ros.training.loop import LoopConfig, train_loop
from fusion_ros.training.run_log import plot_curves, plot_samples, write_csv

MODEL_NAME = 'ssvif'  # the default architecture
ARCHS = registry.get('ssvif').checkpoints  # streaming fusion nets this run trains (fusion_ros.models names)
LAST, BEST, LOG, CURVES, SAMPLES = 'last.pt', 'best.pt', 'log.csv', 'curves.png', 'samples.png'
VAL_KEYS = ('loss', 'fusion', 'intensity', 'gradient', 'ssim', 'color', 'field_ssim', 'qabf', 'vif',
            'delta_e')  # validation means in every stage (field terms: 0 when not weighted)


@dataclass
class SSVIFRunConfig:
    """An offline SSVIF run. Defaults: the paper's recipe (Section IV-A) on this project's model.

    data: sources, crops (160), flips, 9:1 split (:class:`fusion_ros.data.DataConfig`).
    out_dir: where checkpoints, log and plots go.
    arch: the fusion net, ``'ssvif'`` (:class:`fusion_ros.models.ssvif.SSVIFFusionNet`) or ``'ssvif_blend'``
        (:class:`fusion_ros.models.blend.BlendFusionNet`, starts as the max rule) or ``'ssvif_texmax'``
        (:class:`fusion_ros.models.texmax.TexMaxFusionNet`, starts as the texmax rule).
    model: the fusion net's sizes (the config dataclass of ``arch``, or a plain dict); objective: the SSVIF settings (segmentation model, weighting...).
    lr, batch_size: Adam's learning rate (1e-4) and the batch size per process (10).
    max_epochs, patience, min_delta: at most 110 epochs; stop after ``patience`` epochs without a
        validation improvement larger than ``min_delta`` (``patience=None``: never).
    steps_per_epoch: cap on optimiser steps per epoch (None: one pass over the training data).
    val_batches: cap on validation batches (None: all).
    time_budget_s: stop after this much wall time (checked after each step; the partial epoch is not
        checkpointed, ``last.pt`` keeps the last complete one).
    grad_clip: clip the gradient norm (None: no clipping, as the paper).
    device: ``'auto'``, ``'cpu'``, ``'cuda'``, ``'cuda:N'``.
    num_workers: DataLoader worker processes.
    resume: continue from ``out_dir/last.pt`` when it exists. Without it, an ``out_dir`` holding a
        ``last.pt`` is refused (a run is never overwritten by accident).
    init_from: start the fusion net from this checkpoint's weights (model ``'ssvif'``, same config).
    n_samples: validation crops shown in ``samples.png``.
    seed: seed of the model's initialisation (the data has its own, ``data.seed``).
    progress: progress bars (epochs and steps).
    """
    data: DataConfig = field(default_factory=DataConfig)
    out_dir: str = 'runs/ssvif'
    arch: str = MODEL_NAME
    model: object = None
    objective: SSVIFConfig = field(default_factory=SSVIFConfig)
    lr: float = 1e-4
    batch_size: int = 10
    max_epochs: int = 110
    patience: int | None = 10
    min_delta: float = 0.0
    steps_per_epoch: int | None = None
    val_batches: int | None = None
    time_budget_s: float | None = None
    grad_clip: float | None = None
    device: str = 'auto'
    num_workers: int = 0
    resume: bool = False
    init_from: str | None = None
    n_samples: int = 4
    seed: int = 0
    progress: bool = True

    def __post_init__(self):
        if isinstance(self.data, dict):
            self.data = DataConfig(**self.data)
        if self.arch not in ARCHS:
            raise ValueError(f'SSVIFRunConfig.arch must be one of {ARCHS}, got {self.arch!r}')
        if self.model is None:
            self.model = build_model(self.arch).config
        elif isinstance(self.model, dict):
            self.model = config_from_dict(self.arch, self.model)
        if isinstance(self.objective, dict):
            self.objective = SSVIFConfig.from_dict(self.objective)
        if self.lr <= 0 or self.batch_size < 1 or self.max_epochs < 1:
            raise ValueError(f'SSVIFRunConfig: lr must be > 0, batch_size and max_epochs >= 1; '
                             f'got lr={self.lr}, '
                             f'batch_size={self.batch_size}, max_epochs={self.max_epochs}')
        for name in ('steps_per_epoch', 'val_batches'):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f'SSVIFRunConfig.{name} must be >= 1 (or None for no cap), got {value}')
        if self.num_workers < 0 or self.n_samples < 0:
            raise ValueError('SSVIFRunConfig: num_workers and n_samples must be >= 0')
        EarlyStopping(self.patience, self.min_delta)  # validates both


@dataclass
class RunResult:
    """What :func:`run_ssvif` returns.

    stopped: ``'max_epochs'``, ``'early_stopping'`` or ``'time_budget'``; epochs: epochs completed in
    total (including those of a resumed run); start_epoch: the epoch this call started at (0 unless
    resumed); best_epoch, best_value: the best monitored loss and its epoch (-1 / inf if none);
    history: one dict per epoch (the CSV rows); stage: the stage the next epoch would run in.
    """
    out_dir: Path
    stopped: str
    epochs: int
    start_epoch: int
    best_epoch: int
    best_value: float
    history: list[dict]
    stage: int
    elapsed_s: float
    split: str


# --------------------------------------------------------------------------- the run


def run_ssvif(config: SSVIFRunConfig) -> RunResult:
    """Train SSVIF as configured (one process, or DDP under torchrun); see the module docstring.

    Raises:
        FileNotFoundError, DataError, BagError: unusable data. CheckpointError: a bad ``last.pt`` or
        ``init_from``. ValueError: ``out_dir`` holds a run and ``resume`` is off, or the resumed run was
        made with another model/objective config. DivergedError: the loss became NaN/inf
        (``last.pt`` keeps the last good epoch).
    """
    ctx = setup_distributed(config.device)
    try:
        result = _Run(config, ctx).run()
    except BaseException:
        cleanup_distributed(ctx, wait=False)  # the other ranks may be inside a collective: do not wait
        raise
    cleanup_distributed(ctx)
    return result


class _Run:
    """The state of one run; methods in the order they are used."""

    def __init__(self, config: SSVIFRunConfig, ctx: DistContext):
        self.config, self.ctx = config, ctx
        self.out = Path(config.out_dir)
        self.device = ctx.device
        self.history: list[dict] = []
        self.early = EarlyStopping(config.patience, config.min_delta)
        self.start_epoch = 0
        self.t0 = time.perf_counter()
        self.elapsed_before = 0.0
        self.time_up = False
        self.epoch_steps = 0

    # -- set-up

    def run(self) -> RunResult:
        c = self.config
        resume_from = self._check_out_dir()
        torch.manual_seed(c.seed)
        self.model = build_model(c.arch, c.model)
        self.objective = SSVIFObjective(self.model, c.objective).to(self.device)
        self.optimizer = torch.optim.Adam(self.objective.parameters(), lr=c.lr)
        if resume_from is not None:
            self._resume(resume_from)
        elif c.init_from:
            self._init_from(c.init_from)
        self.data = build_datasets(c.data, self.ctx.rank, self.ctx.world_size)
        self._check_data(self.data)
        self.val_loader = self._val_loader()
        self.preview = self._preview_batch()
        self.step_module = self.objective
        if self.ctx.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            device_ids = [self.device.index] if self.device.type == 'cuda' else None
            self.step_module = DDP(self.objective, device_ids=device_ids,
                                   find_unused_parameters=c.objective.use_csc)  # H, S idle in stage I
        if self.ctx.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        # The time budget is checked in _epoch_batches (collectively under DDP), not by the loop.
        loop_cfg = LoopConfig(max_epochs=c.max_epochs, time_budget_s=None, grad_clip=c.grad_clip,
                              progress=c.progress and self.ctx.is_main, desc='ssvif epochs')
        self.objective.train()
        stopped = 'max_epochs'
        if self.start_epoch < c.max_epochs and not self.early.should_stop:
            loop = train_loop(self._step, self.optimizer, self._epoch_batches, loop_cfg,
                              on_epoch_end=self._on_epoch_end, start_epoch=self.start_epoch)
            stopped = ('time_budget' if self.time_up else
                       {'callback': 'early_stopping'}.get(loop.stopped, 'max_epochs'))
        elif self.early.should_stop:
            stopped = 'early_stopping'
        return RunResult(self.out, stopped, len(self.history), self.start_epoch, self.early.best_epoch,
                         self.early.best, list(self.history), self.objective.stage, self._elapsed(),
                         self.data.split.description)

    def _check_out_dir(self) -> Path | None:
        last = self.out / LAST
        if last.exists() and not self.config.resume:
            raise ValueError(f'{self.out} already holds a training run ({LAST}); resume it with --resume, or '
                             'give another --out')
        return last if last.exists() and self.config.resume else None

    def _resume(self, path: Path) -> None:
        ckpt = load_checkpoint(path)
        needed = {'objective', 'optimizer', 'epoch', 'history', 'early_stopping', 'rng', 'run'}
        if ckpt['model'] != self.config.arch or not needed <= set(ckpt):
            raise ValueError(f'{path}: not the last.pt of an SSVIF training run (model {ckpt["model"]!r}, '
                             f'lacking {sorted(needed - set(ckpt))}); give another --out')
        saved_model = config_from_dict(self.config.arch, ckpt['config'])
        saved_objective = SSVIFConfig.from_dict(ckpt['run']['objective'])
        for what, saved, now in (('model', saved_model, self.config.model),
                                 ('objective', saved_objective, self.config.objective)):
            if saved != now:
                raise ValueError(f'{path}: the run was started with {what} config {saved}, this one asks for '
                                 f'{now}; resume with the same options, or give another --out')
        self.model.load_state_dict(ckpt['state_dict'])
        missing, unexpected = self.objective.load_state_dict(ckpt['objective'], strict=False)
        missing = [k for k in missing if not k.startswith('fusion_model.')]
        if missing or unexpected:
            raise ValueError(f'{path}: objective state does not fit (missing {missing[:5]}, unexpected '
                             f'{unexpected[:5]}); it was written by another fusion_ros version')
        self.optimizer.load_state_dict(ckpt['optimizer'])
        self.start_epoch = int(ckpt['epoch'])
        self.history = list(ckpt['history'])
        self.early.load_state_dict(ckpt['early_stopping'])
        self.elapsed_before = float(ckpt.get('elapsed_s', 0.0))
        torch.set_rng_state(ckpt['rng']['torch'])

    def _init_from(self, path: str) -> None:
        ckpt = load_checkpoint(path)
        if ckpt['model'] != self.config.arch or config_from_dict(ckpt['model'], ckpt['config']) != self.config.model:
            raise ValueError(f'{path}: init_from needs an {self.config.arch!r} checkpoint with model config '
                             f'{self.config.model}; it holds {ckpt["model"]!r} with {ckpt["config"]}')
        self.model.load_state_dict(ckpt['state_dict'])

    def _check_data(self, data: Datasets) -> None:
        if not data.streaming and data.n_train_pairs == 0:
            raise DataError('no training pairs after the split; add data or lower val_fraction')
        if self.ctx.is_main and self.config.progress:
            sizes = ('streamed from bags' if data.streaming else
                     f'{data.n_train_pairs} training / {data.n_val_pairs} validation pairs')
            tqdm.write(f'data: {sizes}; {data.split.description}')

    # -- data

    def _loader(self, dataset, sampler=None) -> DataLoader:
        return DataLoader(dataset, batch_size=self.config.batch_size, sampler=sampler,
                          num_workers=self.config.num_workers, pin_memory=self.device.type == 'cuda')

    def _train_loader(self, epoch: int) -> DataLoader:
        train = self.data.train
        train.set_epoch(epoch)
        if self.data.streaming:
            return self._loader(train)
        if self.ctx.distributed:
            sampler = DistributedSampler(train, self.ctx.world_size, self.ctx.rank, shuffle=True,
                                         seed=self.config.data.seed)
            sampler.set_epoch(epoch)
        else:
            generator = torch.Generator().manual_seed(self.config.data.seed * 100_003 + epoch)
            sampler = RandomSampler(train, generator=generator)
        return self._loader(train, sampler)

    def _val_loader(self) -> DataLoader | None:
        val = self.data.val
        if val is None:
            return None
        if not self.data.streaming and self.ctx.distributed:  # each rank its share; sums are reduced
            val = Subset(val, range(self.ctx.rank, len(val), self.ctx.world_size))
        return self._loader(val)

    def _preview_batch(self) -> dict | None:
        n = self.config.n_samples
        source = self.data.val if self.data.val is not None else self.data.train
        if n == 0 or not self.ctx.is_main:
            return None
        samples = list(itertools.islice(iter(source), n)) if self.data.streaming else \
            [source[i] for i in range(min(n, len(source)))]
        if not samples:
            return None
        return {k: torch.stack([s[k] for s in samples]) for k in ('rgb', 'thermal')}

    def _epoch_batches(self, epoch: int) -> Iterator[dict]:
        loader = self._train_loader(epoch)
        batches: Iterable = loader
        if self.config.steps_per_epoch is not None:
            batches = itertools.islice(batches, self.config.steps_per_epoch)
        total = self.config.steps_per_epoch
        if not self.data.streaming:
            total = min(total or len(loader), len(loader))
        bar = tqdm(batches, total=total, desc=f'epoch {epoch}', leave=False, dynamic_ncols=True,
                   disable=not (self.config.progress and self.ctx.is_main))
        self.epoch_steps = 0
        budget = self.config.time_budget_s
        it = iter(bar)
        try:
            while True:
                # Collective checks (every rank takes part), so that all ranks stop together: the time
                # budget, and streams, which can give ranks one batch more or less (DDP needs all ranks).
                if budget is not None and not all_have(self.ctx, time.perf_counter() - self.t0 < budget):
                    self.time_up = True
                    return
                batch = next(it, None)
                if self.data.streaming:
                    if not all_have(self.ctx, batch is not None):
                        return
                elif batch is None:
                    return
                self.epoch_steps += 1
                yield batch
        finally:
            bar.close()

    # -- steps and epochs

    def _step(self, batch: dict) -> dict:
        rgb = batch['rgb'].to(self.device, non_blocking=True)
        thermal = batch['thermal'].to(self.device, non_blocking=True)
        return self.step_module(rgb, thermal)

    @torch.no_grad()
    def _validate(self, stage: int) -> dict | None:
        """Mean validation losses (over all ranks), in ``stage``; None without validation data."""
        if self.val_loader is None:
            return None
        self.objective.eval()
        sums: dict[str, float] = {}
        n = 0
        try:
            for batch in itertools.islice(self.val_loader, self.config.val_batches):
                rgb, thermal = batch['rgb'].to(self.device), batch['thermal'].to(self.device)
                out = self.objective(rgb, thermal, stage=stage)
                b = rgb.shape[0]
                for k, v in out.items():
                    if k != 'stage':
                        sums[k] = sums.get(k, 0.0) + float(v) * b
                n += b
        finally:
            self.objective.train()
        keys = list(VAL_KEYS) + (['csc', 'w_csc', 'agreement'] if stage == 2 and self.config.objective.use_csc
                                 else [])
        if self.ctx.distributed:  # the same keys on every rank, also on one whose shard was empty
            reduced = all_reduce_sum(self.ctx, [sums.get(k, 0.0) for k in keys] + [n])
            sums, n = dict(zip(keys, reduced[:-1])), int(reduced[-1])
        if n == 0:
            return None
        return {k: sums.get(k, 0.0) / n for k in keys}

    def _sync_epoch(self, means: dict) -> dict:
        """Reduce the epoch's training means and the objective's epoch sums over the ranks."""
        if not self.ctx.distributed:
            return means
        keys = sorted(means)
        reduced = all_reduce_sum(self.ctx, [means[k] for k in keys])
        means = {k: v / self.ctx.world_size for k, v in zip(keys, reduced)}
        # SSVIFObjective.end_epoch() decides the stage from its running sums; give every rank the global
        # sums so that every rank switches stage (and weights the losses) identically.
        obj = self.objective
        f, steps, csc, csc_steps = all_reduce_sum(self.ctx, [float(obj._epoch_fusion), obj._epoch_steps,
                                                             float(obj._epoch_csc), obj._epoch_csc_steps])
        obj._epoch_fusion, obj._epoch_csc = torch.tensor(f), torch.tensor(csc)
        obj._epoch_steps, obj._epoch_csc_steps = int(round(steps)), int(round(csc_steps))
        return means

    def _on_epoch_end(self, epoch: int, means: dict) -> bool:
        if self.time_up:
            return True  # a partial epoch: not validated, not checkpointed (last.pt keeps the last full one)
        if self.epoch_steps == 0:
            raise DataError('an epoch had no training batch: no pairs were read (check the bag topics, the '
                            'pairing tolerance, or that the split left training data)')
        means = self._sync_epoch(means)
        stage = self.objective.stage
        val = self._validate(stage)
        info = self.objective.end_epoch()
        monitored = val['loss'] if val is not None else means['loss']
        improved = self.early.update(monitored, epoch)
        row = {'epoch': epoch, 'stage': stage, 'steps': self.epoch_steps}
        row.update({f'train_{k}': means[k] for k in VAL_KEYS + ('csc', 'w_csc') if k in means})
        if val is not None:
            row.update({f'val_{k}': val[k] for k in VAL_KEYS + ('csc', 'agreement') if k in val})
        row.update({'best': int(improved), 'lr': self.optimizer.param_groups[0]['lr'],
                    'elapsed_s': self._elapsed()})
        self.history.append(row)
        if info['switched'] and self.config.objective.use_csc:
            self.early.reset()  # stage II's loss adds w_csc L_csc: compare stage-II epochs among themselves
        if self.ctx.is_main:
            self._write(epoch, improved)
        return self.early.should_stop

    # -- output

    def _elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.t0

    def _meta(self, epoch: int) -> dict:
        last = self.history[-1] if self.history else {}
        return {'trainer': 'fusion_ros.training.ssvif_run', 'data': list(self.config.data.paths),
                'split': self.data.split.description, 'epochs': epoch + 1, 'stage': int(last.get('stage', 1)),
                'val_loss': last.get('val_loss'), 'train_loss': last.get('train_loss'),
                'world_size': self.ctx.world_size}

    def _write(self, epoch: int, improved: bool) -> None:
        meta = self._meta(epoch)
        if improved:
            save_checkpoint(self.out / BEST, self.model, self.config.arch, meta={**meta, 'best_epoch': epoch})
            self._write_samples(epoch)
        objective_state = {k: v for k, v in self.objective.state_dict().items()
                           if not k.startswith('fusion_model.')}  # the model itself is under 'state_dict'
        extra = {'objective': objective_state, 'optimizer': self.optimizer.state_dict(), 'epoch': epoch + 1,
                 'history': self.history, 'early_stopping': self.early.state_dict(),
                 'run': _plain(asdict(self.config)), 'elapsed_s': self._elapsed(),
                 'rng': {'torch': torch.get_rng_state()}}
        save_checkpoint(self.out / LAST, self.model, self.config.arch, meta=meta, extra=extra)
        write_csv(self.history, self.out / LOG)
        plot_curves(self.history, self.out / CURVES)

    @torch.no_grad()
    def _write_samples(self, epoch: int) -> None:
        if self.preview is None:
            return
        was_training = self.model.training
        self.model.eval()
        try:
            rgb, thermal = self.preview['rgb'].to(self.device), self.preview['thermal'].to(self.device)
            fused = self.model(rgb, thermal)['fused']
        finally:
            self.model.train(was_training)
        plot_samples(rgb, thermal, fused, self.out / SAMPLES, title=f'validation crops, epoch {epoch}')


def _plain(value):
    """Dataclass dicts as plain Python for a weights-only checkpoint (tuples -> lists, paths -> str)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def run_config_fields() -> list[str]:
    """Names of :class:`SSVIFRunConfig`'s fields (for the CLI and YAML)."""
    return [f.name for f in fields(SSVIFRunConfig)]


__all__ = ['RunResult', 'SSVIFRunConfig', 'run_ssvif']
