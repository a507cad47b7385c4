"""Cross-modal pseudo-labels: boxes found in the thermal image of registered pairs, as training labels for
the pairs' fused images.

A detector trained on labelled thermal images (MSRS) finds people and cars in thermal images of other
sensors far better than in visible or fused ones. Where thermal and visible are registered, a box in the
thermal image is a box in the fused image too, so the unlabelled pairs of a dataset (or of the robot's own
recordings) become fused training images for ``fusion-ros train-detector --pairs`` without a person
drawing a box. The labels miss what the detector misses (on M3FD, many close-up cars), so keep the
confidence moderate and check a few annotated images.

Writes ``out/vi/`` and ``out/ir/`` (links to the source images, pairs only), ``out/labels/STEM.txt``
(YOLO ``class cx cy w h``, normalised, what ``train-detector`` reads) and ``out/images/STEM.png`` (the
thermal image with the boxes drawn, for checking). Pairs of the fixed fusion test split
(:mod:`fusion_ros.splits`) are left out unless ``include_test``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fusion_ros.splits import is_test_pair


@dataclass
class PseudoLabelResult:
    """What :func:`pseudo_label_pairs` wrote: pairs labelled, pairs left out as test data, boxes per class."""
    pairs: int = 0
    skipped_test: int = 0
    boxes: dict[str, int] = field(default_factory=dict)


def _link(src: Path, folder: Path) -> None:
    dst = folder / src.name
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    os.symlink(src.resolve(), dst)


def pseudo_label_pairs(rgb_dir: str | Path, ir_dir: str | Path, out: str | Path, detector, *,
                       include_test: bool = False, thermal_norm=None, progress: bool = True) -> PseudoLabelResult:
    """Label every pair of ``rgb_dir`` / ``ir_dir`` (same stems) by ``detector`` on its thermal image.

    Args:
        rgb_dir, ir_dir: the visible and thermal images; only stems found in both are used.
        out: the output folder (``vi/``, ``ir/``, ``labels/``, ``images/``).
        detector: a :class:`fusion_ros.detection.Detector` (its confidence, size and classes apply).
        include_test: also label pairs of the fixed fusion test split (never for a shipped model).
        thermal_norm: :class:`fusion_ros.imaging.ThermalNormConfig` of the thermal images (default: the node's).
    """
    from tqdm import tqdm

    from fusion_ros.detection import draw_detections
    from fusion_ros.detection_data import detections_to_yolo, load_detector_input, matched_stems, write_yolo_file
    from fusion_ros.io import write_image

    out = Path(out)
    for sub in ('vi', 'ir', 'labels', 'images'):
        (out / sub).mkdir(parents=True, exist_ok=True)
    result = PseudoLabelResult(boxes=dict.fromkeys(detector.class_names, 0))
    for stem, rgb, ir in tqdm(matched_stems(rgb_dir, ir_dir), desc='pseudo-label', unit='pair', disable=not progress):
        if not include_test and is_test_pair(Path(ir).resolve(), stem):  # the data folder, through links
            result.skipped_test += 1
            continue
        image = load_detector_input('thermal', None, ir, thermal_norm=thermal_norm)
        found = detector.predict(image)
        write_yolo_file(out / 'labels' / f'{stem}.txt', detections_to_yolo(found, (image.shape[1], image.shape[0]))[:, :5])
        write_image(out / 'images' / f'{stem}.png', draw_detections(image, found))
        _link(rgb, out / 'vi')
        _link(ir, out / 'ir')
        result.pairs += 1
        for d in found:
            result.boxes[d.class_name] = result.boxes.get(d.class_name, 0) + 1
    return result


__all__ = ['PseudoLabelResult', 'pseudo_label_pairs']
