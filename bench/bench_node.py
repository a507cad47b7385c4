"""Fusion node throughput over DDS: 640x480 RGB + thermal pairs at 30 Hz into ``fusion_node``, across
processes.

    .venv/bin/python bench/bench_node.py [--duration 30] [--rate 30] [--configs ssvif] [--transports ...]
                                         [--cpu-threads N | --thread-sweep 1 2 ...] [--device cpu]
                                         [--ssvif models/ssvif_default.pt] [--record BENCHMARKS.md]

The node runs with the shipped defaults (``config/fuse.yaml``: ``cpu_threads`` 0 = auto, ``device``
auto, ...) unless told otherwise; the parameters a configuration overrides are printed before it runs
and shown in the table (``--cpu-threads``, ``--device``, ``-p NAME:=VALUE``). ``--thread-sweep 1 2``
runs every configuration with the pure defaults and then with each ``cpu_threads`` given, in one run,
so the table has a defaults column beside the explicit settings.

Three processes per configuration, as on a robot:

* the node: ``fusion-ros run`` (the package's ``config/fuse.yaml`` plus ``-p`` overrides), in a
  namespace of its own, on a random ``ROS_DOMAIN_ID`` (no cross-talk with anything else running);
* a camera: a separate process publishing synthetic but realistic 640x480 ``rgb8`` + ``mono16``
  (centi-kelvin) pairs with equal stamps (system time at publication) at ``--rate`` Hz for
  ``--duration`` s over reliable QoS, depth 10 (the node's default input QoS), after a short warm-up
  (stamped ``frame_id`` ``*_warmup``, left out of every figure); it starts the measured run when this
  process says so (on its stdin), once the node's ``/diagnostics`` show every warm-up pair dealt with;
* this process: subscribes to ``fused/image`` (reliable, depth 10) and ``/diagnostics``, and samples
  the node process's ``/proc/PID/status`` (VmRSS, VmHWM) and CPU time.

Figures per configuration: output rate; end-to-end latency (receive time here minus the header stamp)
p50 / p99 / max, and p50 over the first and the last 5 s (growth); where every published pair went
(received by the node, paired, skipped by the node to stay current, published, received here), from
the node's ``/diagnostics`` counters (difference between the last status before the measured run and
the first one after it in which every pair has been dealt with) and this process's own counts; node CPU
and peak RSS; the node's own per-stage times.

Every configuration runs twice by default (``--transports stock large_data``): with Fast DDS's stock
transports (``FASTDDS_BUILTIN_TRANSPORTS`` unset) and with ``LARGE_DATA?max_msg_size=1MB`` in all three
processes, the README's recommendation for camera-rate images (this process opens a DDS context per
transport: participants with different builtin transports do not see each other).

Configurations: ``average`` (fusion only, the baseline); ``ssvif`` (fusion only, the SSVIF CNN)
when ``--ssvif`` names an existing checkpoint; ``detect`` (what a robot runs with detection on: the shipped
fusion model and the shipped ``models/detector_default.pt`` at ``--detection-image-size``); ``all`` (fusion
+ segmentation + detection, small
random-weight models built here: smp Segformer mit_b0, 19 classes, and ultralytics ``yolo11n.yaml``;
speed does not depend on the weights, though the number of boxes drawn does). ``--record FILE``
appends a section with the command, date, machine and what else was running.

Importing this module does nothing; ``main()`` does the work.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchlib import cpu_model
from fusion_ros.ros.transport import FASTDDS_TRANSPORTS_ENV, LARGE_IMAGES_TRANSPORTS

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SSVIF = REPO / 'models' / 'ssvif_default.pt'
WARMUP_FRAME_SUFFIX = '_warmup'
SEG_ARCH, SEG_ENCODER, SEG_CLASSES = 'Segformer', 'mit_b0', 19
DET_CONFIG = 'yolo11n.yaml'
NS_PER_S = 1_000_000_000


# ------------------------------------------------------------------------------------ synthetic camera

def synthetic_frames(n: int, width: int = 640, height: int = 480, thermal_encoding: str = 'mono16',
                     seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` frames of a moving street-like scene: ``(rgb (H, W, 3) uint8, thermal (H, W) uint16|uint8)``.

    Sky gradient and a textured ground, a warm building, a walking person and a car with a hot engine
    that move across the frame, per-frame sensor noise. Thermal is in centi-kelvin (``mono16``, about
    -5 to 60 degC; NETD-like noise of 0.05 K) or scaled to ``mono8``.
    """
    import cv2

    rng = np.random.default_rng(seed)
    h, w = height, width
    horizon = int(0.42 * h)
    yy = np.arange(h, dtype=np.float32)[:, None]

    def smooth_noise(scale: int, amp: float) -> np.ndarray:
        small = rng.standard_normal((max(2, h // scale), max(2, w // scale))).astype(np.float32)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * amp

    # static RGB background (float 0..255) and temperature field (kelvin)
    sky = np.stack([110 + 80 * yy / horizon, 150 + 60 * yy / horizon, 230 - 20 * yy / horizon], -1)
    ground = np.stack([95 + 0 * yy, 90 + 0 * yy, 80 + 0 * yy], -1)
    rgb_bg = np.where((yy < horizon)[..., None], sky, ground) * np.ones((1, w, 1), np.float32)
    tex = smooth_noise(4, 12.0) + smooth_noise(32, 20.0)
    rgb_bg[horizon:] += tex[horizon:, :, None]
    t_bg = np.where(yy < horizon, 270.0 + 6.0 * yy / horizon, 288.0) * np.ones((1, w), np.float32)
    t_bg[horizon:] += (smooth_noise(8, 0.8) + smooth_noise(40, 1.5))[horizon:]
    bx0, bx1, by0 = int(0.62 * w), int(0.92 * w), int(0.12 * h)  # a building, warm windows
    rgb_bg[by0:horizon + 20, bx0:bx1] = (150, 135, 120)
    t_bg[by0:horizon + 20, bx0:bx1] = 286.0
    for wy in range(by0 + 15, horizon, 30):
        for wx in range(bx0 + 12, bx1 - 20, 34):
            rgb_bg[wy:wy + 14, wx:wx + 18] = (60, 70, 90)
            t_bg[wy:wy + 14, wx:wx + 18] = 293.0

    frames = []
    for i in range(n):
        phase = i / max(n, 1)
        rgb = rgb_bg.copy()
        temp = t_bg.copy()
        px, py = int((0.1 + 0.5 * phase) * w), int(0.55 * h)  # a person walking right
        cv2.ellipse(rgb, (px, py + 40), (14, 45), 0, 0, 360, (70, 60, 140), -1)
        cv2.circle(rgb, (px, py - 18), 12, (200, 160, 130), -1)
        cv2.ellipse(temp, (px, py + 40), (14, 45), 0, 0, 360, 303.0, -1)
        cv2.circle(temp, (px, py - 18), 12, 307.5, -1)
        cx, cy = int((0.95 - 0.6 * phase) * w), int(0.72 * h)  # a car driving left
        cv2.rectangle(rgb, (cx - 70, cy - 30), (cx + 70, cy + 25), (160, 30, 30), -1)
        cv2.rectangle(rgb, (cx - 45, cy - 55), (cx + 40, cy - 30), (120, 140, 160), -1)
        for wx in (cx - 45, cx + 45):
            cv2.circle(rgb, (wx, cy + 25), 16, (20, 20, 20), -1)
            cv2.circle(temp, (wx, cy + 25), 16, 318.0, -1)  # warm tyres
        cv2.rectangle(temp, (cx - 70, cy - 30), (cx + 70, cy + 25), 291.0, -1)
        cv2.rectangle(temp, (cx - 70, cy - 25), (cx - 30, cy + 15), 333.0, -1)  # hot engine
        rgb = cv2.GaussianBlur(rgb, (3, 3), 0) + rng.normal(0, 3.0, rgb.shape).astype(np.float32)
        temp = cv2.GaussianBlur(temp, (5, 5), 0) + rng.normal(0, 0.05, temp.shape).astype(np.float32)
        rgb_u8 = np.clip(rgb, 0, 255).astype(np.uint8)
        if thermal_encoding == 'mono16':
            thermal = np.clip(np.round(temp * 100.0), 0, 65535).astype(np.uint16)
        elif thermal_encoding == 'mono8':
            thermal = np.clip((temp - 265.0) * (255.0 / 75.0), 0, 255).astype(np.uint8)
        else:
            raise ValueError(f'thermal encoding must be mono16 or mono8, got {thermal_encoding!r}')
        frames.append((rgb_u8, thermal))
    return frames


def publisher_main(argv: list[str]) -> int:
    """The camera process (``bench_node.py _publish ...``): prints one JSON line with what it published."""
    p = argparse.ArgumentParser(prog='bench_node.py _publish')
    p.add_argument('--domain', type=int, required=True)
    p.add_argument('--namespace', required=True)
    p.add_argument('--width', type=int, default=640)
    p.add_argument('--height', type=int, default=480)
    p.add_argument('--rate', type=float, default=30.0)
    p.add_argument('--duration', type=float, default=30.0)
    p.add_argument('--thermal-encoding', default='mono16')
    p.add_argument('--warmup-s', type=float, default=3.0)
    p.add_argument('--warmup-rate', type=float, default=10.0)
    p.add_argument('--pause-s', type=float, default=1.0, help='after the go-ahead, before the measured run')
    p.add_argument('--wait-s', type=float, default=180.0)
    a = p.parse_args(argv)

    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Header

    from fusion_ros.ros.conversions import array_to_image_msg

    frames = synthetic_frames(max(1, round(a.rate)), a.width, a.height, a.thermal_encoding)
    msgs = [(array_to_image_msg(rgb, 'rgb8', Header()), array_to_image_msg(th, a.thermal_encoding, Header()))
            for rgb, th in frames]
    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=a.domain)
    node = rclpy.create_node('bench_camera', namespace=a.namespace, context=context)
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    rgb_pub = node.create_publisher(type(msgs[0][0]), 'rgb/image', qos)
    th_pub = node.create_publisher(type(msgs[0][1]), 'thermal/image', qos)
    result = {'published': 0, 'warmup_published': 0, 'skipped_ticks': 0}
    try:
        deadline = time.monotonic() + a.wait_s
        while not (rgb_pub.get_subscription_count() and th_pub.get_subscription_count()):
            if time.monotonic() > deadline:
                error = f'no subscriber on the node inputs after {a.wait_s} s'
                print(json.dumps({'error': error}), flush=True)
                return 1
            time.sleep(0.05)
        time.sleep(0.5)  # let discovery settle on both sides

        def send(i: int, suffix: str) -> int:
            rgb_msg, th_msg = msgs[i % len(msgs)]
            stamp = time.time_ns()  # a driver's capture stamp: system time (the node's clock)
            for msg, frame in ((rgb_msg, 'bench_rgb'), (th_msg, 'bench_thermal')):
                msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, NS_PER_S)
                msg.header.frame_id = frame + suffix
            rgb_pub.publish(rgb_msg)
            th_pub.publish(th_msg)
            return stamp

        def run(rate: float, duration: float, suffix: str) -> tuple[list[int], int]:
            period = 1.0 / rate
            n = round(duration * rate)
            t0 = time.monotonic()
            stamps, skipped, k = [], 0, 0
            while k < n:
                target = t0 + k * period
                now = time.monotonic()
                if now < target:
                    time.sleep(target - now)
                elif now - target > period:  # fell behind by a whole frame: a camera drops it
                    skipped += 1
                    k += 1
                    continue
                stamps.append(send(k, suffix))
                k += 1
            return stamps, skipped

        warm, _ = run(a.warmup_rate, a.warmup_s, WARMUP_FRAME_SUFFIX)
        print(json.dumps({'event': 'warmup_done', 'warmup_published': len(warm)}), flush=True)
        if not sys.stdin.readline():  # the benchmark process says go (or has gone away)
            return 1
        time.sleep(a.pause_s)
        stamps, skipped = run(a.rate, a.duration, '')
        period_ns = int(NS_PER_S / a.rate)
        result.update(warmup_published=len(warm), published=len(stamps), skipped_ticks=skipped,
                      start_ns=stamps[0], end_ns=stamps[-1],
                      achieved_rate_hz=(len(stamps) - 1) / ((stamps[-1] - stamps[0]) / NS_PER_S),
                      span_s=(stamps[-1] - stamps[0] + period_ns) / NS_PER_S,
                      rgb_bytes=len(msgs[0][0].data), thermal_bytes=len(msgs[0][1].data))
        time.sleep(0.5)  # let reliable retransmissions finish before the writers go away
        print(json.dumps(result), flush=True)
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


# ------------------------------------------------------------------------------------ /proc

def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB (empty when it has gone)."""
    out = {}
    try:
        for line in Path(f'/proc/{pid}/status').read_text().splitlines():
            key, _, value = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                out[key] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return out


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU time of a process, seconds."""
    try:
        fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return None


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path('/proc/stat').read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


def busy_processes(interval_s: float = 2.0, min_pct: float = 10.0) -> list[tuple[float, int, str]]:
    """Processes using at least ``min_pct`` % of one core over ``interval_s``: ``(pct, pid, command)``."""
    def snapshot():
        out = {}
        for d in Path('/proc').iterdir():
            if d.name.isdigit():
                cpu = proc_cpu_s(int(d.name))
                if cpu is not None:
                    out[int(d.name)] = cpu
        return out
    a = snapshot()
    time.sleep(interval_s)
    b = snapshot()
    found = []
    for pid, cpu in b.items():
        pct = 100.0 * (cpu - a.get(pid, cpu)) / interval_s
        if pct >= min_pct and pid != os.getpid():
            try:
                raw = Path(f'/proc/{pid}/cmdline').read_bytes()
                cmd = raw.replace(b'\0', b' ').decode(errors='replace').strip()
            except OSError:
                continue
            found.append((pct, pid, cmd))
    return sorted(found, reverse=True)



def _die_with_parent_fn():
    """A ``preexec_fn`` giving the child SIGTERM when this process dies (even by SIGKILL), or None.

    libc is loaded here, in the parent: between fork and exec the child only makes the one system call.
    """
    try:
        import ctypes
        prctl = ctypes.CDLL('libc.so.6', use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# ------------------------------------------------------------------------------------ models

def build_head_models(folder: Path) -> tuple[Path, Path]:
    """Random-weight segmentation (fusion_ros checkpoint) and detection (ultralytics .pt) models."""
    import torch

    from fusion_ros.segmentation import SegmentationInfo, build_segmentation_model
    from fusion_ros.segmentation import save_segmentation_checkpoint
    info = SegmentationInfo(arch=SEG_ARCH, encoder=SEG_ENCODER, classes=SEG_CLASSES,
                            class_names=[f'class_{i}' for i in range(SEG_CLASSES)])
    torch.manual_seed(0)
    seg = save_segmentation_checkpoint(folder / 'seg.pt', build_segmentation_model(info), info)
    os.environ.setdefault('YOLO_OFFLINE', '1')
    from ultralytics import YOLO
    det = folder / 'det.pt'
    YOLO(DET_CONFIG).save(str(det))
    return seg, det


# ------------------------------------------------------------------------------------ one configuration

@dataclass
class Config:
    key: str
    label: str
    params: dict[str, str]  # the parameters overridden (everything else: config/fuse.yaml)
    transports: str | None = None  # FASTDDS_BUILTIN_TRANSPORTS of all three processes (None: Fast DDS's stock)


TRANSPORTS = {'stock': None, 'large_data': LARGE_IMAGES_TRANSPORTS}


def expand_transports(configs: list[Config], names: list[str]) -> list[Config]:
    """Every configuration once per transport in ``names`` (grouped by transport: one DDS context each)."""
    if len(names) == 1:
        return [Config(c.key, c.label, c.params, TRANSPORTS[names[0]]) for c in configs]
    return [Config(f'{c.key}_{name}', f'{c.label}, {name} transports', c.params, TRANSPORTS[name])
            for name in names for c in configs]


def transport_env(env: MutableMapping[str, str], transports: str | None) -> MutableMapping[str, str]:
    """Set ``FASTDDS_BUILTIN_TRANSPORTS`` in ``env`` (in place; ``os.environ`` too) to ``transports``, or
    remove it for None; returns ``env``."""
    env.pop(FASTDDS_TRANSPORTS_ENV, None)
    if transports:
        env[FASTDDS_TRANSPORTS_ENV] = transports
    return env


def overrides_text(params: dict[str, str]) -> str:
    """``'fusion_model:=average cpu_threads:=1'`` (or ``'none'``), paths shortened to their file name."""
    def short(v):
        return Path(v).name if os.sep in v else v
    return ' '.join(f'{k}:={short(v)}' for k, v in params.items()) or 'none'


def expand_threads(configs: list[Config], settings: list[int | None]) -> list[Config]:
    """Each configuration once per ``cpu_threads`` setting; None: not overridden (the shipped default)."""
    out = []
    for cfg in configs:
        for n in settings:
            if n is None:
                out.append(Config(f'{cfg.key}_default', f'{cfg.label}, cpu_threads default (0 = auto)',
                                  dict(cfg.params)))
            else:
                out.append(Config(f'{cfg.key}_t{n}', f'{cfg.label}, cpu_threads {n}',
                                  {**cfg.params, 'cpu_threads': str(n)}))
    return out


@dataclass
class Outcome:
    config: Config
    ok: bool = False
    error: str = ''
    startup_s: float = 0.0
    warmup_drain_s: float | None = None
    pub: dict = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    rel_times_s: list[float] = field(default_factory=list)
    received: int = 0
    max_gap_ms: float = 0.0
    node: dict = field(default_factory=dict)  # diagnostics deltas and stages
    node_model: dict = field(default_factory=dict)  # the node's model status values (device, cpu threads)
    cpu_pct: float | None = None
    machine_busy_pct: float | None = None
    rss_peak_mb: float | None = None
    rss_end_mb: float | None = None
    train: dict = field(default_factory=dict)  # --train-at: the ~/train_scene call while streaming
    log_tail: str = ''


class Monitor:
    """This process's view: ``fused/image`` arrivals and the node's ``/diagnostics`` (rclpy, own thread)."""

    def __init__(self, context, namespace: str):
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        self.namespace = namespace
        self.node_name = f'{namespace}/fusion_node'
        self.node = __import__('rclpy').create_node('bench_monitor', namespace=namespace, context=context)
        self.lock = threading.Lock()
        self.fused: list[tuple[int, int, bool]] = []  # (stamp ns, receive ns, warm-up)
        self.diags: list[tuple[int, dict[str, dict[str, str]]]] = []
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(Image, 'fused/image', self._on_fused, qos)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)
        from std_srvs.srv import Trigger
        self.train_client = self.node.create_client(Trigger, 'fusion_node/train_scene')
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_fused(self, msg) -> None:
        now = time.time_ns()
        stamp = msg.header.stamp.sec * NS_PER_S + msg.header.stamp.nanosec
        with self.lock:
            self.fused.append((stamp, now, msg.header.frame_id.endswith(WARMUP_FRAME_SUFFIX)))

    def _on_diag(self, msg) -> None:
        statuses = {}
        for s in msg.status:
            if s.name.startswith(self.node_name + ': '):
                statuses[s.name.split(': ', 1)[1]] = {kv.key: kv.value for kv in s.values}
        if statuses:
            with self.lock:
                self.diags.append((msg.header.stamp.sec * NS_PER_S + msg.header.stamp.nanosec, statuses))

    def node_up(self) -> bool:
        return self.node.count_publishers(f'{self.namespace}/fused/image') > 0

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def _int(values: dict[str, str], key: str) -> int:
    try:
        return int(values.get(key, 0))
    except ValueError:
        return 0


def diag_counters(statuses: dict[str, dict[str, str]]) -> dict[str, int]:
    inputs, sync, proc = (statuses.get(k, {}) for k in ('inputs', 'sync', 'processing'))
    out = {'rgb_received': _int(inputs, 'rgb received'), 'thermal_received': _int(inputs, 'thermal received'),
           'pairs': _int(sync, 'pairs'), 'frames_out': _int(proc, 'frames out')}
    out['sync_dropped'] = sum(_int(sync, k) for k in sync if k.startswith('dropped '))
    for reason in ('worker_busy', 'bad_input', 'processing_error'):
        out[reason] = _int(proc, f'dropped {reason}')
    return out


def settled(statuses: dict[str, dict[str, str]]) -> bool:
    """Every pair the node has formed has been published or dropped (nothing waits or is being processed)."""
    c = diag_counters(statuses)
    return c['frames_out'] + c['worker_busy'] + c['bad_input'] + c['processing_error'] >= c['pairs']


def stage_means(statuses: dict[str, dict[str, str]]) -> dict[str, float]:
    out = {}
    for key, value in statuses.get('processing', {}).items():
        if key.endswith(' (ms)') and ' mean' in value:
            out[key[:-5]] = float(value.split(' mean')[0])
    return out


def node_command(namespace: str, params: dict[str, str]) -> list[str]:
    exe = Path(sys.executable).with_name('fusion-ros')
    if exe.is_file():
        cmd = [str(exe)]
    else:
        cmd = [sys.executable, '-c', 'import sys; from fusion_ros.cli import main; sys.exit(main())']
    cmd += ['run', '--namespace', namespace]
    for k, v in params.items():
        cmd += ['-p', f'{k}:={v}']
    return cmd


def start_profiler(pid: int, out: Path, duration_s: float) -> subprocess.Popen | None:
    """``py-spy record`` of the node process (all threads, idle frames left out) for ``duration_s``, written
    as collapsed stacks to ``out``; None (and a note) when py-spy is not installed (``pip install py-spy``)."""
    exe = Path(sys.executable).with_name('py-spy')
    if not exe.is_file():
        print('--profile: py-spy is not installed in this environment (pip install py-spy); not profiling',
              file=sys.stderr)
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([str(exe), 'record', '--pid', str(pid), '--duration', str(int(duration_s)),
                             '--rate', '50', '--format', 'raw', '--threads', '--output', str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=DIE_WITH_PARENT)


def stop(proc: subprocess.Popen | None, timeout_s: float = 10.0) -> None:
    """SIGINT (a clean stop), then SIGKILL; this one process only."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


DIE_WITH_PARENT = None  # set by main() (importing the module loads nothing)


def run_config(cfg: Config, args, context, domain: int, workdir: Path, children: list) -> Outcome:
    out = Outcome(cfg)
    namespace = f'/bench_{cfg.key}'
    env = transport_env({**os.environ, 'ROS_DOMAIN_ID': str(domain), 'YOLO_OFFLINE': '1'}, cfg.transports)
    log_path = workdir / f'{cfg.key}_node.log'
    monitor = Monitor(context, namespace)
    node_proc = pub_proc = None
    try:
        t_start = time.monotonic()
        with open(log_path, 'w') as log:
            node_proc = subprocess.Popen(node_command(namespace, cfg.params), env=env, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=DIE_WITH_PARENT, cwd=REPO)
        children.append(node_proc)
        while not monitor.node_up():
            if node_proc.poll() is not None or time.monotonic() - t_start > args.startup_timeout:
                raise RuntimeError('the node did not start (exit code '
                                   f'{node_proc.poll()}); see its log below')
            time.sleep(0.05)
        out.startup_s = time.monotonic() - t_start
        pub_cmd = [sys.executable, str(Path(__file__).resolve()), '_publish', '--domain', str(domain),
                   '--namespace', namespace, '--width', str(args.width), '--height', str(args.height),
                   '--rate', str(args.rate), '--duration', str(args.duration),
                   '--thermal-encoding', args.thermal_encoding, '--warmup-s', str(args.warmup),
                   '--pause-s', str(args.pause)]
        pub_log = workdir / f'{cfg.key}_camera.log'
        with open(pub_log, 'w') as log:
            pub_proc = subprocess.Popen(pub_cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=log, text=True, preexec_fn=DIE_WITH_PARENT, cwd=REPO)
        children.append(pub_proc)
        samples = []  # (time ns, node cpu s, machine busy, machine total, VmRSS kB)
        lines: list[str] = []

        def read_stdout() -> None:
            for line in pub_proc.stdout:
                lines.append(line)

        reader = threading.Thread(target=read_stdout, daemon=True)
        reader.start()
        deadline = time.monotonic() + 120 + args.warmup + args.settle_timeout + args.pause + args.duration
        warm_done_ns = None
        go_sent = False
        train_future, train_t0, train_t1 = None, None, None
        while pub_proc.poll() is None:
            if node_proc.poll() is not None:
                raise RuntimeError(f'the node exited during the run (exit code {node_proc.poll()})')
            if time.monotonic() > deadline:
                raise RuntimeError('the camera process did not finish in time')
            busy, total = machine_cpu()
            samples.append((time.time_ns(), proc_cpu_s(node_proc.pid), busy, total,
                            proc_status(node_proc.pid).get('VmRSS', 0)))
            if warm_done_ns is None and any('"warmup_done"' in ln for ln in list(lines)):
                warm_done_ns = time.time_ns()
            if warm_done_ns is not None and not go_sent:  # go once the node has dealt with the warm-up
                with monitor.lock:
                    ready = any(s > warm_done_ns and settled(d) for s, d in monitor.diags)
                waited = (time.time_ns() - warm_done_ns) / 1e9
                if ready or waited > args.settle_timeout:
                    out.warmup_drain_s = waited
                    pub_proc.stdin.write('go\n')
                    pub_proc.stdin.flush()
                    go_sent = True
                    go_ns = time.time_ns()
                    if args.profile is not None:
                        profiler = start_profiler(node_proc.pid, args.profile / f'{cfg.key}.txt',
                                                  args.pause + args.duration)
                        if profiler is not None:
                            children.append(profiler)
            if (args.train_at is not None and go_sent and train_future is None
                    and (time.time_ns() - go_ns) / 1e9 >= args.pause + args.train_at):
                from std_srvs.srv import Trigger
                train_t0 = time.time_ns()
                train_future = monitor.train_client.call_async(Trigger.Request())
            if train_future is not None and train_t1 is None and train_future.done():
                train_t1 = time.time_ns()
            time.sleep(0.1)
        reader.join(timeout=5)
        results = [ln for ln in lines if ln.startswith('{') and '"event"' not in ln]
        if pub_proc.returncode != 0 or not results:
            try:
                err = pub_log.read_text(errors='replace')[-2000:]
            except OSError:
                err = ''
            raise RuntimeError(f'camera process failed (exit {pub_proc.returncode}): '
                               f'{(results[-1] if results else err)}')
        out.pub = json.loads(results[-1])
        start_ns, end_ns = out.pub['start_ns'], out.pub['end_ns']
        # the final counters: the first /diagnostics after the run in which every pair has been dealt with
        wait_until = time.monotonic() + args.settle_timeout
        after = []
        while time.monotonic() < wait_until:
            with monitor.lock:
                after = [d for s, d in monitor.diags if s >= end_ns + NS_PER_S // 2 and settled(d)]
            if after:
                break
            time.sleep(0.1)
        time.sleep(1.0)  # a large last fused image may arrive after the small /diagnostics message
        status = proc_status(node_proc.pid)
        out.rss_peak_mb = status.get('VmHWM', 0) / 1024
        out.rss_end_mb = status.get('VmRSS', 0) / 1024
        with monitor.lock:
            diags = list(monitor.diags)
            fused = list(monitor.fused)
        before = [d for s, d in diags if s <= start_ns]
        if not before or not after:
            raise RuntimeError('no /diagnostics from the node before the measured run, or none after it with '
                               f'every pair dealt with within {args.settle_timeout} s')
        c0, c1 = diag_counters(before[-1]), diag_counters(after[0])
        out.node = {k: c1[k] - c0[k] for k in c1}
        out.node['warmup_settled'] = settled(before[-1])
        out.node['stages_ms'] = stage_means(after[0])
        out.node_model = dict(after[0].get('model', {}))
        measured = sorted((s, r) for s, r, warm in fused if not warm and start_ns <= s <= end_ns)
        out.received = len(measured)
        out.latencies_ms = [(r - s) / 1e6 for s, r in measured]
        out.rel_times_s = [(s - start_ns) / 1e9 for s, _ in measured]
        if train_future is not None:
            if train_t1 is None:
                out.train = {'called_s': (train_t0 - start_ns) / 1e9, 'message': 'no answer before the run ended'}
            else:
                span = (train_t1 - train_t0) / 1e9
                during = sum(1 for _, r in measured if train_t0 <= r <= train_t1)
                response = train_future.result()
                out.train = {'called_s': (train_t0 - start_ns) / 1e9, 'service_s': span,
                             'rate_during_hz': during / span if span > 0 else float('nan'),
                             'success': response.success, 'message': response.message}
        arrivals = sorted(r for _, r in measured)
        out.max_gap_ms = max((b - a for a, b in zip(arrivals, arrivals[1:], strict=False)), default=0) / 1e6
        inside = [x for x in samples if start_ns <= x[0] <= end_ns]
        if len(inside) >= 2 and inside[0][1] is not None and inside[-1][1] is not None:
            dt = (inside[-1][0] - inside[0][0]) / 1e9
            out.cpu_pct = 100.0 * (inside[-1][1] - inside[0][1]) / dt
            busy, total = inside[-1][2] - inside[0][2], inside[-1][3] - inside[0][3]
            out.machine_busy_pct = 100.0 * busy / max(1, total)
        out.ok = True
    except RuntimeError as exc:
        out.error = str(exc)
    finally:
        stop(pub_proc, 5.0)
        stop(node_proc)
        monitor.close()
        try:
            out.log_tail = '\n'.join(log_path.read_text(errors='replace').splitlines()[-15:])
        except OSError:
            pass
    return out


# ------------------------------------------------------------------------------------ report

def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float('nan')


def window_p50(out: Outcome, lo: float, hi: float) -> float:
    vals = [lat for t, lat in zip(out.rel_times_s, out.latencies_ms, strict=True) if lo <= t < hi]
    return pct(vals, 50)


def table(outcomes: list[Outcome], duration: float) -> str:
    def f(x, fmt='{:.1f}'):
        return '-' if x is None or (isinstance(x, float) and np.isnan(x)) else fmt.format(x)

    rows: list[tuple[str, list[str]]] = []

    def row(name, fn):
        rows.append((name, [fn(o) if o.ok else '-' for o in outcomes]))

    row('parameters overridden (else config/fuse.yaml)', lambda o: f'`{overrides_text(o.config.params)}`')
    row('DDS transports (FASTDDS_BUILTIN_TRANSPORTS of all three processes)',
        lambda o: f'`{o.config.transports}`' if o.config.transports else 'stock (unset)')
    row('node device / torch CPU threads (its /diagnostics)',
        lambda o: f"{o.node_model.get('device', '?')} / {o.node_model.get('cpu threads', '?').split(' (')[0]}")
    row('pairs published (rate achieved by the camera, Hz)',
        lambda o: f"{o.pub['published']} ({o.pub['achieved_rate_hz']:.1f})"
                  + (f", {o.pub['skipped_ticks']} ticks missed" if o.pub['skipped_ticks'] else ''))
    row('received by the node: rgb / thermal',
        lambda o: f"{o.node['rgb_received']} / {o.node['thermal_received']}")
    row('pairs formed (sync drops)', lambda o: f"{o.node['pairs']} ({o.node['sync_dropped']})")
    row('skipped by the node to stay current (worker_busy)', lambda o: str(o.node['worker_busy']))
    row('unusable (bad_input + processing_error)',
        lambda o: str(o.node['bad_input'] + o.node['processing_error']))
    row('fused frames published by the node / received here',
        lambda o: f"{o.node['frames_out']} / {o.received}")
    row('**output rate (Hz)**', lambda o: f"**{o.received / o.pub['span_s']:.2f}**")
    row('**latency p50 / p99 (ms)**',
        lambda o: f"**{f(pct(o.latencies_ms, 50))} / {f(pct(o.latencies_ms, 99))}**")
    row('latency max (ms)', lambda o: f(max(o.latencies_ms, default=None)))
    row('latency p50 first 5 s / last 5 s (ms)',
        lambda o: f"{f(window_p50(o, 0, 5))} / {f(window_p50(o, o.pub['span_s'] - 5, 1e9))}")
    row('longest gap between outputs (ms)', lambda o: f(o.max_gap_ms, '{:.0f}'))
    row('**lost on the way** (DDS, or overwritten in a depth-10 reader queue): camera -> node (rgb + thermal '
        'messages) / node -> here',
        lambda o: f"{2 * o.pub['published'] - o.node['rgb_received'] - o.node['thermal_received']}"
                  f" / {o.node['frames_out'] - o.received}")
    row('**pairs in - fused frames out**', lambda o: str(o.pub['published'] - o.received))
    stages = []
    for o in outcomes:
        if o.ok:
            stages += [s for s in o.node['stages_ms'] if s not in stages]
    for stage in stages:
        name = "node's own end-to-end latency" if stage == 'end-to-end latency' else f'node stage `{stage}`'
        row(f'{name}, mean of its last 100 frames (ms)', lambda o, s=stage: f(o.node['stages_ms'].get(s)))
    row('node CPU (% of one core)', lambda o: f(o.cpu_pct, '{:.0f}'))
    row('whole machine CPU busy during the run (%)', lambda o: f(o.machine_busy_pct, '{:.0f}'))
    row('node peak RSS, VmHWM (MB) / RSS at the end', lambda o: f"{f(o.rss_peak_mb, '{:.0f}')} / "
                                                              f"{f(o.rss_end_mb, '{:.0f}')}")
    row('node start-up to ready (s)', lambda o: f(o.startup_s))
    if any(o.train for o in outcomes):
        row('~/train_scene called at (s into the run) / answered after (s)',
            lambda o: f"{f(o.train.get('called_s'))} / {f(o.train.get('service_s'), '{:.2f}')}" if o.train else '-')
        row('**output rate while ~/train_scene ran (Hz)**',
            lambda o: f"**{f(o.train.get('rate_during_hz'))}**" if o.train else '-')
        row('~/train_scene answer', lambda o: (('accepted: ' if o.train.get('success') else 'not accepted: ')
                                              + o.train.get('message', '').replace('|', '/')) if o.train else '-')
    lines = ['| | ' + ' | '.join(o.config.label for o in outcomes) + ' |',
             '|---|' + '---|' * len(outcomes)]
    lines += [f'| {name} | ' + ' | '.join(cells) + ' |' for name, cells in rows]
    return '\n'.join(lines)


def machine_text(args) -> str:
    import torch
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'
    try:
        from rclpy.utilities import get_rmw_implementation_identifier
        rmw = get_rmw_implementation_identifier()
    except Exception:  # noqa: BLE001 - informative only
        rmw = os.environ.get('RMW_IMPLEMENTATION', 'default')
    return (f'{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; '
            f'torch {torch.__version__}, {gpu}; ROS 2 Kilted rclpy wheels, {rmw}, transports per column')


# ------------------------------------------------------------------------------------ main

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--duration', type=float, default=30.0, help='measured seconds per configuration (30)')
    p.add_argument('--rate', type=float, default=30.0, help='camera rate, Hz (30)')
    p.add_argument('--width', type=int, default=640)
    p.add_argument('--height', type=int, default=480)
    p.add_argument('--thermal-encoding', choices=('mono16', 'mono8'), default='mono16')
    threads = p.add_mutually_exclusive_group()
    threads.add_argument('--cpu-threads', type=int, metavar='N',
                         help="override the node's cpu_threads (default: not overridden, the shipped 0 = auto)")
    threads.add_argument('--thread-sweep', type=int, nargs='+', metavar='N',
                         help='run every configuration with the shipped defaults, then with cpu_threads:=N for '
                              'each N given (e.g. --thread-sweep 1 2): one table, a defaults column included')
    p.add_argument('--device', help="override the node's device (default: not overridden, the shipped 'auto')")
    p.add_argument('--configs', nargs='+', choices=('average', 'ssvif', 'detect', 'all'),
                   default=['average', 'ssvif', 'all'],
                   help='configurations to run (ssvif only when its checkpoint exists)')
    p.add_argument('--transports', nargs='+', choices=tuple(TRANSPORTS), default=['stock', 'large_data'],
                   help='Fast DDS transports of all three processes, each configuration once per name: stock '
                        f'(FASTDDS_BUILTIN_TRANSPORTS unset) and large_data ({LARGE_IMAGES_TRANSPORTS}, '
                        'README: DDS transport for images); default both, side by side')
    p.add_argument('--ssvif', type=Path, default=DEFAULT_SSVIF,
                   help='SSVIF checkpoint for the ssvif configuration (default models/ssvif_default.pt)')
    p.add_argument('-p', '--param', action='append', default=[], metavar='NAME:=VALUE',
                   help='another node parameter for every configuration, e.g. -p queue_size:=30; repeatable')
    p.add_argument('--detection-image-size', type=int, default=640,
                   help="the node's detection_image_size (640)")
    p.add_argument('--warmup', type=float, default=3.0, help='warm-up seconds at 10 Hz, not measured (3)')
    p.add_argument('--pause', type=float, default=1.0,
                   help='pause between the node having dealt with the warm-up and the measured run, s (1)')
    p.add_argument('--startup-timeout', type=float, default=180.0)
    p.add_argument('--settle-timeout', type=float, default=30.0,
                   help='seconds to wait after the run for the node to finish its last pair (30)')
    p.add_argument('--domain-id', type=int, help='ROS_DOMAIN_ID (default: random in 50..100)')
    p.add_argument('--train-at', type=float, metavar='S',
                   help="call ~/train_scene S seconds into each measured run (the node's train_scene_mode: adapt by "
                        "default) and report its answer time and the output rate meanwhile")
    p.add_argument('--profile', type=Path, metavar='DIR',
                   help='sample the node with py-spy during the measured run; collapsed stacks to DIR/<config>.txt '
                        '(profiling costs the node some CPU: do not record rates from such a run)')
    p.add_argument('--record', type=Path, metavar='FILE', help='append the results to this Markdown file')
    p.add_argument('--note', default='', help='a sentence added to the recorded section')
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['_publish']:
        return publisher_main(argv[1:])
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the children
    global DIE_WITH_PARENT
    DIE_WITH_PARENT = _die_with_parent_fn()

    load_before = os.getloadavg()
    others = busy_processes()
    domain = args.domain_id if args.domain_id is not None else random.randint(50, 100)
    print(f'load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; '
          f'ROS_DOMAIN_ID {domain}')
    for p_cpu, pid, cmd in others:
        print(f'  busy already: {p_cpu:.0f}% of a core, pid {pid}: {cmd[:150]}')

    common = {}  # overrides for every configuration; by default none: the node runs with config/fuse.yaml
    if args.device:
        common['device'] = args.device
    for item in args.param:
        name, sep, value = item.partition(':=')
        if not sep:
            raise SystemExit(f'--param: expected NAME:=VALUE, got {item!r}')
        common[name] = value
    configs: list[Config] = []
    if 'average' in args.configs:
        configs.append(Config('average', 'fusion only (`average`)', {**common, 'fusion_model': 'average'}))
    if 'ssvif' in args.configs:
        if args.ssvif.is_file():
            shown = args.ssvif.resolve()
            shown = shown.relative_to(REPO) if shown.is_relative_to(REPO) else shown
            configs.append(Config('ssvif', f'fusion only (`ssvif`, `{shown}`)', {**common}))
        else:
            print(f'ssvif: {args.ssvif} does not exist; skipped')

    import rclpy
    children: list[subprocess.Popen] = []
    outcomes = []
    context, current = rclpy.Context(), None
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='bench_node_') as tmp:
        workdir = Path(tmp)
        copy = workdir / 'ssvif.pt'  # a copy: the checkpoint may be rewritten by a training run meanwhile
        if args.ssvif.is_file():
            copy.write_bytes(args.ssvif.read_bytes())
        for cfg in configs:
            if cfg.key == 'ssvif':
                cfg.params.update(fusion_model='ssvif', fusion_model_path=str(copy))
        if 'detect' in args.configs:  # what a robot runs: the shipped fusion model and the shipped detector
            configs.append(Config('detect', f'shipped fusion + shipped detector @{args.detection_image_size}',
                                  {**common, 'fusion_model': 'ssvif', 'fusion_model_path': str(copy),
                                   'detection_enabled': 'true',
                                   'detection_image_size': str(args.detection_image_size)}))
        if 'all' in args.configs:
            print('building random-weight segmentation and detection models ...', flush=True)
            seg, det = build_head_models(workdir)
            configs.append(Config('all', f'all stages (`average` + {SEG_ARCH} {SEG_ENCODER} + YOLO11n '
                                         f'@{args.detection_image_size})',
                                  {**common, 'fusion_model': 'average', 'segmentation_enabled': 'true',
                                   'segmentation_model_path': str(seg), 'detection_enabled': 'true',
                                   'detection_model_path': str(det),
                                   'detection_image_size': str(args.detection_image_size)}))
        if args.thread_sweep:
            configs = expand_threads(configs, [None, *args.thread_sweep])
        elif args.cpu_threads is not None:
            configs = [Config(c.key, c.label, {**c.params, 'cpu_threads': str(args.cpu_threads)}) for c in configs]
        configs = expand_transports(configs, args.transports)
        try:
            for cfg in configs:
                if context.ok() and cfg.transports != current:  # this process's participant must use them too
                    rclpy.try_shutdown(context=context)
                if not context.ok():
                    transport_env(os.environ, cfg.transports)
                    context, current = rclpy.Context(), cfg.transports
                    rclpy.init(args=[], context=context, domain_id=domain)
                print(f'{cfg.label}: running ({args.duration:.0f} s at {args.rate:g} Hz); parameters overridden: '
                      f'{overrides_text(cfg.params)} (everything else: config/fuse.yaml) ...', flush=True)
                out = run_config(cfg, args, context, domain, workdir, children)
                outcomes.append(out)
                if not out.ok:
                    print(f'  FAILED: {out.error}\n  node log:\n{out.log_tail}', file=sys.stderr)
                elif not out.node.get('warmup_settled', True):
                    print('  note: the warm-up was still being processed when the measured run began; the '
                          'node-side counts include it')
        finally:
            for proc in children:
                stop(proc)
            rclpy.try_shutdown(context=context)
    load_after = os.getloadavg()
    md = table(outcomes, args.duration)
    print()
    print(md)
    print(f'\ntotal {time.monotonic() - t0:.0f} s; load average before {load_before[0]:.2f}, after '
          f'{load_after[0]:.2f}')
    if args.record:
        record(args, md, domain, load_before, load_after, others, argv)
        print(f'appended to {args.record}')
    return 0 if outcomes and all(o.ok for o in outcomes) else 1


def record(args, md: str, domain: int, load_before, load_after, others, argv) -> None:
    section_title = '## Fusion node over DDS: 640x480 pairs at 30 Hz, across processes, issue 3'
    text = args.record.read_text() if args.record.exists() else '# Benchmarks\n'
    today = datetime.date.today().isoformat()
    parts = []
    if section_title not in text:
        parts += ['', section_title, '', (
            'Command: `.venv/bin/python bench/bench_node.py --record BENCHMARKS.md`. Per configuration, '
            'three processes as on a robot: `fusion-ros run` (config/fuse.yaml plus the `-p` overrides shown '
            'in the table), a camera process publishing synthetic 640x480 `rgb8` + `mono16` pairs '
            '(moving scene, equal stamps = system time at publication) over reliable QoS depth 10, and '
            'the benchmark process subscribing to `fused/image` (reliable, depth 10) and `/diagnostics`. '
            'Latency is receive time in the subscriber minus the header stamp (same clock). Counts come '
            "from the node's `/diagnostics` (difference across the measured run) and the subscriber. A 3 "
            's warm-up at 10 Hz comes before each measured run and is left out; the measured run starts 1'
            " s after the node's `/diagnostics` show every warm-up pair dealt with. Only `fused/image` "
            'has a subscriber; the node also publishes `thermal/registered` (and, with all stages, '
            '`segmentation/mask`, `segmentation/overlay`, `detections/image`) with none.')]
    shown, skip = [], False
    for item in argv:  # the note is printed below the table, not repeated in the command
        if skip:
            skip = False
        elif item == '--note':
            shown.append('--note ...')
            skip = True
        elif item.startswith('--note='):
            shown.append('--note ...')
        else:
            shown.append(shlex.quote(item))
    cmd = ' '.join(['.venv/bin/python bench/bench_node.py'] + shown)
    busy = ('; '.join(f'{c:.0f}% of a core: `{cmd_[:110]}`' for c, _, cmd_ in others)
            or 'nothing above 10% of a core')
    idle = not others and load_before[0] <= 0.5
    parts += ['', f'### {today}, CPU, {args.duration:g} s per configuration at {args.rate:g} Hz', '',
              (f'Command: `{cmd}`. ROS_DOMAIN_ID {domain}{" (random)" if args.domain_id is None else ""}; '
               f'node parameters overridden: per column in the table (else config/fuse.yaml), thermal '
               f'`{args.thermal_encoding}`.'), '',
              f'Machine: {machine_text(args)}.', '',
              ('An otherwise idle machine. ' if idle else '**Not an idle machine.** ')
              + f'Load average before the run {load_before[0]:.2f} '
              f'(1 min) / {load_before[1]:.2f} (5 min) on {os.cpu_count()} cores, after {load_after[0]:.2f}. '
              f'Already running when it started (CPU over 2 s): {busy}.'
              + ('' if idle else ' The figures are what the node gets on a shared CPU, not its best case.'),
              '',
              md]
    if args.note:
        parts += ['', args.note]
    import textwrap
    parts = [p if p.startswith(('|', '#')) or not p else textwrap.fill(p, 108, break_on_hyphens=False,
                                                                      break_long_words=False)
             for p in parts]
    with open(args.record, 'a') as fh:
        fh.write('\n'.join(parts) + '\n')


if __name__ == '__main__':
    sys.exit(main())
