"""``fusion-ros train-detector``: train an ultralytics YOLO detector on thermal and/or fused images, offline."""
from __future__ import annotations

import argparse
from pathlib import Path

from fusion_ros import registry
from fusion_ros.commands.thermal_options import add_thermal_norm_option, thermal_norm_from_args


def register(sub) -> None:
    p = sub.add_parser(
        'train-detector', help='train a YOLO detector (random init) on thermal and/or fused images + YOLO labels',
        description='Train an ultralytics YOLO detector from a model config (random weights, nothing downloaded) on '
                    'thermal images and/or pairs fused by a fusion_ros method, with YOLO labels. The run folder '
                    'gets the dataset (dataset/data.yaml), ultralytics\' run (train/: weights, results.csv, '
                    'results.png), curves.png, run.json, and when the run has finished detector.pt + detector.json '
                    '(the card). --time bounds the whole run; --sitting ends this sitting early, resumable with '
                    '--resume.')
    p.add_argument('--out', required=True, type=Path, help='run folder (new, or the one to --resume)')
    p.add_argument('--resume', action='store_true',
                   help="continue the run in --out from its last.pt (same data and recipe; --time, --sitting, "
                        "--device, --workers may change)")
    p.add_argument('--export', type=Path, metavar='PT',
                   help='when the run has finished, also copy its best weights here (with PT.json, the card), '
                        'e.g. models/detector_default.pt')
    p.add_argument('--export-only', action='store_true',
                   help="train nothing: export the run in --out (its best weights so far) to --export")

    g = p.add_argument_group('data (a new run)')
    g.add_argument('--thermal', nargs=2, action='append', default=[], metavar=('IMAGES', 'LABELS'), type=Path,
                   help='thermal images and their YOLO labels (same stems); repeatable')
    g.add_argument('--pairs', nargs=2, action='append', default=[], metavar=('PAIRS', 'LABELS'), type=Path,
                   help='a folder with vi/ and ir/ (same stems), fused by each --methods, and the labels of the '
                        'fused images; repeatable')
    g.add_argument('--methods', default='ssvif',
                   help=f'fusion methods for --pairs, comma-separated ({", ".join(registry.names())}); '
                        'default ssvif')
    g.add_argument('--fusion-model', type=Path, metavar='PT', help="checkpoint of a checkpoint method (ssvif); "
                   'default: its shipped file')
    g.add_argument('--names', default=None,
                   help='class names, comma-separated, by class id (default person,bicycle,car, MSRS\'s)')
    g.add_argument('--classes', type=Path, metavar='TXT', help="class names from a classes.txt ('id name' lines)")
    g.add_argument('--val-fraction', type=float, default=0.1,
                   help='share of image stems for validation, in blocks of consecutive stems (default 0.1; 0: '
                        'validate on the training images)')
    g.add_argument('--val-block', type=int, default=20, help='stems per validation block (default 20)')
    g.add_argument('--copy', action='store_true', help='copy the thermal images instead of symlinking them')
    g.add_argument('--limit', type=int, help='use only the first N labelled images of each source (smoke runs)')
    g.add_argument('--include-test', action='store_true',
                   help='allow sources under a "test" folder (evaluation data; never for a shipped model)')

    g = p.add_argument_group('training')
    g.add_argument('--model', default='yolo11n.yaml', help='ultralytics model config (default yolo11n.yaml)')
    g.add_argument('--init', type=Path, metavar='PT',
                   help='fine-tune: start from this local .pt, its model and weights (e.g. '
                        'models/detector_default.pt; --model is then not used); default: random weights')
    g.add_argument('--epochs', type=int, default=100, help='epochs of the schedule (default 100)')
    g.add_argument('--time', type=float, metavar='HOURS',
                   help='bound the whole run: the schedule is re-fitted after each epoch to end in this many hours')
    g.add_argument('--sitting', type=float, metavar='HOURS',
                   help='end this sitting after the epoch that would overrun it; continue later with --resume')
    g.add_argument('--imgsz', type=int, default=640, help='image size, multiple of 32 (default 640)')
    g.add_argument('--batch', type=int, default=16, help='batch size (default 16)')
    g.add_argument('--workers', type=int, default=2, help='data loader processes (default 2)')
    g.add_argument('--device', default='auto', help="auto, cpu, cuda or cuda:N (default auto)")
    g.add_argument('--patience', type=int, default=30, help='stop after N epochs without improvement (default 30)')
    g.add_argument('--seed', type=int, default=0)
    g.add_argument('--lr0', type=float, default=0.01, help='initial learning rate (default 0.01)')
    g.add_argument('--optimizer', default='auto', help="ultralytics optimizer (default auto)")
    g.add_argument('--cache', choices=('ram', 'disk'), help='cache decoded images')
    g.add_argument('--no-plots', action='store_true', help="skip ultralytics' plots (curves.png is drawn anyway)")

    g = p.add_argument_group('augmentation (thermal: no hue/saturation jitter)')
    g.add_argument('--hsv-h', type=float, default=0.0, help='hue jitter (default 0)')
    g.add_argument('--hsv-s', type=float, default=0.0, help='saturation jitter (default 0)')
    g.add_argument('--hsv-v', type=float, default=0.4, help='brightness (value gain) jitter (default 0.4)')
    g.add_argument('--contrast', type=float, default=0.3, help='contrast jitter around the mean (default 0.3)')
    g.add_argument('--fliplr', type=float, default=0.5, help='horizontal flip probability (default 0.5)')
    g.add_argument('--mosaic', type=float, default=1.0, help='mosaic probability (default 1)')
    g.add_argument('--close-mosaic', type=int, default=10, help='no mosaic in the last N epochs (default 10)')
    g.add_argument('--scale', type=float, default=0.5, help='scale jitter (default 0.5)')
    g.add_argument('--translate', type=float, default=0.1, help='translation jitter (default 0.1)')
    add_thermal_norm_option(p)
    p.add_argument('--quiet', action='store_true', help='less output')
    p.set_defaults(handler=run)


def _fusion_device(name: str) -> str:
    """The torch device of the fusion method (``'cpu'``, ``'cuda:0'``)."""
    from fusion_ros.device import resolve_device
    return str(resolve_device(name))


def _device(name: str) -> str:
    """ultralytics' device name (``'cpu'``, ``'0'``)."""
    from fusion_ros.detection import _ultralytics_device
    return _ultralytics_device(_fusion_device(name))


def config_from_args(args: argparse.Namespace):
    from fusion_ros.detection_data import DEFAULT_NAMES, DatasetConfig, read_class_names
    from fusion_ros.training.detector import Augment, DetectorTrainConfig, command_line

    dataset = None
    if not args.resume:
        if args.classes and args.names:
            raise ValueError('give --names or --classes, not both')
        names = (read_class_names(args.classes) if args.classes else
                 [n.strip() for n in args.names.split(',')] if args.names else list(DEFAULT_NAMES))
        dataset = DatasetConfig(thermal=tuple(map(tuple, args.thermal)), pairs=tuple(map(tuple, args.pairs)),
                                methods=tuple(m.strip() for m in args.methods.split(',') if m.strip()),
                                fusion_model=args.fusion_model, device=_fusion_device(args.device),
                                names=tuple(names), val_fraction=args.val_fraction, val_block=args.val_block,
                                thermal_norm=thermal_norm_from_args(args), link=not args.copy, limit=args.limit,
                                include_test=args.include_test)
    augment = Augment(hsv_h=args.hsv_h, hsv_s=args.hsv_s, hsv_v=args.hsv_v, contrast=args.contrast,
                      fliplr=args.fliplr, mosaic=args.mosaic, close_mosaic=args.close_mosaic, scale=args.scale,
                      translate=args.translate)
    return DetectorTrainConfig(out=args.out, dataset=dataset, model=args.model, init=args.init, epochs=args.epochs,
                               time_hours=args.time, sitting_hours=args.sitting, imgsz=args.imgsz, batch=args.batch,
                               workers=args.workers, device=_device(args.device), patience=args.patience,
                               seed=args.seed, lr0=args.lr0, optimizer=args.optimizer, cache=args.cache,
                               plots=not args.no_plots, augment=augment, resume=args.resume,
                               command=command_line(getattr(args, 'argv', None)))


def run(args: argparse.Namespace) -> int:
    from fusion_ros.training.detector import export_detector, train_detector

    if args.export_only:
        if args.export is None:
            raise ValueError('--export-only needs --export PT (where to write the model)')
        path = export_detector(args.out, args.export)
        print(f'train-detector: exported {args.out} -> {path} (card {path.with_suffix(".json")})')
        return 0
    result = train_detector(config_from_args(args), log=(lambda *a, **k: None) if args.quiet else print)
    metrics = result.metrics
    score = (f"best epoch {metrics['best_epoch']}: val mAP50 {metrics['mAP50']:.3f}, mAP50-95 "
             f"{metrics['mAP50-95']:.3f}" if metrics else 'no epoch validated')
    of = f' of {result.epochs_planned}' if result.stopped != 'finished' else ''
    print(f'train-detector: {result.stopped} after {result.epochs_done}{of} epochs '
          f'({result.seconds / 60:.1f} min this sitting, {result.total_seconds / 60:.1f} min in all); {score}; '
          f'run {result.out}')
    if result.stopped != 'finished':
        print(f'train-detector: continue with: fusion-ros train-detector --out {result.out} --resume')
        return 0
    if result.exported is not None:
        print(f'train-detector: model {result.exported} (card {result.exported.with_suffix(".json")})')
        if args.export is not None:
            path = export_detector(result.out, args.export)
            print(f'train-detector: exported -> {path} (card {path.with_suffix(".json")})')
    return 0
