"""Export what an SSVIF run learned into the files the node ships with.

``export_fusion_model``: the fusion model F alone (a small ``'ssvif'`` checkpoint, no optimiser state).
``export_segmenter``: the segmentation model S that SSVIF trained from scratch on the fused image with
the cross-segmentation-consistency loss. Its classes are *self-supervised*: consistent regions of
similar appearance, not named categories (nobody labelled anything); they are named ``region_00`` ...
so nobody mistakes them for semantic labels.
"""
from __future__ import annotations

from pathlib import Path


from fusion_ros.checkpoint import load_checkpoint, save_checkpoint
from fusion_ros.models import build_model
from fusion_ros.segmentation import SegmentationInfo, build_segmentation_model, save_segmentation_checkpoint

SEG_PREFIX = 'seg_model.net.'


def export_fusion_model(run_checkpoint: str | Path, out: str | Path, *, meta: dict | None = None) -> Path:
    """Write the run's fusion model (weights + config + ``meta``) as a plain ``'ssvif'`` checkpoint."""
    ckpt = load_checkpoint(run_checkpoint)
    model = build_model(ckpt['model'], ckpt['config'])
    model.load_state_dict(ckpt['state_dict'])
    return save_checkpoint(out, model, ckpt['model'], meta={**ckpt.get('meta', {}), **(meta or {})})


def export_segmenter(run_checkpoint: str | Path, out: str | Path, *, half: bool = False) -> Path:
    """Write the run's SegFormer S in :mod:`fusion_ros.segmentation`'s format.

    ``run_checkpoint``: a ``last.pt``/``best.pt`` of ``fusion-ros train`` (it holds the objective's
    state). ``half``: store float16 weights (half the file size; loaded back as float32).
    """
    ckpt = load_checkpoint(run_checkpoint)
    objective = ckpt.get('objective')
    if not isinstance(objective, dict) or not any(k.startswith(SEG_PREFIX) for k in objective):
        raise ValueError(f'{run_checkpoint}: holds no SSVIF segmentation model (no {SEG_PREFIX}* weights); '
                         'give a checkpoint of a run trained with the CSC loss (not --no-csc)')
    state = {k[len(SEG_PREFIX):]: v for k, v in objective.items() if k.startswith(SEG_PREFIX)}
    n = state['segmentation_head.0.weight'].shape[0]
    encoder = ckpt.get('run', {}).get('objective', {}).get('seg_model', 'mit_b0') \
        if isinstance(ckpt.get('run'), dict) else 'mit_b0'
    info = SegmentationInfo(arch='segformer', encoder=encoder, classes=n,
                            class_names=[f'region_{i:02d}' for i in range(n)],
                            mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))  # S was trained on [0, 1] input
    model = build_segmentation_model(info)
    model.load_state_dict(state)
    if half:
        model = model.half()
    return save_segmentation_checkpoint(out, model, info)
