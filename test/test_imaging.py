"""imaging: dtype scaling, thermal normalisation, numpy <-> torch, gray <-> colour, resampling, checks."""
import cv2
import numpy as np
import pytest
import torch

from fusion_ros.imaging import (GRAY_WEIGHTS, ImageError, ThermalNormConfig, check_pair, colorize,
                                from_float01, image_to_tensor, normalize_thermal, resize_to, rgb_to_gray,
                                tensor_to_image, to_float01)


# --------------------------------------------------------------------------- to_float01 / from_float01


def test_to_float01_scales_by_dtype_range():
    u8 = np.array([[0, 51, 255]], np.uint8)
    u16 = np.array([[0, 13107, 65535]], np.uint16)
    for image in (u8, u16):
        out = to_float01(image)
        assert out.dtype == np.float32 and out.shape == image.shape
        np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]], atol=1e-7)


def test_to_float01_float_replaces_nan_inf_and_clips():
    x = np.array([np.nan, np.inf, -np.inf, -0.5, 0.25, 1.5], np.float64)
    out = to_float01(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([0.0, 1.0, 0.0, 0.0, 0.25, 1.0], np.float32))


def test_to_float01_rejects_other_dtypes_with_fix():
    with pytest.raises(ImageError, match=r'thermal: expected uint8, uint16 or float.*got int32.*convert'):
        to_float01(np.zeros((2, 2), np.int32), name='thermal')


@pytest.mark.parametrize('dtype, top', [(np.uint8, 255), (np.uint16, 65535)])
def test_from_float01_inverts_to_float01(dtype, top):
    rng = np.random.default_rng(0)
    image = rng.integers(0, top + 1, size=(7, 9, 3)).astype(dtype)
    back = from_float01(to_float01(image), dtype)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, image)


def test_from_float01_rounds_clips_and_rejects_bad_dtype():
    out = from_float01(np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan]), np.uint8)
    np.testing.assert_array_equal(out, [0, 0, 128, 255, 255, 0])  # 127.5 rounds to 128 (half to even)
    assert from_float01(np.array([0.25]), np.float32).dtype == np.float32
    with pytest.raises(ImageError, match='expected dtype uint8, uint16 or float32'):
        from_float01(np.zeros(3), np.int16)


# --------------------------------------------------------------------------- normalize_thermal


def test_normalize_thermal_dtype_mode():
    t = np.array([[0, 32768, 65535]], np.uint16)
    out = normalize_thermal(t, ThermalNormConfig('dtype'))
    np.testing.assert_allclose(out, [[0.0, 32768 / 65535, 1.0]], rtol=1e-6)


def test_normalize_thermal_range_mode_maps_low_high_and_clips():
    # raw centi-kelvin: 29315 (20 C) .. 30315 (30 C) -> 0 .. 1
    t = np.array([[29000, 29315, 29815, 30315, 31000]], np.uint16)
    out = normalize_thermal(t, ThermalNormConfig('range', 29315, 30315))
    np.testing.assert_allclose(out, [[0.0, 0.0, 0.5, 1.0, 1.0]], atol=1e-6)


def test_normalize_thermal_percentile_ignores_a_few_hot_pixels():
    # A ramp 1000..1999 (10 000 pixels) plus 5 hot pixels (0.05 %, fewer than the 0.5 % cut at each end).
    t = (1000 + np.arange(10000) % 1000).reshape(100, 100).astype(np.uint16)
    t.flat[[7, 300, 4321, 8000, 9999]] = 60000
    out = normalize_thermal(t)  # default: 0.5 / 99.5 percentiles
    ramp = ~(t == 60000)
    # The ramp keeps (almost) the whole output range, the hot pixels saturate at 1.
    assert np.percentile(out[ramp], 1) < 0.02 and np.percentile(out[ramp], 99) > 0.98
    assert np.all(out[~ramp] == 1.0)
    # Linear: the ramp's middle value 1500 maps to about 0.5.
    assert abs(float(np.median(out[t == 1500])) - 0.5) < 0.02
    # A plain min/max stretch would have squeezed the ramp into the bottom 2 %: the percentiles did not.
    minmax = normalize_thermal(t, ThermalNormConfig('percentile', 0.0, 100.0))
    assert minmax[ramp].max() < 1000 / 59000 + 1e-6


def test_normalize_thermal_float_with_nan_inf_gives_finite_unit_output():
    rng = np.random.default_rng(1)
    t = (290.0 + 10.0 * rng.random((20, 30))).astype(np.float32)  # 32FC1 kelvin
    t[0, 0], t[1, 1], t[2, 2] = np.nan, np.inf, -np.inf
    for config in (None, ThermalNormConfig('range', 290, 300), ThermalNormConfig('dtype')):
        out = normalize_thermal(t, config)
        assert out.shape == (20, 30) and out.dtype == np.float32
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    for config in (None, ThermalNormConfig('range', 290, 300), ThermalNormConfig('dtype')):
        out = normalize_thermal(t, config)
        assert out[0, 0] == 0 and out[1, 1] == 0 and out[2, 2] == 0, config  # non-finite pixels -> 0
    out = normalize_thermal(t)
    assert out.max() == 1.0 and out[3:].min() == 0.0  # the finite pixels still span the range


@pytest.mark.parametrize('image', [np.full((8, 8), 1234, np.uint16), np.full((8, 8), 300.0, np.float32),
                                   np.full((8, 8), np.nan, np.float32)])
def test_normalize_thermal_constant_or_empty_image_gives_zeros(image):
    out = normalize_thermal(image)
    assert out.shape == (8, 8) and out.dtype == np.float32
    assert np.all(out == 0)


def test_normalize_thermal_takes_first_channel_and_rejects_other_shapes():
    t = np.zeros((4, 5, 3), np.uint8)
    t[..., 0] = 255
    np.testing.assert_array_equal(normalize_thermal(t, ThermalNormConfig('dtype')), np.ones((4, 5)))
    with pytest.raises(ImageError, match=r'expected an \(H, W\) image, got shape \(5,\)'):
        normalize_thermal(np.zeros(5))


@pytest.mark.parametrize('kwargs, message', [
    (dict(mode='minmax'), "mode must be 'dtype', 'range' or 'percentile', got 'minmax'"),
    (dict(mode='range', low=10, high=10), 'needs low < high, got low=10, high=10'),
    (dict(mode='percentile', low=-1, high=99), r'percentiles must lie in \[0, 100\]'),
    (dict(mode='percentile', low=1, high=101), r'percentiles must lie in \[0, 100\]'),
])
def test_thermal_norm_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ThermalNormConfig(**kwargs)


# --------------------------------------------------------------------------- numpy <-> torch


def test_image_to_tensor_layout_and_round_trip():
    rng = np.random.default_rng(2)
    rgb = rng.random((5, 7, 3)).astype(np.float32)
    t = image_to_tensor(rgb)
    assert t.shape == (1, 3, 5, 7) and t.dtype == torch.float32
    assert t[0, 2, 4, 6] == rgb[4, 6, 2] and t[0, 0, 1, 3] == rgb[1, 3, 0]
    np.testing.assert_array_equal(tensor_to_image(t), rgb)
    np.testing.assert_array_equal(tensor_to_image(t[0]), rgb)  # (C, H, W) as well

    gray = rng.random((5, 7)).astype(np.float32)
    tg = image_to_tensor(gray)
    assert tg.shape == (1, 1, 5, 7)
    back = tensor_to_image(tg)
    assert back.shape == (5, 7)
    np.testing.assert_array_equal(back, gray)


def test_tensor_conversions_reject_bad_shapes():
    with pytest.raises(ImageError, match=r'expected an \(H, W\) or \(H, W, C\) image, got shape \(1, 2'):
        image_to_tensor(np.zeros((1, 2, 3, 4)))
    with pytest.raises(ImageError, match='expected batch size 1'):
        tensor_to_image(torch.zeros(2, 3, 4, 4))
    with pytest.raises(ImageError, match=r'expected \(1, C, H, W\) or \(C, H, W\)'):
        tensor_to_image(torch.zeros(4, 4))


# --------------------------------------------------------------------------- gray <-> colour


def test_rgb_to_gray_matches_opencv():
    rng = np.random.default_rng(3)
    rgb = rng.random((9, 11, 3)).astype(np.float32)
    expected = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    out = rgb_to_gray(image_to_tensor(rgb))
    assert out.shape == (1, 1, 9, 11)
    np.testing.assert_allclose(tensor_to_image(out), expected, atol=1e-6)
    assert GRAY_WEIGHTS == (0.299, 0.587, 0.114)


def test_rgb_to_gray_rejects_non_rgb():
    with pytest.raises(ImageError, match=r'expected \(B, 3, H, W\), got \(1, 1, 4, 4\)'):
        rgb_to_gray(torch.zeros(1, 1, 4, 4))


@pytest.mark.parametrize('mode', ['ycbcr', 'ratio'])
def test_colorize_luma_equals_gray_fusion_where_reachable(mode):
    g = torch.Generator().manual_seed(4)
    rgb = 0.05 + 0.9 * torch.rand(1, 3, 24, 24, generator=g)
    gray_fused = torch.rand(1, 1, 24, 24, generator=g)
    out = colorize(rgb, gray_fused, mode=mode)
    assert out.shape == rgb.shape and out.min() >= 0 and out.max() <= 1
    unclipped = ((out > 0) & (out < 1)).all(dim=1, keepdim=True)
    assert unclipped.float().mean() > 0.5
    torch.testing.assert_close(rgb_to_gray(out)[unclipped], gray_fused[unclipped], atol=1e-5, rtol=0)


def test_colorize_ycbcr_keeps_the_visible_chroma_and_ratio_scales_it():
    g = torch.Generator().manual_seed(4)
    rgb = 0.05 + 0.9 * torch.rand(1, 3, 24, 24, generator=g)
    gray_fused = torch.rand(1, 1, 24, 24, generator=g)
    gray = rgb_to_gray(rgb)
    # ycbcr (default): where nothing clips, R - Y and B - Y (BT.601's Cr and Cb, up to scale) are unchanged
    out = colorize(rgb, gray_fused)
    shifted = rgb + gray_fused - gray
    fits = ((shifted >= 0) & (shifted <= 1)).all(1, keepdim=True)
    assert fits.float().mean() > 0.3
    chroma = lambda x: x - rgb_to_gray(x)  # noqa: E731
    fits = fits.expand_as(out)
    torch.testing.assert_close(chroma(out)[fits], chroma(rgb)[fits], atol=1e-5, rtol=0)
    # ratio (paper 000): where the plain ratio fits in [0, 1], the colour is the visible one scaled
    out = colorize(rgb, gray_fused, mode='ratio')
    ratio_out = rgb * gray_fused / gray
    fits = (ratio_out <= 1).all(dim=1, keepdim=True).expand_as(out)
    torch.testing.assert_close(out[fits], ratio_out[fits], atol=1e-5, rtol=0)


def test_colorize_ycbcr_does_not_amplify_the_colour_of_a_dark_pixel_made_bright():
    # a dark, slightly green visible pixel where the thermal image is bright (a pedestrian at night)
    rgb = torch.tensor([0.02, 0.05, 0.03]).view(1, 3, 1, 1)
    bright = torch.full((1, 1, 1, 1), 0.8)
    spread = lambda x: (x.max() - x.min()).item()  # noqa: E731
    ycbcr, ratio = colorize(rgb, bright), colorize(rgb, bright, mode='ratio')
    assert spread(ycbcr) == pytest.approx(spread(rgb), abs=1e-6)  # the same (small) colour difference
    assert spread(ratio) > 10 * spread(rgb)  # the ratio blows it up: saturated green
    torch.testing.assert_close(rgb_to_gray(ycbcr), bright, atol=1e-6, rtol=0)


@pytest.mark.parametrize('mode', ['ycbcr', 'ratio'])
def test_colorize_black_rgb_with_bright_fusion_gives_gray(mode):
    rgb = torch.zeros(1, 3, 4, 4)
    gray_fused = torch.full((1, 1, 4, 4), 0.7)
    out = colorize(rgb, gray_fused, mode=mode)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, gray_fused.expand(1, 3, 4, 4), atol=1e-6, rtol=0)


def test_colorize_clipped_channel_gets_the_missing_luma_once_as_white():
    rgb = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)  # pure red: luma 0.299
    target = torch.full((1, 1, 1, 1), 0.6)
    out = colorize(rgb, target, mode='ratio')
    # red clips at 1; the missing luma (0.6 - 0.299) is added equally to every channel, then clipped
    expected = torch.tensor([1.0, 0.301, 0.301]).view(1, 3, 1, 1)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    out = colorize(rgb, target)
    # ycbcr: + 0.301 on every channel (red clips), then the luma still missing once more on every channel
    missing = 0.6 - (0.299 + (0.587 + 0.114) * 0.301)
    expected = torch.tensor([1.0, 0.301 + missing, 0.301 + missing]).view(1, 3, 1, 1)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)
    # one pass: the luma falls short of the target where a channel clipped (documented in colorize)
    assert rgb_to_gray(out).item() == pytest.approx(0.573, abs=1e-3)
    assert rgb_to_gray(colorize(rgb, target, mode='ratio')).item() == pytest.approx(0.510, abs=1e-3)


@pytest.mark.parametrize('mode', ['ycbcr', 'ratio'])
def test_colorize_is_identity_when_fusion_is_the_gray(mode):
    g = torch.Generator().manual_seed(5)
    rgb = torch.rand(2, 3, 10, 12, generator=g)
    torch.testing.assert_close(colorize(rgb, rgb_to_gray(rgb), mode=mode), rgb, atol=1e-5, rtol=0)


def test_colorize_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match=r"mode must be one of \('ycbcr', 'ratio'\), got 'lab'"):
        colorize(torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, 4, 4), mode='lab')


def test_colorize_rejects_size_mismatch():
    with pytest.raises(ImageError, match='differ in size'):
        colorize(torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, 4, 5))


# --------------------------------------------------------------------------- resampling and pair checks


def test_resize_to_same_size_is_identity():
    x = torch.rand(1, 1, 6, 8)
    assert resize_to(x, (6, 8)) is x


def test_resize_to_upsampling_matches_opencv_bilinear():
    rng = np.random.default_rng(6)
    small = rng.random((12, 16)).astype(np.float32)
    out = resize_to(image_to_tensor(small), (24, 40))
    assert out.shape == (1, 1, 24, 40)
    expected = cv2.resize(small, (40, 24), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(tensor_to_image(out), expected, atol=1e-4)


def test_resize_to_downsampling_keeps_mean_and_constant():
    x = torch.full((1, 1, 40, 60), 0.3)
    out = resize_to(x, (10, 15))
    assert out.shape == (1, 1, 10, 15)
    torch.testing.assert_close(out, torch.full_like(out, 0.3))
    # Anti-aliased: a one-pixel checkerboard averages to gray instead of aliasing to one of its values.
    checker = (torch.arange(40)[:, None] + torch.arange(60)[None]) % 2
    out = resize_to(checker.float().view(1, 1, 40, 60), (10, 15))
    assert (out - 0.5).abs().max() < 0.1


def test_check_pair_accepts_a_good_pair():
    check_pair(torch.rand(2, 3, 5, 6), torch.rand(2, 1, 5, 6))


def test_check_pair_accepts_finite_values_whose_sum_overflows():
    big = torch.full((1, 3, 8, 8), 3e38)  # finite, but the one-pass sum is inf: the exact test decides
    check_pair(big, torch.zeros(1, 1, 8, 8))


def test_check_pair_finds_one_nan_among_finite_values():
    thermal = torch.rand(1, 1, 64, 64)
    thermal[0, 0, 40, 3] = float('nan')
    with pytest.raises(ImageError, match='thermal contains NaN'):
        check_pair(torch.rand(1, 3, 64, 64), thermal)


@pytest.mark.parametrize('rgb, thermal, message', [
    (torch.zeros(1, 3, 8, 8), torch.zeros(1, 1, 8, 9), r'differ; resample the thermal image.*resize_to'),
    (torch.zeros(1, 3, 8, 8), torch.zeros(2, 1, 8, 8), 'differ'),
    (torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), r'rgb: expected \(B, 3, H, W\)'),
    (torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), r'thermal: expected \(B, 1, H, W\)'),
    (torch.zeros(1, 3, 8, 8), torch.full((1, 1, 8, 8), float('nan')), 'thermal contains NaN or inf; norm'),
    (torch.full((1, 3, 8, 8), float('inf')), torch.zeros(1, 1, 8, 8), 'rgb contains NaN or inf'),
])
def test_check_pair_errors(rgb, thermal, message):
    with pytest.raises(ImageError, match=message):
        check_pair(rgb, thermal)


def test_percentiles_of_large_frames_use_a_grid_and_stay_close():
    from fusion_ros.imaging import ThermalNormConfig, normalize_thermal
    rng = np.random.default_rng(0)
    big = (rng.normal(30000, 2000, (480, 640))).astype(np.uint16)
    out = normalize_thermal(big)
    values = big.astype(np.float64)
    lo, hi = np.percentile(values, [0.5, 99.5])
    exact = np.clip((values - lo) / (hi - lo), 0, 1)
    assert np.abs(out - exact).max() < 2 / 255
    sparse = np.full((480, 640), np.nan, np.float32)
    sparse[1, 1], sparse[3, 3] = 10.0, 20.0  # no finite pixel on the sampling grid: all finite ones are used
    assert normalize_thermal(sparse, ThermalNormConfig('percentile', 0.0, 100.0))[3, 3] == 1.0


def test_from_float01_rounds_clips_and_zeroes_nan():
    from fusion_ros.imaging import from_float01
    x = np.array([[np.nan, np.inf, -np.inf, 1.7, -0.3, 0.5, 1 / 255 * 0.49, 1.0]], np.float32)
    assert from_float01(x).tolist() == [[0, 255, 0, 255, 0, 128, 0, 255]]
    assert from_float01(x, np.uint16).tolist() == [[0, 65535, 0, 65535, 0, 32768, 126, 65535]]
    assert from_float01(x, np.float32).tolist()[0][:5] == [0.0, 1.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize('mode', ['ycbcr', 'ratio'])
def test_colorize_in_place_inference_path_matches_the_autograd_path(mode):
    torch.manual_seed(0)
    rgb = torch.rand(2, 3, 16, 20)
    rgb[0, :, :4] = 0.0  # dark: the residual carries the luma
    fused = torch.rand(2, 1, 16, 20)
    with torch.no_grad():
        fast = colorize(rgb, fused, mode=mode)
        fast_given_gray = colorize(rgb, fused, gray=rgb_to_gray(rgb), mode=mode)
    slow = colorize(rgb.clone().requires_grad_(True), fused, mode=mode).detach()
    assert torch.equal(fast, slow) and torch.equal(fast_given_gray, slow)
    assert fast.min() >= 0 and fast.max() <= 1


def test_net_output_rgb_keeps_self_coloured_nets_and_colours_the_others():
    from fusion_ros.imaging import net_output_rgb
    torch.manual_seed(1)
    rgb, fused = torch.rand(1, 3, 8, 9) * 0.8 + 0.1, torch.rand(1, 3, 8, 9)
    assert net_output_rgb(rgb, {'fused': fused, 'luma': fused[:, :1]}) is fused
    assert net_output_rgb(rgb, {'fused': fused}, network_colour=True) is fused
    coloured = net_output_rgb(rgb, {'fused': fused * 1.5})  # out of range: clamped before colouring
    assert torch.equal(coloured, colorize(rgb, rgb_to_gray((fused * 1.5).clamp(0, 1))))
    assert not torch.allclose(coloured, fused)


def test_from_float01_fast_path_for_images_in_range_matches_numpy_rounding():
    from fusion_ros.imaging import from_float01
    rng = np.random.default_rng(1)
    x = rng.random((48, 64, 3), dtype=np.float32)  # in [0, 1]: OpenCV's pass
    x[0, 0] = (0.0, 1.0, 0.5)
    expected = np.rint(x * np.float32(255)).astype(np.uint8)
    out = from_float01(x)
    assert out.shape == x.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - expected).max() <= 1 and (out != expected).mean() < 1e-3  # only exact halves
    assert from_float01(x[..., 0]).shape == (48, 64) and from_float01(np.zeros((0, 3), np.float32)).shape == (0, 3)


@pytest.mark.parametrize('mode, low, high', [('percentile', 0.5, 99.5), ('range', 29500.0, 31000.0)])
def test_normalize_thermal_integer_path_matches_the_float_path(mode, low, high):
    rng = np.random.default_rng(2)
    raw = (rng.random((120, 160)) * 3000 + 29000).astype(np.uint16)
    config = ThermalNormConfig(mode, low, high)
    fast, general = normalize_thermal(raw, config), normalize_thermal(raw.astype(np.float64), config)
    assert fast.dtype == np.float32 and fast.min() == 0.0 and fast.max() == 1.0
    np.testing.assert_allclose(fast, general, atol=1e-6)
    assert not normalize_thermal(np.full((8, 8), 7, np.uint16), config).any()  # constant: all 0
