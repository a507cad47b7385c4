"""Scores of one fused pair and contact sheets (pictures people look at)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fusion_ros.imaging import image_to_tensor, resize_to, rgb_to_gray
from fusion_ros.metrics import canny_preservation, correlation_score, ssim_score


def pair_scores(rgb: np.ndarray, thermal: np.ndarray, fused: np.ndarray) -> dict[str, float]:
    """Paper 000's scores of a colour fusion against its two inputs.

    Args:
        rgb: ``(H, W, 3)`` float32 in [0, 1]; thermal: ``(h, w)`` float32 in [0, 1] (resampled onto the
            RGB grid); fused: ``(H, W, 3)`` float32 in [0, 1].

    Returns:
        ``ssim_score``, ``correlation_score``, ``canny_score`` as fractions (see ``fusion_ros.metrics``).
    """
    gray = rgb_to_gray(image_to_tensor(rgb))
    th = resize_to(image_to_tensor(thermal), tuple(gray.shape[-2:]))
    f = rgb_to_gray(image_to_tensor(fused))
    with torch.inference_mode():
        return {'ssim_score': float(ssim_score(th, gray, f)[0]),
                'correlation_score': float(correlation_score(th, gray, f)[0]),
                'canny_score': float(canny_preservation(th, gray, f)[0])}


def contact_sheet(rows: list[dict[str, np.ndarray]], path: str | Path, *, titles: list[str] | None = None,
                  tile_width: float = 3.2) -> Path:
    """Save a grid of images: one row per dict (column title -> ``(H, W)`` or ``(H, W, 3)`` float [0, 1]).

    Gray images are shown in gray, colour as is. Returns the written path (PNG).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError('contact_sheet: no rows to draw')
    cols = list(rows[0])
    h, w = np.shape(next(iter(rows[0].values())))[:2]
    fig, axes = plt.subplots(len(rows), len(cols), squeeze=False,
                             figsize=(tile_width * len(cols), tile_width * len(rows) * h / w + 0.4 * len(rows)))
    for r, row in enumerate(rows):
        for c, name in enumerate(cols):
            ax = axes[r][c]
            img = np.clip(np.asarray(row[name], dtype=np.float32), 0, 1)
            ax.imshow(img, cmap='gray' if img.ndim == 2 else None, vmin=0, vmax=1)
            label = name if r == 0 else ''
            if c == 0 and titles:
                label = f'{titles[r]}\n{label}' if label else titles[r]
            ax.set_title(label, fontsize=8)
            ax.axis('off')
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
