"""Bags through the node: a bag written with rosbags is played to it (``fusion_player``) over DDS, and the
node records the pairs it receives to a bag that reads back the same."""
import pytest

pytest.importorskip('rclpy', reason='ROS 2 (rclpy) is not installed')
pytest.importorskip('rosbags')
from rclpy.parameter import Parameter  # noqa: E402

from fusion_ros.bags import read_pairs, write_pairs  # noqa: E402
from fusion_ros.ros.player import BagPlayer  # noqa: E402
from fusion_ros.ros.recorder import new_bag_path  # noqa: E402
from node_harness import NodeHarness, rgb_image, thermal_image, wait_for  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
PERIOD_NS = 100_000_000


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_bag_plays_through_the_node(ros_context, tmp_path, storage):
    h = NodeHarness(ros_context, {'use_sim_time': True})
    try:
        stamps = [10**9 + i * PERIOD_NS for i in range(4)]
        bag = tmp_path / 'bag'
        write_pairs(bag, [(s, rgb_image(seed=i), thermal_image(24, 32, 'mono16')) for i, s in enumerate(stamps)],
                    f'{h.namespace}/rgb/image', f'{h.namespace}/thermal/image', storage)
        player = BagPlayer(context=ros_context, parameter_overrides=[
            Parameter('bag', value=str(bag)), Parameter('rgb_topic', value=f'{h.namespace}/rgb/image'),
            Parameter('thermal_topic', value=f'{h.namespace}/thermal/image'), Parameter('clock', value=True),
            Parameter('wait_for_subscribers_s', value=30.0)])
        h.add_node(player)
        assert wait_for(player.done.is_set) and player.error is None
        assert player.published == {f'{h.namespace}/rgb/image': 4, f'{h.namespace}/thermal/image': 4}
        busy = lambda: h.node.stats.snapshot()['drops'].get('worker_busy', 0)  # noqa: E731
        assert wait_for(lambda: h.count() + busy() >= 4)  # every pair reached the client, or was skipped
        out = {m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in h.outputs['fused/image']}
        assert out <= set(stamps) and len(out) + busy() == 4
        assert h.outputs['fused/image'][0].width == 64
        # use_sim_time + the player's /clock: latency is measured on the bag's clock (seconds, not decades)
        mean_ms, _ = h.node.stats.snapshot()['end_to_end_ms']
        assert abs(mean_ms) < 10_000
    finally:
        h.close()


def test_node_records_the_pairs_it_receives(ros_context, tmp_path):
    h = NodeHarness(ros_context, {'record_enabled': True, 'record_directory': str(tmp_path / 'rec'),
                                  'record_storage': 'mcap'})
    try:
        h.wait_connected()
        stamps = h.stream(3, thermal_encoding='mono16')
    finally:
        h.close()  # stops the node: the bag is finished and readable
    bags = sorted((tmp_path / 'rec').iterdir())
    assert len(bags) == 1 and bags[0].name.startswith('fusion_pairs_')
    pairs = list(read_pairs(bags[0], f'{h.namespace}/rgb/image', f'{h.namespace}/thermal/image'))
    assert [p.rgb_stamp_ns for p in pairs] == stamps
    assert pairs[0].rgb.image.shape == (48, 64, 3) and pairs[0].thermal.encoding == 'mono16'


def test_a_recording_never_overwrites(tmp_path):
    first = new_bag_path(tmp_path)
    first.mkdir()
    second = new_bag_path(tmp_path)
    assert second != first and not second.exists() and second.parent == tmp_path


def test_fusion_ros_play_command(ros_context, tmp_path, monkeypatch):
    """`fusion-ros play BAG --remap ...` publishes both topics with their recorded stamps, then exits 0."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    from fusion_ros.cli import main

    bag = tmp_path / 'bag'
    stamps = [10**9 + i * PERIOD_NS for i in range(3)]
    write_pairs(bag, [(s, rgb_image(), thermal_image()) for s in stamps], storage='sqlite3')
    node = rclpy.create_node('play_listener', context=ros_context)
    got = {'rgb': [], 'thermal': []}
    node.create_subscription(Image, '/played/rgb', lambda m: got['rgb'].append(m), 10)
    node.create_subscription(Image, '/thermal/image', lambda m: got['thermal'].append(m), 10)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    monkeypatch.setenv('ROS_DOMAIN_ID', str(ros_context.get_domain_id()))
    result = []
    import threading
    runner = threading.Thread(target=lambda: result.append(main(
        ['play', str(bag), '--remap', '/rgb/image:=/played/rgb', '--wait', '30'])))
    runner.start()
    try:
        assert wait_for(lambda: (executor.spin_once(timeout_sec=0.02), len(got['thermal']) >= 3
                                 and len(got['rgb']) >= 3)[1])
    finally:
        runner.join(60)
        executor.shutdown()
        node.destroy_node()
    assert result == [0]
    assert [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in got['rgb']] == stamps
