"""``fusion-ros pseudo-label``: label registered pairs by detecting on their thermal images (for train-detector)."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    from fusion_ros.commands.detect import add_detector_options
    from fusion_ros.commands.thermal_options import add_thermal_norm_option
    p = sub.add_parser('pseudo-label', help='label unlabelled registered pairs from detections on their thermal images',
                       description='Detects on the thermal image of each pair (same stems in --rgb-dir and --ir-dir) '
                                   'and writes OUT/vi, OUT/ir (links), OUT/labels (YOLO class cx cy w h) and '
                                   'OUT/images (the boxes drawn, to check): training data for '
                                   '`fusion-ros train-detector --pairs OUT OUT/labels`. Pairs of the fixed fusion '
                                   'test split are left out.')
    p.add_argument('--rgb-dir', type=Path, required=True, help='visible images')
    p.add_argument('--ir-dir', type=Path, required=True, help='thermal images, registered to the visible ones')
    p.add_argument('--out', type=Path, required=True, help='output folder (vi/, ir/, labels/, images/)')
    add_detector_options(p, conf=0.3)
    p.add_argument('--include-test', action='store_true',
                   help='also label pairs of the fixed fusion test split (never for a shipped model)')
    add_thermal_norm_option(p)
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from fusion_ros.commands.detect import detector_from_args
    from fusion_ros.commands.thermal_options import thermal_norm_from_args
    from fusion_ros.device import resolve_device
    from fusion_ros.pseudo_labels import pseudo_label_pairs

    detector = detector_from_args(args, str(resolve_device(args.device)))
    result = pseudo_label_pairs(args.rgb_dir, args.ir_dir, args.out, detector, include_test=args.include_test,
                                thermal_norm=thermal_norm_from_args(args), progress=not args.quiet)
    boxes = ', '.join(f'{n} {c}' for n, c in result.boxes.items() if c) or 'no boxes'
    print(f'pseudo-label: {result.pairs} pairs labelled ({boxes}), {result.skipped_test} test pairs left out, '
          f'with {detector.path} -> {args.out}; train with: fusion-ros train-detector --pairs {args.out} '
          f'{args.out / "labels"} ...')
    return 0
