"""Tests of fusion_ros.ros.qos with a real rclpy node and publishers (one process, own DDS domain)."""
import pytest

pytest.importorskip('rclpy', reason='rclpy (ROS 2) is not installed')
import rclpy  # noqa: E402
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from fusion_ros.ros.qos import (QOS_NAMES, describe_qos, matching_qos, no_data_hint,  # noqa: E402
                                qos_from_name, qos_mismatch_hint)

pytestmark = pytest.mark.ros

BEST_EFFORT = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
RELIABLE_LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                              durability=DurabilityPolicy.TRANSIENT_LOCAL)


@pytest.fixture
def publisher_node(ros_context):
    """A second node, the 'camera driver', in the same context."""
    node = rclpy.create_node('camera_driver', namespace='/sensors', context=ros_context)
    try:
        yield node
    finally:
        node.destroy_node()


def publish_on(node, topic, qos, wait_until, observer):
    pub = node.create_publisher(Image, topic, qos)
    assert wait_until(lambda: observer.get_publishers_info_by_topic(topic)), 'publisher not discovered'
    return pub


# --------------------------------------------------------------------------- names


def test_names_give_profiles_with_the_queue_size_as_depth():
    reliable = qos_from_name('reliable', 7)
    assert reliable.reliability == ReliabilityPolicy.RELIABLE
    assert reliable.durability == DurabilityPolicy.VOLATILE
    assert reliable.history == HistoryPolicy.KEEP_LAST and reliable.depth == 7
    best = qos_from_name('Best-Effort', 3)
    assert best.reliability == ReliabilityPolicy.BEST_EFFORT and best.depth == 3
    assert describe_qos(best) == 'best_effort, volatile, depth 3'
    assert qos_from_name('reliable') == qos_from_name('reliable', 10)
    assert QOS_NAMES == ('reliable', 'best_effort', 'match')


@pytest.mark.parametrize('name', ['sensor', 'relaible', '', 'system_default'])
def test_unknown_name_lists_the_valid_ones(name):
    with pytest.raises(ValueError, match="valid names: reliable, best_effort, match"):
        qos_from_name(name, 10)


def test_bad_depth_and_match_without_node_are_refused():
    with pytest.raises(ValueError, match='depth must be an integer >= 1'):
        qos_from_name('reliable', 0)
    with pytest.raises(ValueError, match="'match' needs the node and topic"):
        qos_from_name('match', 10)


# --------------------------------------------------------------------------- matching


def test_match_without_publishers_falls_back_to_reliable(ros_node, unique_topic):
    qos = matching_qos(ros_node, unique_topic, 4)
    assert qos.reliability == ReliabilityPolicy.RELIABLE and qos.depth == 4
    assert qos_mismatch_hint(ros_node, unique_topic, qos) is None
    assert 'no publisher' in no_data_hint(ros_node, unique_topic, qos)


def test_match_picks_best_effort_from_a_best_effort_publisher(ros_node, publisher_node, unique_topic,
                                                               wait_until):
    publish_on(publisher_node, unique_topic, BEST_EFFORT, wait_until, ros_node)
    qos = qos_from_name('match', 6, node=ros_node, topic=unique_topic)
    assert qos.reliability == ReliabilityPolicy.BEST_EFFORT
    assert qos.durability == DurabilityPolicy.VOLATILE and qos.depth == 6


def test_match_copies_reliable_transient_local_and_mixes_to_the_weakest(ros_node, publisher_node,
                                                                         unique_topic, wait_until):
    publish_on(publisher_node, unique_topic, RELIABLE_LATCHED, wait_until, ros_node)
    qos = matching_qos(ros_node, unique_topic, 10)
    assert qos.reliability == ReliabilityPolicy.RELIABLE
    assert qos.durability == DurabilityPolicy.TRANSIENT_LOCAL
    ros_node.create_publisher(Image, unique_topic, BEST_EFFORT)  # a second, best-effort publisher
    assert wait_until(lambda: len(ros_node.get_publishers_info_by_topic(unique_topic)) == 2)
    qos = matching_qos(ros_node, unique_topic, 10)
    assert qos.reliability == ReliabilityPolicy.BEST_EFFORT
    assert qos.durability == DurabilityPolicy.VOLATILE


# --------------------------------------------------------------------------- hints


def test_hint_names_the_best_effort_publisher_and_the_fix(ros_node, publisher_node, unique_topic,
                                                          wait_until):
    publish_on(publisher_node, unique_topic, BEST_EFFORT, wait_until, ros_node)
    hint = qos_mismatch_hint(ros_node, unique_topic, qos_from_name('reliable', 10))
    assert hint is not None
    assert hint.startswith(f'{unique_topic}: 1 of 1 publisher(s) cannot deliver')
    assert '(reliable, volatile, depth 10)' in hint
    assert '/sensors/camera_driver publishes best_effort, volatile' in hint
    assert 'Best effort publisher and reliable subscription' in hint
    assert "'best_effort' or 'match'" in hint
    assert no_data_hint(ros_node, unique_topic, qos_from_name('reliable', 10)) == hint
    assert qos_mismatch_hint(ros_node, unique_topic, qos_from_name('best_effort', 10)) is None
    assert qos_mismatch_hint(ros_node, unique_topic, matching_qos(ros_node, unique_topic)) is None


def test_hint_for_volatile_publisher_and_transient_local_subscription(ros_node, publisher_node,
                                                                      unique_topic, wait_until):
    publish_on(publisher_node, unique_topic, QoSProfile(depth=10), wait_until, ros_node)
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    hint = qos_mismatch_hint(ros_node, unique_topic, latched)
    assert 'Volatile publisher and transient local subscription' in hint
    assert 'subscribe volatile' in hint
    compatible = no_data_hint(ros_node, unique_topic, qos_from_name('best_effort', 10))
    assert 'compatible QoS, but nothing arrived' in compatible and "'reliable'" in compatible


def test_matched_subscription_receives_and_mismatched_one_does_not(ros_context, ros_node, publisher_node,
                                                                   unique_topic, wait_until):
    """Over real DDS: 'match' connects to a best-effort publisher, 'reliable' silently does not."""
    pub = publish_on(publisher_node, unique_topic, BEST_EFFORT, wait_until, ros_node)
    got = {'match': 0, 'reliable': 0}
    for name in got:
        qos = qos_from_name(name, 10, node=ros_node, topic=unique_topic)
        ros_node.create_subscription(Image, unique_topic,
                                     lambda _msg, n=name: got.__setitem__(n, got[n] + 1), qos)
    assert wait_until(lambda: pub.get_subscription_count() >= 1)
    executor = rclpy.executors.SingleThreadedExecutor(context=ros_context)
    executor.add_node(ros_node)
    msg = Image(height=2, width=2, encoding='mono8', step=2, data=bytes(4))

    def received():
        pub.publish(msg)
        executor.spin_once(timeout_sec=0.05)
        return got['match'] >= 3

    assert wait_until(received, timeout_s=5.0)
    assert got['reliable'] == 0
    executor.shutdown()
