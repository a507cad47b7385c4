"""A detector on thermal-only, visible-only and fused inputs of the MSRS test pairs: mAP per class (issue 10).

    .venv/bin/python bench/eval_detector.py [--detector models/detector_default.pt] [--data ../shared/data/msrs]
        [--methods ssvif,average,max] [--imgsz 640] [--out out/eval_detector] [--record BENCHMARKS.md]

Each input is scored against its own label set: thermal images against ``labels/infrared/test``, visible images
against ``labels/visible/test``, fused images (one row per fusion method of fusion_ros.registry) against
``labels/fusion/test``. mAP@0.5 and mAP@0.5:0.95 are ultralytics' (what ``yolo val`` reports; a perfect detector
scores 0.995), with confidence 0.001 and at most 300 boxes per image. Writes the table (Markdown, for
BENCHMARKS.md), a CSV and a JSON under ``--out``; ``--record`` appends the table to a file.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchlib import append_record, machine
from fusion_ros.commands.eval_detector import methods_list
from fusion_ros.commands.thermal_options import add_thermal_norm_option, thermal_norm_from_args
from fusion_ros.detection import Detector, DetectorConfig
from fusion_ros.detection_eval import evaluate_detector, label_folders, markdown_table, write_results

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--detector', type=Path, default=ROOT / 'models' / 'detector_default.pt')
    p.add_argument('--data', type=Path, default=ROOT.parent / 'shared' / 'data' / 'msrs',
                   help='MSRS folder: test/{ir,vi} and labels/{infrared,visible,fusion}/test')
    p.add_argument('--split', default='test')
    p.add_argument('--inputs', default='thermal,visible,fused')
    p.add_argument('--methods', default='ssvif,average,max,laplacian',
                   help="fusion methods of the fused rows ('baselines' for all of them)")
    p.add_argument('--imgsz', type=int, default=640)
    p.add_argument('--gray', action='store_true', help="detect on each image's luma (the node's default)")
    p.add_argument('--device', default='cpu')
    add_thermal_norm_option(p)
    p.add_argument('--out', type=Path, default=ROOT / 'out' / 'eval_detector')
    p.add_argument('--record', type=Path, help='append the table to this Markdown file (e.g. BENCHMARKS.md)')
    args = p.parse_args()

    if not args.detector.is_file():
        raise SystemExit(f'{args.detector}: no such detector; train one (README, Detection) or pass --detector')
    t0 = time.monotonic()
    detector = Detector(args.detector, args.device, DetectorConfig(confidence=0.001, iou=0.7, image_size=args.imgsz,
                                                                   max_detections=300, gray=args.gray))
    rows = evaluate_detector(detector, rgb_dir=args.data / args.split / 'vi', ir_dir=args.data / args.split / 'ir',
                             labels=label_folders(args.data / 'labels', args.split),
                             inputs=[k.strip() for k in args.inputs.split(',')], methods=methods_list(args.methods),
                             device=args.device, thermal_norm=thermal_norm_from_args(args))
    card_path = args.detector.with_suffix('.json')
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    about = (f"{card.get('model')}, {card.get('epochs')} epochs, {card.get('train_time_s', 0) / 3600:.2f} h of "
             f"training" if card else 'no card beside it')
    header = '\n'.join([
        f'## Detection on thermal, visible and fused MSRS test pairs ({time.strftime("%Y-%m-%d")})', '',
        f'`bench/eval_detector.py{" --gray" if args.gray else ""}`: detector `{args.detector.name}` ({about}), '
        f'imgsz {args.imgsz}, {"luma input (3 equal channels), " if args.gray else ""}'
        f'thermal normalised by {args.thermal_norm} ({"per-image 0.5-99.5 %, as the node" if args.thermal_norm == "percentile" else "8-bit files as they are"}), '
        f'{rows[0].scores.images if rows else 0} pairs of `{args.data.name}/{args.split}`, each input scored '
        'against its own labels (thermal: infrared, visible: visible, fused: fusion). ultralytics\' mAP (a perfect '
        f'detector scores 0.995); confidence 0.001, 300 boxes at most. Machine: {machine()}; '
        f'{time.monotonic() - t0:.0f} s.'])
    files = write_results(rows, args.out, header)
    table = header + '\n\n' + markdown_table(rows)
    print(table)
    print(f'wrote {files["md"]}, {files["csv"]}, {files["json"]}')
    append_record(args.record, table)


if __name__ == '__main__':
    main()
