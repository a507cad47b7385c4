"""io: reading image files (formats, bit depths, channel order), pairs, writing; errors naming the file."""
import cv2
import numpy as np
import pytest

from fusion_ros.imaging import ImageError, ThermalNormConfig
from fusion_ros.io import read_image, read_pair, rgb_float, write_image


def _rgb_u8(h=6, w=8):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_read_png_is_rgb_order(tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200  # red
    rgb[..., 2] = 10   # a little blue
    path = tmp_path / 'red.png'
    assert cv2.imwrite(str(path), rgb[..., ::-1])  # OpenCV writes BGR
    out = read_image(path)
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, rgb)
    assert out.flags['C_CONTIGUOUS']


def test_read_jpg(tmp_path):
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[...] = (220, 30, 40)
    path = tmp_path / 'x.jpg'
    cv2.imwrite(str(path), rgb[..., ::-1])
    out = read_image(str(path))  # str works as well as Path
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb).max() < 10  # lossy, but the red channel stays red


def test_read_16bit_png_keeps_values(tmp_path):
    rng = np.random.default_rng(1)
    t = rng.integers(0, 65536, size=(7, 9), dtype=np.uint16)
    path = tmp_path / 't16.png'
    cv2.imwrite(str(path), t)
    out = read_image(path)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, t)


def test_read_float_tiff_keeps_values(tmp_path):
    t = (290 + 10 * np.random.default_rng(2).random((5, 6))).astype(np.float32)
    path = tmp_path / 't.tiff'
    cv2.imwrite(str(path), t)
    out = read_image(path)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, t)


def test_read_rgba_drops_alpha(tmp_path):
    bgra = np.zeros((3, 4, 4), np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2], bgra[..., 3] = 10, 20, 30, 40
    path = tmp_path / 'rgba.png'
    cv2.imwrite(str(path), bgra)
    out = read_image(path)
    assert out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out[0, 0], [30, 20, 10])


def test_read_missing_file_names_it(tmp_path):
    path = tmp_path / 'nope.png'
    with pytest.raises(FileNotFoundError, match='nope.png: no such file; check the path'):
        read_image(path)


@pytest.mark.parametrize('content', [b'this is not an image', b''])
def test_read_non_image_names_it(tmp_path, content):
    path = tmp_path / 'fake.png'
    path.write_bytes(content)
    with pytest.raises(ImageError, match='fake.png: not a readable image'):
        read_image(path)


def test_read_directory_is_not_a_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='no such file'):
        read_image(tmp_path)


def test_read_pair_thermal_of_other_resolution_8bit(tmp_path):
    rgb = _rgb_u8(12, 16)
    th = np.arange(6 * 8, dtype=np.uint8).reshape(6, 8) * 5
    cv2.imwrite(str(tmp_path / 'a_rgb.png'), rgb[..., ::-1])
    cv2.imwrite(str(tmp_path / 'a_th.png'), th)
    pair = read_pair(tmp_path / 'a_rgb.png', tmp_path / 'a_th.png')
    assert pair.rgb.shape == (12, 16, 3) and pair.rgb.dtype == np.float32
    assert pair.thermal.shape == (6, 8) and pair.thermal.dtype == np.float32
    np.testing.assert_allclose(pair.rgb, rgb / 255.0, atol=1e-6)
    np.testing.assert_allclose(pair.thermal, th / 255.0, atol=1e-6)  # 8-bit: by dtype, not stretched


def test_read_pair_16bit_thermal_is_stretched(tmp_path):
    rgb = _rgb_u8(10, 10)
    th = (30000 + 10 * np.arange(100)).reshape(10, 10).astype(np.uint16)  # a narrow band of raw counts
    cv2.imwrite(str(tmp_path / 'rgb.png'), rgb[..., ::-1])
    cv2.imwrite(str(tmp_path / 'th.png'), th)
    pair = read_pair(tmp_path / 'rgb.png', tmp_path / 'th.png')
    assert pair.thermal.dtype == np.float32
    assert pair.thermal.min() == 0.0 and pair.thermal.max() == 1.0  # percentile stretch, not / 65535
    assert pair.thermal[0, 0] < pair.thermal[5, 5] < pair.thermal[9, 9]
    by_dtype = read_pair(tmp_path / 'rgb.png', tmp_path / 'th.png', ThermalNormConfig('dtype'))
    np.testing.assert_allclose(by_dtype.thermal, th / 65535.0, rtol=1e-6)


def test_read_pair_colour_thermal_and_mono_rgb(tmp_path):
    mono = np.full((5, 6), 100, np.uint8)
    th_bgr = np.zeros((5, 6, 3), np.uint8)
    th_bgr[..., 2] = 255  # red in BGR order: luma 0.299
    cv2.imwrite(str(tmp_path / 'mono.png'), mono)
    cv2.imwrite(str(tmp_path / 'th.png'), th_bgr)
    pair = read_pair(tmp_path / 'mono.png', tmp_path / 'th.png')
    assert pair.rgb.shape == (5, 6, 3)
    np.testing.assert_allclose(pair.rgb, 100 / 255.0, atol=1e-6)
    assert pair.thermal.shape == (5, 6)
    np.testing.assert_allclose(pair.thermal, round(0.299 * 255) / 255.0, atol=1.5 / 255)


def test_read_pair_errors_name_the_file(tmp_path):
    good = tmp_path / 'good.png'
    cv2.imwrite(str(good), _rgb_u8())
    with pytest.raises(FileNotFoundError, match='missing_ir.png'):
        read_pair(good, tmp_path / 'missing_ir.png')
    bad = tmp_path / 'bad_rgb.png'
    bad.write_text('hello')
    with pytest.raises(ImageError, match='bad_rgb.png'):
        read_pair(bad, good)


def test_read_pair_unusable_pixel_types_name_the_file_once(tmp_path):
    good, odd = tmp_path / 'good.png', tmp_path / 'int32.tiff'
    cv2.imwrite(str(good), _rgb_u8())
    cv2.imwrite(str(odd), np.zeros((6, 8), np.int32))
    assert read_image(odd).dtype == np.int32
    with pytest.raises(ImageError) as exc:
        read_pair(odd, good)
    assert str(exc.value).count('int32.tiff') == 1 and 'got int32; convert' in str(exc.value)
    with pytest.raises(ImageError, match=r'int32.tiff: thermal: expected uint8, uint16 or float pixels'):
        read_pair(good, odd, ThermalNormConfig('dtype'))
    assert read_pair(good, odd).thermal.dtype == np.float32  # the percentile stretch takes any numbers


def test_rgb_float_rejects_two_channel_images():
    with pytest.raises(ImageError, match=r'cam0: expected an RGB or mono image, got shape \(4, 4, 2\)'):
        rgb_float(np.zeros((4, 4, 2), np.uint8), name='cam0')


def test_write_image_round_trips_uint8_and_uint16(tmp_path):
    rgb = _rgb_u8()
    path = write_image(tmp_path / 'sub' / 'dir' / 'x.png', rgb)  # creates the folders
    assert path.is_file()
    np.testing.assert_array_equal(read_image(path), rgb)
    t16 = np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000
    np.testing.assert_array_equal(read_image(write_image(tmp_path / 't16.png', t16)), t16)


def test_write_image_float_is_written_as_8bit(tmp_path):
    f = np.array([[0.0, 0.5, 1.0, 1.7, -0.2, np.nan]], np.float32)
    out = read_image(write_image(tmp_path / 'f.png', f))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[0, 128, 255, 255, 0, 0]])


@pytest.mark.parametrize('name, image, message', [
    ('x.unknownext', np.zeros((4, 4), np.uint8), r'x.unknownext: could not write.*extension'),
    ('x.png', np.zeros((4, 4, 2), np.uint8), r'x.png: cannot write an image of shape \(4, 4, 2\)'),
])
def test_write_image_errors_name_the_file(tmp_path, name, image, message):
    with pytest.raises(ImageError, match=message):
        write_image(tmp_path / name, image)
