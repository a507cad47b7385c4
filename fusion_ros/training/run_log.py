"""What a training run leaves to read: a CSV log, a PNG of the loss curves and a PNG of fused samples.

Plots use matplotlib's Agg canvas directly (no global backend switch, no display needed).
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch


def write_csv(history: Sequence[dict], path: str | Path) -> Path:
    """Write one row per epoch; the columns are the union of the rows' keys, in first-seen order.

    The whole file is rewritten from ``history`` (a resumed run rewrites it from its checkpoint, so
    the log never holds rows of epochs the checkpoint does not know). Missing values are left empty.
    """
    path = Path(path)
    columns: list[str] = []
    for row in history:
        columns.extend(k for k in row if k not in columns)
    tmp = path.with_name(path.name + '.tmp')
    with tmp.open('w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval='')
        writer.writeheader()
        for row in history:
            writer.writerow({k: _fmt(v) for k, v in row.items()})
    tmp.replace(path)
    return path


def _fmt(value):
    if isinstance(value, float):
        return '' if math.isnan(value) else f'{value:.6g}'
    return '' if value is None else value


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def plot_curves(history: Sequence[dict], path: str | Path, *, title: str = 'SSVIF training') -> Path:
    """Loss curves per epoch: total and fusion loss, training and validation; stage II shaded; best marked.

    ``history`` rows need ``epoch`` and may hold ``train_loss``, ``train_fusion``, ``val_loss``,
    ``val_fusion``, ``stage`` and ``best`` (1 on the best epoch so far).
    """
    path = Path(path)
    fig = _figure(9, 3.6)
    axes = fig.subplots(1, 2)
    epochs = [r['epoch'] for r in history]
    for ax, key in zip(axes, ('loss', 'fusion')):
        for split, style in (('train', '-'), ('val', '--')):
            ys = [r.get(f'{split}_{key}') for r in history]
            if any(y is not None for y in ys):
                ax.plot(epochs, [np.nan if y is None else y for y in ys], style, marker='.', label=split)
        stage2 = [r['epoch'] for r in history if r.get('stage') == 2]
        if stage2:
            ax.axvspan(min(stage2) - 0.5, max(stage2) + 0.5, color='tab:orange', alpha=0.12, label='stage II')
        best = [r for r in history if r.get('best')]
        if best and best[-1].get(f'val_{key}') is not None:
            ax.plot([best[-1]['epoch']], [best[-1][f'val_{key}']], 'k*', markersize=10, label='best')
        ax.set_xlabel('epoch')
        ax.set_title('total loss' if key == 'loss' else 'fusion loss')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_samples(rgb: torch.Tensor, thermal: torch.Tensor, fused: torch.Tensor, path: str | Path, *,
                 title: str = '') -> Path:
    """A grid of validation samples: one row per sample, columns RGB, thermal, fused.

    Args:
        rgb: ``(N, 3, H, W)``, thermal: ``(N, 1, H, W)``, fused: ``(N, 3, H, W)``; float in [0, 1].
    """
    path = Path(path)
    n = int(rgb.shape[0])
    fig = _figure(7.5, 2.5 * n + 0.4)
    axes = np.atleast_2d(fig.subplots(n, 3, squeeze=False))
    for i in range(n):
        images = (rgb[i].permute(1, 2, 0), thermal[i, 0], fused[i].permute(1, 2, 0))
        for j, (image, name) in enumerate(zip(images, ('RGB', 'thermal', 'fused'))):
            ax = axes[i, j]
            ax.imshow(image.detach().float().clamp(0, 1).cpu().numpy(), cmap='gray' if j == 1 else None,
                      vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    return path
