"""``fusion-ros fuse``: fuse one pair of image files with any method."""
from __future__ import annotations

import argparse
from pathlib import Path

from fusion_ros import registry
from fusion_ros.commands.scene_options import add_scene_options, scene_config_from_args
from fusion_ros.commands.thermal_options import add_thermal_norm_option, thermal_norm_from_args


def register(sub) -> None:
    fuse = sub.add_parser('fuse', help='fuse one RGB + thermal/NIR pair of image files')
    fuse.add_argument('--method', default='ssvif',
                      help=f"fusion method, a name of fusion_ros.registry ({', '.join(registry.names())}); "
                           "default 'ssvif', the shipped real-time model (paper 004)")
    fuse.add_argument('--rgb', required=True, type=Path, help='visible image file (colour or mono)')
    fuse.add_argument('--ir', '--thermal', dest='ir', required=True, type=Path,
                      help='thermal/NIR image file (8/16-bit or float TIFF; any resolution)')
    fuse.add_argument('--out', required=True, type=Path, help='fused image file to write (.png, .jpg)')
    fuse.add_argument('--model', type=Path, metavar='PT',
                      help='SSVIF checkpoint for --method ssvif (default: the shipped models/ssvif_default.pt)')
    fuse.add_argument('--save-model', type=Path, metavar='PT',
                      help='also save the trained per-scene model (with its transform) as a checkpoint')
    add_thermal_norm_option(fuse)
    fuse.add_argument('--quiet', action='store_true', help='no progress bar')
    add_scene_options(fuse)
    fuse.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from fusion_ros.io import read_pair, write_image
    from fusion_ros.methods import fuse_pair
    from fusion_ros.report import pair_scores

    if args.save_model and args.method != 'scene':
        raise ValueError(f'--save-model keeps a trained per-scene model, but --method {args.method} trains '
                         'nothing; drop --save-model or use --method scene')
    scene_config = scene_config_from_args(args) if args.method == 'scene' else None
    pair = read_pair(args.rgb, args.ir, thermal_norm_from_args(args))
    result = fuse_pair(args.method, pair.rgb, pair.thermal, scene_config=scene_config, model_path=args.model,
                       device=args.device, progress=not args.quiet)
    write_image(args.out, result.fused)
    if args.save_model and result.scene is not None:
        from fusion_ros.checkpoint import save_checkpoint
        save_checkpoint(args.save_model, result.scene.model, 'scene',
                        meta={'rgb': str(args.rgb), 'ir': str(args.ir),
                              'thermal_from_rgb': result.scene.thermal_from_rgb.tolist()})
    scores = pair_scores(pair.rgb, pair.thermal, result.fused)
    base = pair_scores(pair.rgb, pair.thermal, fuse_pair('average', pair.rgb, pair.thermal).fused)
    timing = ''
    if 'total_s' in result.info:
        timing = f" in {result.info['total_s']:.2f} s on {result.info['device']}"
    if 'epochs' in result.info:
        timing += f" ({result.info['epochs']} epochs)"
    print(f'{args.method}{timing}: SSIM score {scores["ssim_score"]:.4f} (average fusion '
          f'{base["ssim_score"]:.4f}), correlation {scores["correlation_score"]:.4f} '
          f'(average {base["correlation_score"]:.4f}) -> {args.out}')
    return 0


