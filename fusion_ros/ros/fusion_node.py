"""``fusion_node``: RGB + thermal in, fused image (and the heads' outputs: segmentation, detections) out.

Data flow (see :mod:`fusion_ros.engine` for the work itself)::

    rgb/image, thermal/image --(callbacks: pair by stamp, no pixels touched)--> newest-pair slot
      --(worker thread: convert, align, fuse, heads, publish)--> fused/image, thermal/registered, ...

The subscription callbacks only pair stamps (:class:`fusion_ros.pairing.StampPairer`) and put the
newest pair in a one-place slot; a pair still waiting when a newer one comes is dropped and counted
(``worker_busy``), so the output never falls behind the input. The worker bounds and checks each pair
(:mod:`fusion_ros.frames`: ``max_input_side``, colour or all-invalid thermal images) before fusing it.
The RGB camera's calibration (``rgb/camera_info``, beside the RGB image topic) is republished for the
fused image on ``fused/camera_info``. Only the outputs of what is enabled are advertised, with the
``output_qos`` QoS. Services: ``~/train_scene`` and ``~/reset_model`` (std_srvs/Trigger; a reset wins
over a training running meanwhile). Heads (:mod:`fusion_ros.heads`, ROS side :mod:`fusion_ros.ros.heads`) are loaded
at start from ``<head>_enabled`` / ``<head>_model_path``; detection without a path loads the shipped
``models/detector_default.pt`` and, when it is not installed, the node says so and runs without detection.
Diagnostics on ``/diagnostics``. Parameters:
:class:`fusion_ros.ros.params.FusionNodeConfig` (and ``config/fuse.yaml``); ``cpu_threads`` 0 (the
default) picks the torch threads from the cores at start (:func:`fusion_ros.device.auto_cpu_threads`).
"""
from __future__ import annotations

import collections
import sys
import threading
import time
import traceback

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.serialization import serialize_message
from rclpy.task import Future
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_srvs.srv import Trigger

from fusion_ros.adapt import RecentPairs
from fusion_ros.device import apply_cpu_threads, keep_frame_buffers
from fusion_ros.encodings import msg_to_array
from fusion_ros.engine import FusionEngine, TrainingBusyError, load_fusion_model
from fusion_ros.frames import Throttle, prepare_pair
from fusion_ros.imaging import ImageError
from fusion_ros.pairing import RGB, STREAM_NAMES, THERMAL, Pair, StampPairer
from fusion_ros.ros.diagnostics import WARN, NodeStats, diagnostic_array, status_dicts
from fusion_ros.heads import names as head_names
from fusion_ros.ros.heads import ros_head
from fusion_ros.ros.outputs import (CAMERA_INFO_TOPIC, camera_info_msg, camera_info_topic, output_messages,
                                    output_topics, stamp_ns)
from fusion_ros.ros.params import FusionNodeConfig, declare_config, watch_config
from fusion_ros.ros.qos import describe_qos, no_data_hint, qos_from_name
from fusion_ros.ros.transport import node_transport

NODE_NAME = 'fusion_node'
INPUT_BASES = {RGB: 'rgb/image', THERMAL: 'thermal/image'}
NOTE_LOG_PERIOD_S = 10.0  # a remark on the inputs (resized, colour thermal) is logged at most this often


def load_heads(config: FusionNodeConfig, device) -> tuple[list, dict[str, str]]:
    """The heads the parameters switch on (:mod:`fusion_ros.heads`), loaded once, at start.

    A head with no ``<name>_model_path`` loads its shipped file; when that file is not installed, the head
    is left out and its name maps to why in the returned notes (the node logs them and keeps running).

    Returns:
        ``(heads, notes)``: the loaded heads, and ``{head name: why it is off}`` for the enabled ones left out.

    Raises:
        ValueError: a given model file that cannot be loaded (the message names the parameter).
    """
    from fusion_ros import heads as head_registry

    loaded, notes = [], {}
    for name in config.enabled_heads():
        spec, path = head_registry.get(name), config.head_path(name)
        if not path:
            try:
                path = spec.default_path()
            except FileNotFoundError as exc:
                notes[name] = (f'{name}_enabled is true but {name}_model_path is empty and {exc}; running without '
                               f'{name}. Give {name}_model_path, or install the shipped model')
                continue
        try:
            loaded.append(spec.load(path, device, config.head_config(name)))
        except (ValueError, FileNotFoundError) as exc:
            raise ValueError(f'parameter {name}_model_path: {exc}') from None
    return loaded, notes


def build_engine(config: FusionNodeConfig, log_warning=None) -> FusionEngine:
    """Load every model the parameters ask for (once, at start); errors name the parameter.

    ``log_warning(text)`` is told about each enabled head left out (its shipped model is not installed).
    """
    from fusion_ros.device import resolve_device
    try:
        device = resolve_device(config.device)
    except ValueError as exc:
        raise ValueError(f'parameter device: {exc}') from None
    try:
        shipped = load_fusion_model(config.fusion_model, config.fusion_model_path or None, device,
                                    backend=config.inference_backend)
    except ValueError as exc:
        raise ValueError(f'parameters fusion_model / fusion_model_path / inference_backend: {exc}') from None
    heads, notes = load_heads(config, device)
    engine = FusionEngine(shipped, config.align(), device, heads=heads)
    engine.head_notes = notes
    for text in notes.values():
        if log_warning is not None:
            log_warning(text)
    return engine


TRAINING_NICE = 10  # ~/train_scene's thread runs this much nicer than the rest of the node


def lower_thread_priority(nice: int) -> bool:
    """Make the calling thread ``nice`` steps nicer (Linux: threads have their own nice value); False where the
    system does not allow it (then the thread keeps the process's priority)."""
    import os
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + nice)
        return True
    except (AttributeError, OSError):
        return False


class LatestSlot:
    """A small newest-first mailbox: ``put`` adds a pair and, when ``capacity`` pairs already wait, drops the
    oldest (returns True then); ``take`` returns the oldest waiting one. Capacity 1: only the newest waits;
    2 (the node's default) also absorbs DDS delivering two frames at once without falling behind."""

    def __init__(self, capacity: int = 1):
        if capacity < 1:
            raise ValueError(f'LatestSlot: capacity must be >= 1, got {capacity}')
        self._cond = threading.Condition()
        self._items: collections.deque = collections.deque()
        self.capacity = capacity

    def put(self, item) -> bool:
        with self._cond:
            dropped = len(self._items) >= self.capacity
            if dropped:
                self._items.popleft()
            self._items.append(item)
            self._cond.notify()
            return dropped

    def take(self, timeout: float):
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            return self._items.popleft() if self._items else None


class FusionNode(Node):
    """The fusion node; see the module docstring. ``Node`` keyword arguments pass through."""

    def __init__(self, **node_kwargs):
        super().__init__(NODE_NAME, **node_kwargs)
        self._worker = self._recorder = None
        self._stop = threading.Event()
        try:
            self._start()
        except BaseException:  # a parameter, model or folder that cannot be used: leave nothing behind
            self.destroy_node()
            raise

    def _start(self) -> None:
        self.config = declare_config(self, FusionNodeConfig)
        self.cpu_threads = apply_cpu_threads(self.config.cpu_threads)
        self.allocator = keep_frame_buffers()
        self.engine = build_engine(self.config, self.get_logger().warning)
        self.stats = NodeStats(self.config.diagnostics_window_s)
        self._pair_lock = threading.Lock()
        self._pairer = StampPairer(self.config.pairing())
        self._slot = LatestSlot(self.config.worker_queue_size)
        self._latest = None  # (rgb, thermal, stamp_ns, (rgb_scale, thermal_scale)) of the newest usable pair
        adapt = self.config.adapt()  # ~/train_scene 'adapt': recent fused pairs (thermal on the RGB grid)
        self._recent = RecentPairs(adapt.pairs_needed, self.config.adapt_pair_interval_s, adapt.work_size)
        self._note_log = Throttle(NOTE_LOG_PERIOD_S)
        self._sync_warned = False
        watch_config(self, lambda: self.config, self._on_config_change)

        inputs_group = MutuallyExclusiveCallbackGroup()  # the pairer is fed from one thread at a time
        self._inputs = {stream: self._subscribe(stream, inputs_group) for stream in (RGB, THERMAL)}
        self._camera_info = None  # the newest rgb/camera_info
        self._camera_info_topic = camera_info_topic(self.resolve_topic_name(INPUT_BASES[RGB]))
        self.create_subscription(CameraInfo, self._camera_info_topic, self._on_camera_info,
                                 qos_from_name('best_effort', 5))  # best effort matches every publisher
        self._output_qos = qos_from_name(self.config.output_qos, self.config.output_qos_depth)
        self._pubs_lock = threading.Lock()  # publishers are added/removed at run time (publish_registered)
        self._pubs = {topic: self.create_publisher(Image, topic, self._output_qos) for topic in output_topics(
            registered=self.config.publish_registered, heads=self.engine.heads)}
        self._pubs[CAMERA_INFO_TOPIC] = self.create_publisher(CameraInfo, CAMERA_INFO_TOPIC, self._output_qos)
        for name in self.engine.heads:  # each head's other topics (e.g. detections), where they can be published
            entry = ros_head(name)
            for topic, msg_type in entry.extra_topics().items():
                self._pubs[topic] = self.create_publisher(msg_type, topic, self._output_qos)
            if entry.missing():
                self.get_logger().warning(entry.missing())
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        services = ReentrantCallbackGroup()  # a second ~/train_scene call is answered (refused) at once
        self.create_service(Trigger, '~/train_scene', self._on_train_scene, callback_group=services)
        self.create_service(Trigger, '~/reset_model', self._on_reset_model, callback_group=services)
        self.create_timer(self.config.diagnostics_period_s, self._publish_diagnostics,
                          callback_group=MutuallyExclusiveCallbackGroup())
        self._recorder = self._start_recorder() if self.config.record_enabled else None
        self._worker = threading.Thread(target=self._work, name='fusion_worker', daemon=True)
        self._worker.start()
        self.transport, transport_advice = node_transport()
        self.get_logger().info(
            f'fusing {self._inputs[RGB]["topic"]} + {self._inputs[THERMAL]["topic"]} with '
            f'{self.engine.active.label} on {self.engine.device} ({self.cpu_threads}), align '
            f'{self.config.align_mode}; outputs {describe_qos(self._output_qos)}; DDS: {self.transport}')
        if transport_advice:
            self.get_logger().info(transport_advice)

    # ------------------------------------------------------------------ set-up helpers

    def _subscribe(self, stream: int, group) -> dict:
        name = STREAM_NAMES[stream]
        transport = getattr(self.config, f'{name}_transport')
        topic = INPUT_BASES[stream]
        msg_type = Image
        if transport == 'compressed':  # image_transport naming: <resolved base topic>/compressed
            topic, msg_type = self.resolve_topic_name(topic) + '/compressed', CompressedImage
        qos = qos_from_name(self.config.input_qos, self.config.queue_size, node=self, topic=topic)
        sub = self.create_subscription(msg_type, topic, lambda msg: self._on_frame(stream, msg), qos,
                                       callback_group=group)
        resolved = sub.topic_name
        self.stats.inputs[name].topic, self.stats.inputs[name].qos = resolved, describe_qos(qos)
        return {'topic': resolved, 'qos': qos, 'type': msg_type, 'sub': sub}

    def _start_recorder(self):
        from fusion_ros.ros.recorder import PairRecorder
        types = tuple('sensor_msgs/msg/' + self._inputs[s]['type'].__name__ for s in (RGB, THERMAL))
        try:
            recorder = PairRecorder(self.config.record_directory, self.config.record_storage,
                                    (self._inputs[RGB]['topic'], self._inputs[THERMAL]['topic']), types,
                                    serialize_message, log_error=self.get_logger().error)
        except (OSError, ValueError) as exc:  # e.g. a folder that cannot be created or written
            raise ValueError(f'parameter record_directory: cannot record there: {exc}') from None
        self.get_logger().info(f'recording synchronised pairs to {recorder.path}')
        return recorder

    def _on_config_change(self, old: FusionNodeConfig, new: FusionNodeConfig) -> None:
        self.config = new
        if new.publish_registered != old.publish_registered:  # advertise thermal/registered only while on
            with self._pubs_lock:
                if new.publish_registered:
                    self._pubs['thermal/registered'] = self.create_publisher(Image, 'thermal/registered',
                                                                             self._output_qos)
                elif 'thermal/registered' in self._pubs:
                    self.destroy_publisher(self._pubs.pop('thermal/registered'))
        if new.pairing() != old.pairing():
            with self._pair_lock:
                self._pairer = _carry_counters(self._pairer, StampPairer(new.pairing()))
        if new.align() != old.align():
            self.engine.set_align(new.align())
        for name, head in self.engine.heads.items():  # e.g. a new detection_confidence or overlay alpha
            head.config = new.head_config(name)

    # ------------------------------------------------------------------ callbacks (short)

    def _on_frame(self, stream: int, msg) -> None:
        stamp = stamp_ns(msg.header)
        self.stats.arrived(STREAM_NAMES[stream], stamp)
        with self._pair_lock:
            pairs = self._pairer.add(stream, stamp, msg)
        for pair in pairs:
            self.stats.paired(pair.skew_s)
            if self._recorder is not None and not self._recorder.put(pair) and self._recorder.active:
                self.stats.dropped('record_queue_full')
            if self._slot.put(pair):
                self.stats.dropped('worker_busy')

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    async def _on_train_scene(self, request, response):
        # The training runs on a thread of its own and this callback awaits it, so the executor (one thread
        # with 'events') keeps pairing inputs, answering ~/reset_model and refusing a second call meanwhile.
        done = Future()

        def work():
            lower_thread_priority(TRAINING_NICE)  # the fused output first: training takes what CPU is left
            try:
                done.set_result(self._train_scene())
            except Exception as exc:  # noqa: BLE001 - answer the caller, never leave it waiting; the node goes on
                self.get_logger().error(f'~/train_scene failed:\n{traceback.format_exc()}')
                done.set_result((False, f'failed: {type(exc).__name__}: {exc}; the active model is unchanged and the '
                                        'node keeps fusing (see the node log)'))
        threading.Thread(target=work, name='train_scene', daemon=True).start()
        response.success, response.message = await done
        if response.success:  # (rclpy wants one severity per logging call site)
            self.get_logger().info(f'~/train_scene: {response.message}')
        else:
            self.get_logger().warning(f'~/train_scene: {response.message}')
        return response

    def _train_scene(self) -> tuple[bool, str]:
        """What ``~/train_scene`` answers: ``(success, message)``; blocks while the training runs."""
        latest = self._latest
        if not self.config.train_enabled:
            return False, 'refused: training is disabled (parameter train_enabled)'
        if self.engine.training_since is not None:
            return False, (f'refused: a scene training is already running (for '
                           f'{time.monotonic() - self.engine.training_since:.1f} s); wait for its result')
        if latest is None:
            return False, ('refused: no synchronised RGB + thermal pair has arrived yet; check the inputs '
                           '(see /diagnostics)')
        try:
            if self.config.train_scene_mode == 'adapt':
                pairs = self._recent.pairs()
                self.get_logger().info(f'~/train_scene (adapt): {len(pairs)} recent pair(s) kept, budget '
                                       f'{self.config.adapt_time_budget_s} s')
                result = self.engine.adapt_scene(pairs, self.config.adapt())
            else:
                rgb, thermal, stamp, scales = latest
                self.get_logger().info(f'~/train_scene: training on the pair stamped {stamp / 1e9:.3f} s '
                                       f'({rgb.shape[1]}x{rgb.shape[0]}), budget {self.config.train_time_budget_s} s')
                result = self.engine.train_scene(rgb, thermal, self.config.scene_fit(),
                                                 align=self.engine.align.rescaled(*scales))
        except TrainingBusyError as exc:
            return False, f'refused: {exc}'
        return result.accepted, result.message

    def _on_reset_model(self, request, response):
        active, training_s = self.engine.reset_training()
        response.success, response.message = True, f'now {active.label}'
        if training_s is not None:
            response.message += (f'; the ~/train_scene running for {training_s:.1f} s is cancelled: its model '
                                 'will be discarded, not swapped in')
        self.get_logger().info(f'~/reset_model: {response.message}')
        return response

    # ------------------------------------------------------------------ worker (long work)

    def _work(self) -> None:
        while not self._stop.is_set():
            pair = self._slot.take(timeout=0.2)
            if pair is not None:
                self._process(pair)

    def _process(self, pair: Pair) -> None:
        t0 = time.perf_counter()
        config = self.config
        try:
            rgb_pixels, _ = msg_to_array(pair.rgb, name='rgb')
            thermal_pixels, _ = msg_to_array(pair.thermal, name='thermal')
            prepared = prepare_pair(rgb_pixels, thermal_pixels, max_side=config.max_input_side,
                                    thermal_norm=config.thermal_norm(),
                                    thermal_encoding=getattr(pair.thermal, 'encoding', '')
                                    or getattr(pair.thermal, 'format', ''))
        except ImageError as exc:
            self.stats.dropped('bad_input')
            self.get_logger().error(f'dropped a pair that cannot be used: {exc}', throttle_duration_sec=5.0)
            return
        for key, text in prepared.notes.items():
            self.stats.noted(key)
            if self._note_log.ready(key):
                self.get_logger().warning(f'{text} (logged at most every {NOTE_LOG_PERIOD_S:.0f} s; counted in '
                                          '/diagnostics)')
        rgb, thermal, scales = prepared.rgb, prepared.thermal, (prepared.rgb_scale, prepared.thermal_scale)
        self._latest = (rgb, thermal, pair.rgb_stamp_ns, scales)
        t1 = time.perf_counter()
        try:
            frame = self.engine.process(rgb, thermal, align=self.engine.align.rescaled(*scales))
            t2 = time.perf_counter()
            stamp_s = pair.rgb_stamp_ns / 1e9
            if config.train_enabled and config.train_scene_mode == 'adapt' and self._recent.due(stamp_s):
                self._recent.add(stamp_s, rgb, frame.thermal_registered)
            msgs = output_messages(frame, pair.rgb.header, registered=config.publish_registered,
                                   wanted=self._has_subscribers)
            info = self._camera_info
            if info is not None and self._has_subscribers(CAMERA_INFO_TOPIC):
                msgs[CAMERA_INFO_TOPIC] = camera_info_msg(info, pair.rgb.header, (rgb.shape[1], rgb.shape[0]),
                                                          prepared.rgb_input_size)
            with self._pubs_lock:
                for topic, msg in msgs.items():
                    publisher = self._pubs.get(topic)
                    if publisher is not None:
                        publisher.publish(msg)
        except Exception:  # noqa: BLE001 - one bad frame must not stop the node; logged and counted
            self.stats.dropped('processing_error')
            self.get_logger().error(f'processing a pair failed:\n{traceback.format_exc()}', throttle_duration_sec=5.0)
            return
        end_to_end = (self.get_clock().now().nanoseconds - pair.rgb_stamp_ns) / 1e9
        self.stats.published({'convert': t1 - t0, **frame.timings, 'publish': time.perf_counter() - t2}, end_to_end)

    def _has_subscribers(self, topic: str) -> bool:
        """Whether ``topic`` is advertised and read by someone (messages for no one are not built)."""
        with self._pubs_lock:
            publisher = self._pubs.get(topic)
            return publisher is not None and publisher.get_subscription_count() > 0

    # ------------------------------------------------------------------ diagnostics

    def _publish_diagnostics(self) -> None:
        silent = self.stats.silent_inputs(self.config.no_data_timeout_s)
        for stream, name in enumerate(STREAM_NAMES):
            hint = None
            if name in silent:  # no publisher, or publishers whose QoS cannot deliver: say which
                hint = no_data_hint(self, self._inputs[stream]['topic'], self._inputs[stream]['qos'])
                if hint != self.stats.inputs[name].hint:
                    self.get_logger().warning(f'no {name} images for {self.config.no_data_timeout_s} s: {hint}')
            self.stats.inputs[name].hint = hint
        pairing = self.pairing_counters()
        statuses = status_dicts(self.get_fully_qualified_name(), self.stats.snapshot(), pairing, self.model_state(),
                                self.stats.recent(pairing), tolerance_s=self.config.approximate_sync_tolerance_seconds,
                                exact_sync=not self.config.approximate_sync)
        sync = next(s for s in statuses if s['name'].endswith(': sync'))
        if sync['level'] >= WARN and not self._sync_warned:  # say it once per episode, not every period
            self.get_logger().warning(sync['message'])
        self._sync_warned = sync['level'] >= WARN
        self._diag_pub.publish(diagnostic_array(statuses, self.get_clock().now().to_msg()))

    def train_scene_ready(self) -> bool:
        """Whether ``~/train_scene`` has what its mode needs: a usable pair ('scene'), and the recent pairs
        ('adapt') that :class:`fusion_ros.adapt.RecentPairs` keeps."""
        if self._latest is None:
            return False
        return self.config.train_scene_mode != 'adapt' or len(self._recent) >= self._recent.capacity

    def pairing_counters(self) -> dict[str, int]:
        with self._pair_lock:
            return dict(self._pairer.counters)

    def model_state(self) -> dict[str, str]:
        active, engine = self.engine.active, self.engine
        state = {'active': active.label, 'model': active.model.name, 'version': str(active.version),
                 'backend': active.model.backend, 'device': str(engine.device), 'cpu threads': self.cpu_threads,
                 'allocator': self.allocator, 'transport': self.transport, 'align': engine.align.mode}
        notes = getattr(engine, 'head_notes', {})
        for name in head_names():
            head = engine.heads.get(name)
            if head is not None:
                state[name] = 'on'
                if getattr(head, 'path', None) is not None:
                    state[f'{name} model'] = str(head.path)
            else:
                state[name] = f'off: {notes[name]}' if name in notes else 'off'
        since = engine.training_since
        state['training'] = f'running for {time.monotonic() - since:.1f} s' if since is not None else 'idle'
        state['train_scene_mode'] = self.config.train_scene_mode
        if self.config.train_scene_mode == 'adapt':
            state['adapt pairs kept'] = f'{len(self._recent)} of {self._recent.capacity}'
        if engine.last_training is not None:
            state['last training'] = engine.last_training.message
        info = self._camera_info
        state['camera_info'] = (f'{self._camera_info_topic} ({info.width}x{info.height}) -> {CAMERA_INFO_TOPIC}'
                                if info is not None else f'none received on {self._camera_info_topic}: '
                                f'{CAMERA_INFO_TOPIC} is not published')
        if self._recorder is not None:
            state['recording'] = (f'{self._recorder.path}: {self._recorder.pairs_written} pairs'
                                  + (f', stopped: {self._recorder.error}' if self._recorder.error else ''))
        return state

    # ------------------------------------------------------------------ shutdown

    def destroy_node(self):
        self._stop.set()
        if self._worker is not None and self._worker.is_alive():
            self._worker.join(timeout=10.0)
        if self._recorder is not None:
            path = self._recorder.close()
            text = f'recorded {self._recorder.pairs_written} pairs to {path}'
            if self.context.ok():
                self.get_logger().info(text)
            else:  # stopped by a signal: /rosout is gone, say it on the console
                print(f'[{self.get_fully_qualified_name()}] {text}', file=sys.stderr)
        return super().destroy_node()


def _carry_counters(old: StampPairer, new: StampPairer) -> StampPairer:
    """A new pairer (new settings) that keeps counting where the old one stopped."""
    new.counters.update(old.counters)
    return new


def make_executor(kind: str, context, log_warning=None):
    """The executor the ``executor`` parameter names; ``'events'`` falls back to ``'multi_threaded'`` (and
    ``log_warning`` says why) where this rclpy has no EventsExecutor (rclpy.experimental, Kilted and later)."""
    if kind == 'events':
        try:
            from rclpy.experimental import EventsExecutor
            return EventsExecutor(context=context)
        except ImportError as exc:
            if log_warning is not None:
                log_warning(f"executor 'events' is not available in this rclpy ({exc}); using 'multi_threaded'")
    return MultiThreadedExecutor(num_threads=4, context=context)


def spin_executor(executor, context, stop: threading.Event | None = None) -> None:
    """Run ``executor`` until the context shuts down (or ``stop`` is set). The EventsExecutor spins in short
    slices: its ``spin()`` keeps the GIL from the fusion worker and never sees a shutdown here."""
    if isinstance(executor, MultiThreadedExecutor) and stop is None:
        executor.spin()
        return
    while context.ok() and not (stop is not None and stop.is_set()):
        executor.spin_once(timeout_sec=0.1)


def spin_nodes(nodes: list[Node], context, kind: str = 'events') -> None:
    """Spin ``nodes`` on one executor (``kind``: see :func:`make_executor`) until Ctrl-C or shutdown (the nodes
    stay alive)."""
    executor = make_executor(kind, context, nodes[0].get_logger().warning if nodes else None)
    for node in nodes:
        executor.add_node(node)
    try:
        spin_executor(executor, context)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()


def spin(node: Node) -> None:
    """Spin ``node`` until Ctrl-C or shutdown; then destroy it."""
    try:
        spin_nodes([node], node.context, node.config.executor)
    finally:
        node.destroy_node()


def main(args=None) -> int:
    """Entry point of the ``fusion_node`` executable (``ros2 run fusion_ros fusion_node``)."""
    rclpy.init(args=args)
    try:
        try:
            node = FusionNode()
        except ValueError as exc:  # a parameter or model that cannot be used: say which, and stop
            print(f'[{NODE_NAME}] cannot start: {exc}', file=sys.stderr)
            return 1
        spin(node)
        return 0
    finally:
        rclpy.try_shutdown()


if __name__ == '__main__':
    sys.exit(main())
