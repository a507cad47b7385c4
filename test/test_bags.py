"""Tests of fusion_ros.bags: bags written with rosbags (MCAP and sqlite3) read back as the right pairs."""
from pathlib import Path

import numpy as np
import pytest

from fusion_ros import bags
from fusion_ros.bags import BagError, BagWriter, ImageFrame
from fusion_ros.pairing import Pair, PairingConfig, StampPairer, pair_streams

SAMPLE_BAG = Path(__file__).resolve().parents[1] / 'fusion_ros' / 'samples' / 'sample_pairs.mcap'
T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def frames(n, seed=0, h=12, w=16):
    """``n`` (rgb uint8 (h, w, 3), thermal uint16 (h/2, w/2)) with distinct content."""
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
             rng.integers(0, 65536, (h // 2, w // 2), dtype=np.uint16)) for _ in range(n)]


def jittered_pairs(n=6, period=100 * MS, jitter=7 * MS, seed=1):
    rng = np.random.default_rng(seed)
    return [(T0 + k * period, rgb, T0 + k * period + int(rng.integers(-jitter, jitter + 1)), thermal)
            for k, (rgb, thermal) in enumerate(frames(n, seed))]


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_written_pairs_come_back_as_the_right_pairs(tmp_path, storage):
    written = jittered_pairs()
    path = tmp_path / 'run'
    assert bags.write_pairs(path, written, storage=storage) == len(written)
    assert bags.is_bag(path)
    pairer = StampPairer(PairingConfig(tolerance_s=0.02))
    got = list(bags.read_pairs(path, 'rgb/image', 'thermal/image', pairer=pairer))
    assert len(got) == len(written) and pairer.counters['pairs'] == len(written) and pairer.dropped == 0
    for pair, (rgb_stamp, rgb, thermal_stamp, thermal) in zip(got, written):
        assert isinstance(pair, Pair) and isinstance(pair.rgb, ImageFrame)
        assert (pair.rgb_stamp_ns, pair.thermal_stamp_ns) == (rgb_stamp, thermal_stamp)
        assert pair.skew_s == pytest.approx((thermal_stamp - rgb_stamp) / 1e9)
        assert (pair.rgb.encoding, pair.thermal.encoding) == ('rgb8', 'mono16')
        np.testing.assert_array_equal(pair.rgb.image, rgb)
        np.testing.assert_array_equal(pair.thermal.image, thermal)


def test_pairs_match_the_node_pairer_at_different_rates(tmp_path):
    """RGB at 10 Hz, thermal at about 4 Hz: the bag gives the pairs pair_streams (the node's rules) gives."""
    rng = np.random.default_rng(3)
    rgb_stamps = [T0 + k * 100 * MS for k in range(20)]
    thermal_stamps = [T0 + 30 * MS + k * 250 * MS + int(rng.integers(-5 * MS, 5 * MS)) for k in range(8)]
    path = tmp_path / 'rates'
    with BagWriter(path) as bag:
        events = [(s, 'rgb/image', np.full((4, 6, 3), i, np.uint8)) for i, s in enumerate(rgb_stamps)]
        events += [(s, 'thermal/image', np.full((4, 6), i, np.uint8)) for i, s in enumerate(thermal_stamps)]
        for stamp, topic, pixels in sorted(events, key=lambda e: e[0]):
            bag.write_image(topic, stamp, pixels, frame_id=topic.split('/')[0])
    config = PairingConfig(queue_size=10, tolerance_s=0.06)
    expected = [(p.rgb_stamp_ns, p.thermal_stamp_ns) for p in pair_streams(
        [(s, None) for s in rgb_stamps], [(s, None) for s in thermal_stamps], config)]
    got = list(bags.read_pairs(path, '/rgb/image', 'thermal/image', config))
    assert [(p.rgb_stamp_ns, p.thermal_stamp_ns) for p in got] == expected and len(expected) >= 6
    for p in got:  # the pixels travel with their stamps
        assert p.rgb.image[0, 0, 0] == rgb_stamps.index(p.rgb_stamp_ns)
        assert p.thermal.image[0, 0] == thermal_stamps.index(p.thermal_stamp_ns)


def test_read_pairs_streams_lazily_and_can_stop_early(tmp_path):
    path = tmp_path / 'lazy'
    bags.write_pairs(path, jittered_pairs(8))
    undecoded = bags.read_pairs(path, decode=False)
    first = next(undecoded)
    assert isinstance(first.rgb, bags.BagMessage) and first.rgb.msg.header.frame_id == 'rgb_optical_frame'
    assert first.rgb.log_time_ns == first.rgb_stamp_ns  # write_pairs logs at the stamp
    undecoded.close()  # closes the bag
    frame = bags.decode_frame(first.thermal)
    assert frame.encoding == 'mono16' and frame.stamp_ns == first.thermal_stamp_ns


def test_image_topics_listing_and_topic_stream(tmp_path):
    path = tmp_path / 'mixed'
    (rgb, thermal), = frames(1)
    smooth = np.zeros((16, 24, 3), np.uint8) + np.array([200, 100, 30], np.uint8)  # JPEG keeps flat colours
    with BagWriter(path, 'sqlite3') as bag:
        for k in range(3):
            bag.write_image('cam/rgb', T0 + k * MS, rgb, frame_id='rgb')
            bag.write_compressed('cam/rgb/compressed', T0 + k * MS, smooth, 'jpeg')
            bag.write_compressed('cam/thermal/compressed', T0 + k * MS, thermal, 'png')
        ts = bags.typestore()
        text = ts.serialize_cdr(ts.types['std_msgs/msg/String'](data='hello'), 'std_msgs/msg/String')
        bag.write_raw('notes', 'std_msgs/msg/String', T0, text)
    topics = bags.list_topics(path)
    assert bags.TopicInfo('/notes', 'std_msgs/msg/String', 1) in topics
    assert bags.list_image_topics(path) == [
        bags.TopicInfo('/cam/rgb', bags.IMAGE, 3), bags.TopicInfo('/cam/rgb/compressed', bags.COMPRESSED, 3),
        bags.TopicInfo('/cam/thermal/compressed', bags.COMPRESSED, 3)]
    stream = list(bags.read_image_topic(path, 'cam/rgb/compressed'))
    assert [f.stamp_ns for f in stream] == [T0, T0 + MS, T0 + 2 * MS]
    assert stream[0].encoding == 'rgb8'
    assert np.abs(stream[0].image.astype(int) - smooth).max() <= 3  # in RGB order
    png = next(bags.read_image_topic(path, '/cam/thermal/compressed'))
    assert png.encoding == 'mono16'
    np.testing.assert_array_equal(png.image, thermal)  # PNG is lossless, 16-bit kept
    info = bags.bag_info(path)
    assert (info.start_ns, info.end_ns) == (T0, T0 + 2 * MS + 1)
    with pytest.raises(BagError, match=r"carries std_msgs/msg/String.*image topics in this bag: "
                                       r"/cam/rgb \(Image, 3"):
        list(bags.read_image_topic(path, 'notes'))
    with pytest.raises(BagError, match=r"no topic 'thermal/image' for the thermal images; image topics in "
                                       r"this bag: /cam/rgb \(Image, 3 messages\), /cam/rgb/compressed "
                                       r"\(CompressedImage"):
        next(bags.read_pairs(path, 'cam/rgb', 'thermal/image'))
    with pytest.raises(BagError, match='both /cam/rgb'):
        next(bags.read_pairs(path, 'cam/rgb', '/cam/rgb'))


def test_an_existing_bag_is_never_overwritten(tmp_path):
    path = tmp_path / 'keep'
    bags.write_pairs(path, jittered_pairs(2))
    before = sorted((p.name, p.stat().st_size) for p in path.iterdir())
    with pytest.raises(FileExistsError, match='never overwritten'):
        bags.write_pairs(path, jittered_pairs(3))
    with pytest.raises(FileExistsError):
        BagWriter(path, 'sqlite3')
    assert sorted((p.name, p.stat().st_size) for p in path.iterdir()) == before
    assert len(list(bags.read_pairs(path))) == 2


def test_a_bag_cut_short_by_an_error_stays_readable(tmp_path):
    path = tmp_path / 'cut'
    (rgb, thermal), = frames(1)
    with pytest.raises(RuntimeError, match='camera unplugged'):
        with BagWriter(path) as bag:
            bag.write_image('rgb/image', T0, rgb)
            bag.write_image('thermal/image', T0 + MS, thermal)
            raise RuntimeError('camera unplugged')
    assert len(list(bags.read_pairs(path))) == 1
    with pytest.raises(BagError, match='closed'):
        bag.write_image('rgb/image', T0 + 2 * MS, rgb)


def test_unreadable_bags_raise_clear_errors(tmp_path):
    good = tmp_path / 'good'
    bags.write_pairs(good, jittered_pairs(4))
    with pytest.raises(FileNotFoundError, match='no such bag'):
        bags.list_topics(tmp_path / 'missing')
    (tmp_path / 'plain').mkdir()
    with pytest.raises(BagError, match='without metadata.yaml is not a rosbag2 bag'):
        bags.list_topics(tmp_path / 'plain')
    mcap = good / 'good.mcap'
    truncated = tmp_path / 'truncated.mcap'
    truncated.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 2])
    with pytest.raises(BagError, match=r'truncated.mcap: cannot open this bag \(ReaderError: .*corrupt, '
                                       r'truncated'):
        list(bags.read_pairs(truncated))
    (tmp_path / 'junk.db3').write_bytes(b'not a database' * 100)
    with pytest.raises(BagError, match='junk.db3: cannot open this bag'):
        bags.list_topics(tmp_path / 'junk.db3')
    (good / 'metadata.yaml').write_text('rosbag2_bagfile_information: {version: 9')
    with pytest.raises(BagError, match='cannot open this bag'):
        bags.list_topics(good)


def test_write_pairs_rejects_what_it_cannot_write(tmp_path):
    (rgb, thermal), = frames(1)
    with pytest.raises(BagError, match=r'pair 0 is a list; give \(stamp_ns, rgb, thermal\)'):
        bags.write_pairs(tmp_path / 'a', [[T0, rgb, thermal]])
    with pytest.raises(ValueError, match="cannot choose an Image encoding .* int64"):
        bags.write_pairs(tmp_path / 'b', [(T0, rgb.astype(np.int64), thermal)])
    with pytest.raises(BagError, match='compress=True needs storage="mcap"'):
        BagWriter(tmp_path / 'c', 'sqlite3', compress=True)
    # a Pair of ImageFrames (as read) is written back with its encodings and stamps
    src = tmp_path / 'src'
    bags.write_pairs(src, [(T0, rgb, thermal)])
    copy = tmp_path / 'copy'
    bags.write_pairs(copy, bags.read_pairs(src), storage='sqlite3', compress=False)
    pair, = bags.read_pairs(copy)
    np.testing.assert_array_equal(pair.thermal.image, thermal)


def test_bag_messages_are_what_rclpy_reads_and_writes(tmp_path):
    """The CDR of rosbags messages is what a ROS 2 node (de)serialises: the recorder/player path."""
    pytest.importorskip('rclpy', reason='rclpy (ROS 2) is not installed')
    pytest.importorskip('sensor_msgs.msg', reason='ROS 2 message packages are not installed')
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from fusion_ros.ros.conversions import array_to_image_msg, image_msg_to_array

    (rgb, thermal), = frames(1)
    header = Header(frame_id='thermal_optical_frame')
    header.stamp.sec, header.stamp.nanosec = 1_700_000_000, 5
    path = tmp_path / 'ros'
    with BagWriter(path) as bag:  # a recorder stores what it received, byte for byte
        cdr = serialize_message(array_to_image_msg(thermal, 'mono16', header))
        bag.write_raw('thermal/image', bags.IMAGE, T0, cdr)
        bag.write_image('rgb/image', T0, rgb, frame_id='rgb_optical_frame')
    messages = list(bags.read_messages(path))
    assert [m.topic for m in messages] == ['/thermal/image', '/rgb/image']
    assert messages[0].stamp_ns == 1_700_000_000 * 10**9 + 5
    np.testing.assert_array_equal(bags.decode_frame(messages[0]).image, thermal)
    with bags.open_bag(path) as reader:  # a player hands the raw CDR to rclpy
        raw = {conn.topic: data for conn, _, data in reader.messages()}
    msg = deserialize_message(bytes(raw['/rgb/image']), Image)
    assert msg.header.frame_id == 'rgb_optical_frame'
    np.testing.assert_array_equal(image_msg_to_array(msg)[0], rgb)


def test_the_bundled_sample_recording():
    assert bags.is_bag(SAMPLE_BAG)
    assert sum(f.stat().st_size for f in SAMPLE_BAG.iterdir()) < 3_000_000
    topics = {t.topic: t for t in bags.list_image_topics(SAMPLE_BAG)}
    assert set(topics) == {'/rgb/image', '/thermal/image', '/thermal/image_mono16'}
    pairer = StampPairer()
    pairs = list(bags.read_pairs(SAMPLE_BAG, pairer=pairer))
    assert len(pairs) == topics['/rgb/image'].count >= 6 and pairer.dropped == 0
    assert all(p.rgb.encoding == 'rgb8' and p.thermal.encoding == 'mono8' for p in pairs)
    assert all(p.rgb.image.shape[1] == 320 and 0 < abs(p.skew_s) <= 0.008 for p in pairs)
    raw16 = next(bags.read_pairs(SAMPLE_BAG, thermal_topic='thermal/image_mono16'))
    assert raw16.thermal.encoding == 'mono16' and raw16.thermal.image.min() >= 7500
