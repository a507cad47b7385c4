"""What the fusion node measures, and its ``/diagnostics`` messages.

:class:`NodeStats` is fed by the node (thread-safe; plain Python, no ROS) and turned into a
``diagnostic_msgs/DiagnosticArray`` by :func:`diagnostic_array`, one status per concern:

``<node>: inputs``      rate of each input, messages received, and a hint when an input is silent
                        (no publisher, or publishers whose QoS does not match) or its content is
                        doubtful (a colour image on the thermal topic)
``<node>: sync``        pairs made, frames dropped by reason, RGB-thermal stamp skew; WARN when both
                        inputs arrive but none pair (naming the stamp offset and the parameter)
``<node>: processing``  output rate, per-stage latency, end-to-end latency (now - stamp), frames the
                        worker skipped to stay current (``worker_busy``) or could not use
``<node>: model``       active fusion model and version, heads, training state and last result

Levels and messages describe a recent window (``diagnostics_window_s``, default the last 5 s; see
:meth:`NodeStats.recent`), so a status recovers once the problem is gone; the values also give the
totals since start (``pairs``, ``frames out``, ``dropped <reason>``: what ``bench/bench_node.py`` reads).
"""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import NamedTuple

INPUTS = ('rgb', 'thermal')
OK, WARN, ERROR = 0, 1, 2


class CounterWindow:
    """Increase of monotonically growing counters over the last ``window_s`` seconds.

    :meth:`update` is given the current totals (e.g. once per diagnostics period) and returns how
    much each grew since the newest snapshot that is at least ``window_s`` old (or since start, all
    counters 0 then, while the node is younger than the window), and the span that covers.
    """

    def __init__(self, window_s: float = 5.0, now: float | None = None):
        self.window_s = float(window_s)
        self._history: deque[tuple[float, dict[str, int]]] = deque(
            [(time.monotonic() if now is None else now, {})])

    def update(self, counters: dict[str, int], now: float | None = None) -> tuple[dict[str, int], float]:
        now = time.monotonic() if now is None else now
        self._history.append((now, dict(counters)))
        while len(self._history) >= 2 and self._history[1][0] <= now - self.window_s:
            self._history.popleft()
        base_time, base = self._history[0]
        return {k: v - base.get(k, 0) for k, v in counters.items()}, now - base_time


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
    newest_stamp_ns: int | None = None  # header stamp of the newest message received


class NodeStats:
    """Counters and timings of the fusion node, safe to update from several threads."""

    def __init__(self, window_s: float = 5.0, now: float | None = None):
        self._lock = threading.Lock()
        self.window_s = float(window_s)
        self.inputs = {name: InputState(meter=RateMeter(window_s)) for name in INPUTS}
        self.output = RateMeter(window_s)
        self.skew = Window()
        self.stages: dict[str, Window] = {}
        self.end_to_end = Window()
        self.drops: Counter[str] = Counter()  # node-level drops: worker_busy, bad_input, processing_error
        self.notes: Counter[str] = Counter()  # frames used with a remark: see NOTES
        self.frames_out = 0
        self._start = time.monotonic() if now is None else now
        self._window = CounterWindow(window_s, self._start)

    def arrived(self, name: str, stamp_ns: int | None = None, now: float | None = None) -> None:
        with self._lock:
            self.inputs[name].meter.tick(now)
            if stamp_ns is not None:
                self.inputs[name].newest_stamp_ns = int(stamp_ns)

    def noted(self, key: str, n: int = 1) -> None:
        """Count a frame that was used with a remark (a key of :data:`NOTES`)."""
        with self._lock:
            self.notes[key] += n

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

    def recent(self, pairing: dict[str, int] | None = None, now: float | None = None) -> dict:
        """What happened in the last ``window_s`` seconds: frames received, pairs and sync drops (from
        the pairer's ``pairing`` totals), frames out, node drops and notes; ``span_s`` is the time
        covered (shorter while the node is younger than the window).

        Call it periodically (the diagnostics timer does, once per period): each call is a snapshot.
        """
        pairing = pairing or {}
        with self._lock:
            totals = {'frames_out': self.frames_out,
                      **{f'received:{n}': st.meter.count for n, st in self.inputs.items()},
                      **{f'drop:{k}': v for k, v in self.drops.items()},
                      **{f'note:{k}': v for k, v in self.notes.items()},
                      **{f'pairing:{k}': v for k, v in pairing.items()}}
            deltas, span = self._window.update(totals, now)

        def part(prefix):
            return {k.split(':', 1)[1]: v for k, v in deltas.items() if k.startswith(prefix) and v}
        return {'span_s': round(span, 2), 'frames_out': deltas['frames_out'],
                'received': {n: deltas[f'received:{n}'] for n in self.inputs},
                'drops': part('drop:'), 'notes': part('note:'), 'pairing': part('pairing:')}

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
                                  'received': st.meter.count, 'hint': st.hint, 'newest_stamp_ns': st.newest_stamp_ns}
                           for name, st in self.inputs.items()},
                'output_rate_hz': round(self.output.rate(), 2),
                'frames_out': self.frames_out,
                'skew_ms': ms(self.skew),
                'stages_ms': {stage: ms(w) for stage, w in self.stages.items()},
                'end_to_end_ms': ms(self.end_to_end),
                'drops': dict(self.drops),
                'notes': dict(self.notes),
            }


def _mean_max(value) -> str:
    return 'n/a' if value is None else f'{value[0]:.1f} mean, {value[1]:.1f} max'


class Note(NamedTuple):
    """A remark on frames that were used anyway (:meth:`NodeStats.noted`)."""
    status: str  # the status it shows in
    level: int  # that status's level while it happens
    label: str  # the values key of its total
    text: str  # in the message: "<n> <text> in the last N s"


NOTES = {
    'thermal_colour': Note('inputs', WARN, 'thermal colour frames (luma used)',
                           'colour images on the thermal topic, reduced to luma (a false-colour palette is not '
                           "undone): publish the camera's mono8, mono16 or 32FC1"),
    'resized': Note('processing', OK, 'pairs resized to max_input_side',
                    'pairs larger than max_input_side resized (outputs and fused/camera_info on the smaller grid)'),
}


def _stamp_offset_text(snap: dict) -> tuple[str, float | None]:
    rgb, thermal = (snap['inputs'][n].get('newest_stamp_ns') for n in INPUTS)
    if rgb is None or thermal is None:
        return '', None
    offset = (thermal - rgb) / 1e9
    return f'the newest thermal stamp is {offset:+.3f} s from the newest rgb stamp', offset


def status_dicts(node_name: str, snap: dict, pairing: dict[str, int], model: dict[str, str],
                 recent: dict | None = None, *, tolerance_s: float | None = None,
                 exact_sync: bool = False) -> list[dict]:
    """The statuses as plain dicts ``{name, level, message, values: {key: text}}`` (ROS-free, testable).

    Args:
        snap: :meth:`NodeStats.snapshot`; pairing: the pairer's counters (totals).
        model: :meth:`FusionNode.model_state` values.
        recent: :meth:`NodeStats.recent` (levels and messages describe it); None: since start.
        tolerance_s, exact_sync: the pairing settings, named in the sync warning.
    """
    if recent is None:  # no window: everything since start
        recent = {'span_s': None, 'frames_out': snap['frames_out'],
                  'received': {n: snap['inputs'][n]['received'] for n in INPUTS},
                  'drops': dict(snap['drops']), 'notes': dict(snap.get('notes', {})),
                  'pairing': {k: v for k, v in pairing.items() if v}}
    span = recent['span_s']
    last = 'since start' if span is None else f'in the last {span:.0f} s'
    window = {} if span is None else {'window (s)': f'{span:.1f}'}
    notes_total = snap.get('notes', {})
    out = []
    # inputs
    values, level, problems = dict(window), OK, []
    for name, st in snap['inputs'].items():
        values[f'{name} topic'] = f"{st['topic']} ({st['qos']})"
        values[f'{name} rate (Hz)'] = f"{st['rate_hz']:.2f}"
        values[f'{name} received'] = str(st['received'])
        if st['hint']:
            level = WARN
            values[f'{name} problem'] = st['hint']
            problems.append(st['hint'])
    for key, note in NOTES.items():
        if note.status == 'inputs' and notes_total.get(key):
            values[note.label] = str(notes_total[key])
            if recent['notes'].get(key):
                level = max(level, note.level)
                problems.append(f"{recent['notes'][key]} {note.text} {last}")
    out.append({'name': f'{node_name}: inputs', 'level': level,
                'message': '; '.join(problems) if problems else 'receiving', 'values': values})
    # sync
    dropped = {k: v for k, v in pairing.items() if k not in ('pairs', 'stamp_went_back') and v}
    recent_pairs = recent['pairing'].get('pairs', 0)
    values = {**window, 'pairs': str(pairing.get('pairs', 0)), f'pairs ({last})': str(recent_pairs),
              'stamp went back': str(pairing.get('stamp_went_back', 0)),
              'RGB-thermal skew (ms)': _mean_max(snap['skew_ms'])}
    values.update({f'dropped {k}': str(v) for k, v in sorted(dropped.items())})
    offset_text, offset = _stamp_offset_text(snap)
    if offset is not None:
        values['newest thermal - rgb stamp (s)'] = f'{offset:+.3f}'
    rates = {n: snap['inputs'][n]['rate_hz'] for n in INPUTS}
    slower = min(rates, key=rates.get)
    recent_dropped = {k: v for k, v in recent['pairing'].items() if k not in ('pairs', 'stamp_went_back')}
    slow_unpaired = sum(v for k, v in recent_dropped.items() if k.startswith(slower) and 'superseded' not in k)
    both_arrive = all(recent['received'].get(n, 0) >= 2 for n in INPUTS)
    level = WARN if recent_pairs == 0 and both_arrive else OK
    message = (f"{recent_pairs} pairs, {sum(recent_dropped.values())} frames dropped {last}; "
               f"{pairing.get('pairs', 0)} pairs since start")
    if level == WARN:
        rate_text = f"{rates['rgb']:.1f} / {rates['thermal']:.1f} Hz"
        if exact_sync:
            message = (f'rgb and thermal arrive ({rate_text}) but no pair {last}: approximate_sync is false, so '
                       f'stamps must be equal{"; " + offset_text if offset_text else ""}. Stamp both cameras '
                       'alike, or set approximate_sync true (and approximate_sync_tolerance_seconds)')
        else:
            tol = '' if tolerance_s is None else f' ({tolerance_s:g} s)'
            message = (f'rgb and thermal arrive ({rate_text}) but no pair {last}'
                       f'{": " + offset_text if offset_text else ""}, more than '
                       f'approximate_sync_tolerance_seconds{tol}. Stamp both cameras from the same clock, or '
                       'raise approximate_sync_tolerance_seconds to the offset if it is real and constant')
    elif slow_unpaired:
        message += f' ({slow_unpaired} of the slower input, {slower}, unpaired {last}: check the tolerance and clocks)'
    out.append({'name': f'{node_name}: sync', 'level': level, 'message': message, 'values': values})
    # processing
    drops, rdrops = snap['drops'], recent['drops']
    values = {**window, 'output rate (Hz)': f"{snap['output_rate_hz']:.2f}", 'frames out': str(snap['frames_out']),
              f'frames out ({last})': str(recent['frames_out']),
              'end-to-end latency (ms)': _mean_max(snap['end_to_end_ms'])}
    values.update({f'{stage} (ms)': _mean_max(v) for stage, v in snap['stages_ms'].items()})
    values.update({f'dropped {k}': str(v) for k, v in sorted(drops.items())})
    remarks = []
    for key, note in NOTES.items():
        if note.status == 'processing' and notes_total.get(key):
            values[note.label] = str(notes_total[key])
            if recent['notes'].get(key):
                remarks.append(f"{recent['notes'][key]} {note.text}")
    bad_total = drops.get('bad_input', 0) + drops.get('processing_error', 0)
    bad = rdrops.get('bad_input', 0) + rdrops.get('processing_error', 0)
    message = (f"{recent['frames_out']} frames out, {rdrops.get('worker_busy', 0)} skipped to stay current, "
               f"{bad} unusable{' (see the log)' if bad else ''} {last}")
    if span is not None:
        message += f"; since start {snap['frames_out']} out, {bad_total} unusable"
    if remarks:
        message += '; ' + '; '.join(remarks)
    out.append({'name': f'{node_name}: processing', 'level': WARN if bad else OK, 'message': message,
                'values': values})
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
