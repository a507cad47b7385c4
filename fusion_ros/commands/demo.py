"""``fusion-ros demo``: the main job on the bundled sample pairs."""
from __future__ import annotations

import argparse
from pathlib import Path

from fusion_ros.commands.scene_options import add_scene_options, scene_config_from_args


def register(sub) -> None:
    demo = sub.add_parser('demo', help='fuse the bundled sample pairs; writes images, a contact sheet, a summary')
    demo.add_argument('--out', type=Path, default=Path('out/demo'))
    demo.add_argument('--quiet', action='store_true')
    add_scene_options(demo)
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from fusion_ros.demo import run_demo
    run_demo(args.out, scene_config_from_args(args), progress=not args.quiet)
    return 0
