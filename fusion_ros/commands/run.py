"""``fusion-ros run``: the fusion node from the launch file's YAML, where ``ros2 launch`` is missing."""
from __future__ import annotations

import argparse
from pathlib import Path


def _key_value(text: str) -> tuple[str, str]:
    if ':=' not in text:
        raise argparse.ArgumentTypeError(f'expected NAME:=VALUE, got {text!r}')
    key, value = text.split(':=', 1)
    return key, value


def register(sub) -> None:
    run_p = sub.add_parser('run', help='run fusion_node from config/fuse.yaml (as launch/fuse.launch.py does)',
                           description='Start fusion_node with the parameters of a YAML file, as '
                                       '`ros2 launch fusion_ros fuse.launch.py` does; Ctrl-C stops it.')
    run_p.add_argument('--params', type=Path, metavar='YAML',
                       help='parameters file (default: the package\'s config/fuse.yaml)')
    run_p.add_argument('--namespace', default='', help='node namespace (topics are relative to it)')
    run_p.add_argument('--rgb-topic', help='remap rgb/image to this topic')
    run_p.add_argument('--thermal-topic', help='remap thermal/image to this topic')
    run_p.add_argument('--device', help="torch device: 'auto', 'cpu', 'cuda:N' (overrides the YAML)")
    run_p.add_argument('--use-sim-time', action='store_true', help='use /clock (bag replay)')
    run_p.add_argument('-p', '--param', action='append', type=_key_value, default=[], metavar='NAME:=VALUE',
                       help='override a parameter (YAML value), e.g. -p align_mode:=stn; repeatable')
    run_p.add_argument('--play', type=Path, metavar='BAG',
                       help='also play this bag (its rgb/image and thermal/image) to the node')
    run_p.add_argument('--loop', action='store_true', help='with --play: play the bag again and again')
    run_p.add_argument('--dds-transports', metavar='VALUE',
                       help="FASTDDS_BUILTIN_TRANSPORTS for this process, e.g. 'LARGE_DATA?max_msg_size=1MB' "
                            '(default: the environment\'s); the camera drivers and consumers need the same value '
                            '(README, DDS transport for images)')
    run_p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import os

    from fusion_ros.ros.bringup import run as run_nodes
    from fusion_ros.ros.transport import FASTDDS_TRANSPORTS_ENV

    if args.dds_transports:  # read by Fast DDS when the node's participant is created, below
        os.environ[FASTDDS_TRANSPORTS_ENV] = args.dds_transports

    remaps = {k: v for k, v in (('rgb/image', args.rgb_topic), ('thermal/image', args.thermal_topic)) if v}
    params = dict(args.param)
    if args.device:
        params['device'] = args.device
    if args.use_sim_time:
        params['use_sim_time'] = 'true'
    return run_nodes(args.params, namespace=args.namespace, remaps=remaps, params=params, play=args.play,
                     play_loop=args.loop)
