"""The main job over ROS 2 (``fusion-ros demo --ros``): the bundled recording through the node, over real DDS.

1. start ``fusion_node`` in this process (namespace ``/fusion_demo``, ``use_sim_time``), on a DDS domain
   of its own (random unless given) so nothing else on the network is disturbed;
2. play the bundled recording (``fusion_ros/samples/sample_pairs.mcap``) from a *separate process*
   (``fusion_player``, in a loop, publishing ``/clock``): the images cross process boundaries over DDS;
3. collect one pass of fused frames from the shipped model, call ``~/train_scene`` once (the node keeps
   publishing meanwhile), then collect one pass from the trained model;
4. write the fused frames, a contact sheet (RGB | thermal | fused before | fused after | detections) and a
   summary (frames in and out, drops, latency, training time, quality before and after).

No ROS install and no GPU needed (ROS 2 from PyPI wheels; CPU). The node fuses with the shipped SSVIF
model and detects with the shipped detector (``models/detector_default.pt``) when it is installed.
Segmentation runs only with a checkpoint given (``segmentation_model``): no working segmenter ships.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

SAMPLE_BAG = Path(__file__).resolve().parents[1] / 'samples' / 'sample_pairs.mcap'
NAMESPACE = '/fusion_demo'


class _Collector:
    """Subscribes to the node's outputs; keeps the newest message per (topic, stamp) and phase."""

    TOPICS = ('fused/image', 'thermal/registered', 'segmentation/overlay', 'detections/image')

    def __init__(self, node):
        from sensor_msgs.msg import Image
        self.lock = threading.Lock()
        self.phase = 'before'
        self.frames: dict[str, dict[str, dict[int, object]]] = {}
        self.arrivals: list[tuple[float, str]] = []  # (monotonic time, phase) of each fused frame
        for topic in self.TOPICS:
            node.create_subscription(Image, f'{NAMESPACE}/{topic}', lambda m, t=topic: self._got(t, m), 10)

    def _got(self, topic, msg):
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self.lock:
            self.frames.setdefault(self.phase, {}).setdefault(topic, {})[stamp] = msg
            if topic == 'fused/image':
                self.arrivals.append((time.monotonic(), self.phase))

    def stamps(self, phase: str, topic: str = 'fused/image') -> set[int]:
        with self.lock:
            return set(self.frames.get(phase, {}).get(topic, {}))

    def count(self, phase: str) -> int:
        with self.lock:
            return sum(1 for _, p in self.arrivals if p == phase)


def _wait(predicate, timeout_s: float, period_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(period_s)
    return True


def _start_player(bag: Path, domain_id: int, log_path: Path) -> subprocess.Popen:
    """``fusion_player`` in a child process, looping over ``bag`` and publishing ``/clock``."""
    cmd = [sys.executable, '-m', 'fusion_ros.ros.player', '--ros-args',
           '-p', f'bag:={bag}', '-p', 'loop:=true', '-p', 'clock:=true', '-p', 'wait_for_subscribers_s:=120.0',
           '-r', f'/rgb/image:={NAMESPACE}/rgb/image', '-r', f'/thermal/image:={NAMESPACE}/thermal/image']
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id), PYTHONUNBUFFERED='1')
    log = open(log_path, 'w')  # noqa: SIM115 - closed with the process below
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc._log_file = log  # type: ignore[attr-defined]
    return proc


def _stop_player(proc: subprocess.Popen) -> None:
    import signal
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc._log_file.close()  # type: ignore[attr-defined]


def _to_float(msg):
    from fusion_ros.imaging import to_float01
    from fusion_ros.ros.conversions import image_msg_to_array
    pixels, _ = image_msg_to_array(msg)
    return to_float01(pixels)


def node_parameters(device: str = 'auto', train_epochs: int = 60, train_time_budget_s: float = 60.0,
                    segmentation_model: str | Path | None = None, detection: bool = False,
                    detection_model: str | Path | None = None) -> dict:
    """The fusion_node parameters the main job sets. Everything else (``cpu_threads`` included) is the
    node's default, the same as ``config/fuse.yaml``, which ``fusion-ros run`` and the launch file load.
    ``detection``: switch detection on (``detection_model``: its model; None: the shipped detector)."""
    # adapt_pair_interval_s 0: the sample recording is 2 s long, so ~/train_scene ('adapt', the default mode)
    # keeps its newest frames however close together (trained on the last, judged on the two before it)
    params = {'use_sim_time': True, 'device': device, 'train_epochs': int(train_epochs),
              'train_time_budget_s': float(train_time_budget_s), 'adapt_pair_interval_s': 0.0}
    if segmentation_model:
        params.update(segmentation_enabled=True, segmentation_model_path=str(segmentation_model))
    if detection or detection_model:
        params.update(detection_enabled=True, detection_model_path=str(detection_model or ''))
    return params


def shipped_detector_installed() -> bool:
    """Is the shipped detector (``models/detector_default.pt``) installed?"""
    from fusion_ros.shipped import DETECTOR_DEFAULT, shipped_model_path
    try:
        shipped_model_path(DETECTOR_DEFAULT)
    except FileNotFoundError:
        return False
    return True


def run_main_job(out_dir: str | Path, *, bag: str | Path | None = None, device: str = 'auto',
                 segmentation_model: str | Path | None = None, detection_model: str | Path | None = None,
                 train_epochs: int = 60, train_time_budget_s: float = 60.0, domain_id: int | None = None,
                 timeout_s: float = 600.0, log=print) -> dict:
    """Run the main job (see the module docstring); returns the summary dict (also in ``summary.json``).

    Args:
        out_dir: where ``frames/``, ``contact_sheet.png``, ``summary.json`` and ``summary.md`` go.
        bag: the recording (default: the bundled sample); topics ``/rgb/image`` and ``/thermal/image``.
        device: the node's ``device`` parameter.
        segmentation_model: a segmentation checkpoint (:mod:`fusion_ros.segmentation`); None: no segmentation
            (no working segmentation model ships).
        detection_model: an ultralytics detection model; None: the shipped detector when it is installed,
            else no detection.
        train_epochs, train_time_budget_s: the node's training parameters.
        domain_id: DDS domain (default: a random one in 1..101).
        timeout_s: give up waiting for frames after this long (per phase).
    """
    import rclpy
    from rclpy.parameter import Parameter
    from std_srvs.srv import Trigger

    from fusion_ros.bags import read_pairs
    from fusion_ros.io import write_image
    from fusion_ros.report import contact_sheet, pair_scores
    from fusion_ros.ros.fusion_node import FusionNode, make_executor, spin_executor

    t_start = time.monotonic()
    out = Path(out_dir)
    (out / 'frames').mkdir(parents=True, exist_ok=True)
    bag = Path(bag or SAMPLE_BAG)
    inputs = {p.rgb.stamp_ns: p for p in read_pairs(bag)}  # the recording's pairs, by RGB stamp
    if not inputs:
        raise ValueError(f'{bag}: no RGB + thermal pairs on /rgb/image and /thermal/image')
    domain_id = random.SystemRandom().randint(1, 101) if domain_id is None else domain_id
    detection = bool(detection_model) or shipped_detector_installed()
    params = node_parameters(device, train_epochs, train_time_budget_s, segmentation_model, detection,
                             detection_model)

    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=domain_id)
    node = client = executor = player = spinner = None
    stop = threading.Event()
    try:
        node = FusionNode(context=context, namespace=NAMESPACE,
                          parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        client = rclpy.create_node('fusion_demo_client', context=context)
        collector = _Collector(client)
        train = client.create_client(Trigger, f'{NAMESPACE}/fusion_node/train_scene')
        executor = make_executor(node.config.executor, context, log)  # the node's executor, as fusion-ros run
        executor.add_node(node)
        executor.add_node(client)
        spinner = threading.Thread(target=spin_executor, args=(executor, context, stop), daemon=True)
        spinner.start()
        log(f'fusion_node up on DDS domain {domain_id}; playing {bag} from another process')
        player = _start_player(bag, domain_id, out / 'player.log')
        # the newest pair of a pass may wait for the next frames (and the loop's restart then drops it)
        expected = len(inputs) - 1

        # -- phase 1: the shipped model
        if not _wait(lambda: len(collector.stamps('before')) >= expected, timeout_s):
            raise RuntimeError(f'only {len(collector.stamps("before"))} fused frames arrived in {timeout_s:.0f} s; '
                               f'see {out / "player.log"} and the node log')
        # the recording loops, and a stamp going backwards empties adapt's buffer of recent pairs: call
        # ~/train_scene once it holds what adapt needs, not right after a restart
        if not _wait(node.train_scene_ready, timeout_s):
            raise RuntimeError(f'the node did not keep the recent pairs ~/train_scene needs in {timeout_s:.0f} s')
        log(f'{len(collector.stamps("before"))} frames fused by {node.engine.active.label}; calling ~/train_scene')

        # -- phase 2: train while frames keep flowing
        with collector.lock:
            collector.phase = 'during'
        t_train = time.monotonic()
        assert train.wait_for_service(timeout_sec=30), 'train_scene service not available'
        future = train.call_async(Trigger.Request())
        if not _wait(future.done, train_time_budget_s * 3 + 120):
            raise RuntimeError('~/train_scene did not answer')
        response = future.result()
        train_wall_s = time.monotonic() - t_train
        log(f'~/train_scene: {response.message}')

        # -- phase 3: the trained model on the same frames (after the frame in the worker at the swap came out)
        seen = collector.count('during')
        _wait(lambda: collector.count('during') >= seen + 2, 30)
        with collector.lock:
            collector.phase = 'after'
        if not _wait(lambda: collector.stamps('after') >= collector.stamps('before'), timeout_s):
            log(f'warning: only {len(collector.stamps("after"))} frames after training')
        snapshot, counters = node.stats.snapshot(), node.pairing_counters()
        state = node.model_state()
    finally:
        if player is not None:
            _stop_player(player)
        stop.set()
        if spinner is not None:
            spinner.join(timeout=10.0)
        if executor is not None:
            executor.shutdown()
        for n in (node, client):
            if n is not None:
                n.destroy_node()
        rclpy.try_shutdown(context=context)

    # -- outputs: frames, contact sheet, summary
    order = sorted(inputs)
    index = {stamp: i for i, stamp in enumerate(order)}
    quality, rows, titles = {'before': [], 'after': []}, [], []
    for phase in ('before', 'after'):
        fused = collector.frames.get(phase, {}).get('fused/image', {})
        registered = collector.frames.get(phase, {}).get('thermal/registered', {})
        for stamp, msg in sorted(fused.items()):
            if stamp not in inputs:
                continue
            image = _to_float(msg)
            write_image(out / 'frames' / f'{index[stamp]:03d}_{phase}.png', image)
            if stamp in registered:
                rgb = inputs[stamp].rgb.image.astype(np.float32) / 255.0
                quality[phase].append(pair_scores(rgb, _to_float(registered[stamp]), image))
    both = sorted(set(collector.stamps('before')) & set(collector.stamps('after')) & set(inputs))
    for stamp in [both[i] for i in sorted(set(np.linspace(0, len(both) - 1, min(4, len(both))).round().astype(int)))]:
        before, after = collector.frames['before'], collector.frames['after']
        row = {'RGB': inputs[stamp].rgb.image.astype(np.float32) / 255.0,
               'thermal (registered)': _to_float(after['thermal/registered'][stamp])
               if stamp in after.get('thermal/registered', {}) else np.zeros(inputs[stamp].rgb.image.shape[:2]),
               'fused (shipped model)': _to_float(before['fused/image'][stamp]),
               'fused (after ~/train_scene)': _to_float(after['fused/image'][stamp])}
        for topic, title in (('segmentation/overlay', 'segmentation'), ('detections/image', 'detections')):
            drawn = after.get(topic, {}).get(stamp)
            if drawn is not None:
                row[title] = _to_float(drawn)
        rows.append(row)
        titles.append(f'frame {index[stamp]}')
    sheet = contact_sheet(rows, out / 'contact_sheet.png', titles=titles) if rows else None

    def mean_scores(items):
        return {k: round(float(np.mean([s[k] for s in items])), 4) for k in items[0]} if items else None

    training = node.engine.last_training
    summary = {
        'bag': str(bag), 'pairs_in_bag': len(inputs), 'dds_domain': domain_id, 'device': state['device'],
        'frames_in': {name: snapshot['inputs'][name]['received'] for name in ('rgb', 'thermal')},
        'pairs_made': counters['pairs'],
        'dropped': {**{k: v for k, v in counters.items() if v and k not in ('pairs', 'stamp_went_back')},
                    **snapshot['drops']},
        'bag_loops_restarted_pairing': counters['stamp_went_back'],
        'frames_out': snapshot['frames_out'],
        'frames_out_during_training': collector.count('during'),
        'latency_ms': {'end_to_end_mean_max': snapshot['end_to_end_ms'], 'stages_mean_max': snapshot['stages_ms']},
        'training': {'success': bool(response.success), 'message': response.message,
                     'seconds': None if training is None else round(training.seconds, 2),
                     'service_wall_s': round(train_wall_s, 2),
                     'mode': state.get('train_scene_mode'),
                     'scores': None if training is None else
                     {'on': 'held-out recent pairs' if 'ssim_score' not in (training.before or {'ssim_score': 0})
                      else 'the training pair', 'before': training.before, 'after': training.after}},
        'model_after': state['active'],
        'quality_mean': {'shipped_model': mean_scores(quality['before']),
                         'after_train_scene': mean_scores(quality['after'])},
        'segmentation': 'on' if segmentation_model else 'off (no segmentation checkpoint given)',
        'detection': state.get('detection', 'off') + (f" ({state['detection model']})"
                                                     if 'detection model' in state else ''),
        'contact_sheet': None if sheet is None else str(sheet),
        'wall_s': round(time.monotonic() - t_start, 1),
    }
    (out / 'summary.json').write_text(json.dumps(summary, indent=2, default=str))
    (out / 'summary.md').write_text(_markdown(summary))
    log(f"{summary['frames_out']} frames out ({summary['frames_out_during_training']} during training); "
        f"wrote {out / 'frames'}, {sheet} and {out / 'summary.md'}")
    return summary


def _markdown(s: dict) -> str:
    q = s['quality_mean']

    def fmt(scores):
        return 'n/a' if not scores else ', '.join(f'{k} {v:.4f}' for k, v in scores.items())
    lat = s['latency_ms']['end_to_end_mean_max']
    latency = 'n/a' if lat is None else f'{lat[0]:.1f} ms mean, {lat[1]:.1f} ms max'
    lines = [
        '# fusion_ros main job (ROS 2, real DDS)', '',
        f"- recording: `{s['bag']}` ({s['pairs_in_bag']} pairs), played from another process, DDS domain "
        f"{s['dds_domain']}, device {s['device']}",
        f"- frames in: {s['frames_in']['rgb']} RGB, {s['frames_in']['thermal']} thermal; "
        f"pairs made: {s['pairs_made']}; dropped: {s['dropped'] or 'none'}",
        f"- frames out: {s['frames_out']} ({s['frames_out_during_training']} while ~/train_scene ran)",
        f'- end-to-end latency (now - stamp, bag clock): {latency}',
        '- per stage (ms, mean / max): ' + ', '.join(f'{k} {v[0]:.1f} / {v[1]:.1f}'
                                                     for k, v in s['latency_ms']['stages_mean_max'].items() if v),
        f"- ~/train_scene: {s['training']['message']}",
        f"- model after: {s['model_after']}",
        f"- quality over the frames (paper 000 scores), shipped model: {fmt(q['shipped_model'])}",
        f"- quality over the frames, after ~/train_scene: {fmt(q['after_train_scene'])}",
        f"- segmentation: {s['segmentation']}",
        f"- detection: {s['detection']}",
        f"- contact sheet: `{s['contact_sheet']}`; wall time {s['wall_s']} s", '']
    return '\n'.join(lines)
