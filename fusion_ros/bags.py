"""rosbag2 bags of camera images, read and written with ``rosbags`` (pure Python; no rclpy, no rosbag2_py).

Both storage formats of rosbag2 work: MCAP and sqlite3, detected by ``rosbags.rosbag2.Reader`` (a bag
directory with ``metadata.yaml``, or a single ``.mcap`` / ``.db3`` file). Image topics carry
``sensor_msgs/msg/Image`` (any encoding of :mod:`fusion_ros.encodings`) or
``sensor_msgs/msg/CompressedImage`` (JPEG/PNG).

Reading streams: messages are deserialised one at a time in recording (log-time) order, so a bag of
any size is read in bounded memory; pixels are decoded only for what is yielded.

* :func:`list_topics` / :func:`list_image_topics`: topics with their types and message counts.
* :func:`read_messages`: raw image messages (:class:`BagMessage`, for replaying a bag).
* :func:`read_image_topic`: one topic as :class:`ImageFrame` ``(stamp_ns, image, encoding)``.
* :func:`read_pairs`: an RGB topic and a thermal topic paired by header stamp with the node's own
  :class:`fusion_ros.pairing.StampPairer`, fed in recording order as the live node is fed, so a bag
  gives offline the pairs the node forms when the bag is played to it.
* :class:`BagWriter` / :func:`write_pairs`: write a *new* bag (an existing path is never overwritten).

Topic names: rosbag2 stores absolute names (``/rgb/image``); a relative name given here (``rgb/image``)
matches the absolute one, as a node without namespace would resolve it.

Stamps are integer nanoseconds. ``stamp_ns`` is the message's ``header.stamp``; the log time is the
time the recorder received it.

Errors: a missing path raises ``FileNotFoundError``; a bag that rosbags cannot read (corrupt,
truncated, not a bag, unsupported version) raises :class:`BagError`, a ``ValueError`` naming the bag
and what failed.
"""
from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, NamedTuple, Sequence

import numpy as np

from fusion_ros.encodings import array_to_compressed, array_to_image_fields, msg_to_array
from fusion_ros.pairing import RGB, THERMAL, Pair, PairingConfig, StampPairer

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'
IMAGE_TYPES = (IMAGE, COMPRESSED)
STORAGES = ('mcap', 'sqlite3')
BAG_FILE_SUFFIXES = ('.mcap', '.db3')
NS_PER_S = 1_000_000_000


class BagError(ValueError):
    """A bag that cannot be read or written as asked; the message says what came and the fix."""


class TopicInfo(NamedTuple):
    """A topic of a bag: its name (absolute), message type and number of messages."""
    topic: str
    msgtype: str
    count: int


class ImageFrame(NamedTuple):
    """One decoded image of a topic.

    stamp_ns: ``header.stamp`` in integer nanoseconds.
    image: ``(H, W, 3)`` uint8 RGB, ``(H, W, 4)`` uint8 RGBA, ``(H, W)`` uint8 / uint16 / float32
        (see :func:`fusion_ros.encodings.image_msg_to_array`); owns its memory.
    encoding: the array's encoding: ``'rgb8'``, ``'rgba8'``, ``'mono8'``, ``'mono16'``, ``'32FC1'``
        (``'rgb16'``/``'rgba16'`` from 16-bit colour PNG).
    """
    stamp_ns: int
    image: np.ndarray
    encoding: str


class BagMessage(NamedTuple):
    """One image message as recorded, not decoded.

    topic: absolute topic name; msgtype: ``sensor_msgs/msg/Image`` or ``.../CompressedImage``;
    log_time_ns: when the recorder received it; stamp_ns: its ``header.stamp`` in nanoseconds;
    msg: the rosbags message object (fields as the ROS message: ``header``, ``height``, ``data``...);
    ``header.frame_id`` is ``msg.header.frame_id``.
    """
    topic: str
    msgtype: str
    log_time_ns: int
    stamp_ns: int
    msg: Any


# --------------------------------------------------------------------------- rosbags plumbing


@functools.lru_cache(maxsize=1)
def typestore():
    """The rosbags type store used to (de)serialise messages (ROS 2 Kilted, or the newest available)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(getattr(Stores, 'ROS2_KILTED', Stores.LATEST))


def is_bag(path: str | Path) -> bool:
    """True for a rosbag2 bag: a directory holding ``metadata.yaml``, or a ``.mcap`` / ``.db3`` file."""
    path = Path(path)
    if path.is_dir():
        return (path / 'metadata.yaml').is_file()
    return path.is_file() and path.suffix in BAG_FILE_SUFFIXES


def _bag_error(path: Path, exc: BaseException, doing: str) -> BagError:
    return BagError(
        f'{path}: cannot {doing} this bag ({type(exc).__name__}: {str(exc)[:300]}); it is corrupt, truncated '
        'or not a rosbag2 bag (a bag is a directory with metadata.yaml and .mcap/.db3 files, or one '
        '.mcap/.db3 file). If it was recorded while the recorder crashed, re-index it with '
        '`ros2 bag reindex` or record it again')


@contextlib.contextmanager
def open_bag(path: str | Path):
    """Open a bag for reading (a ``rosbags.rosbag2.Reader``); errors as in the module docstring."""
    from rosbags.rosbag2 import Reader

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f'{path}: no such bag; check the path (a bag directory, or a .mcap/.db3 '
                                'file)')
    if path.is_dir() and not (path / 'metadata.yaml').is_file():
        raise BagError(f'{path}: a directory without metadata.yaml is not a rosbag2 bag; give the bag '
                       'directory itself (the one holding metadata.yaml), or its .mcap/.db3 file')
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # noqa: BLE001 - rosbags raises many kinds here; all mean "cannot read"
        raise _bag_error(path, exc, 'open') from exc
    try:
        yield reader
    finally:
        with contextlib.suppress(Exception):
            reader.close()


def _guarded(iterator: Iterator, path: Path) -> Iterator:
    """``iterator``'s items; rosbags' errors (corrupt chunk, bad CDR...) become :class:`BagError`."""
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - only rosbags code runs inside next()
            raise _bag_error(path, exc, 'read') from exc
        yield item


def _stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * NS_PER_S + int(msg.header.stamp.nanosec)


def _absolute(topic: str) -> str:
    return '/' + topic.lstrip('/')


def _topic_infos(reader) -> list[TopicInfo]:
    return sorted(TopicInfo(name, info.msgtype or 'mixed types', int(info.msgcount))
                  for name, info in reader.topics.items())


def _describe_image_topics(topics: Iterable[TopicInfo]) -> str:
    images = [t for t in topics if t.msgtype in IMAGE_TYPES]
    if not images:
        return 'this bag has no image topics (sensor_msgs/msg/Image or CompressedImage)'
    return 'image topics in this bag: ' + ', '.join(
        f'{t.topic} ({t.msgtype.rsplit("/", 1)[-1]}, {t.count} messages)' for t in images)


def find_topic(topics: Sequence[TopicInfo], topic: str, *, path: str | Path = 'bag',
               role: str = 'image') -> TopicInfo:
    """The image topic ``topic`` among ``topics`` (a relative name matches the absolute one).

    Raises:
        BagError: no such topic, or not an image topic; the message lists the bag's image topics.
    """
    by_name = {t.topic: t for t in topics}
    info = by_name.get(topic) or by_name.get(_absolute(topic))
    if info is None:
        raise BagError(f'{path}: no topic {topic!r} for the {role} images; {_describe_image_topics(topics)}. '
                       'Choose one of these (e.g. --rgb-topic / --thermal-topic)')
    if info.msgtype not in IMAGE_TYPES:
        raise BagError(f'{path}: topic {info.topic} carries {info.msgtype}, not sensor_msgs/msg/Image or '
                       f'CompressedImage; {_describe_image_topics(topics)}')
    return info


def _resolve_topic(reader, path: Path, topic: str, role: str = 'image') -> list:
    """The rosbags connections of image topic ``topic`` (see :func:`find_topic`)."""
    info = find_topic(_topic_infos(reader), topic, path=path, role=role)
    return list(reader.topics[info.topic].connections)


def _deserialize(conn, log_time: int, raw: bytes, path: Path) -> BagMessage:
    try:
        msg = typestore().deserialize_cdr(raw, conn.msgtype)
    except Exception as exc:  # noqa: BLE001 - a corrupt message; name it
        raise _bag_error(path, exc, f'deserialise a {conn.msgtype} message on {conn.topic} of') from exc
    return BagMessage(conn.topic, conn.msgtype, int(log_time), _stamp_ns(msg), msg)


# --------------------------------------------------------------------------- reading


def list_topics(path: str | Path) -> list[TopicInfo]:
    """All topics of a bag, sorted by name: ``[TopicInfo(topic, msgtype, count), ...]``."""
    with open_bag(path) as reader:
        return _topic_infos(reader)


class BagInfo(NamedTuple):
    """What a bag holds: its ``path``, log-time span ``[start_ns, end_ns)`` and ``topics``."""
    path: Path
    start_ns: int
    end_ns: int
    topics: list[TopicInfo]


def bag_info(path: str | Path) -> BagInfo:
    """The log-time span and the topics (types, counts) of a bag, from its index (no message is read)."""
    with open_bag(path) as reader:
        count = reader.message_count
        start, end = (int(reader.start_time), int(reader.end_time)) if count else (0, 0)
        return BagInfo(Path(path), start, end, _topic_infos(reader))


def list_image_topics(path: str | Path) -> list[TopicInfo]:
    """The topics of a bag carrying ``sensor_msgs/msg/Image`` or ``CompressedImage``, sorted by name."""
    return [t for t in list_topics(path) if t.msgtype in IMAGE_TYPES]


def read_messages(path: str | Path, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
    """Stream the image messages of ``topics`` (default: every image topic) in recording order.

    Lazy: one message is deserialised per step, none is decoded (see :func:`decode_frame`). Meant for
    replaying a bag (the message objects carry header, frame_id and pixels as recorded).
    """
    path = Path(path)
    with open_bag(path) as reader:
        if topics is None:
            conns = [c for c in reader.connections if c.msgtype in IMAGE_TYPES]
        else:
            conns = [c for topic in topics for c in _resolve_topic(reader, path, topic)]
        if not conns:
            return
        for conn, log_time, raw in _guarded(iter(reader.messages(conns)), path):
            yield _deserialize(conn, log_time, raw, path)


def decode_frame(message: BagMessage, *, name: str | None = None) -> ImageFrame:
    """Decode a :class:`BagMessage`'s pixels; ``name`` (default: the topic) is used in errors."""
    image, encoding = msg_to_array(message.msg, name=name or message.topic)
    return ImageFrame(message.stamp_ns, image, encoding)


def read_image_topic(path: str | Path, topic: str) -> Iterator[ImageFrame]:
    """Stream one image topic as :class:`ImageFrame` ``(stamp_ns, image, encoding)``, in recording order.

    Example:
        >>> for stamp_ns, image, encoding in read_image_topic('run.mcap', 'thermal/image'):  # doctest: +SKIP
        ...     print(stamp_ns, image.shape, encoding)
    """
    for message in read_messages(path, [topic]):
        yield decode_frame(message)


def read_pairs(path: str | Path, rgb_topic: str = 'rgb/image', thermal_topic: str = 'thermal/image',
               pairing_config: PairingConfig | None = None, *, pairer: StampPairer | None = None,
               decode: bool = True) -> Iterator[Pair]:
    """Stream the RGB + thermal pairs of a bag, paired by header stamp as the node pairs them.

    Messages of both topics are fed to a :class:`fusion_ros.pairing.StampPairer` in recording order
    (as a live node receives them when the bag is played); the end of the bag flushes it. Memory is
    bounded by ``pairing_config.queue_size`` messages per topic.

    Args:
        path: the bag (directory, or ``.mcap``/``.db3`` file).
        rgb_topic, thermal_topic: image topics (relative names match absolute ones).
        pairing_config: queue size and tolerance; ignored when ``pairer`` is given.
        pairer: a :class:`StampPairer` to use, e.g. to read its ``counters`` (drops by reason) after.
        decode: True: pair items are :class:`ImageFrame`; False: :class:`BagMessage` (not decoded,
            e.g. to select pairs before paying for decoding; see :func:`decode_frame`).

    Yields:
        :class:`fusion_ros.pairing.Pair` ``(rgb, thermal, rgb_stamp_ns, thermal_stamp_ns, skew_s)``
        in time order.

    Raises:
        FileNotFoundError, BagError: unreadable bag, a topic missing (the message lists the bag's
            image topics) or both names naming the same topic.
    """
    path = Path(path)
    pairer = pairer or StampPairer(pairing_config)
    with open_bag(path) as reader:
        rgb_conns = _resolve_topic(reader, path, rgb_topic, 'rgb')
        thermal_conns = _resolve_topic(reader, path, thermal_topic, 'thermal')
        if rgb_conns[0].topic == thermal_conns[0].topic:
            raise BagError(f'{path}: the RGB and thermal topics are both {rgb_conns[0].topic}; give two '
                           f'different topics ({_describe_image_topics(_topic_infos(reader))})')
        rgb_name = rgb_conns[0].topic

        def finish(pair: Pair) -> Pair:
            if not decode:
                return pair
            return pair._replace(rgb=decode_frame(pair.rgb, name='rgb'),
                                 thermal=decode_frame(pair.thermal, name='thermal'))

        for conn, log_time, raw in _guarded(iter(reader.messages(rgb_conns + thermal_conns)), path):
            message = _deserialize(conn, log_time, raw, path)
            stream = RGB if conn.topic == rgb_name else THERMAL
            for pair in pairer.add(stream, message.stamp_ns, message):
                yield finish(pair)
        for pair in pairer.flush():
            yield finish(pair)


# --------------------------------------------------------------------------- writing


class BagWriter:
    """Write image messages to a new rosbag2 bag (a directory; MCAP or sqlite3 inside).

    Use as a context manager; leaving the block closes the bag (writes its index and metadata.yaml),
    also when the block raised, so a recording cut short by an error stays readable.

    Args:
        path: the bag directory to create; it must not exist (a bag is never overwritten).
        storage: ``'mcap'`` (default) or ``'sqlite3'``.
        compress: zstd-compress MCAP chunks (rosbag2 reads them; not available for sqlite3).

    Example:
        >>> with BagWriter('run') as bag:  # doctest: +SKIP
        ...     bag.write_image('rgb/image', stamp_ns, rgb_uint8, frame_id='rgb_optical_frame')
    """

    def __init__(self, path: str | Path, storage: Literal['mcap', 'sqlite3'] = 'mcap', *,
                 compress: bool = False):
        from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

        self.path = Path(path)
        if storage not in STORAGES:
            raise BagError(f"storage must be one of {STORAGES}, got {storage!r}")
        if compress and storage != 'mcap':
            raise BagError('compress=True needs storage="mcap" (rosbag2 sqlite3 bags have no chunk '
                           'compression); use mcap or compress=False')
        if self.path.exists() or self.path.is_symlink():
            raise FileExistsError(f'{self.path}: already exists; a bag is never overwritten: choose a new '
                                  'name or remove the old bag first')
        plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
        self._writer = Writer(self.path, version=Writer.VERSION_LATEST, storage_plugin=plugin)
        if compress:
            self._writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        try:
            self._writer.open()
        except Exception as exc:  # noqa: BLE001 - e.g. a parent folder that cannot be written
            raise BagError(f'{self.path}: cannot create the bag ({type(exc).__name__}: {exc}); check that '
                           'its folder exists and is writable') from exc
        self._connections: dict[str, Any] = {}
        self.count = 0  # messages written
        self._closed = False

    # -- topics

    def add_topic(self, topic: str, msgtype: str = IMAGE):
        """Register ``topic`` (made absolute) with ``msgtype``; returns its rosbags connection.

        Registering the same topic again with the same type is a no-op; with another type, an error.
        Types other than images must be in the rosbags type store (e.g. ``sensor_msgs/msg/CameraInfo``).
        """
        name = _absolute(topic)
        conn = self._connections.get(name)
        if conn is not None:
            if conn.msgtype != msgtype:
                raise BagError(f'{self.path}: topic {name} is already {conn.msgtype}, cannot also write '
                               f'{msgtype} to it; use another topic name')
            return conn
        conn = self._writer.add_connection(name, msgtype, typestore=typestore())
        self._connections[name] = conn
        return conn

    # -- messages

    def write_raw(self, topic: str, msgtype: str, log_time_ns: int, cdr: bytes | memoryview) -> None:
        """Write an already serialised (CDR) message, e.g. ``rclpy.serialization.serialize_message(msg)``.

        This stores what a subscriber received, byte for byte (a recorder's path).
        """
        self._check_open()
        self._writer.write(self.add_topic(topic, msgtype), int(log_time_ns), cdr)
        self.count += 1

    def write_image(self, topic: str, stamp_ns: int, pixels: np.ndarray, encoding: str | None = None, *,
                    frame_id: str = '', log_time_ns: int | None = None) -> None:
        """Write a ``sensor_msgs/msg/Image``.

        Args:
            topic: topic name (made absolute).
            stamp_ns: ``header.stamp`` in integer nanoseconds.
            pixels: ``(H, W, 3)`` uint8 (rgb8), ``(H, W)`` uint8 (mono8), uint16 (mono16), float32 (32FC1).
            encoding: one of those, or None to infer it from the array.
            frame_id: ``header.frame_id``.
            log_time_ns: the recording time; default ``stamp_ns``.
        """
        fields = array_to_image_fields(pixels, encoding, where=f'{self.path}: {topic}')
        ts = typestore()
        msg = ts.types[IMAGE](header=self._header(stamp_ns, frame_id), height=fields.height,
                              width=fields.width, encoding=fields.encoding, is_bigendian=fields.is_bigendian,
                              step=fields.step, data=np.frombuffer(fields.data, np.uint8))
        self._write_msg(topic, IMAGE, msg, stamp_ns if log_time_ns is None else log_time_ns)

    def write_compressed(self, topic: str, stamp_ns: int, pixels: np.ndarray, fmt: str = 'jpeg',
                         encoding: str | None = None, *, frame_id: str = '',
                         log_time_ns: int | None = None, jpeg_quality: int = 90) -> None:
        """Write a ``sensor_msgs/msg/CompressedImage`` as image_transport's ``compressed`` plugin would.

        ``fmt`` is ``'jpeg'`` (8-bit) or ``'png'`` (also mono16); other arguments as :meth:`write_image`.
        """
        fmt_string, data = array_to_compressed(pixels, fmt, encoding, jpeg_quality=jpeg_quality)
        msg = typestore().types[COMPRESSED](header=self._header(stamp_ns, frame_id), format=fmt_string,
                                            data=np.frombuffer(data, np.uint8))
        self._write_msg(topic, COMPRESSED, msg, stamp_ns if log_time_ns is None else log_time_ns)

    # -- closing

    def close(self) -> Path:
        """Finish the bag (index and metadata.yaml); idempotent. Returns the bag's path."""
        if not self._closed:
            self._closed = True
            try:
                self._writer.close()
            except Exception as exc:  # noqa: BLE001 - e.g. the disk is full
                with contextlib.suppress(Exception):
                    self._writer.abort()
                raise BagError(f'{self.path}: could not finish the bag ({type(exc).__name__}: {exc}); it may '
                               'be unreadable: free disk space and record again') from exc
        return self.path

    def __enter__(self) -> 'BagWriter':
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            self.close()
        except BagError:
            if exc_type is None:
                raise  # otherwise the original error is the one to report
        return False

    # -- helpers

    def _check_open(self) -> None:
        if self._closed:
            raise BagError(f'{self.path}: the bag is closed; open a new BagWriter to write another bag')

    @staticmethod
    def _header(stamp_ns: int, frame_id: str):
        ts = typestore()
        sec, nanosec = divmod(int(stamp_ns), NS_PER_S)
        return ts.types['std_msgs/msg/Header'](
            stamp=ts.types['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec), frame_id=frame_id)

    def _write_msg(self, topic: str, msgtype: str, msg: Any, log_time_ns: int) -> None:
        self.write_raw(topic, msgtype, log_time_ns, typestore().serialize_cdr(msg, msgtype))


def write_pairs(path: str | Path, pairs: Iterable, rgb_topic: str = 'rgb/image',
                thermal_topic: str = 'thermal/image', storage: Literal['mcap', 'sqlite3'] = 'mcap', *,
                frame_ids: tuple[str, str] = ('rgb_optical_frame', 'thermal_optical_frame'),
                compress: bool = False) -> int:
    """Write RGB + thermal pairs to a new bag, as two Image topics; returns the number of pairs.

    Args:
        path: the bag directory to create (never overwritten: ``FileExistsError`` if it exists).
        pairs: in time order, each one of
            ``(stamp_ns, rgb, thermal)`` (both images stamped ``stamp_ns``),
            ``(rgb_stamp_ns, rgb, thermal_stamp_ns, thermal)``, or a :class:`fusion_ros.pairing.Pair`
            (its two stamps are used). ``rgb`` / ``thermal`` are numpy arrays (encoding inferred:
            ``(H, W, 3)`` uint8 rgb8, ``(H, W)`` uint8 mono8, uint16 mono16, float32 32FC1) or
            :class:`ImageFrame` (its encoding is used; its stamp is ignored).
        rgb_topic, thermal_topic: topic names (made absolute).
        storage: ``'mcap'`` or ``'sqlite3'``.
        frame_ids: ``header.frame_id`` of the RGB and thermal images.
        compress: zstd MCAP chunks (see :class:`BagWriter`).

    Each message's log time is its stamp (as if recorded without latency); within a pair the earlier
    one is written first.
    """
    n = 0
    with BagWriter(path, storage, compress=compress) as bag:
        bag.add_topic(rgb_topic, IMAGE)
        bag.add_topic(thermal_topic, IMAGE)
        for item in pairs:
            rgb_stamp, rgb, thermal_stamp, thermal = _unpack_pair(item, n)
            writes = [(rgb_stamp, rgb_topic, rgb, frame_ids[0]),
                      (thermal_stamp, thermal_topic, thermal, frame_ids[1])]
            for stamp, topic, image, frame_id in sorted(writes, key=lambda w: w[0]):
                pixels, encoding = ((image.image, image.encoding) if isinstance(image, ImageFrame)
                                    else (image, None))
                bag.write_image(topic, stamp, pixels, encoding, frame_id=frame_id)
            n += 1
    return n


def _unpack_pair(item: Any, index: int) -> tuple[int, Any, int, Any]:
    if isinstance(item, Pair):
        return int(item.rgb_stamp_ns), item.rgb, int(item.thermal_stamp_ns), item.thermal
    if isinstance(item, tuple) and len(item) == 3:
        return int(item[0]), item[1], int(item[0]), item[2]
    if isinstance(item, tuple) and len(item) == 4:
        return int(item[0]), item[1], int(item[2]), item[3]
    raise BagError(f'write_pairs: pair {index} is a {type(item).__name__}; give (stamp_ns, rgb, thermal), '
                   '(rgb_stamp_ns, rgb, thermal_stamp_ns, thermal) or a fusion_ros.pairing.Pair')


__all__ = ['BagError', 'BagInfo', 'BagMessage', 'BagWriter', 'COMPRESSED', 'IMAGE', 'IMAGE_TYPES',
           'ImageFrame', 'TopicInfo', 'bag_info', 'decode_frame', 'find_topic', 'is_bag', 'list_image_topics',
           'list_topics', 'open_bag', 'read_image_topic', 'read_messages', 'read_pairs', 'typestore',
           'write_pairs']
