"""``fusion-ros evaluate``: score fusion methods over a folder or a bag of pairs; write tables and a grid."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from fusion_ros import registry
from fusion_ros.commands.scene_options import add_scene_options, scene_config_from_args


def _csv_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(',') if t.strip()]


def register(sub) -> None:
    ev = sub.add_parser(
        'evaluate', help='score fusion methods over a folder or bag of pairs (tables, example grid)',
        description='Fuse every pair with every method, score each fusion with the fusion metrics and write '
                    'summary.md / summary.csv (mean and standard deviation per metric), per_image.csv and '
                    'examples.png under --out.')
    ev.add_argument('input', type=Path,
                    help='folder of pairs ({ir,vi}/STEM.ext or STEM_rgb.ext + STEM_nir|thermal.ext, '
                         'searched recursively) or a rosbag2 bag (a folder with metadata.yaml, or a .mcap / '
                         '.db3 file)')
    ev.add_argument('--out', type=Path, default=Path('out/evaluate'),
                    help='folder for the tables and the grid')
    ev.add_argument('--methods', '--method', dest='methods', type=_csv_list, default=['baselines', 'scene', 'ssvif'],
                    help=f"comma-separated names of fusion_ros.registry ({', '.join(registry.names())}) or "
                         "'baselines' (all of them) (default: baselines,scene,ssvif)")
    ev.add_argument('--fused', action='append', default=[], metavar='NAME=DIR',
                    help='also score images fused by another tool: DIR/<pair name>.png (or DIR/<stem>.png); '
                         'repeatable')
    ev.add_argument('--model', type=Path, metavar='PT',
                    help='SSVIF checkpoint for --methods ssvif (default: the shipped '
                         'models/ssvif_default.pt; skipped with a message when missing)')
    ev.add_argument('--metrics', type=_csv_list, default=['all'],
                    help='comma-separated metric names (EN, SD, SF, AG, MI, VIF, Qabf, SSIM, SSIM_gauss, '
                         'MS-SSIM, SCD, DeltaE, SSIM_score, Corr_score, Canny_score; scored as the published '
                         "tables do, see README 'Metric conventions') or groups 'paper000', 'paper004', "
                         "'all' (default)")
    ev.add_argument('--max-size', type=int, metavar='PX',
                    help='downscale pairs so the longest side is at most PX (faster; scores then describe '
                         'the smaller images)')
    ev.add_argument('--limit', type=int, metavar='N', help='only the first N pairs')
    ev.add_argument('--category-by', choices=('none', 'folder'), default='none',
                    help="'folder': one table per sub-folder (e.g. rgbnir/field, rgbnir/forest) plus 'all'")
    ev.add_argument('--examples', type=int, default=4, metavar='N', help='pairs in examples.png (0: none)')
    ev.add_argument('--save-fused', action='store_true', help='also write every fused image under OUT/fused/')
    ev.add_argument('--rgb-topic', help='bag input: the RGB image topic (default: rgb/image)')
    ev.add_argument('--thermal-topic', help='bag input: the thermal image topic (default: thermal/image)')
    ev.add_argument('--quiet', action='store_true', help='no progress bar')
    add_scene_options(ev)
    ev.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from fusion_ros.evaluate import EvalConfig, evaluate

    methods = list(args.methods)
    for spec in args.fused:
        if '=' not in spec:
            spec = f'{Path(spec).name}={spec}'
        methods.append(spec)
    config = EvalConfig(methods=tuple(methods), metrics=tuple(args.metrics), max_size=args.max_size,
                        limit=args.limit, category_by=args.category_by, scene=scene_config_from_args(args),
                        model_path=args.model, device=args.device, examples=args.examples,
                        save_fused=args.save_fused, progress=not args.quiet)
    topics = None
    if args.rgb_topic or args.thermal_topic:
        topics = (args.rgb_topic, args.thermal_topic)
    command = ''
    if sys.argv[1:2] == ['evaluate']:  # run from the command line (not through main(argv) in Python)
        command = 'fusion-ros ' + ' '.join(shlex.quote(a) for a in sys.argv[1:])
    result, paths = evaluate(args.input, args.out, config, bag_topics=topics, command=command)
    print(paths['summary_md'].read_text())
    print('wrote ' + ', '.join(str(p) for p in paths.values()))
    return 0
