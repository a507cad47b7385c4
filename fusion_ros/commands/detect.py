"""``fusion-ros detect``: fuse pairs (or take one modality) and detect; YOLO prediction files + annotated images."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from fusion_ros import registry
from fusion_ros.commands.thermal_options import add_thermal_norm_option, thermal_norm_from_args


def register(sub) -> None:
    p = sub.add_parser('detect', help='detect objects in fused pairs (or thermal / visible images) of two folders',
                       description='Pairs are the images of --rgb-dir and --ir-dir with the same stem. Per image, '
                                   'writes OUT/labels/STEM.txt (YOLO: class cx cy w h confidence, normalised) and '
                                   'OUT/images/STEM.png (the detector\'s input with the boxes drawn).')
    p.add_argument('--rgb-dir', type=Path, help='visible images (needed for --input fused and visible)')
    p.add_argument('--ir-dir', type=Path, help='thermal images (needed for --input fused and thermal)')
    p.add_argument('--out', required=True, type=Path, help='output folder (labels/, images/)')
    p.add_argument('--input', default='fused', choices=('fused', 'thermal', 'visible'),
                   help='what the detector sees (default fused)')
    p.add_argument('--method', default='ssvif',
                   help=f"fusion method for --input fused ({', '.join(registry.names())}); default ssvif, the "
                        'shipped fusion model')
    p.add_argument('--model', type=Path, metavar='PT', help='checkpoint of a checkpoint fusion method (ssvif)')
    add_detector_options(p, conf=0.25)
    p.add_argument('--gray', action='store_true', help="detect on each image's luma (3 equal channels; what the node does by default, detection_gray)")
    add_thermal_norm_option(p)
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    p.set_defaults(handler=run)


def add_detector_options(p, *, conf: float) -> None:
    """The detector options of ``detect`` and ``pseudo-label``: --detector, --conf, --iou, --imgsz, --max-det,
    --device (read back by :func:`detector_from_args`)."""
    p.add_argument('--detector', type=Path, metavar='PT',
                   help='ultralytics detection model (default: the shipped models/detector_default.pt)')
    p.add_argument('--conf', type=float, default=conf, help=f'minimum confidence (default {conf:g})')
    p.add_argument('--iou', type=float, default=0.45, help='NMS IoU threshold (default 0.45)')
    p.add_argument('--imgsz', type=int, default=640, help='inference size, multiple of 32 (default 640)')
    p.add_argument('--max-det', type=int, default=100, help='most boxes per image (default 100)')
    p.add_argument('--device', default='auto', help='auto, cpu, cuda or cuda:N (default auto)')


def detector_from_args(args: argparse.Namespace, device: str, *, gray: bool = False):
    """The :class:`fusion_ros.detection.Detector` the options of :func:`add_detector_options` describe, on
    ``device`` (``resolve_device(args.device)``, which the caller also needs)."""
    from fusion_ros.detection import Detector, DetectorConfig
    return Detector(detector_path(args.detector), device,
                    DetectorConfig(args.conf, args.iou, args.imgsz, args.max_det, gray=gray))


def detector_path(given: Path | None) -> Path:
    """``given``, or the shipped detector (a clear error when it is not installed)."""
    if given is not None:
        return given
    from fusion_ros.shipped import DETECTOR_DEFAULT, shipped_model_path
    try:
        return shipped_model_path(DETECTOR_DEFAULT)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f'no --detector given and {exc}. Train one with fusion-ros train-detector '
                                '(see README, Detection) or pass --detector PT') from None


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from fusion_ros.detection import draw_detections
    from fusion_ros.detection_data import detections_to_yolo, load_detector_input, matched_stems, write_yolo_file
    from fusion_ros.device import resolve_device
    from fusion_ros.io import write_image

    registry.get(args.method)  # a KeyError listing the names, before any work
    needs = {'fused': ('rgb_dir', 'ir_dir'), 'thermal': ('ir_dir',), 'visible': ('rgb_dir',)}[args.input]
    missing = [f'--{n.replace("_", "-")}' for n in needs if getattr(args, n) is None]
    if missing:
        raise ValueError(f'--input {args.input} needs {" and ".join(missing)}')
    device = str(resolve_device(args.device))
    thermal_norm = thermal_norm_from_args(args)
    detector = detector_from_args(args, device, gray=args.gray)
    items = matched_stems(args.rgb_dir if 'rgb_dir' in needs else None, args.ir_dir if 'ir_dir' in needs else None)
    counts = dict.fromkeys(detector.class_names, 0)
    t0 = time.perf_counter()
    for stem, rgb, ir in tqdm(items, desc='detect', unit='image', disable=args.quiet):
        image = load_detector_input(args.input, rgb, ir, method=args.method, model_path=args.model, device=device,
                                    thermal_norm=thermal_norm)
        found = detector.predict(image)
        boxes = detections_to_yolo(found, (image.shape[1], image.shape[0]))
        write_yolo_file(args.out / 'labels' / f'{stem}.txt', boxes)
        write_image(args.out / 'images' / f'{stem}.png', draw_detections(image, found))
        for d in found:
            counts[d.class_name] = counts.get(d.class_name, 0) + 1
    seconds = time.perf_counter() - t0
    what = f'fused ({args.method})' if args.input == 'fused' else args.input
    boxes = ', '.join(f'{n} {c}' for n, c in counts.items() if c) or 'no boxes'
    print(f'detect: {len(items)} {what} images in {seconds:.1f} s ({seconds / max(1, len(items)):.2f} s each) with '
          f'{detector.path}: {boxes} -> {args.out / "labels"}, {args.out / "images"}')
    return 0
