"""``fusion-ros train``: offline SSVIF training on image folders and/or rosbag2 bags.

Defaults are the paper's recipe (Adam 1e-4, batch 10, 160 px crops, 9:1 split, 110 epochs, early
stopping with patience 10). Distributed: ``torchrun --nproc_per_node N -m fusion_ros.cli train ...``.
"""
from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    from fusion_ros import registry  # no torch: the CLI's parser stays cheap
    from fusion_ros.commands.thermal_options import add_thermal_norm_option
    p = sub.add_parser('train', help='train the SSVIF fusion model on image folders and/or bags',
                       description='Train the real-time SSVIF fusion model (paper 004) offline. Checkpoints '
                                   '(best.pt, last.pt), log.csv, curves.png and samples.png go to --out. '
                                   'For several processes (DDP): torchrun --nproc_per_node N -m '
                                   'fusion_ros.cli train ...')
    p.add_argument('--data', nargs='+', required=True, metavar='PATH',
                   help='image folders ({ir,vi}/STEM.ext or STEM_rgb/STEM_nir|STEM_thermal files) and/or '
                        'rosbag2 bags (.mcap/.db3 or bag directories); searched recursively')
    p.add_argument('--out', required=True, help='run folder (checkpoints, log, plots)')
    p.add_argument('--resume', action='store_true', help='continue the run in --out from its last.pt')
    p.add_argument('--init-from', metavar='CKPT', help='start from the weights of this ssvif checkpoint')

    g = p.add_argument_group('recipe')
    g.add_argument('--epochs', type=int, default=110, help='maximum epochs (default 110)')
    g.add_argument('--batch-size', type=int, default=10, help='batch size per process (default 10)')
    g.add_argument('--lr', type=float, default=1e-4, help='Adam learning rate (default 1e-4)')
    g.add_argument('--patience', type=int, default=10,
                   help='stop after this many epochs without a better validation loss (default 10; 0: never)')
    g.add_argument('--steps-per-epoch', type=int, help='cap optimiser steps per epoch (default: one pass)')
    g.add_argument('--val-batches', type=int, help='cap validation batches (default: all)')
    g.add_argument('--time-budget', type=float, metavar='S', help='stop after S seconds')
    g.add_argument('--seed', type=int, default=0, help='seed of the split, crops and initialisation')
    g.add_argument('--device', default='auto', help="auto, cpu, cuda or cuda:N (default auto)")
    g.add_argument('--workers', type=int, default=0, help='DataLoader worker processes (default 0)')

    g = p.add_argument_group('data')
    g.add_argument('--crop', type=int, default=160, help='training crop size in pixels (default 160)')
    g.add_argument('--max-side', type=int, help='downscale pairs whose longer side exceeds this first')
    g.add_argument('--crops-per-pair', type=int, default=1,
                   help='training crops per pair per epoch (default 1)')
    g.add_argument('--val-fraction', type=float, default=0.1, help='validation share (default 0.1; 0: none)')
    g.add_argument('--vflip', type=float, default=0.0, help='vertical flip probability (default 0)')
    g.add_argument('--rgb-topic', default='rgb/image', help='RGB image topic in bags (default rgb/image)')
    g.add_argument('--thermal-topic', default='thermal/image',
                   help='thermal image topic in bags (default thermal/image)')
    add_thermal_norm_option(g)
    g.add_argument('--tolerance', type=float, default=0.05,
                   help='largest RGB-thermal stamp difference of a pair, seconds (default 0.05)')
    g.add_argument('--queue-size', type=int, default=10, help='pairing queue per topic (default 10)')

    g = p.add_argument_group('model and SSVIF')
    g.add_argument('--arch', default='ssvif', choices=registry.get('ssvif').checkpoints,
                   help="fusion net: 'ssvif' (encoder-decoder, from random weights), 'ssvif_blend' (starts as "
                        "the max rule and learns where to depart from it) or 'ssvif_texmax' (starts as the texmax "
                        "rule and learns corrections of its choice; the shipped model) (default ssvif)")
    g.add_argument('--width', type=int, help='fusion net feature channels (default: the arch default)')
    g.add_argument('--depth', type=int, help='fusion net residual blocks (default: the arch default)')
    g.add_argument('--loss', default='paper', choices=('paper', 'field'),
                   help="fusion loss: 'paper' (20/20/10/20) or 'field' (the paper's terms at 1/10 plus the "
                        "field's metrics: SSIM, Qabf, VIF, Delta-E; fusion_ros.losses.fusion.FIELD_LOSS)")
    g.add_argument('--loss-weight', action='append', default=[], metavar='NAME=VALUE',
                   help='override one weight of the chosen loss (fusion_ros.losses.fusion.FusionLossConfig: w_int, '
                        'w_grad, w_ssim, w_color, w_field_ssim, w_qabf, w_vif, w_delta_e); repeatable')
    g.add_argument('--include-test', action='store_true',
                   help='also train on the fixed fusion test split (fusion_ros.splits); never for a shipped model')
    g.add_argument('--seg-model', default='mit_b0', help="SegFormer of the CSC branch (paper 'mit_b3')")
    g.add_argument('--weighting', default='gdwa', choices=('gdwa', 'dwa', 'fixed'), help='CSC loss weighting')
    g.add_argument('--no-csc', action='store_true', help='fusion loss only (no segmentation branches)')
    g.add_argument('--no-two-stage', action='store_true', help='CSC from the first epoch')
    g.add_argument('--min-stage1-epochs', type=int, default=0,
                   help="stage II (CSC) starts no earlier than this epoch (default 0: the paper's rule alone)")
    p.add_argument('--quiet', action='store_true', help='no progress bars')
    p.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace):
    from fusion_ros.data import DataConfig
    from fusion_ros.losses.fusion import FIELD_LOSS, FusionLossConfig
    from fusion_ros.pairing import PairingConfig
    from fusion_ros.ssvif import SSVIFConfig
    from fusion_ros.training.ssvif_run import SSVIFRunConfig

    data = DataConfig(paths=tuple(args.data), crop_size=args.crop, max_side=args.max_side,
                      crops_per_pair=args.crops_per_pair, val_fraction=args.val_fraction, vflip=args.vflip,
                      seed=args.seed, rgb_topic=args.rgb_topic, thermal_topic=args.thermal_topic,
                      pairing=PairingConfig(queue_size=args.queue_size, tolerance_s=args.tolerance),
                      thermal_norm=args.thermal_norm, exclude_test=not args.include_test)
    sizes = {k: v for k, v in (('width', args.width), ('depth', args.depth)) if v is not None}
    weights = dict(FIELD_LOSS) if args.loss == 'field' else {}
    for item in args.loss_weight:
        name, sep, value = item.partition('=')
        if not sep or not name.startswith('w_') or name not in FusionLossConfig.__dataclass_fields__:
            raise ValueError(f'--loss-weight {item!r}: expected NAME=VALUE with NAME one of '
                             f'{", ".join(k for k in FusionLossConfig.__dataclass_fields__ if k.startswith("w_"))}')
        weights[name] = float(value)
    loss = FusionLossConfig(**weights)
    return SSVIFRunConfig(
        data=data, out_dir=args.out, arch=args.arch, model=sizes or None,
        objective=SSVIFConfig(seg_model=args.seg_model, weighting=args.weighting, use_csc=not args.no_csc,
                              two_stage=not args.no_two_stage, fusion_loss=loss,
                              min_stage1_epochs=args.min_stage1_epochs),
        lr=args.lr, batch_size=args.batch_size, max_epochs=args.epochs, patience=args.patience or None,
        steps_per_epoch=args.steps_per_epoch, val_batches=args.val_batches, time_budget_s=args.time_budget,
        device=args.device, num_workers=args.workers, resume=args.resume, init_from=args.init_from,
        seed=args.seed, progress=not args.quiet)


def run(args: argparse.Namespace) -> int:
    import os

    from fusion_ros.training.ssvif_run import BEST, run_ssvif

    result = run_ssvif(config_from_args(args))
    if int(os.environ.get('RANK', '0')) == 0:
        best = (f'best epoch {result.best_epoch} (monitored loss {result.best_value:.4f}) -> '
                f'{result.out_dir / BEST}' if result.best_epoch >= 0 else 'no epoch completed')
        print(f'train: {result.epochs} epochs ({result.stopped}, {result.elapsed_s:.1f} s, next stage '
              f'{result.stage}); {best}; log {result.out_dir / "log.csv"}')
    if int(os.environ.get('WORLD_SIZE', '1')) > 1:
        # The run is over and its files are closed; a torchrun rank can still abort in interpreter
        # finalisation ("terminate called without an active exception" from a C++ thread of the
        # distributed runtime), which torchrun reports as a failure, so skip finalisation.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
