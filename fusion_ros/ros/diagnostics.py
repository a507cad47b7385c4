"""What the fusion node measures, and its ``/diagnostics`` messages.

:class:`NodeStats` is fed by the node (thread-safe; plain Python, no ROS) and turned into a
``diagnostic_msgs/DiagnosticArray`` by :func:`diagnostic_array`, one status per concern:

``<node>: inputs``      rate of each input, messages received, and a hint when an input is silent
                        (no publisher, or publishers whose QoS does not match)
``<node>: sync``        pairs made, frames dropped by reason, RGB-thermal stamp skew
``<node>: processing``  output rate, per-stage latency, end-to-end latency (now - stamp), frames the
                        worker skipped to stay current (``worker_busy``) or could not use
``<node>: model``       active fusion model and version, heads, training state and last result
"""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

INPUTS = ('rgb', 'thermal')
OK, WARN, ERROR = 0, 1, 2


class RateMeter:
    """Events per second over the last ``window_s`` seconds (monotonic clock)."""

    def __init__(self, window_s: float = 5.0):
        self.window_s = window_s
        self.count = 0
        self.last: float | None = None
        self._times: deque[float] = deque()

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.count += 1
        self.last = now
        self._times.append(now)
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = max(now - self._times[0], self._times[-1] - self._times[0])
        return (len(self._times) - 1) / span if span > 0 else 0.0


class Window:
    """The last ``size`` values of a quantity: mean and max."""

    def __init__(self, size: int = 100):
        self._values: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self._values.append(float(value))

    def summary(self) -> tuple[float, float] | None:
        if not self._values:
            return None
        return sum(self._values) / len(self._values), max(self._values)


@dataclass
class InputState:
    """A subscribed input: topic, QoS text, rate; ``hint`` is set when it is silent."""
    topic: str = ''
    qos: str = ''
    meter: RateMeter = field(default_factory=RateMeter)
    hint: str | None = None


class NodeStats:
    """Counters and timings of the fusion node, safe to update from several threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self.inputs = {name: InputState() for name in INPUTS}
        self.output = RateMeter()
        self.skew = Window()
        self.stages: dict[str, Window] = {}
        self.end_to_end = Window()
        self.drops: Counter[str] = Counter()  # node-level drops: worker_busy, bad_input, processing_error
        self.frames_out = 0
        self._start = time.monotonic()

    def arrived(self, name: str, now: float | None = None) -> None:
        with self._lock:
            self.inputs[name].meter.tick(now)

    def paired(self, skew_s: float) -> None:
        with self._lock:
            self.skew.add(abs(skew_s))

    def dropped(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.drops[reason] += n

    def published(self, stage_s: dict[str, float], end_to_end_s: float) -> None:
        with self._lock:
            self.output.tick()
            self.frames_out += 1
            for stage, seconds in stage_s.items():
                self.stages.setdefault(stage, Window()).add(seconds)
            self.end_to_end.add(end_to_end_s)

    def silent_inputs(self, timeout_s: float, now: float | None = None) -> list[str]:
        """Inputs with no message for ``timeout_s`` (or none at all, once ``timeout_s`` has passed)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return [name for name, state in self.inputs.items()
                    if now - (state.meter.last if state.meter.last is not None else self._start) > timeout_s]

    def snapshot(self) -> dict:
        """Everything, as plain values (rates in Hz, times in ms)."""
        with self._lock:
            def ms(window: Window):
                s = window.summary()
                return None if s is None else (round(1e3 * s[0], 2), round(1e3 * s[1], 2))
            return {
                'inputs': {name: {'topic': st.topic, 'qos': st.qos, 'rate_hz': round(st.meter.rate(), 2),
                                  'received': st.meter.count, 'hint': st.hint} for name, st in self.inputs.items()},
                'output_rate_hz': round(self.output.rate(), 2),
                'frames_out': self.frames_out,
                'skew_ms': ms(self.skew),
                'stages_ms': {stage: ms(w) for stage, w in self.stages.items()},
                'end_to_end_ms': ms(self.end_to_end),
                'drops': dict(self.drops),
            }


def _mean_max(value) -> str:
    return 'n/a' if value is None else f'{value[0]:.1f} mean, {value[1]:.1f} max'


def status_dicts(node_name: str, snap: dict, pairing: dict[str, int], model: dict[str, str]) -> list[dict]:
    """The statuses as plain dicts ``{name, level, message, values: {key: text}}`` (ROS-free, testable)."""
    out = []
    # inputs
    values, level, problems = {}, OK, []
    for name, st in snap['inputs'].items():
        values[f'{name} topic'] = f"{st['topic']} ({st['qos']})"
        values[f'{name} rate (Hz)'] = f"{st['rate_hz']:.2f}"
        values[f'{name} received'] = str(st['received'])
        if st['hint']:
            level = WARN
            values[f'{name} problem'] = st['hint']
            problems.append(st['hint'])
    out.append({'name': f'{node_name}: inputs', 'level': level,
                'message': '; '.join(problems) if problems else 'receiving', 'values': values})
    # sync
    dropped = {k: v for k, v in pairing.items() if k not in ('pairs', 'stamp_went_back') and v}
    values = {'pairs': str(pairing.get('pairs', 0)), 'stamp went back': str(pairing.get('stamp_went_back', 0)),
              'RGB-thermal skew (ms)': _mean_max(snap['skew_ms'])}
    values.update({f'dropped {k}': str(v) for k, v in sorted(dropped.items())})
    rates = {n: snap['inputs'][n]['rate_hz'] for n in INPUTS}
    slower = min(rates, key=rates.get)
    slow_unpaired = sum(v for k, v in dropped.items() if k.startswith(slower) and 'superseded' not in k)
    level = WARN if pairing.get('pairs', 0) == 0 and sum(snap['inputs'][n]['received'] for n in INPUTS) > 4 else OK
    message = f"{pairing.get('pairs', 0)} pairs, {sum(dropped.values())} frames dropped"
    if level == WARN:
        message += ('; frames arrive but none pair: are both stamped from the same clock? raise '
                    'approximate_sync_tolerance_seconds?')
    elif slow_unpaired:
        message += f' ({slow_unpaired} of the slower input, {slower}: check the tolerance and clocks)'
    out.append({'name': f'{node_name}: sync', 'level': level, 'message': message, 'values': values})
    # processing
    drops = snap['drops']
    values = {'output rate (Hz)': f"{snap['output_rate_hz']:.2f}", 'frames out': str(snap['frames_out']),
              'end-to-end latency (ms)': _mean_max(snap['end_to_end_ms'])}
    values.update({f'{stage} (ms)': _mean_max(v) for stage, v in snap['stages_ms'].items()})
    values.update({f'dropped {k}': str(v) for k, v in sorted(drops.items())})
    bad = drops.get('bad_input', 0) + drops.get('processing_error', 0)
    out.append({'name': f'{node_name}: processing', 'level': WARN if bad else OK,
                'message': (f"{snap['frames_out']} frames out, {drops.get('worker_busy', 0)} skipped to stay "
                            f'current, {bad} unusable (see the log)'), 'values': values})
    # model
    out.append({'name': f'{node_name}: model', 'level': OK, 'message': model.get('active', ''), 'values': model})
    return out


def diagnostic_array(statuses: list[dict], stamp, hardware_id: str = ''):
    """A ``diagnostic_msgs/DiagnosticArray`` from :func:`status_dicts`' output, stamped ``stamp``."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    array = DiagnosticArray()
    array.header.stamp = stamp
    for s in statuses:
        status = DiagnosticStatus(level=bytes([s['level']]), name=s['name'], message=s['message'][:1000],
                                  hardware_id=hardware_id)
        status.values = [KeyValue(key=str(k), value=str(v)) for k, v in s['values'].items()]
        array.status.append(status)
    return array
