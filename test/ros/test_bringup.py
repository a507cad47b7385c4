"""Launch file, YAML, console scripts and declared parameters agree (without `launch`); `fusion-ros run` runs."""
import ast
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip('rclpy', reason='ROS 2 (rclpy) is not installed')
import rclpy  # noqa: E402

from fusion_ros.ros import fusion_node, player  # noqa: E402
from fusion_ros.ros.bringup import default_params_file, ros_arguments  # noqa: E402
from fusion_ros.ros.params import FusionNodeConfig, PlayerConfig  # noqa: E402

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[2]
YAML = ROOT / 'config' / 'fuse.yaml'
LAUNCH = ROOT / 'launch' / 'fuse.launch.py'
NODE_KEY = '/**/fusion_node'
RCLPY_OWN = {'use_sim_time', 'start_type_description_service'}  # declared by every rclpy node


def console_scripts() -> dict[str, str]:
    text = (ROOT / 'setup.py').read_text()
    return dict(re.findall(r"'([\w-]+) = ([\w.]+:\w+)'", text))


def launch_calls(name: str) -> list[ast.Call]:
    tree = ast.parse(LAUNCH.read_text())
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, 'id', None) == name]


def kwarg(call: ast.Call, key: str):
    for kw in call.keywords:
        if kw.arg == key:
            return kw.value
    return None


def yaml_params() -> dict:
    return yaml.safe_load(YAML.read_text())[NODE_KEY]['ros__parameters']


def test_yaml_lists_every_parameter_with_its_default():
    params = yaml_params()
    specs = FusionNodeConfig.specs()
    assert set(params) - RCLPY_OWN == set(specs)
    for name, (default, _) in specs.items():
        value = tuple(params[name]) if isinstance(params[name], list) else params[name]
        assert value == default and type(value) is type(default), name  # 60.0, not 60: ROS types are strict
    FusionNodeConfig(**{k: v for k, v in params.items() if k in specs})  # validates


def test_console_scripts_exist_and_import():
    scripts = console_scripts()
    assert {'fusion-ros', 'fusion_node', 'fusion_player'} <= set(scripts)
    assert scripts['fusion_node'] == 'fusion_ros.ros.fusion_node:main'
    for target in scripts.values():
        module, func = target.split(':')
        assert callable(getattr(__import__(module, fromlist=[func]), func))


def test_launch_file_agrees_with_package():
    arguments = {ast.literal_eval(c.args[0]) for c in launch_calls('DeclareLaunchArgument')}
    assert {'namespace', 'params_file', 'rgb_topic', 'thermal_topic', 'device', 'use_sim_time', 'bag',
            'dds_transports'} <= arguments
    env = next(c for c in launch_calls('SetEnvironmentVariable'))
    assert ast.literal_eval(env.args[0]) == 'FASTDDS_BUILTIN_TRANSPORTS'
    nodes = {ast.literal_eval(kwarg(c, 'executable')): ast.literal_eval(kwarg(c, 'name'))
             for c in launch_calls('Node')}
    assert nodes == {'fusion_node': fusion_node.NODE_NAME, 'fusion_player': player.NODE_NAME}
    assert set(nodes) <= set(console_scripts())
    assert NODE_KEY.endswith('/' + fusion_node.NODE_NAME)
    fusion = next(c for c in launch_calls('Node') if ast.literal_eval(kwarg(c, 'executable')) == 'fusion_node')
    params = kwarg(fusion, 'parameters').elts[1]
    declared = set(FusionNodeConfig.specs()) | RCLPY_OWN
    assert {ast.literal_eval(k) for k in params.keys} <= declared
    remapped = {ast.literal_eval(t.elts[0]) for t in kwarg(fusion, 'remappings').elts}
    assert remapped == set(fusion_node.INPUT_BASES.values())
    player_node = next(c for c in launch_calls('Node') if ast.literal_eval(kwarg(c, 'executable')) == 'fusion_player')
    assert {ast.literal_eval(k) for k in kwarg(player_node, 'parameters').elts[0].keys} <= set(PlayerConfig.specs())
    # `fusion-ros run` offers every launch argument
    from fusion_ros.cli import build_parser
    run_help = build_parser()._subparsers._group_actions[0].choices['run'].format_help()
    for option in ('--namespace', '--params', '--rgb-topic', '--thermal-topic', '--device', '--use-sim-time',
                   '--play', '--dds-transports'):
        assert option in run_help


def test_node_declares_exactly_the_yaml_parameters(ros_context, tmp_path):
    assert default_params_file() == YAML
    custom = yaml.safe_load(YAML.read_text())
    custom[NODE_KEY]['ros__parameters']['queue_size'] = 7  # the wildcard key reaches a namespaced node
    path = tmp_path / 'fuse.yaml'
    path.write_text(yaml.safe_dump(custom))
    args = ros_arguments(path, {'rgb/image': '/cam/rgb'}, {'device': 'cpu', 'cpu_threads': '1'})
    node = fusion_node.FusionNode(context=ros_context, cli_args=args, namespace='/robot_x')
    try:
        declared = {name for name in node._parameters}
        assert declared - RCLPY_OWN == set(yaml_params()) - RCLPY_OWN
        assert node.get_parameter('queue_size').value == 7 and node.get_parameter('device').value == 'cpu'
        assert node.stats.inputs['rgb'].topic == '/cam/rgb'
        assert node.stats.inputs['thermal'].topic == '/robot_x/thermal/image'
    finally:
        node.destroy_node()


@pytest.mark.slow
def test_fusion_ros_run_serves_another_process(ros_context, tmp_path):
    """`fusion-ros run` in a child process fuses what this process publishes, then stops cleanly on SIGINT."""
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    from node_harness import header, rgb_image, thermal_image, wait_for
    from fusion_ros.ros.conversions import array_to_image_msg

    ns = f'/run_{os.getpid()}_{np.random.default_rng().integers(1 << 30)}'
    env = dict(os.environ, ROS_DOMAIN_ID=str(ros_context.get_domain_id()), PYTHONUNBUFFERED='1')
    child = subprocess.Popen([sys.executable, '-m', 'fusion_ros.cli', 'run', '--params', str(YAML), '--namespace', ns,
                              '--device', 'cpu', '-p', 'cpu_threads:=1'], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    node = rclpy.create_node('run_client', context=ros_context, namespace=ns)
    got = []
    node.create_subscription(Image, 'fused/image', got.append, 10)
    rgb_pub = node.create_publisher(Image, 'rgb/image', 10)
    th_pub = node.create_publisher(Image, 'thermal/image', 10)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)

    def spin_until(predicate, timeout_s):
        return wait_for(lambda: (executor.spin_once(timeout_sec=0.02), predicate())[1], timeout_s=timeout_s)
    try:
        assert spin_until(lambda: rgb_pub.get_subscription_count() and th_pub.get_subscription_count()
                          and node.count_publishers(f'{ns}/fused/image'), 60), 'the child node did not come up'
        for i in range(20):  # until outputs arrive (equal stamps pair at once)
            stamp = (i + 1) * 10**9
            rgb_pub.publish(array_to_image_msg(rgb_image(), 'rgb8', header(stamp)))
            th_pub.publish(array_to_image_msg(thermal_image(), 'mono8', header(stamp, 'thermal')))
            if spin_until(lambda: len(got) >= 2, 2.0):
                break
        assert len(got) >= 2 and got[0].header.frame_id == 'rgb_optical_frame'
    finally:
        child.send_signal(signal.SIGINT)
        try:
            out, _ = child.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            out, _ = child.communicate()
        executor.shutdown()
        node.destroy_node()
    assert child.returncode == 0, out


def test_fusion_ros_run_dds_transports_is_in_the_environment_before_the_node_starts(monkeypatch):
    from fusion_ros.cli import build_parser
    from fusion_ros.ros import bringup
    seen = {}
    monkeypatch.delenv('FASTDDS_BUILTIN_TRANSPORTS', raising=False)
    monkeypatch.setattr(bringup, 'run', lambda *a, **k: seen.setdefault('env', os.environ.get(
        'FASTDDS_BUILTIN_TRANSPORTS')) and 0)
    args = build_parser().parse_args(['run', '--dds-transports', 'LARGE_DATA?max_msg_size=1MB'])
    args.handler(args)
    assert seen['env'] == 'LARGE_DATA?max_msg_size=1MB'
    seen.clear()
    monkeypatch.delenv('FASTDDS_BUILTIN_TRANSPORTS')
    args = build_parser().parse_args(['run'])  # without the option the environment is left as it is
    args.handler(args)
    assert seen == {'env': None}
