"""Detection evaluation (ROS-free): mAP@0.5 and mAP@0.5:0.95 per class, on thermal, visible and fused inputs.

The scoring is ultralytics' own (what ``yolo val`` reports), called directly: predictions are matched to
the labels of an image greedily in descending confidence (``BaseValidator.match_predictions``) by IoU
(``ultralytics.utils.metrics.box_iou``) at the ten thresholds 0.50, 0.55 ... 0.95, and the average precision
per class is ``ultralytics.utils.metrics.ap_per_class`` (COCO's 101-point interpolation of the precision
envelope). With this interpolation a perfect detector scores 0.995, not 1.0, exactly as in ``yolo val``.

* a class with labels but no predictions scores 0; a class with no labels in the set has no AP (None, shown
  as ``n/a``) and is left out of the mean, as ultralytics does; predictions of it are false positives that
  change no other class's AP;
* boxes are compared in normalised coordinates (IoU does not change when both axes are scaled), so label and
  prediction files score without the image sizes.

:func:`evaluate_detector` runs a detector on the thermal images, the visible images and the pairs fused by any
methods of :mod:`fusion_ros.registry`, each scored against the matching label set (MSRS: ``labels/infrared``
for thermal, ``labels/visible`` for visible, ``labels/fusion`` for fused images). :func:`score_folders` scores
a folder of prediction files (``fusion-ros detect``) against a folder of labels.
"""
from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

import numpy as np

from fusion_ros.detection_data import INPUTS, LabelError, matched_stems, read_yolo_file

IOU_THRESHOLDS = tuple(np.round(np.linspace(0.5, 0.95, 10), 2).tolist())
#: The MSRS label set of each input (``<labels root>/<set>/<split>``).
LABEL_SETS = {'thermal': 'infrared', 'visible': 'visible', 'fused': 'fusion'}


@dataclass
class DetectionScores:
    """Scores of one prediction set against one label set.

    ap50, ap: per class name, AP at IoU 0.5 and AP averaged over IoU 0.5:0.95 (None: no labels of that class).
    targets: labelled boxes per class; predictions: predicted boxes; images: labelled images scored.
    """
    names: list[str]
    ap50: dict[str, float | None]
    ap: dict[str, float | None]
    targets: dict[str, int]
    predictions: int
    images: int
    extra: dict = field(default_factory=dict)

    @staticmethod
    def _mean(values) -> float | None:
        present = [v for v in values if v is not None]
        return float(np.mean(present)) if present else None

    @property
    def map50(self) -> float | None:
        """mAP@0.5 over the classes with labels (None when the set has no labels)."""
        return self._mean(self.ap50.values())

    @property
    def map(self) -> float | None:
        """mAP@0.5:0.95 over the classes with labels."""
        return self._mean(self.ap.values())

    def as_dict(self) -> dict:
        return {'images': self.images, 'predictions': self.predictions, 'targets': self.targets,
                'mAP50': self.map50, 'mAP50-95': self.map, 'AP50': self.ap50, 'AP50-95': self.ap, **self.extra}


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``(n, 4)`` centre x, y, width, height -> corners x1, y1, x2, y2."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    half = boxes[:, 2:4] / 2
    return np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)


def match_image(predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``(n, 10)`` bool: is each prediction (``(n, 6)`` ``class cx cy w h conf``, any order) a true positive at
    each IoU threshold of :data:`IOU_THRESHOLDS` against ``targets`` (``(m, 5)`` ``class cx cy w h``)? Rows follow
    ``predictions`` in descending confidence (stable), as ultralytics matches them."""
    import torch

    from fusion_ros.detection import offline_ultralytics
    offline_ultralytics()
    from ultralytics.engine.validator import BaseValidator
    from ultralytics.utils.metrics import box_iou

    predictions = np.asarray(predictions, np.float64).reshape(-1, 6)
    targets = np.asarray(targets, np.float64).reshape(-1, 5)
    if not len(predictions) or not len(targets):
        return np.zeros((len(predictions), len(IOU_THRESHOLDS)), bool)
    iou = box_iou(torch.from_numpy(xywh_to_xyxy(targets[:, 1:5])), torch.from_numpy(xywh_to_xyxy(predictions[:, 1:5])))
    shim = SimpleNamespace(iouv=torch.tensor(IOU_THRESHOLDS))  # match_predictions reads only self.iouv
    correct = BaseValidator.match_predictions(shim, torch.from_numpy(predictions[:, 0]),
                                              torch.from_numpy(targets[:, 0]), iou)
    return correct.numpy().astype(bool)


def score_detections(predictions: dict[str, np.ndarray], targets: dict[str, np.ndarray],
                     names: Sequence[str]) -> DetectionScores:
    """Score predictions (``{image: (n, 6) class cx cy w h conf}``) against labels (``{image: (m, 5)}``).

    Every image of ``targets`` is scored (an image without predictions: all its boxes missed); predictions for
    images not in ``targets`` are ignored (counted in ``extra['unlabelled_images']``).
    """
    from fusion_ros.detection import offline_ultralytics
    offline_ultralytics()
    from ultralytics.utils.metrics import ap_per_class

    names = list(names)
    tps, confs, pred_cls, target_cls = [], [], [], []
    n_pred = 0
    for image, target in targets.items():
        target = np.asarray(target, np.float64).reshape(-1, 5)
        pred = np.asarray(predictions.get(image, np.zeros((0, 6))), np.float64).reshape(-1, 6)
        bad = [int(c) for c in np.concatenate([target[:, 0], pred[:, 0]]) if not 0 <= int(c) < len(names)]
        if bad:
            raise LabelError(f'{image}: class id {bad[0]} is not one of the {len(names)} classes ({", ".join(names)})')
        pred = pred[np.argsort(-pred[:, 5], kind='stable')]
        tps.append(match_image(pred, target))
        confs.append(pred[:, 5])
        pred_cls.append(pred[:, 0])
        target_cls.append(target[:, 0])
        n_pred += len(pred)
    counts = np.bincount(np.concatenate(target_cls).astype(int), minlength=len(names)) if target_cls else \
        np.zeros(len(names), int)
    ap50 = dict.fromkeys(names)
    ap = dict.fromkeys(names)
    if target_cls and counts.sum():
        tp = np.concatenate(tps) if tps else np.zeros((0, len(IOU_THRESHOLDS)), bool)
        result = ap_per_class(tp, np.concatenate(confs), np.concatenate(pred_cls), np.concatenate(target_cls))
        all_ap, classes = result[5], result[6]
        for row, c in zip(all_ap, classes):
            ap50[names[int(c)]] = float(row[0])
            ap[names[int(c)]] = float(row.mean())
    extra = {'unlabelled_images': len(set(predictions) - set(targets))}
    return DetectionScores(names, ap50, ap, {n: int(counts[i]) for i, n in enumerate(names)}, n_pred,
                           len(targets), extra)


def read_folder(folder: str | Path, *, confidence: bool, num_classes: int | None = None,
                stems: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """``{stem: boxes}`` of the YOLO files in ``folder`` (``stems``: only these; a missing one is an error for
    labels and no boxes for predictions)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f'{folder}: no such folder of {"predictions" if confidence else "labels"}')
    if stems is None:
        return {p.stem: read_yolo_file(p, confidence=confidence, num_classes=num_classes)
                for p in sorted(folder.glob('*.txt'))}
    out = {}
    for s in stems:
        path = folder / f'{s}.txt'
        if path.is_file():
            out[s] = read_yolo_file(path, confidence=confidence, num_classes=num_classes)
        elif confidence:
            out[s] = np.zeros((0, 6))
        else:
            raise FileNotFoundError(f'{path}: no label file for image {s}')
    return out


def score_folders(predictions: str | Path, labels: str | Path, names: Sequence[str]) -> DetectionScores:
    """Score a folder of prediction files (``class cx cy w h conf``) against a folder of label files (every
    label file is an image scored)."""
    targets = read_folder(labels, confidence=False, num_classes=len(names))
    if not targets:
        raise FileNotFoundError(f'{labels}: no label files (.txt)')
    return score_detections(read_folder(predictions, confidence=True, stems=list(targets)), targets, names)


# --------------------------------------------------------------------------- a detector on the three inputs


@dataclass
class EvalRow:
    """One line of the table: a detector on one input (and fusion method) against one label set."""
    input: str
    method: str | None
    labels: str
    scores: DetectionScores
    seconds_per_image: float

    @property
    def name(self) -> str:
        return f'fused ({self.method})' if self.input == 'fused' else self.input


def label_folders(root: str | Path, split: str = 'test') -> dict[str, Path]:
    """``{input: labels folder}`` of an MSRS-style labels root: ``root/{infrared,visible,fusion}/<split>``."""
    return {kind: Path(root) / LABEL_SETS[kind] / split for kind in INPUTS}


def evaluate_detector(detector, *, rgb_dir: str | Path | None, ir_dir: str | Path | None,
                      labels: dict[str, str | Path], inputs: Sequence[str] = INPUTS,
                      methods: Sequence[str] = ('ssvif',), fusion_model: str | Path | None = None,
                      device: str = 'cpu', predictions_dir: str | Path | None = None,
                      thermal_norm=None, progress: bool = True) -> list[EvalRow]:
    """Run ``detector`` on each input of the pairs in ``rgb_dir`` + ``ir_dir`` (same stems) and score it.

    Args:
        detector: a :class:`fusion_ros.detection.Detector` (its config: use a low confidence, e.g. 0.001, and
            ``max_detections`` 300 for mAP, as ``yolo val`` does), or a path to load one from that way.
        labels: ``{input: labels folder}`` for the inputs scored (:func:`label_folders` for MSRS).
        inputs: of ``'thermal'``, ``'visible'``, ``'fused'``; ``methods``: the fusion methods of the fused input
            (names of :mod:`fusion_ros.registry`; ``fusion_model``: the checkpoint of a checkpoint method).
        thermal_norm: :class:`fusion_ros.imaging.ThermalNormConfig` of the thermal images (default: the node's,
            per-image percentiles; :func:`fusion_ros.detection_data.load_detector_input`).
        predictions_dir: also write each input's predictions as ``<dir>/<input or fused_method>/<stem>.txt``.

    Returns:
        one :class:`EvalRow` per input (per method for ``'fused'``), in the order given.
    """
    from tqdm import tqdm

    from fusion_ros.detection import Detector, DetectorConfig
    from fusion_ros.detection_data import detections_to_yolo, load_detector_input, write_yolo_file

    if not isinstance(detector, Detector):
        detector = Detector(detector, device, DetectorConfig(confidence=0.001, iou=0.7, max_detections=300))
    unknown = [k for k in inputs if k not in INPUTS]
    if unknown:
        raise ValueError(f'unknown inputs {unknown}; valid: {", ".join(INPUTS)}')
    missing = [k for k in inputs if k not in labels]
    if missing:
        raise ValueError(f'no label folder for {", ".join(missing)}')
    needs_rgb = any(k in ('visible', 'fused') for k in inputs)
    needs_ir = any(k in ('thermal', 'fused') for k in inputs)
    pairs = matched_stems(rgb_dir if needs_rgb else None, ir_dir if needs_ir else None)
    names = detector.class_names
    rows = []
    runs = [(k, None) for k in inputs if k != 'fused'] + ([('fused', m) for m in methods] if 'fused' in inputs else [])
    runs.sort(key=lambda r: list(inputs).index(r[0]))
    for kind, method in runs:
        targets = read_folder(labels[kind], confidence=False, num_classes=len(names),
                              stems=[s for s, _, _ in pairs])
        preds, t0 = {}, time.perf_counter()
        label = kind if method is None else f'fused ({method})'
        for stem, rgb, ir in tqdm(pairs, desc=label, unit='image', disable=not progress):
            image = load_detector_input(kind, rgb, ir, method=method or 'ssvif', model_path=fusion_model,
                                        device=device, thermal_norm=thermal_norm)
            preds[stem] = detections_to_yolo(detector.predict(image), (image.shape[1], image.shape[0]))
            if predictions_dir is not None:
                write_yolo_file(Path(predictions_dir) / (kind if method is None else f'fused_{method}')
                                / f'{stem}.txt', preds[stem])
        seconds = (time.perf_counter() - t0) / max(1, len(pairs))
        rows.append(EvalRow(kind, method, str(labels[kind]), score_detections(preds, targets, names), seconds))
    return rows


def _fmt(v: float | None) -> str:
    return 'n/a' if v is None else f'{v:.3f}'


def markdown_table(rows: Sequence[EvalRow]) -> str:
    """A Markdown table: one row per input, AP@0.5 / AP@0.5:0.95 per class, the two means, boxes, time."""
    if not rows:
        return ''
    names = rows[0].scores.names
    head = (['input', 'labels'] + [f'{n} AP50 / AP50-95' for n in names]
            + ['mAP50', 'mAP50-95', 'images', 'boxes (labels)', 's/image'])
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    best50 = max((r.scores.map50 for r in rows if r.scores.map50 is not None), default=None)
    best = max((r.scores.map for r in rows if r.scores.map is not None), default=None)
    for r in rows:
        s = r.scores
        m50 = _fmt(s.map50) if not best50 or s.map50 != best50 else f'**{s.map50:.3f}**'
        m = _fmt(s.map) if not best or s.map != best else f'**{s.map:.3f}**'
        cells = ([r.name, Path(r.labels).parent.name or r.labels]
                 + [f'{_fmt(s.ap50[n])} / {_fmt(s.ap[n])}' for n in names]
                 + [m50, m, str(s.images), str(sum(s.targets.values())), f'{r.seconds_per_image:.2f}'])
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def write_results(rows: Sequence[EvalRow], out: str | Path, header: str = '') -> dict[str, Path]:
    """``detection_eval.md`` (the table), ``.csv`` (one line per input and class) and ``.json`` under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md = out / 'detection_eval.md'
    md.write_text((header.rstrip('\n') + '\n\n' if header else '') + markdown_table(rows))
    with open(out / 'detection_eval.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['input', 'method', 'labels', 'class', 'AP50', 'AP50-95', 'boxes', 'images', 's_per_image'])
        for r in rows:
            s = r.scores
            for n in s.names + ['all']:
                ap50 = s.map50 if n == 'all' else s.ap50[n]
                ap = s.map if n == 'all' else s.ap[n]
                boxes = sum(s.targets.values()) if n == 'all' else s.targets[n]
                w.writerow([r.input, r.method or '', r.labels, n, '' if ap50 is None else f'{ap50:.4f}',
                            '' if ap is None else f'{ap:.4f}', boxes, s.images, f'{r.seconds_per_image:.3f}'])
    (out / 'detection_eval.json').write_text(json.dumps(
        [{'input': r.input, 'method': r.method, 'labels': r.labels, 'seconds_per_image': r.seconds_per_image,
          **r.scores.as_dict()} for r in rows], indent=2))
    return {'md': md, 'csv': out / 'detection_eval.csv', 'json': out / 'detection_eval.json'}
