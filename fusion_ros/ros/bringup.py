"""``fusion-ros run``: start the fusion node (and optionally a bag player) from the launch file's YAML.

The same thing ``ros2 launch fusion_ros fuse.launch.py`` does, for where ``launch`` is missing (ROS 2
from PyPI wheels): one process, the parameters from ``config/fuse.yaml`` (or another file), the same
arguments (namespace, input topic remaps, device, use_sim_time). Arguments map to standard ROS
command-line arguments (``--ros-args --params-file ... -r rgb/image:=... -p device:=...``), so the
node reads them exactly as under ``ros2 run``/``ros2 launch``.
"""
from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = 'fusion_ros'
PARAMS_FILE = 'fuse.yaml'


def default_params_file() -> Path | None:
    """``share/fusion_ros/config/fuse.yaml`` of an installed package, else the source tree's ``config/``."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
        try:
            path = Path(get_package_share_directory(PACKAGE)) / 'config' / PARAMS_FILE
            if path.is_file():
                return path
        except (PackageNotFoundError, OSError):  # not installed with colcon, or no AMENT_PREFIX_PATH
            pass
    except ImportError:
        pass
    path = Path(__file__).resolve().parents[2] / 'config' / PARAMS_FILE
    return path if path.is_file() else None


def signal_options():
    """rclpy's SIGINT + SIGTERM handlers (a clean stop: bags finished, threads joined) when running as the
    main program; none when called from another thread (e.g. tests), where signals belong to the caller."""
    import threading

    from rclpy.signals import SignalHandlerOptions
    main = threading.current_thread() is threading.main_thread()
    return SignalHandlerOptions.ALL if main else SignalHandlerOptions.NO


def ros_arguments(params_file: str | Path | None = None, remaps: dict[str, str] | None = None,
                  params: dict[str, str] | None = None) -> list[str]:
    """ROS command-line arguments: ``['--ros-args', '--params-file', F, '-r', 'a:=b', '-p', 'k:=v', ...]``.

    ``params`` values are YAML text (``'cpu'``, ``'true'``, ``'0.1'``), as after ``-p name:=``.
    """
    args = ['--ros-args']
    if params_file:
        path = Path(params_file)
        if not path.is_file():
            raise FileNotFoundError(f'{path}: no such parameters file')
        args += ['--params-file', str(path)]
    for src, dst in (remaps or {}).items():
        args += ['-r', f'{src}:={dst}']
    for name, value in (params or {}).items():
        args += ['-p', f'{name}:={value}']
    return args


def run(params_file: str | Path | None = None, *, namespace: str = '', remaps: dict[str, str] | None = None,
        params: dict[str, str] | None = None, play: str | Path | None = None, play_loop: bool = False,
        domain_id: int | None = None) -> int:
    """Run the fusion node (and a player for ``play``) until Ctrl-C; returns an exit code.

    Args:
        params_file: the YAML (default: :func:`default_params_file`).
        namespace: the node's namespace (topics are relative, so they move with it).
        remaps: e.g. ``{'rgb/image': '/camera/color/image_raw'}``.
        params: parameter overrides as YAML text, e.g. ``{'device': 'cpu', 'use_sim_time': 'true'}``.
        play: a bag to publish to the node (its topics remapped onto the node's inputs); with
            ``use_sim_time`` the player also publishes ``/clock``.
        domain_id: ROS domain (default: ``ROS_DOMAIN_ID``).
    """
    import rclpy

    from fusion_ros.ros.fusion_node import FusionNode, spin_nodes

    params_file = params_file or default_params_file()
    node_args = ros_arguments(params_file, remaps, params)
    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=domain_id, signal_handler_options=signal_options())
    nodes = []
    try:
        try:
            nodes.append(FusionNode(context=context, cli_args=node_args, namespace=namespace or None))
        except ValueError as exc:
            print(f'fusion-ros run: cannot start fusion_node: {exc}', file=sys.stderr)
            return 1
        if play:
            nodes.append(_player_for(nodes[0], context, play, play_loop))
        spin_nodes(nodes, context, nodes[0].config.executor)
        return 0
    finally:
        for node in reversed(nodes):
            node.destroy_node()
        rclpy.try_shutdown(context=context)


def _player_for(fusion_node, context, bag, loop: bool):
    """A player publishing ``bag``'s ``rgb/image`` and ``thermal/image`` onto the fusion node's inputs."""
    from rclpy.parameter import Parameter

    from fusion_ros.ros.player import BagPlayer

    sim_time = fusion_node.get_parameter('use_sim_time').value
    rgb, thermal = (fusion_node.stats.inputs[n].topic for n in ('rgb', 'thermal'))
    remap = ['--ros-args', '-r', f'/rgb/image:={rgb}', '-r', f'/thermal/image:={thermal}']
    return BagPlayer(context=context, cli_args=remap, parameter_overrides=[
        Parameter('bag', value=str(bag)), Parameter('loop', value=loop), Parameter('clock', value=bool(sim_time)),
        Parameter('wait_for_subscribers_s', value=10.0)])
