"""``fusion-ros``: the command line (fuse, demo). Each sub-command is a thin shell over the core."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fusion_ros.imaging import ImageError

RECIPES = ('fast', 'paper')


def _add_scene_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('per-scene training (--method scene)')
    g.add_argument('--recipe', choices=RECIPES, default='fast',
                   help="'fast': the project's default recipe; 'paper': paper 000's 300 full-size epochs")
    g.add_argument('--epochs', type=int, help='optimiser steps (overrides the recipe)')
    g.add_argument('--time-budget', type=float, metavar='S', help='stop training after S seconds')
    g.add_argument('--work-size', type=int, metavar='PX',
                   help='longest side of the working copy trained on (0 = full size)')
    g.add_argument('--variant', choices=('compact', 'unet'), default='compact',
                   help="'compact': paper 000's 1.4k-parameter CNN; 'unet': plus the UNet-ResNet18 branch")
    g.add_argument('--align', choices=('none', 'stn'), default='none',
                   help="'stn': learn an affine thermal-to-RGB transform (for pairs that are not registered)")
    g.add_argument('--device', default='auto', help="'auto' (GPU when present), 'cpu', 'cuda', 'cuda:N'")
    g.add_argument('--seed', type=int, default=0)


def scene_config_from_args(args) -> 'SceneFitConfig':
    from fusion_ros.models.compact import CompactFusionConfig
    from fusion_ros.models.scene import SceneModelConfig
    from fusion_ros.scene import SceneFitConfig

    model = SceneModelConfig(fusion=CompactFusionConfig(unet=args.variant == 'unet'), stn=args.align == 'stn')
    overrides = dict(model=model, device=args.device, seed=args.seed, time_budget_s=args.time_budget)
    if args.epochs is not None:
        overrides['epochs'] = args.epochs
    if args.work_size is not None:
        overrides['work_size'] = args.work_size or None
    return SceneFitConfig.paper(**overrides) if args.recipe == 'paper' else SceneFitConfig(**overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='fusion-ros', description='RGB + thermal/NIR image fusion.')
    sub = parser.add_subparsers(dest='command', required=True)

    fuse = sub.add_parser('fuse', help='fuse one RGB + thermal/NIR pair of image files')
    fuse.add_argument('--method', default='scene',
                      help="fusion method: 'scene' (per-scene training, paper 000) or a baseline "
                           "(average, max, pca, laplacian, wavelet, guided)")
    fuse.add_argument('--rgb', required=True, type=Path, help='visible image file (colour or mono)')
    fuse.add_argument('--ir', '--thermal', dest='ir', required=True, type=Path,
                      help='thermal/NIR image file (8/16-bit or float TIFF; any resolution)')
    fuse.add_argument('--out', required=True, type=Path, help='fused image file to write (.png, .jpg)')
    fuse.add_argument('--save-model', type=Path, metavar='PT',
                      help='also save the trained per-scene model (with its transform) as a checkpoint')
    fuse.add_argument('--quiet', action='store_true', help='no progress bar')
    _add_scene_options(fuse)

    demo = sub.add_parser('demo', help='fuse the bundled sample pairs; writes images, a contact sheet, a summary')
    demo.add_argument('--out', type=Path, default=Path('out/demo'))
    demo.add_argument('--quiet', action='store_true')
    _add_scene_options(demo)
    return parser


def cmd_fuse(args) -> int:
    from fusion_ros.io import read_pair, write_image
    from fusion_ros.methods import fuse_pair
    from fusion_ros.report import pair_scores

    pair = read_pair(args.rgb, args.ir)
    result = fuse_pair(args.method, pair.rgb, pair.thermal, scene_config=scene_config_from_args(args),
                       progress=not args.quiet)
    write_image(args.out, result.fused)
    if args.save_model and result.scene is not None:
        from fusion_ros.checkpoint import save_checkpoint
        save_checkpoint(args.save_model, result.scene.model, 'scene',
                        meta={'rgb': str(args.rgb), 'ir': str(args.ir),
                              'thermal_from_rgb': result.scene.thermal_from_rgb.tolist()})
    scores = pair_scores(pair.rgb, pair.thermal, result.fused)
    base = pair_scores(pair.rgb, pair.thermal, fuse_pair('average', pair.rgb, pair.thermal).fused)
    timing = ''
    if 'train_s' in result.info:
        timing = f" in {result.info['total_s']:.2f} s on {result.info['device']} ({result.info['epochs']} epochs)"
    print(f'{args.method}{timing}: SSIM score {scores["ssim_score"]:.4f} (average fusion '
          f'{base["ssim_score"]:.4f}), correlation {scores["correlation_score"]:.4f} '
          f'(average {base["correlation_score"]:.4f}) -> {args.out}')
    return 0


def cmd_demo(args) -> int:
    from fusion_ros.demo import run_demo
    run_demo(args.out, scene_config_from_args(args), progress=not args.quiet)
    return 0


def main(argv: list[str] | None = None) -> int:
    from fusion_ros.checkpoint import CheckpointError

    args = build_parser().parse_args(argv)
    handlers = {'fuse': cmd_fuse, 'demo': cmd_demo}
    try:
        return handlers[args.command](args)
    except (FileNotFoundError, ImageError, CheckpointError, ValueError, KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f'fusion-ros {args.command}: error: {msg}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
