"""``fusion_player`` / ``fusion-ros play``: publish a bag's RGB and thermal topics with their recorded timing.

A small ``ros2 bag play`` for where rosbag2 is missing (pip-only ROS 2): the two image topics of a
rosbag2 bag (MCAP or sqlite3, read with :mod:`fusion_ros.bags`) are published under their recorded
names, as recorded (header, encoding, pixels), each at its recorded log time (scaled by ``rate``).
Publishers are reliable (what gets full-size images across processes, see DESIGN.md). With ``clock``
the player also publishes ``/clock`` (bag time, 100 Hz), so nodes with ``use_sim_time`` measure
latency against the bag's clock.
"""
from __future__ import annotations

import sys
import threading
import time

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, Image

from fusion_ros.bags import IMAGE, list_image_topics, read_messages, typestore
from fusion_ros.ros.params import PlayerConfig, declare_config

NODE_NAME = 'fusion_player'
CLOCK_PERIOD_S = 0.01


class BagPlayer(Node):
    """Plays the bag on a thread of its own; ``done`` is set at the end (never with ``loop``)."""

    def __init__(self, **node_kwargs):
        super().__init__(NODE_NAME, **node_kwargs)
        self.config = declare_config(self, PlayerConfig)
        available = {t.topic: t.msgtype for t in list_image_topics(self.config.bag)}
        self.topics = [self._bag_topic(available, t) for t in (self.config.rgb_topic, self.config.thermal_topic)]
        qos = QoSProfile(depth=self.config.qos_depth, reliability=ReliabilityPolicy.RELIABLE)
        self._pubs = {topic: self.create_publisher(Image if available[topic] == IMAGE else CompressedImage,
                                                   topic, qos) for topic in self.topics}
        self._clock_pub = self.create_publisher(Clock, '/clock', 10) if self.config.clock else None
        self.published = dict.fromkeys(self.topics, 0)
        self.loops = 0
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name='bag_player', daemon=True)
        self._thread.start()

    def _bag_topic(self, available: dict[str, str], topic: str) -> str:
        name = topic if topic in available else '/' + topic.lstrip('/')
        if name not in available:
            raise ValueError(f'{self.config.bag}: no image topic {topic!r}; image topics: '
                             f'{", ".join(sorted(available)) or "none"} (set rgb_topic / thermal_topic)')
        return name

    # ------------------------------------------------------------------ playback

    def _wait_for_subscribers(self) -> None:
        deadline = time.monotonic() + self.config.wait_for_subscribers_s
        while (not self._stop.is_set() and time.monotonic() < deadline
               and not all(p.get_subscription_count() > 0 for p in self._pubs.values())):
            self._stop.wait(0.02)

    def _publish_clock(self, bag_ns: int) -> None:
        if self._clock_pub is not None:
            msg = Clock()
            msg.clock.sec, msg.clock.nanosec = divmod(int(bag_ns), 1_000_000_000)
            self._clock_pub.publish(msg)

    def _sleep_until(self, wall_target: float, bag_at) -> bool:
        """Wait for ``wall_target`` (monotonic), publishing the clock meanwhile; False when stopped."""
        while not self._stop.is_set():
            now = time.monotonic()
            self._publish_clock(bag_at(now))
            if now >= wall_target:
                return True
            self._stop.wait(min(wall_target - now, CLOCK_PERIOD_S))
        return False

    def _play_once(self) -> None:
        start_wall, first_log = None, None
        for message in read_messages(self.config.bag, self.topics):
            if start_wall is None:
                start_wall, first_log = time.monotonic(), message.log_time_ns

            def bag_at(wall, start_wall=start_wall, first_log=first_log):
                return first_log + (wall - start_wall) * self.config.rate * 1e9
            target = start_wall + (message.log_time_ns - first_log) / 1e9 / self.config.rate
            if not self._sleep_until(target, bag_at):
                return
            self._pubs[message.topic].publish(bytes(typestore().serialize_cdr(message.msg, message.msgtype)))
            self.published[message.topic] += 1

    def _play(self) -> None:
        try:
            self._wait_for_subscribers()
            while not self._stop.is_set():
                self._play_once()
                self.loops += 1
                if not self.config.loop:
                    break
        except Exception as exc:  # noqa: BLE001 - reported by run_player / main, not lost
            self.error = exc
            self.get_logger().error(f'playing {self.config.bag} failed: {type(exc).__name__}: {exc}')
        finally:
            self.done.set()

    def destroy_node(self):
        self._stop.set()
        self._thread.join(timeout=5.0)
        return super().destroy_node()


def run_player(node: BagPlayer) -> int:
    """Spin ``node`` until the bag has been played (or Ctrl-C); returns an exit code."""
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        while not node.done.is_set():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        counts = ', '.join(f'{n} on {t}' for t, n in node.published.items())
        print(f'{NODE_NAME}: published {counts}', file=sys.stderr)
        executor.shutdown()
        node.destroy_node()
    return 1 if node.error else 0


def main(args=None) -> int:
    """Entry point of ``fusion_player`` (``ros2 run fusion_ros fusion_player --ros-args -p bag:=BAG``)."""
    rclpy.init(args=args)
    try:
        try:
            node = BagPlayer()
        except (ValueError, FileNotFoundError) as exc:
            print(f'[{NODE_NAME}] cannot start: {exc}', file=sys.stderr)
            return 1
        return run_player(node)
    finally:
        rclpy.try_shutdown()


if __name__ == '__main__':
    sys.exit(main())
