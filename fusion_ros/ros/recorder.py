"""Record the synchronised pairs the node receives to a new rosbag2 bag, off the callbacks.

The messages are stored as received (serialised CDR, byte for byte) on the node's resolved input
topic names, each with its header stamp as log time, so ``fusion-ros play`` replays them with their
capture timing and :func:`fusion_ros.bags.read_pairs` gives the same pairs offline.

Safety: bags are written only under the configured directory, in a new folder
``fusion_pairs_<YYYYmmdd_HHMMSS>[_N]`` (an existing bag is never overwritten). A write error (e.g. a
full disk) stops the recording and closes the bag, which stays readable; :meth:`PairRecorder.close`
(called when the node stops) finishes it.
"""
from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

from fusion_ros.bags import BagError, BagWriter
from fusion_ros.pairing import Pair

_STOP = object()


def new_bag_path(directory: str | Path, prefix: str = 'fusion_pairs') -> Path:
    """A path for a new bag under ``directory`` (created if needed) that does not exist yet."""
    directory = Path(directory).expanduser()
    if not str(directory):
        raise ValueError('the recording directory is empty; set record_directory')
    directory.mkdir(parents=True, exist_ok=True)
    base = f'{prefix}_{time.strftime("%Y%m%d_%H%M%S")}'
    path, n = directory / base, 1
    while path.exists():
        path, n = directory / f'{base}_{n}', n + 1
    return path


class PairRecorder:
    """Write pairs of messages to a bag on a thread of its own.

    Args:
        directory: where the bag folder is created.
        storage: ``'mcap'`` or ``'sqlite3'``.
        topics: ``(rgb_topic, thermal_topic)`` names written in the bag.
        msgtypes: their types, e.g. ``('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')``.
        serialize: message -> CDR bytes (``rclpy.serialization.serialize_message``).
        log_error: ``log_error(text)`` for write errors.
        max_pending: pairs waiting to be written; when full, new pairs are dropped and counted.
    """

    def __init__(self, directory, storage: str, topics: tuple[str, str], msgtypes: tuple[str, str], serialize,
                 log_error=None, max_pending: int = 64):
        self.path = new_bag_path(directory)
        self._bag = BagWriter(self.path, storage)
        self._topics, self._msgtypes, self._serialize = topics, msgtypes, serialize
        self._log_error = log_error or (lambda text: None)
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self.pairs_written = 0
        self.pairs_dropped = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name='pair_recorder', daemon=True)
        self._thread.start()

    @property
    def active(self) -> bool:
        return self.error is None and self._thread.is_alive()

    def put(self, pair: Pair) -> bool:
        """Queue a pair (messages) for writing; False when it was dropped (full queue, or stopped)."""
        if not self.active:
            return False
        try:
            self._queue.put_nowait(pair)
            return True
        except queue.Full:
            self.pairs_dropped += 1
            return False

    def _write(self, pair: Pair) -> None:
        items = sorted([(pair.rgb_stamp_ns, 0, pair.rgb), (pair.thermal_stamp_ns, 1, pair.thermal)],
                       key=lambda t: t[:2])
        for stamp, i, msg in items:
            self._bag.write_raw(self._topics[i], self._msgtypes[i], stamp, self._serialize(msg))

    def _run(self) -> None:
        try:
            while True:
                pair = self._queue.get()
                if pair is _STOP:
                    break
                self._write(pair)
                self.pairs_written += 1
        except (OSError, BagError) as exc:  # disk full, folder removed...: stop, keep what was written
            self.error = f'{type(exc).__name__}: {exc}'
            self._log_error(f'recording to {self.path} stopped after {self.pairs_written} pairs: {self.error}')
        finally:
            try:
                self._bag.close()
            except BagError as exc:
                self.error = self.error or str(exc)
                self._log_error(str(exc))

    def close(self, timeout_s: float = 30.0) -> Path:
        """Write what is queued, finish the bag and return its path (idempotent)."""
        if self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=timeout_s)
            except queue.Full:
                pass
            self._thread.join(timeout_s)
        return self.path
