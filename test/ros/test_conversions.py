"""Tests of fusion_ros.ros.conversions with real sensor_msgs objects (no DDS needed)."""
import cv2
import numpy as np
import pytest

pytest.importorskip('sensor_msgs.msg', reason='ROS 2 message packages are not installed')
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from fusion_ros.imaging import ImageError, ThermalNormConfig  # noqa: E402
from fusion_ros.ros.conversions import (array_to_image_msg, compressed_msg_to_array,  # noqa: E402
                                        image_msg_to_array, msg_to_array, rgb_msg_to_float,
                                        thermal_msg_to_float)

pytestmark = pytest.mark.ros

H, W = 6, 7
RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
MONO8 = RNG.integers(0, 256, (H, W), dtype=np.uint8)
MONO16 = RNG.integers(0, 65536, (H, W), dtype=np.uint16)


def header(sec=12, nanosec=345, frame_id='rgb_optical_frame'):
    h = Header()
    h.stamp.sec, h.stamp.nanosec, h.frame_id = sec, nanosec, frame_id
    return h


def make_msg(pixels, encoding, *, pad=0, bigendian=False, pad_byte=0xAB):
    """An Image built by hand, the way a driver would, with ``pad`` bytes of padding per row."""
    pixels = np.ascontiguousarray(pixels)
    if bigendian:
        pixels = pixels.astype(pixels.dtype.newbyteorder('>'))
    rows = pixels.reshape(pixels.shape[0], -1).view(np.uint8)
    rows = np.concatenate([rows, np.full((rows.shape[0], pad), pad_byte, np.uint8)], axis=1)
    msg = Image()
    msg.header = header()
    msg.height, msg.width = pixels.shape[:2]
    msg.encoding = encoding
    msg.is_bigendian = int(bigendian)
    msg.step = rows.shape[1]
    msg.data = rows.tobytes()
    return msg


def compressed(pixels_bgr, fmt, ext='.jpg', prefix=b''):
    ok, buf = cv2.imencode(ext, pixels_bgr)
    assert ok
    msg = CompressedImage()
    msg.header = header()
    msg.format = fmt
    msg.data = prefix + buf.tobytes()
    return msg


def smooth_rgb(h=32, w=40):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (h + w)], axis=-1).astype(np.uint8)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize('pixels, encoding', [
    (RGB, 'rgb8'), (MONO8, 'mono8'), (MONO16, 'mono16'),
    (RNG.normal(300.0, 20.0, (H, W)).astype(np.float32), '32FC1'),
])
def test_round_trip_keeps_pixels_and_header(pixels, encoding):
    hdr = header()
    msg = array_to_image_msg(pixels, encoding, hdr)
    assert (msg.height, msg.width, msg.encoding) == (H, W, encoding)
    assert msg.step == W * pixels.itemsize * (3 if pixels.ndim == 3 else 1)
    assert msg.header.stamp.sec == 12 and msg.header.stamp.nanosec == 345
    assert msg.header.frame_id == 'rgb_optical_frame' and msg.header is not hdr
    back, enc = image_msg_to_array(msg)
    assert enc == encoding and back.dtype == pixels.dtype
    np.testing.assert_array_equal(back, pixels)


def test_32fc1_with_nan_and_inf_round_trips_and_normalises_to_finite():
    t = np.linspace(290, 310, H * W, dtype=np.float32).reshape(H, W)
    t[0, 0], t[1, 1], t[2, 2] = np.nan, np.inf, -np.inf
    msg = array_to_image_msg(t, '32FC1', header())
    back, _ = image_msg_to_array(msg)
    np.testing.assert_array_equal(back, t)  # NaN positions equal too
    out = thermal_msg_to_float(msg, ThermalNormConfig('range', 290.0, 310.0))
    assert out.shape == (H, W) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert out[0, 0] == out[1, 1] == out[2, 2] == 0.0
    assert out[-1, -1] == pytest.approx(1.0)


@pytest.mark.parametrize('encoding, pixels, expected, expected_encoding', [
    ('bgr8', RGB[..., ::-1], RGB, 'rgb8'),
    ('8UC3', RGB[..., ::-1], RGB, 'rgb8'),
    ('rgba8', np.dstack([RGB, MONO8]), np.dstack([RGB, MONO8]), 'rgba8'),
    ('bgra8', np.dstack([RGB[..., ::-1], MONO8]), np.dstack([RGB, MONO8]), 'rgba8'),
    ('8UC1', MONO8, MONO8, 'mono8'),
    ('16UC1', MONO16, MONO16, 'mono16'),
])
def test_read_encodings_come_back_in_rgb_order(encoding, pixels, expected, expected_encoding):
    out, enc = image_msg_to_array(make_msg(pixels, encoding))
    assert enc == expected_encoding
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize('pixels, encoding, pad', [(RGB, 'rgb8', 5), (MONO16, 'mono16', 3),
                                                   (MONO8, 'mono8', 1)])
def test_padded_rows_are_cut(pixels, encoding, pad):
    msg = make_msg(pixels, encoding, pad=pad)
    assert msg.step > msg.width * pixels.itemsize * (3 if pixels.ndim == 3 else 1)
    out, _ = image_msg_to_array(msg)
    np.testing.assert_array_equal(out, pixels)


@pytest.mark.parametrize('pixels, encoding', [(MONO16, 'mono16'), (MONO16, '16UC1'),
                                              (np.float32(RNG.random((H, W))), '32FC1')])
def test_big_endian_data_is_read_in_native_order(pixels, encoding):
    msg = make_msg(pixels, encoding, bigendian=True, pad=2)
    out, _ = image_msg_to_array(msg)
    assert out.dtype == pixels.dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, pixels)


def test_returned_array_owns_its_memory():
    msg = make_msg(MONO8, 'mono8')
    out, _ = image_msg_to_array(msg)
    out[:] = 0
    np.testing.assert_array_equal(image_msg_to_array(msg)[0], MONO8)


# --------------------------------------------------------------------------- fusion inputs


def test_rgb_msg_to_float_scales_and_repeats_mono():
    out = rgb_msg_to_float(make_msg(RGB, 'rgb8'))
    assert out.shape == (H, W, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, RGB / 255.0, atol=1e-6)
    mono = rgb_msg_to_float(make_msg(MONO16, 'mono16'))
    assert mono.shape == (H, W, 3)
    np.testing.assert_allclose(mono[..., 0], MONO16 / 65535.0, atol=1e-6)
    np.testing.assert_array_equal(mono[..., 0], mono[..., 2])
    rgba = rgb_msg_to_float(make_msg(np.dstack([RGB, MONO8]), 'rgba8'))
    np.testing.assert_allclose(rgba, RGB / 255.0, atol=1e-6)


def test_thermal_msg_to_float_mono16_range_and_colour_luma():
    raw = np.full((H, W), 30000, np.uint16)
    raw[0, 0] = 29000
    out = thermal_msg_to_float(make_msg(raw, 'mono16'), ThermalNormConfig('range', 29000, 31000))
    assert out.shape == (H, W) and out.dtype == np.float32
    assert out[0, 0] == pytest.approx(0.0) and out[1, 1] == pytest.approx(0.5)
    gray_rgb = np.repeat(MONO8[..., None], 3, axis=2)
    out = thermal_msg_to_float(make_msg(gray_rgb, 'rgb8'), ThermalNormConfig('dtype'))
    np.testing.assert_allclose(out, MONO8 / 255.0, atol=1e-6)
    out = thermal_msg_to_float(make_msg(MONO8, 'mono8'))  # default: percentiles
    assert out.min() == 0.0 and out.max() == 1.0


# --------------------------------------------------------------------------- errors


def test_unknown_encoding_lists_the_supported_ones():
    msg = make_msg(MONO8, 'mono8')
    msg.encoding = 'yuv422'
    with pytest.raises(ImageError, match=r"unsupported Image encoding 'yuv422'.*rgb8.*32FC1"):
        image_msg_to_array(msg, name='rgb')


def test_data_length_mismatch_says_what_came_and_what_was_expected():
    msg = make_msg(RGB, 'rgb8')
    msg.data = bytes(msg.data)[:-10]
    with pytest.raises(ImageError) as err:
        image_msg_to_array(msg, name='rgb')
    text = str(err.value)
    assert f'got {H * W * 3 - 10} data bytes' in text and f'{H} x {W * 3} = {H * W * 3}' in text
    assert text.startswith('rgb:') and 'fix the publisher' in text
    msg = make_msg(MONO8, 'mono8')
    msg.width = W + 1  # header claims a wider image than the data and step hold
    with pytest.raises(ImageError, match='step 7 is less than width x bytes per pixel = 8 x 1'):
        image_msg_to_array(msg)
    msg = make_msg(MONO8, 'mono8')
    msg.height, msg.data = 0, b''
    with pytest.raises(ImageError, match='empty image'):
        image_msg_to_array(msg)


@pytest.mark.parametrize('pixels, encoding, match', [
    (RGB.astype(np.float32) / 255, 'rgb8', r'needs dtype uint8, got float32.*from_float01'),
    (MONO8, 'rgb8', r'needs a non-empty \(H, W, 3\) array, got shape \(6, 7\)'),
    (RGB, 'mono16', r'needs a non-empty \(H, W\) array'),
    (MONO8, 'mono16', 'needs dtype uint16, got uint8'),
    (MONO8, 'bgr8', r"unsupported encoding 'bgr8'; supported: rgb8, mono8, mono16, 32FC1"),
])
def test_array_to_image_msg_rejects_what_does_not_fit(pixels, encoding, match):
    with pytest.raises(ImageError, match=match):
        array_to_image_msg(pixels, encoding, header())


def test_array_to_image_msg_accepts_float64_and_single_channel_for_32fc1():
    out = array_to_image_msg(np.ones((H, W, 1)), '32FC1', header())
    assert out.step == W * 4
    np.testing.assert_array_equal(image_msg_to_array(out)[0], np.ones((H, W), np.float32))


# --------------------------------------------------------------------------- compressed


def test_compressed_jpeg_round_trip_in_rgb_order():
    rgb = smooth_rgb()
    msg = compressed(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), 'rgb8; jpeg compressed bgr8')
    out, enc = compressed_msg_to_array(msg)
    assert enc == 'rgb8' and out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb).mean() < 3.0
    plain, _ = msg_to_array(compressed(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), 'jpeg'))
    assert np.abs(plain.astype(int) - rgb).mean() < 3.0
    as_float = rgb_msg_to_float(msg)
    assert as_float.shape == rgb.shape and as_float.dtype == np.float32


def test_compressed_png_round_trips_exactly_incl_mono16():
    out, enc = compressed_msg_to_array(compressed(RGB[..., ::-1], 'rgb8; png compressed bgr8', '.png'))
    assert enc == 'rgb8'
    np.testing.assert_array_equal(out, RGB)
    out, enc = compressed_msg_to_array(compressed(MONO16, 'mono16; png compressed mono16', '.png'))
    assert enc == 'mono16' and out.dtype == np.uint16
    np.testing.assert_array_equal(out, MONO16)
    out, enc = compressed_msg_to_array(
        compressed(MONO16, '16UC1; compressedDepth png', '.png', prefix=bytes(12)))
    np.testing.assert_array_equal(out, MONO16)
    thermal = thermal_msg_to_float(compressed(MONO16, 'mono16; png compressed mono16', '.png'),
                                   ThermalNormConfig('dtype'))
    np.testing.assert_allclose(thermal, MONO16 / 65535.0, atol=1e-6)


def test_compressed_mono_source_comes_back_mono():
    gray = smooth_rgb()[..., 0]
    out, enc = compressed_msg_to_array(compressed(np.dstack([gray] * 3), 'mono8; jpeg compressed mono8'))
    assert enc == 'mono8' and out.shape == gray.shape


def test_corrupt_or_empty_compressed_data_raises():
    good = compressed(smooth_rgb(), 'rgb8; jpeg compressed bgr8')
    for data in (bytes(good.data)[: len(good.data) // 2], b'\x00not an image at all' * 20):
        bad = CompressedImage(format=good.format, data=data)
        with pytest.raises(ImageError, match=r"could not decode .* format 'rgb8; jpeg compressed bgr8'"):
            compressed_msg_to_array(bad, name='thermal')
    with pytest.raises(ImageError, match='has no data'):
        compressed_msg_to_array(CompressedImage(format='jpeg'))
    with pytest.raises(ImageError, match='compressedDepth format'):
        compressed_msg_to_array(CompressedImage(format='32FC1; compressedDepth', data=bytes(good.data)))
    with pytest.raises(ImageError, match='expected a sensor_msgs/Image or sensor_msgs/CompressedImage'):
        msg_to_array(Header())
