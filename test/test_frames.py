"""fusion_ros.frames (ROS-free): the size bound, thermal content checks, camera intrinsics scaling."""
import numpy as np
import pytest

from fusion_ros.frames import (NOTE_RESIZED, NOTE_THERMAL_COLOUR, Throttle, bound_size, fitted_size, prepare_pair,
                               scale_intrinsics)
from fusion_ros.imaging import ImageError


@pytest.mark.parametrize('size, max_side, expected', [
    ((4000, 3000), 1920, (1920, 1440)), ((3000, 4000), 1920, (1440, 1920)), ((640, 480), 1920, (640, 480)),
    ((1920, 1080), 1920, (1920, 1080)), ((4000, 3000), 0, (4000, 3000)), ((5000, 2), 100, (100, 1))])
def test_fitted_size(size, max_side, expected):
    assert fitted_size(*size, max_side) == expected


def test_large_pair_is_resized_before_conversion_and_noted():
    """Issue 9: a 4000x3000 pair is bounded (the work per frame no longer grows with the camera)."""
    rgb = np.random.default_rng(0).integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    thermal = np.full((3000, 4000), 30000, np.uint16)
    thermal[:1500] = 31000
    pair = prepare_pair(rgb, thermal, max_side=1920)
    assert pair.rgb.shape == (1440, 1920, 3) and pair.rgb.dtype == np.float32
    assert pair.thermal.shape == (1440, 1920)
    assert pair.rgb_scale == (0.48, 0.48) and pair.rgb_input_size == (4000, 3000) and pair.resized
    assert 'rgb 4000x3000 -> 1920x1440' in pair.notes[NOTE_RESIZED]
    assert 'max_input_side' in pair.notes[NOTE_RESIZED]
    small = prepare_pair(rgb[:48, :64], thermal[:24, :32], max_side=1920)
    assert not small.notes and not small.resized and small.rgb.shape == (48, 64, 3)


def test_only_the_larger_image_is_resized():
    pair = prepare_pair(np.zeros((480, 640, 3), np.uint8), np.zeros((1200, 1600), np.uint16), max_side=800)
    assert pair.rgb_scale == (1.0, 1.0) and pair.thermal_scale == (0.5, 0.5)
    assert pair.thermal.shape == (600, 800) and 'thermal 1600x1200 -> 800x600' in pair.notes[NOTE_RESIZED]


def test_colour_thermal_is_noted_and_all_invalid_thermal_refused():
    rgb = np.zeros((48, 64, 3), np.uint8)
    colour = np.zeros((48, 64, 3), np.uint8)
    colour[10:20, 10:20] = (255, 0, 0)
    pair = prepare_pair(rgb, colour, thermal_encoding='bgr8')
    assert pair.thermal.shape == (48, 64) and 'bgr8' in pair.notes[NOTE_THERMAL_COLOUR]
    assert 'mono16' in pair.notes[NOTE_THERMAL_COLOUR]
    rgba = prepare_pair(rgb, np.zeros((48, 64, 4), np.uint8), thermal_encoding='rgba8')
    assert NOTE_THERMAL_COLOUR in rgba.notes
    nan = np.full((48, 64), np.nan, np.float32)
    with pytest.raises(ImageError, match='every pixel is NaN or inf'):
        prepare_pair(rgb, nan, thermal_encoding='32FC1')
    nan[0, 0] = np.inf
    with pytest.raises(ImageError, match='32FC1'):
        prepare_pair(rgb, nan, thermal_encoding='32FC1')
    nan[5, 5] = 20.0  # one finite pixel: used (non-finite pixels become 0)
    assert prepare_pair(rgb, nan).thermal.shape == (48, 64)


def test_scale_intrinsics_follows_the_pixel_grid():
    k = [500.0, 0.0, 319.5, 0.0, 500.0, 239.5, 0.0, 0.0, 1.0]
    p = [500.0, 0.0, 319.5, -25.0, 0.0, 500.0, 239.5, 0.0, 0.0, 0.0, 1.0, 0.0]
    k2, p2 = scale_intrinsics(k, p, (0.5, 0.5))
    # the image centre stays the centre: 640x480 -> 320x240, centre (319.5, 239.5) -> (159.5, 119.5)
    assert k2 == pytest.approx([250.0, 0.0, 159.5, 0.0, 250.0, 119.5, 0.0, 0.0, 1.0])
    assert p2 == pytest.approx([250.0, 0.0, 159.5, -12.5, 0.0, 250.0, 119.5, 0.0, 0.0, 0.0, 1.0, 0.0])
    assert scale_intrinsics([0.0] * 9, [0.0] * 12, (0.5, 0.5)) == ([0.0] * 9, [0.0] * 12)  # uncalibrated


def test_bound_size_keeps_single_channel_axis_and_throttle():
    resized, scale = bound_size(np.zeros((100, 200, 1), np.float32), 50)
    assert resized.shape == (25, 50, 1) and scale == (0.25, 0.25)
    throttle = Throttle(10.0)
    assert throttle.ready('a', 0.0) and not throttle.ready('a', 5.0) and throttle.ready('b', 5.0)
    assert throttle.ready('a', 10.5)


def test_scale_intrinsics_applies_binning_and_roi_first():
    k = [1000.0, 0.0, 700.0, 0.0, 1000.0, 500.0, 0.0, 0.0, 1.0]  # of the full sensor
    k2, _ = scale_intrinsics(k, [0.0] * 12, (1.0, 1.0), binning=(2, 2), offset=(100, 20))
    assert k2 == pytest.approx([500.0, 0.0, 300.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0])
