"""``fusion-ros demo``: the main job on the bundled sample pairs (``--ros``: through the ROS 2 node over DDS)."""
from __future__ import annotations

import argparse
from pathlib import Path

from fusion_ros.commands.scene_options import add_scene_options, scene_config_from_args


def register(sub) -> None:
    demo = sub.add_parser('demo', help='fuse the bundled sample pairs; writes images, a contact sheet, a summary')
    demo.add_argument('--out', type=Path, default=Path('out/demo'))
    demo.add_argument('--quiet', action='store_true')
    ros = demo.add_argument_group('over ROS 2 (--ros)')
    ros.add_argument('--ros', action='store_true',
                     help='play the bundled recording through fusion_node over real DDS (player in another '
                          'process), call ~/train_scene once; writes fused frames, a contact sheet, a summary')
    ros.add_argument('--bag', type=Path, help='with --ros: the recording to play (default: the bundled sample)')
    ros.add_argument('--segmentation-model', type=Path, metavar='PT',
                     help='with --ros: a segmentation checkpoint (fusion_ros.segmentation format); default: no '
                          'segmentation (no working segmentation model ships)')
    ros.add_argument('--detection-model', type=Path, metavar='PT',
                     help='with --ros: an ultralytics detection model; default: the shipped '
                          'models/detector_default.pt when installed, else no detection')
    add_scene_options(demo)
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.ros:
        from fusion_ros.ros.main_job import run_main_job
        run_main_job(args.out, bag=args.bag, device=args.device, segmentation_model=args.segmentation_model,
                     detection_model=args.detection_model,
                     train_epochs=args.epochs or 60, train_time_budget_s=args.time_budget or 60.0,
                     log=(lambda *a, **k: None) if args.quiet else print)
        return 0
    from fusion_ros.demo import run_demo
    run_demo(args.out, scene_config_from_args(args), progress=not args.quiet)
    return 0
