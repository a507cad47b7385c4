"""``fusion-ros play BAG``: publish a bag's RGB and thermal topics with their recorded timing."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    play = sub.add_parser('play', help='publish the RGB and thermal topics of a rosbag2 bag (MCAP or sqlite3)',
                          description='Publish the two image topics of a bag under their recorded names, '
                                      'with their recorded timing (a small `ros2 bag play`).')
    play.add_argument('bag', type=Path, help='bag directory (with metadata.yaml) or .mcap/.db3 file')
    play.add_argument('--rgb-topic', default='rgb/image', help='RGB topic in the bag (default rgb/image)')
    play.add_argument('--thermal-topic', default='thermal/image', help='thermal topic in the bag')
    play.add_argument('--rate', type=float, default=1.0, help='speed factor (default 1)')
    play.add_argument('--loop', action='store_true', help='play again and again (Ctrl-C stops)')
    play.add_argument('--clock', action='store_true', help='publish /clock from the bag time (use_sim_time)')
    play.add_argument('--wait', type=float, default=5.0, metavar='S',
                      help='wait up to S seconds for subscribers before playing (default 5)')
    play.add_argument('--remap', action='append', default=[], metavar='FROM:=TO',
                      help='publish a recorded topic under another name, e.g. /rgb/image:=/cam/rgb')
    play.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.parameter import Parameter

    from fusion_ros.ros.player import BagPlayer, run_player

    if not args.bag.exists():
        raise FileNotFoundError(f'{args.bag}: no such bag')
    cli_args = ['--ros-args'] + [a for remap in args.remap for a in ('-r', remap)]
    from fusion_ros.ros.bringup import signal_options

    context = rclpy.Context()
    rclpy.init(args=[], context=context, signal_handler_options=signal_options())
    try:
        node = BagPlayer(context=context, cli_args=cli_args, parameter_overrides=[
            Parameter('bag', value=str(args.bag)), Parameter('rgb_topic', value=args.rgb_topic),
            Parameter('thermal_topic', value=args.thermal_topic), Parameter('rate', value=float(args.rate)),
            Parameter('loop', value=args.loop), Parameter('clock', value=args.clock),
            Parameter('wait_for_subscribers_s', value=float(args.wait))])
        return run_player(node)
    finally:
        rclpy.try_shutdown(context=context)
