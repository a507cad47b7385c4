"""Approximate-time pairing of an RGB stream and a thermal stream by stamp (ROS-free).

The node (live topics) and the offline bag reader use the same :class:`StampPairer`, so a bag
replayed through the node and read offline gives the same pairs.

Semantics
---------
Think of all frames of both streams on one time line, sorted by stamp. A frame's nearest frame of
the other stream is always a neighbour on that line, so the candidate pairs are the neighbours
from different streams whose stamps differ by at most ``tolerance_s``. Closer candidates take
precedence (ties: the earlier one) and a frame is used at most once: pairs are chosen greedily by
skew, smallest first. Consequences:

* equal rates with jitter: frame ``k`` of one stream pairs with frame ``k`` of the other;
* different rates (RGB 30 Hz, thermal 9 Hz): each thermal frame pairs with its nearest RGB frame;
  the other RGB frames are dropped and counted (``rgb_no_match`` / ``rgb_superseded`` /
  ``rgb_not_nearest``: expected, the excess of the faster stream). Frames of the *slower* stream
  left unpaired are the sign of a problem (clocks apart, tolerance too small);
* pairs come out in time order, both stamps strictly increasing (pairs never cross), so outputs
  stamped with a pair's stamp never go back in time.

When a frame is decided
-----------------------
Online, a decision is made only once no frame still to come can change it: frames of a stream come
with increasing stamps, so a stream's newest stamp bounds what it can still deliver. A frame is
declared unmatched once the other stream has moved past it by more than the tolerance; a pair is
formed once each stream has a frame after it that proves no nearer partner can come. The price is
latency: a pair can wait for the next frame of the slower stream (up to one frame period).
Because decisions only use settled information, the pairs (and the counters) do not depend on how
the two streams' messages interleave on arrival, unless a queue overflows. :meth:`StampPairer.flush`
decides what is left at the end of a recording.

Dropped frames are counted by reason in :attr:`StampPairer.counters` (``<stream>`` is ``rgb`` or
``thermal``):

``<stream>_no_match``        the next frame of the other stream is more than the tolerance away
                             (clocks apart, a gap in the other stream, or simply the excess of
                             the faster stream)
``<stream>_not_nearest``     the next frame of the other stream was within the tolerance, but
                             nearer to another frame, which took it
``<stream>_superseded``      a newer frame of the same stream came before the next frame of the
                             other stream (which was within the tolerance): the newer one is nearer
``<stream>_queue_overflow``  more than ``queue_size`` frames waiting on that stream (the other
                             stream is late or stopped); the oldest is dropped
``<stream>_out_of_order``    stamp equal to the stream's newest stamp (a duplicate); dropped
``<stream>_reset``           frames waiting when the time went back (see below)
``stamp_went_back``          number of resets: a stamp older than its stream's newest (bag loop,
                             simulated clock reset); both queues are cleared and pairing restarts
``pairs``                    pairs formed
"""
from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, NamedTuple

RGB, THERMAL = 0, 1
STREAM_NAMES = ('rgb', 'thermal')
DROP_REASONS = ('no_match', 'not_nearest', 'superseded', 'queue_overflow', 'out_of_order', 'reset')
COUNTER_KEYS = ('pairs', 'stamp_went_back') + tuple(
    f'{stream}_{reason}' for reason in DROP_REASONS for stream in STREAM_NAMES)

NS_PER_S = 1_000_000_000


@dataclass
class PairingConfig:
    """How RGB and thermal frames are paired (the image_pipeline sync parameters).

    Attributes:
        queue_size: at most this many unpaired frames are kept per stream; when one more comes,
            the oldest is dropped (``queue_size`` in image_pipeline). >= 1.
        tolerance_s: largest stamp difference, in seconds, of a pair
            (``approximate_sync_tolerance_seconds`` in image_pipeline). > 0.
    """
    queue_size: int = 10
    tolerance_s: float = 0.05

    def __post_init__(self):
        if isinstance(self.queue_size, bool) or not isinstance(self.queue_size, int) or self.queue_size < 1:
            raise ValueError(
                f'queue_size must be an integer >= 1, got {self.queue_size!r}; '
                'use e.g. 10 (frames kept per stream while waiting for a partner)')
        if not (isinstance(self.tolerance_s, (int, float)) and self.tolerance_s > 0
                and self.tolerance_s != float('inf')):
            raise ValueError(
                f'tolerance_s must be a finite number of seconds > 0, got {self.tolerance_s!r}; '
                'use e.g. 0.05 (about half the frame period of the slower camera)')

    @property
    def tolerance_ns(self) -> int:
        return int(round(self.tolerance_s * NS_PER_S))


class Pair(NamedTuple):
    """One RGB frame and one thermal frame taken at about the same time.

    ``skew_s`` is ``(thermal_stamp_ns - rgb_stamp_ns) / 1e9``: signed, in seconds, ``|skew_s| <=
    tolerance_s``.
    """
    rgb: Any
    thermal: Any
    rgb_stamp_ns: int
    thermal_stamp_ns: int
    skew_s: float


class _Frame(NamedTuple):
    stamp: int
    stream: int
    item: Any

    @property
    def key(self) -> tuple[int, int]:
        """Order on the common time line: by stamp; on equal stamps RGB first."""
        return self.stamp, self.stream


class StampPairer:
    """Online approximate-time pairing of RGB and thermal frames; see the module docstring.

    Feed frames as they arrive; each call returns the pairs it completed (oldest first). Not
    thread-safe: call it from one thread (or under one lock), e.g. the node's subscription callbacks
    in a mutually exclusive callback group.

    Example:
        >>> p = StampPairer(PairingConfig(queue_size=10, tolerance_s=0.05))
        >>> p.add_rgb(1_000_000_000, 'rgb0'), p.add_thermal(1_010_000_000, 'th0')
        ([], [])
        >>> p.add_rgb(1_033_000_000, 'rgb1')  # proves no RGB frame nearer to th0 can come
        [Pair(rgb='rgb0', thermal='th0', rgb_stamp_ns=1000000000, thermal_stamp_ns=1010000000, skew_s=0.01)]
    """

    def __init__(self, config: PairingConfig | None = None):
        self.config = config or PairingConfig()
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_KEYS, 0)
        self._queues: tuple[deque[_Frame], deque[_Frame]] = (deque(), deque())
        self._newest: list[int | None] = [None, None]

    # ------------------------------------------------------------------ public API

    def add_rgb(self, stamp_ns: int, item: Any) -> list[Pair]:
        """Add an RGB frame (stamp in integer nanoseconds); returns the pairs completed by it."""
        return self.add(RGB, stamp_ns, item)

    def add_thermal(self, stamp_ns: int, item: Any) -> list[Pair]:
        """Add a thermal frame (stamp in integer nanoseconds); returns the pairs completed by it."""
        return self.add(THERMAL, stamp_ns, item)

    def add(self, stream: int, stamp_ns: int, item: Any) -> list[Pair]:
        """Add a frame of ``stream`` (:data:`RGB` or :data:`THERMAL`); returns the completed pairs."""
        if stream not in (RGB, THERMAL):
            raise ValueError(f'stream must be RGB (0) or THERMAL (1), got {stream!r}')
        stamp_ns = int(stamp_ns)
        name = STREAM_NAMES[stream]
        newest = self._newest[stream]
        if newest is not None and stamp_ns == newest:
            self.counters[f'{name}_out_of_order'] += 1
            return []
        if newest is not None and stamp_ns < newest:
            self.reset()
            self.counters['stamp_went_back'] += 1
        self._queues[stream].append(_Frame(stamp_ns, stream, item))
        self._newest[stream] = stamp_ns
        pairs = self._decide(final=False)
        queue = self._queues[stream]
        if len(queue) > self.config.queue_size:
            while len(queue) > self.config.queue_size:
                queue.popleft()
                self.counters[f'{name}_queue_overflow'] += 1
            pairs += self._decide(final=False)
        return pairs

    def flush(self) -> list[Pair]:
        """Decide every waiting frame as if no frame will come any more (end of a recording)."""
        return self._decide(final=True)

    def reset(self) -> None:
        """Forget waiting frames (counted as ``<stream>_reset``) and the streams' newest stamps."""
        for stream, queue in enumerate(self._queues):
            self.counters[f'{STREAM_NAMES[stream]}_reset'] += len(queue)
            queue.clear()
        self._newest = [None, None]

    @property
    def pending(self) -> tuple[int, int]:
        """Frames waiting for a decision: ``(rgb, thermal)``."""
        return len(self._queues[RGB]), len(self._queues[THERMAL])

    @property
    def dropped(self) -> int:
        """Frames dropped so far, all reasons together."""
        return sum(v for k, v in self.counters.items() if k not in ('pairs', 'stamp_went_back'))

    # ------------------------------------------------------------------ decisions

    def _may_come_before(self, stream: int, frame: _Frame, final: bool) -> bool:
        """Could a frame of ``stream`` still arrive with a stamp before ``frame``'s (conservative)?"""
        if final:
            return False
        newest = self._newest[stream]
        return newest is None or newest < frame.stamp

    def _decide(self, final: bool) -> list[Pair]:
        pairs = []
        while self._queues[RGB] or self._queues[THERMAL]:
            merged = sorted(list(self._queues[RGB]) + list(self._queues[THERMAL]), key=lambda f: f.key)
            action = self._decide_oldest(merged, final)
            if action is None:
                break
            if isinstance(action, Pair):
                pairs.append(action)
        return pairs

    def _decide_oldest(self, merged: list[_Frame], final: bool) -> Pair | str | None:
        """Decide the oldest waiting frame: a :class:`Pair`, a drop reason (done), or None (wait)."""
        tol = self.config.tolerance_ns
        v0 = merged[0]
        own, other = v0.stream, 1 - v0.stream
        if self._may_come_before(other, v0, final):
            return None  # the other stream has not reached v0 yet: a partner may still come
        b1 = next((f for f in merged if f.stream == other), None)
        if b1 is None:
            # No frame of the other stream after v0 yet; one with a stamp > newest[other] may come.
            newest = self._newest[other]
            if final or (newest is not None and newest - v0.stamp >= tol):
                return self._drop(v0, 'no_match')
            return None
        gap = b1.stamp - v0.stamp  # b1 is settled: later frames of the other stream come after it
        if gap > tol:
            return self._drop(v0, 'no_match')
        if merged[1].stream == own:  # a newer frame of the same stream is nearer to every partner left
            return self._drop(v0, 'superseded')
        if self._may_come_before(own, b1, final):
            return None  # a newer frame of v0's stream may still come before b1 (and be nearer to it)
        taken = self._first_edge_taken(merged, gap, final)
        if taken is None:
            return None
        if not taken:
            return self._drop(v0, 'not_nearest')
        return self._pair(v0, b1)

    def _first_edge_taken(self, merged: list[_Frame], w0: int, final: bool) -> bool | None:
        """Whether the candidate pair ``(merged[0], merged[1])`` wins (None: not decided yet).

        Follows the chain of ever closer neighbouring pairs forward in time until a pair with no
        closer neighbour; that one is formed, the one before it loses, and so on back to the first.
        """
        k, w = 0, w0
        while True:
            u, v = merged[k], merged[k + 1]
            # Is there a frame of u's stream after v, nearer to v than w (it would take v)?
            nxt = merged[k + 2] if k + 2 < len(merged) else None
            future_u_near = (not final and self._newest[u.stream] is not None
                             and self._newest[u.stream] < v.stamp + w)
            existing_u = next((f for f in merged[k + 2:] if f.stream == u.stream), None)
            existing_u_near = existing_u is not None and existing_u.stamp - v.stamp < w
            if not (future_u_near or existing_u_near):
                break  # no nearer pair can follow: (u, v) is formed
            if nxt is None or any(self._may_come_before(s, nxt, final) for s in (RGB, THERMAL)):
                return None  # v's successor on the time line is not settled yet
            if nxt.stream == v.stream:
                break  # v is followed by its own stream: no pair after (u, v) shares v
            w_next = nxt.stamp - v.stamp
            if w_next >= w:
                break
            k, w = k + 1, w_next
        return k % 2 == 0

    def _take(self, frame: _Frame) -> None:
        """Remove ``frame``, always the oldest waiting frame of its stream, from its queue."""
        queue = self._queues[frame.stream]
        assert queue[0] is frame, 'decisions are made oldest first'
        queue.popleft()

    def _drop(self, frame: _Frame, reason: str) -> str:
        self._take(frame)
        self.counters[f'{STREAM_NAMES[frame.stream]}_{reason}'] += 1
        return reason

    def _pair(self, a: _Frame, b: _Frame) -> Pair:
        self._take(a)
        self._take(b)
        self.counters['pairs'] += 1
        rgb, thermal = (a, b) if a.stream == RGB else (b, a)
        return Pair(rgb.item, thermal.item, rgb.stamp, thermal.stamp,
                    (thermal.stamp - rgb.stamp) / NS_PER_S)


def pair_streams(rgb: Iterable[tuple[int, Any]], thermal: Iterable[tuple[int, Any]],
                 config: PairingConfig | None = None, *,
                 pairer: StampPairer | None = None) -> Iterator[Pair]:
    """Pair two recorded streams offline, lazily; the same pairs the node forms live.

    Args:
        rgb, thermal: ``(stamp_ns, item)`` sequences, each sorted by stamp (e.g. the header stamps
            of a bag's two image topics). A stamp going back is handled as online (a reset).
        config: see :class:`PairingConfig`; ignored when ``pairer`` is given.
        pairer: a :class:`StampPairer` to use, e.g. to read its ``counters`` afterwards.

    Yields:
        :class:`Pair` in time order.
    """
    pairer = pairer or StampPairer(config)
    tagged_rgb = ((int(stamp), RGB, item) for stamp, item in rgb)
    tagged_thermal = ((int(stamp), THERMAL, item) for stamp, item in thermal)
    for stamp, stream, item in heapq.merge(tagged_rgb, tagged_thermal, key=lambda t: (t[0], t[1])):
        yield from pairer.add(stream, stamp, item)
    yield from pairer.flush()
