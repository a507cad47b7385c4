"""``fusion-ros eval-detector``: mAP@0.5 and mAP@0.5:0.95 per class on thermal, visible and fused inputs."""
from __future__ import annotations

import argparse
from pathlib import Path

from fusion_ros import registry
from fusion_ros.commands.thermal_options import add_thermal_norm_option, thermal_norm_from_args


def register(sub) -> None:
    p = sub.add_parser(
        'eval-detector', help='mAP per class of a detector on thermal, visible and fused images (or of prediction '
                              'files)',
        description='Runs a detector on the thermal images, the visible images and the pairs fused by each '
                    '--methods, each scored against its own label set (MSRS: labels/infrared, labels/visible, '
                    'labels/fusion), with ultralytics\' metrics (what yolo val reports). Or scores a folder of '
                    'prediction files (--predictions) against a folder of labels (--labels). Writes '
                    'detection_eval.md / .csv / .json under --out.')
    p.add_argument('--detector', type=Path, metavar='PT',
                   help='ultralytics detection model (default: the shipped models/detector_default.pt)')
    p.add_argument('--rgb-dir', type=Path, help='visible images')
    p.add_argument('--ir-dir', type=Path, help='thermal images (same stems)')
    p.add_argument('--labels-root', type=Path,
                   help='MSRS-style labels folder: {infrared,visible,fusion}/SPLIT for thermal, visible, fused')
    p.add_argument('--split', default='test', help='split folder under --labels-root (default test)')
    p.add_argument('--labels-thermal', type=Path, help='labels of the thermal images (overrides --labels-root)')
    p.add_argument('--labels-visible', type=Path, help='labels of the visible images')
    p.add_argument('--labels-fused', type=Path, help='labels of the fused images')
    p.add_argument('--inputs', default='thermal,visible,fused', help='comma-separated (default all three)')
    p.add_argument('--methods', default='ssvif',
                   help=f'fusion methods for the fused input, comma-separated ({", ".join(registry.names())}); '
                        "'baselines' for every baseline (default ssvif)")
    p.add_argument('--model', type=Path, metavar='PT', help='checkpoint of a checkpoint fusion method (ssvif)')
    p.add_argument('--imgsz', type=int, default=640, help='inference size (default 640)')
    p.add_argument('--gray', action='store_true', help="detect on each image's luma (3 equal channels; what the node does by default, detection_gray)")
    p.add_argument('--device', default='auto', help='auto, cpu, cuda or cuda:N (default auto)')
    p.add_argument('--save-predictions', action='store_true', help='also write the prediction files under --out')
    p.add_argument('--predictions', type=Path, help='score this folder of prediction files instead (with --labels)')
    p.add_argument('--labels', type=Path, help='with --predictions: the label files')
    p.add_argument('--names', default='person,bicycle,car', help='with --predictions: class names by id')
    p.add_argument('--out', type=Path, help='write detection_eval.md/.csv/.json here')
    add_thermal_norm_option(p)
    p.add_argument('--quiet', action='store_true', help='no progress bars')
    p.set_defaults(handler=run)


def methods_list(spec: str) -> list[str]:
    out = []
    for name in (m.strip() for m in spec.split(',') if m.strip()):
        out += registry.names('baseline') if name == 'baselines' else [registry.get(name).name]
    return list(dict.fromkeys(out))


def run(args: argparse.Namespace) -> int:
    from fusion_ros.detection_eval import (DetectionScores, EvalRow, evaluate_detector, label_folders,
                                           markdown_table, score_folders, write_results)

    if args.predictions is not None:
        if args.labels is None:
            raise ValueError('--predictions needs --labels (the folder of label files)')
        scores: DetectionScores = score_folders(args.predictions, args.labels, [n.strip() for n in
                                                                                args.names.split(',')])
        rows = [EvalRow('predictions', None, str(args.labels), scores, 0.0)]
    else:
        from fusion_ros.commands.detect import detector_path
        from fusion_ros.detection import Detector, DetectorConfig
        from fusion_ros.device import resolve_device

        inputs = [k.strip() for k in args.inputs.split(',') if k.strip()]
        labels = label_folders(args.labels_root, args.split) if args.labels_root else {}
        for kind in ('thermal', 'visible', 'fused'):
            given = getattr(args, f'labels_{kind}')
            if given is not None:
                labels[kind] = given
        device = str(resolve_device(args.device))
        detector = Detector(detector_path(args.detector), device,
                            DetectorConfig(confidence=0.001, iou=0.7, image_size=args.imgsz, max_detections=300,
                                           gray=args.gray))
        rows = evaluate_detector(detector, rgb_dir=args.rgb_dir, ir_dir=args.ir_dir, labels=labels, inputs=inputs,
                                 methods=methods_list(args.methods), fusion_model=args.model, device=device,
                                 predictions_dir=args.out / 'predictions' if args.save_predictions and args.out
                                 else None, thermal_norm=thermal_norm_from_args(args), progress=not args.quiet)
    table = markdown_table(rows)
    print(table, end='')
    if args.out is not None:
        files = write_results(rows, args.out)
        print(f'eval-detector: wrote {files["md"]}, {files["csv"]}, {files["json"]}')
    return 0
