"""Train an ultralytics YOLO detector for the thermal / fused images (``fusion-ros train-detector``), offline.

A run folder holds everything::

    <run>/dataset/            the dataset (fusion_ros.detection_data.build_dataset): data.yaml, images, labels
    <run>/train/              ultralytics' run: weights/{best,last}.pt, results.csv, results.png (the curves),
                              args.yaml, labels and batch plots, PR curves
    <run>/run.json            the recipe, the command of each sitting, its time and how it ended
    <run>/detector.pt         the exported model (best weights) once the run has finished,
    <run>/detector.json       with its card (data, command, epochs, time, hardware, validation scores)

The model is built from a config (``yolo11n.yaml``; random weights, never a download). Augmentation suits
gray thermal images: no hue or saturation jitter by default (a gray image has no saturation, so they could
not act on it anyway), brightness jitter (``hsv_v``: a random gain), contrast jitter around the image mean
(:class:`RandomContrast`, added to ultralytics' pipeline), horizontal flips and mosaic (closed for the last
``close_mosaic`` epochs).

Time: ``time_hours`` bounds the whole run (ultralytics' ``time``: the number of epochs is re-estimated after
each epoch so the schedule ends on time); ``sitting_hours`` ends this sitting after the epoch that would
otherwise overrun it, keeping ``last.pt`` resumable: ``resume`` continues from it (same recipe, same schedule)
in a later sitting. Nothing is downloaded: ``YOLO_OFFLINE`` is set, AMP is off (its check would fetch a
model), and ultralytics' plotting font is provided locally (:func:`ensure_local_font`).
"""
from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fusion_ros.detection import offline_ultralytics
from fusion_ros.detection_data import DatasetConfig, build_dataset

DATASET, TRAIN, RUN_JSON, EXPORT = 'dataset', 'train', 'run.json', 'detector.pt'


@dataclass
class Augment:
    """Training augmentation (ultralytics' names; ``contrast`` is fusion_ros's :class:`RandomContrast`)."""
    hsv_h: float = 0.0
    hsv_s: float = 0.0
    hsv_v: float = 0.4
    contrast: float = 0.3
    fliplr: float = 0.5
    flipud: float = 0.0
    mosaic: float = 1.0
    close_mosaic: int = 10
    scale: float = 0.5
    translate: float = 0.1
    degrees: float = 0.0
    mixup: float = 0.0

    def __post_init__(self):
        for name in ('hsv_h', 'hsv_s', 'hsv_v', 'fliplr', 'flipud', 'mosaic', 'translate', 'mixup'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'augmentation {name} must lie in [0, 1], got {getattr(self, name)}')
        if not 0.0 <= self.contrast < 1.0:
            raise ValueError(f'contrast jitter must lie in [0, 1), got {self.contrast}')
        if self.close_mosaic < 0 or self.scale < 0 or self.degrees < 0:
            raise ValueError('close_mosaic, scale and degrees must be >= 0')

    def ultralytics_args(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != 'contrast'}


@dataclass
class DetectorTrainConfig:
    """A detector training run (see the module docstring).

    model: an ultralytics model config (``.yaml``: a built-in name such as ``yolo11n.yaml`` or a file); weights
        are never downloaded. init: a local ultralytics ``.pt`` (e.g. ``models/detector_default.pt``) whose
        model and weights the run starts from, to fine-tune (``model`` is then not used); None: random.
        epochs: length of the schedule (with ``time_hours``: re-estimated to fit it).
    imgsz: training and validation size (pixels, multiple of 32). batch: images per batch. workers: data loader
        processes. patience: stop after this many epochs without a better validation fitness.
    plots: ultralytics' plots (labels, batches, PR curves, results.png); the curves are drawn either way.
    """
    out: Path
    dataset: DatasetConfig | None = None
    model: str = 'yolo11n.yaml'
    init: Path | None = None
    epochs: int = 100
    time_hours: float | None = None
    sitting_hours: float | None = None
    imgsz: int = 640
    batch: int = 16
    workers: int = 2
    device: str = 'cpu'
    patience: int = 30
    seed: int = 0
    lr0: float = 0.01
    optimizer: str = 'auto'
    cache: str | None = None
    plots: bool = True
    augment: Augment = field(default_factory=Augment)
    resume: bool = False
    command: str = ''

    def __post_init__(self):
        self.out = Path(self.out)
        if not str(self.model).endswith(('.yaml', '.yml')):
            raise ValueError(f'model must be an ultralytics model config (.yaml, e.g. yolo11n.yaml), got '
                             f'{self.model!r}: training starts from random weights, never from downloaded ones')
        if self.init is not None:
            self.init = Path(self.init)
            if not self.init.is_file():
                raise FileNotFoundError(f'init weights {self.init} not found: give a local ultralytics .pt (e.g. '
                                        'models/detector_default.pt), or leave init out to start from random weights')
        if self.epochs < 1 or self.batch < 1 or self.workers < 0 or self.patience < 0:
            raise ValueError('epochs and batch must be >= 1, workers and patience >= 0')
        if self.imgsz < 32 or self.imgsz % 32:
            raise ValueError(f'imgsz must be a multiple of 32, >= 32, got {self.imgsz}')
        for name in ('time_hours', 'sitting_hours'):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise ValueError(f'{name} must be > 0 (or None), got {v}')
        if self.cache not in (None, 'ram', 'disk'):
            raise ValueError(f"cache must be None, 'ram' or 'disk', got {self.cache!r}")
        if not self.resume and self.dataset is None:
            raise ValueError('a new run needs a dataset (DatasetConfig); resume needs none')


@dataclass
class DetectorTrainResult:
    out: Path
    stopped: str            # 'finished' (schedule, time budget or patience) or 'sitting' (resumable)
    epochs_done: int
    epochs_planned: int
    seconds: float          # this sitting
    total_seconds: float    # all sittings
    best: Path | None
    exported: Path | None
    metrics: dict


class SittingOver(Exception):
    """Raised at an epoch end to end the sitting with ``last.pt`` resumable."""


class RandomContrast:
    """Contrast jitter for thermal images: ``(img - mean) * f + mean`` with ``f`` uniform in ``[1-c, 1+c]``,
    the mean over the whole image; an ultralytics transform (``labels['img']``: ``(H, W, 3)`` uint8 BGR)."""

    def __init__(self, contrast: float = 0.3, p: float = 1.0):
        self.contrast, self.p = float(contrast), float(p)

    def __call__(self, labels: dict) -> dict:
        import random
        if self.contrast <= 0 or random.random() >= self.p:
            return labels
        img = labels['img']
        f = random.uniform(1 - self.contrast, 1 + self.contrast)
        mean = float(img.mean())
        labels['img'] = np.clip((img.astype(np.float32) - mean) * f + mean, 0, 255).astype(np.uint8)
        return labels


def ensure_local_font() -> Path | None:
    """Give ultralytics its plotting font (``Arial.ttf``) from a local file so it never downloads one.

    ultralytics looks for ``Arial.ttf`` in its settings folder and downloads it when missing (when checking
    a dataset and when drawing labels). matplotlib's DejaVu Sans (always installed with matplotlib) is copied
    there under that name once. Returns the font file (None when the folder cannot be written; ultralytics then
    falls back to PIL's default font after a failed, offline, download attempt).
    """
    offline_ultralytics()
    from ultralytics.utils import USER_CONFIG_DIR

    target = Path(USER_CONFIG_DIR) / 'Arial.ttf'
    if target.is_file():
        return target
    try:
        import matplotlib
        source = Path(matplotlib.get_data_path()) / 'fonts' / 'ttf' / 'DejaVuSans.ttf'
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return target
    except OSError:
        return None


def _trainer_class(contrast: float):
    """ultralytics' DetectionTrainer whose training dataset adds :class:`RandomContrast` before formatting
    (also after mosaic closes, when ultralytics rebuilds the transforms)."""
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.models.yolo.detect import DetectionTrainer

    class ThermalDataset(YOLODataset):
        def build_transforms(self, hyp=None):
            transforms = super().build_transforms(hyp)
            if self.augment and contrast > 0:
                transforms.insert(len(transforms.transforms) - 1, RandomContrast(contrast))  # before Format
            return transforms

    class ThermalDetectionTrainer(DetectionTrainer):
        def build_dataset(self, img_path, mode='train', batch=None):
            dataset = super().build_dataset(img_path, mode, batch)
            if mode == 'train' and contrast > 0 and type(dataset) is YOLODataset:
                dataset.__class__ = ThermalDataset  # same object, one method more
                dataset.transforms = dataset.build_transforms(hyp=self.args)
            return dataset

    return ThermalDetectionTrainer


def hardware() -> str:
    """CPU model and cores, torch threads, GPU: one line for the card."""
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return f'{cpu}, {cores} cores, {torch.get_num_threads()} torch threads, {gpu}'


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def results_rows(train_dir: Path) -> list[dict[str, float]]:
    """ultralytics' ``results.csv`` (one row per epoch) as dicts of floats (keys stripped)."""
    import csv
    path = Path(train_dir) / 'results.csv'
    if not path.is_file():
        return []
    with open(path) as f:
        return [{k.strip(): float(v) for k, v in row.items() if k and v not in (None, '')} for row in csv.DictReader(f)]


def plot_curves(train_dir: Path) -> Path | None:
    """``curves.png``: losses and validation mAP per epoch from ``results.csv`` (drawn with matplotlib only)."""
    rows = results_rows(train_dir)
    if not rows:
        return None
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    epochs = [r['epoch'] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for key in ('train/box_loss', 'train/cls_loss', 'train/dfl_loss'):
        if key in rows[0]:
            axes[0].plot(epochs, [r[key] for r in rows], label=key)
    for key in ('val/box_loss', 'val/cls_loss', 'val/dfl_loss'):
        if key in rows[0]:
            axes[1].plot(epochs, [r[key] for r in rows], label=key)
    for key in ('metrics/mAP50(B)', 'metrics/mAP50-95(B)', 'metrics/precision(B)', 'metrics/recall(B)'):
        if key in rows[0]:
            axes[2].plot(epochs, [r[key] for r in rows], label=key.replace('metrics/', ''))
    for ax, title in zip(axes, ('training losses', 'validation losses', 'validation metrics')):
        ax.set_title(title)
        ax.set_xlabel('epoch')
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(train_dir).parent / 'curves.png'
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def train_detector(config: DetectorTrainConfig, *, log=print, callbacks: dict | None = None) -> DetectorTrainResult:
    """Build the dataset (new run), train or resume, and export the model when the run has finished.

    ``callbacks``: extra ultralytics callbacks, ``{event: fn(trainer)}``. The process's torch threads and
    deterministic-algorithms flag (which ultralytics changes) are restored afterwards.
    """
    import torch

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        return _train(config, log, callbacks or {})
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _train(config: DetectorTrainConfig, log, callbacks: dict) -> DetectorTrainResult:
    offline_ultralytics()
    out = config.out.resolve()
    run_json = out / RUN_JSON
    last = out / TRAIN / 'weights' / 'last.pt'
    if config.resume:
        state = _read_json(run_json)
        if not last.is_file() or not state:
            raise FileNotFoundError(f'{out}: nothing to resume (no {TRAIN}/weights/last.pt or {RUN_JSON}); start a '
                                    'new run without --resume')
        if state.get('finished'):
            raise ValueError(f'{out}: this run has finished (see {RUN_JSON}); start a new run in another folder')
        recipe = state['recipe']
        contrast = float(recipe['augment']['contrast'])
    else:
        if out.exists() and any(out.iterdir()):
            raise ValueError(f'{out} is not empty: continue its run with --resume, or give a new folder')
        out.mkdir(parents=True, exist_ok=True)
        info = build_dataset(config.dataset, out / DATASET, progress=True)
        log(f'dataset: {info.summary()} -> {info.yaml}')
        recipe = {k: v for k, v in asdict(config).items() if k not in ('out', 'dataset', 'resume', 'command',
                                                                        'sitting_hours')}
        state = {'recipe': recipe, 'dataset': json.loads((out / DATASET / 'manifest.json').read_text()),
                 'sittings': [], 'finished': False}
        contrast = config.augment.contrast
        run_json.write_text(json.dumps(state, indent=2, default=str))

    ensure_local_font()
    from ultralytics import YOLO

    sitting_s = None if config.sitting_hours is None else config.sitting_hours * 3600
    t_start = time.monotonic()
    done = {'epochs': 0}

    def on_train_epoch_end(trainer):  # in the epoch loop only (on_fit_epoch_end also runs after it)
        done['epochs'] += 1

    def on_fit_epoch_end(trainer):  # after last.pt is saved for this epoch
        if sitting_s is None or trainer.stop or not done['epochs']:
            return
        elapsed = time.monotonic() - t_start
        if elapsed + elapsed / done['epochs'] > sitting_s:  # the next epoch would overrun the sitting
            raise SittingOver(f'sitting budget reached after epoch {trainer.epoch + 1}')

    common = dict(workers=config.workers, device=config.device, plots=config.plots, exist_ok=True, verbose=False)
    if config.time_hours is not None:
        common['time'] = config.time_hours
    if config.resume:
        model = YOLO(str(last))
        args = dict(resume=str(last), **common)  # the recipe is the checkpoint's
    else:
        # with init: that file's model, classes head included (a config's model would re-initialise a head whose
        # class count differs from the config's); ultralytics then trains from its weights (pretrained=True)
        model = YOLO(config.model if config.init is None else str(config.init))
        args = dict(data=str(out / DATASET / 'data.yaml'), epochs=config.epochs, imgsz=config.imgsz,
                    batch=config.batch, patience=config.patience, seed=config.seed, lr0=config.lr0,
                    optimizer=config.optimizer, cache=config.cache or False, project=str(out), name=TRAIN,
                    pretrained=config.init is not None, amp=False, val=True, **config.augment.ultralytics_args(),
                    **common)
    model.add_callback('on_train_epoch_end', on_train_epoch_end)
    model.add_callback('on_fit_epoch_end', on_fit_epoch_end)
    for event, fn in callbacks.items():
        model.add_callback(event, fn)
    sitting = {'command': config.command, 'started': time.strftime('%Y-%m-%d %H:%M:%S'), 'hardware': hardware(),
               'resume': config.resume, 'time_hours': config.time_hours, 'sitting_hours': config.sitting_hours}
    stopped = 'finished'
    try:
        model.train(trainer=_trainer_class(contrast), **args)
    except SittingOver as exc:
        stopped = 'sitting'
        log(f'train-detector: {exc}; continue with --resume')
    except KeyboardInterrupt:
        stopped = 'interrupted'
        log('train-detector: interrupted; continue with --resume')
    seconds = time.monotonic() - t_start
    rows = results_rows(out / TRAIN)
    sitting.update(seconds=round(seconds, 1), stopped=stopped, epochs_this_sitting=done['epochs'],
                   epochs_total=len(rows))
    state = _read_json(run_json)
    state['sittings'].append(sitting)
    total = sum(s['seconds'] for s in state['sittings'])
    state['finished'] = stopped == 'finished'
    run_json.write_text(json.dumps(state, indent=2, default=str))
    plot_curves(out / TRAIN)
    best = out / TRAIN / 'weights' / 'best.pt'
    exported = export_detector(out, out / EXPORT) if stopped == 'finished' and best.is_file() else None
    planned = _planned_epochs(last if last.is_file() else None, len(rows))
    return DetectorTrainResult(out, stopped, len(rows), planned, seconds, total, best if best.is_file() else None,
                               exported, _best_metrics(rows))


def _planned_epochs(last: Path | None, done: int) -> int:
    if last is None:
        return done
    try:
        import torch
        ckpt = torch.load(last, map_location='cpu', weights_only=False)  # ultralytics' own run file
        return int(ckpt.get('train_args', {}).get('epochs', done))
    except Exception:  # noqa: BLE001 - only for a message
        return done


def _best_metrics(rows: list[dict]) -> dict:
    if not rows:
        return {}
    key = 'metrics/mAP50-95(B)'
    best = max(rows, key=lambda r: 0.1 * r.get('metrics/mAP50(B)', 0) + 0.9 * r.get(key, 0))  # ultralytics' fitness
    return {'best_epoch': int(best['epoch']), 'mAP50': best.get('metrics/mAP50(B)'), 'mAP50-95': best.get(key),
            'precision': best.get('metrics/precision(B)'), 'recall': best.get('metrics/recall(B)')}


def export_detector(run: str | Path, dest: str | Path) -> Path:
    """Copy a run's best weights to ``dest`` (an ultralytics ``.pt``, what the node's detection head loads) and
    write its card beside it (``dest`` with ``.json``): data, commands, epochs, time, hardware, scores.

    Raises:
        FileNotFoundError: the run has no ``best.pt`` yet.
    """
    run, dest = Path(run).resolve(), Path(dest)
    best = run / TRAIN / 'weights' / 'best.pt'
    if not best.is_file():
        raise FileNotFoundError(f'{best}: no best weights yet; train first (fusion-ros train-detector)')
    state = _read_json(run / RUN_JSON)
    rows = results_rows(run / TRAIN)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if best.resolve() != dest.resolve():
        shutil.copyfile(best, dest)
    from ultralytics import __version__ as ultralytics_version
    dataset = state.get('dataset', {})
    card = {
        'file': dest.name, 'format': 'ultralytics YOLO detection model (.pt, best weights)',
        'loads_with': 'fusion_ros.detection.Detector / the node (detection_enabled, detection_model_path)',
        'model': state.get('recipe', {}).get('model'), 'classes': _class_names(run),
        'data': {'sources': dataset.get('config', {}), 'counts': dataset.get('counts'), 'boxes': dataset.get('boxes'),
                 'val_is_train': dataset.get('val_is_train')},
        'recipe': state.get('recipe'),
        'commands': [s.get('command') for s in state.get('sittings', [])],
        'epochs': len(rows), 'finished': state.get('finished', False),
        'train_time_s': round(sum(s.get('seconds', 0) for s in state.get('sittings', [])), 1),
        'sittings': state.get('sittings', []),
        'hardware': sorted({s.get('hardware') for s in state.get('sittings', []) if s.get('hardware')}),
        'validation': _best_metrics(rows),
        'versions': {'ultralytics': ultralytics_version, 'python': sys.version.split()[0]},
        'exported': time.strftime('%Y-%m-%d %H:%M:%S'),
    }
    dest.with_suffix('.json').write_text(json.dumps(card, indent=2, default=str))
    return dest


def _class_names(run: Path) -> list[str]:
    import yaml
    path = run / DATASET / 'data.yaml'
    if not path.is_file():
        return []
    names = yaml.safe_load(path.read_text()).get('names', {})
    return [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)


def command_line(argv: list[str] | None = None) -> str:
    """``fusion-ros ARGS`` (default: this process's arguments), for the run's record."""
    return ' '.join(shlex.quote(str(a)) for a in ['fusion-ros'] + list(sys.argv[1:] if argv is None else argv))
