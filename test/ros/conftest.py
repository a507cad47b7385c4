"""Fixtures for tests that need rclpy: a fresh Context per test, on a DDS domain of their own.

The ROS 2 wheels from PyPI need no environment set-up (no sourcing, no LD_LIBRARY_PATH,
RMW_IMPLEMENTATION defaults to rmw_fastrtps_cpp). Tests use a random ROS_DOMAIN_ID per session
(passed to ``rclpy.init``, the environment is left alone) and unique topic names, so tests run
at the same time on one machine, or a robot on the network, do not see each other.
"""
import functools
import os
import random
import uuid

import pytest

try:
    import rclpy
except ImportError:  # the test modules skip themselves; the fixtures say why if used anyway
    rclpy = None

# Domain ids 1..101 are valid for every RMW and leave 0 (the default) to real robots.
DOMAIN_ID = int(os.environ.get('FUSION_ROS_TEST_DOMAIN_ID', random.SystemRandom().randint(1, 101)))


@pytest.fixture
def ros_context():
    """An initialised rclpy Context, shut down after the test."""
    if rclpy is None:
        pytest.skip('rclpy (ROS 2) is not installed')
    context = rclpy.context.Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)


@pytest.fixture
def ros_node(ros_context):
    """A node in ``ros_context``, destroyed after the test."""
    node = rclpy.create_node(f'fusion_ros_test_{uuid.uuid4().hex[:8]}', context=ros_context)
    try:
        yield node
    finally:
        node.destroy_node()


@pytest.fixture
def unique_topic():
    """A topic name no other test uses: ``/fusion_ros_test_<random>/image``."""
    return f'/fusion_ros_test_{uuid.uuid4().hex[:8]}/image'


@pytest.fixture
def wait_until():
    """``wait_until(predicate, timeout_s=5.0)``: poll until true; returns the last value."""
    from node_harness import wait_for  # imports message types: only once a test needs ROS
    return functools.partial(wait_for, timeout_s=5.0, period_s=0.02)
