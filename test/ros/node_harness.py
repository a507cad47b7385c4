"""A fusion node and a test client in one rclpy Context, talking over DDS (used by the node tests).

``NodeHarness(context, params)`` starts a :class:`fusion_ros.ros.fusion_node.FusionNode` in a namespace
of its own plus a client node that publishes ``rgb/image`` / ``thermal/image`` and records every output,
both spun by one multi-threaded executor on a background thread. Waits poll for a condition with a
generous deadline (the test machine may be slow and shared).
"""
from __future__ import annotations

import threading
import time
import uuid

import numpy as np
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import ExternalShutdownException
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from fusion_ros.ros.conversions import array_to_image_msg
from fusion_ros.ros.fusion_node import FusionNode, make_executor, spin_executor

OUTPUTS = ('fused/image', 'thermal/registered', 'segmentation/mask', 'segmentation/overlay', 'detections/image')
TIMEOUT_S = 30.0
FAST_DEFAULTS = {'cpu_threads': 1, 'diagnostics_period_s': 0.2}


def header(stamp_ns: int, frame_id: str = 'rgb_optical_frame') -> Header:
    h = Header()
    h.stamp.sec, h.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
    h.frame_id = frame_id
    return h


def rgb_image(h=48, w=64, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (h + w)], axis=-1)
    return np.clip(base + rng.integers(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)


def thermal_image(h=48, w=64, encoding='mono8') -> np.ndarray:
    t = np.full((h, w), 0.2, np.float32)
    t[h // 4:h // 2, w // 4:w // 2] = 0.9
    if encoding == 'mono8':
        return (t * 255).astype(np.uint8)
    if encoding == 'mono16':
        return (27315 + t * 4000).astype(np.uint16)  # centi-kelvin-like raw values
    return (20.0 + 15.0 * t).astype(np.float32)  # 32FC1 degrees


def wait_for(predicate, timeout_s: float = TIMEOUT_S, period_s: float = 0.01):
    deadline = time.monotonic() + timeout_s
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(period_s)
        value = predicate()
    return value


class NodeHarness:
    def __init__(self, context, params: dict | None = None, *, input_qos: QoSProfile | None = None,
                 rgb_compressed: bool = False):
        self.context = context
        self.namespace = f'/fusion_test_{uuid.uuid4().hex[:8]}'
        self._torch_threads = torch.get_num_threads()  # cpu_threads changes it for the whole process
        overrides = [Parameter(k, value=v) for k, v in {**FAST_DEFAULTS, **(params or {})}.items()]
        self.node = FusionNode(context=context, namespace=self.namespace, parameter_overrides=overrides)
        self.client = rclpy.create_node('test_client', context=context, namespace=self.namespace)
        self.outputs: dict[str, list] = {topic: [] for topic in OUTPUTS + ('fused/camera_info',)}
        self.diagnostics: list[DiagnosticArray] = []
        self._lock = threading.Lock()
        self._extra = []
        for topic in OUTPUTS:
            self.client.create_subscription(Image, topic, lambda m, t=topic: self._got(t, m), 10)
        self.client.create_subscription(CameraInfo, 'fused/camera_info', lambda m: self._got('fused/camera_info', m),
                                        10)
        self.camera_info_pub = self.client.create_publisher(CameraInfo, 'rgb/camera_info', 10)
        self.client.create_subscription(DiagnosticArray, '/diagnostics', self._got_diagnostics, 10)
        qos = input_qos or QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        rgb_type, rgb_topic = (CompressedImage, 'rgb/image/compressed') if rgb_compressed else (Image, 'rgb/image')
        self.rgb_pub = self.client.create_publisher(rgb_type, rgb_topic, qos)
        self.thermal_pub = self.client.create_publisher(Image, 'thermal/image', qos)
        self.train = self.client.create_client(Trigger, f'{self.namespace}/fusion_node/train_scene')
        self.reset = self.client.create_client(Trigger, f'{self.namespace}/fusion_node/reset_model')
        # the executor the node's parameters name, spun as fusion-ros run spins it
        self.executor = make_executor(self.node.config.executor, context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.client)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, args=(context,), daemon=True)
        self._thread.start()

    def _spin(self, context) -> None:
        try:
            spin_executor(self.executor, context, self._stop)
        except ExternalShutdownException:
            pass

    # -- recording outputs

    def _got(self, topic, msg):
        with self._lock:
            self.outputs[topic].append(msg)

    def _got_diagnostics(self, msg):
        if any(s.name.startswith(self.namespace + '/') for s in msg.status):
            with self._lock:
                self.diagnostics.append(msg)

    def count(self, topic='fused/image') -> int:
        with self._lock:
            return len(self.outputs[topic])

    def settle(self) -> None:
        """Wait until every fused frame the node has published has reached the client."""
        assert wait_for(lambda: self.count() >= self.node.stats.frames_out), 'outputs did not arrive'

    def latest_status(self, suffix: str):
        """The newest DiagnosticStatus named ``<node>: <suffix>`` as ``(status, {key: value})``."""
        with self._lock:
            for array in reversed(self.diagnostics):
                for s in array.status:
                    if s.name.endswith(f': {suffix}'):
                        return s, {kv.key: kv.value for kv in s.values}
        return None, {}

    # -- publishing

    def wait_connected(self, publishers=None) -> None:
        publishers = publishers or (self.rgb_pub, self.thermal_pub)
        assert wait_for(lambda: all(p.get_subscription_count() > 0 for p in publishers)), 'no DDS match'

    def publish(self, stamp_ns: int, rgb=None, thermal=None, *, thermal_stamp_ns=None, thermal_encoding='mono8',
                rgb_msg=None, thermal_msg=None) -> None:
        """Publish one RGB and one thermal image (default images; ``*_msg`` to send a prepared message)."""
        if rgb_msg is None:
            rgb_msg = array_to_image_msg(rgb_image() if rgb is None else rgb, 'rgb8', header(stamp_ns))
        if thermal_msg is None:
            th = thermal_image(encoding=thermal_encoding) if thermal is None else thermal
            thermal_msg = array_to_image_msg(th, thermal_encoding, header(
                stamp_ns if thermal_stamp_ns is None else thermal_stamp_ns, 'thermal_optical_frame'))
        self.rgb_pub.publish(rgb_msg)
        self.thermal_pub.publish(thermal_msg)

    def received(self) -> tuple[int, int]:
        snap = self.node.stats.snapshot()['inputs']
        return snap['rgb']['received'], snap['thermal']['received']

    def handled(self) -> int:
        """Pairs the worker has finished with: published, or dropped (unusable, or skipped as stale)."""
        drops = self.node.stats.snapshot()['drops']
        return (self.node.stats.frames_out + drops.get('bad_input', 0) + drops.get('processing_error', 0)
                + drops.get('worker_busy', 0))

    def send(self, stamp_ns: int, **kwargs) -> None:
        """:meth:`publish`, then wait until the node has both messages and has dealt with every pair formed."""
        rgb0, th0 = self.received()
        self.publish(stamp_ns, **kwargs)
        assert wait_for(lambda: (lambda r: r[0] > rgb0 and r[1] > th0)(self.received())), 'messages not received'
        assert wait_for(lambda: self.handled() >= self.node.pairing_counters()['pairs']), 'pairs not handled'

    def stream(self, n: int, start_ns: int = 10**9, period_ns: int = 100_000_000, **kwargs) -> list[int]:
        """:meth:`send` ``n`` pairs ``period_ns`` apart; returns their stamps."""
        stamps = [start_ns + i * period_ns for i in range(n)]
        for stamp in stamps:
            self.send(stamp, **kwargs)
        return stamps

    # -- services

    def call(self, client, timeout_s: float = 120.0):
        assert client.wait_for_service(timeout_sec=TIMEOUT_S), 'service not available'
        future = client.call_async(Trigger.Request())
        assert wait_for(future.done, timeout_s=timeout_s), 'no service response'
        return future.result()

    def add_node(self, node) -> None:
        """Spin another node (e.g. a player) with the others; it is destroyed by :meth:`close`."""
        self._extra.append(node)
        self.executor.add_node(node)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)
        self.executor.shutdown()  # first: no callback runs on a node being destroyed
        for node in self._extra:
            node.destroy_node()
        self.node.destroy_node()
        self.client.destroy_node()
        torch.set_num_threads(self._torch_threads)
