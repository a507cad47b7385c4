"""align: normalised theta <-> pixel matrices, affine warps against OpenCV, valid masks, the STN's start."""
import cv2
import numpy as np
import pytest
import torch

from fusion_ros.align import (AffineSTN, STNConfig, identity_theta, pixels_to_theta, theta_to_pixels,
                              warp_affine)


def _smooth(h, w, seed=0):
    """A smooth image (bilinear interpolation of it is accurate), float32 (h, w)."""
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 2.5)


def _translation(dx, dy):
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _warp(thermal: np.ndarray, thermal_from_rgb_px: np.ndarray, rgb_size, padding_mode='zeros'):
    theta = pixels_to_theta(torch.from_numpy(thermal_from_rgb_px)[None], rgb_size, thermal.shape)
    reg, valid = warp_affine(torch.from_numpy(thermal)[None, None], theta, rgb_size,
                             padding_mode=padding_mode)
    return reg[0, 0].numpy(), valid[0, 0].numpy()


def test_identity_theta():
    theta = identity_theta(3)
    assert theta.shape == (3, 2, 3)
    torch.testing.assert_close(theta[2], torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]))


def test_identity_theta_is_identity_pixel_matrix_for_equal_sizes():
    m = theta_to_pixels(identity_theta(1), (48, 64), (48, 64))
    assert m.shape == (1, 3, 3) and m.dtype == torch.float64
    torch.testing.assert_close(m[0], torch.eye(3, dtype=torch.float64))


def test_identity_theta_between_resolutions_maps_pixel_centres():
    # Same field of view, thermal at half size: normalised u = (2 x + 1) / W - 1 equal on both grids gives
    # x_th = x_rgb * w / W + (w / W - 1) / 2 = 0.5 x_rgb - 0.25 (pixel centres, OpenCV convention).
    m = theta_to_pixels(identity_theta(1), (48, 64), (24, 32))[0]
    expected = torch.tensor([[0.5, 0, -0.25], [0, 0.5, -0.25], [0, 0, 1]], dtype=torch.float64)
    torch.testing.assert_close(m, expected)


@pytest.mark.parametrize('rgb_size, thermal_size', [((48, 64), (48, 64)), ((48, 64), (30, 50))])
def test_theta_pixels_round_trip(rgb_size, thermal_size):
    g = torch.Generator().manual_seed(0)
    theta = identity_theta(2) + 0.1 * torch.randn(2, 2, 3, generator=g)
    px = theta_to_pixels(theta, rgb_size, thermal_size)
    assert px.shape == (2, 3, 3)
    torch.testing.assert_close(pixels_to_theta(px, rgb_size, thermal_size), theta, atol=1e-6, rtol=0)
    torch.testing.assert_close(pixels_to_theta(px[:, :2], rgb_size, thermal_size), theta, atol=1e-6, rtol=0)


@pytest.mark.parametrize('dx, dy', [(3.0, -2.0), (2.5, 1.25)])
def test_translation_warps_like_opencv(dx, dy):
    h, w = 40, 56
    thermal = _smooth(h, w)
    t = _translation(dx, dy)  # thermal_from_rgb: RGB pixel (x, y) is thermal pixel (x + dx, y + dy)
    reg, _ = _warp(thermal, t, (h, w))
    rgb_from_thermal = np.linalg.inv(t)
    expected = cv2.warpAffine(thermal, rgb_from_thermal[:2], (w, h), flags=cv2.INTER_LINEAR)
    inner = (slice(4, -4), slice(4, -4))
    np.testing.assert_allclose(reg[inner], expected[inner], atol=2e-3)
    if float(dx).is_integer() and float(dy).is_integer():  # integer shift: exact pixel copies
        np.testing.assert_allclose(reg[5, 10], thermal[5 + int(dy), 10 + int(dx)], atol=1e-6)


def test_affine_with_other_thermal_resolution_warps_like_opencv():
    h, w = 48, 64
    thermal = _smooth(36, 40, seed=1)
    angle = np.deg2rad(4.0)
    # thermal_from_rgb: scale to the thermal grid, rotate a little and shift.
    t = np.array([[0.6 * np.cos(angle), -0.6 * np.sin(angle), 2.0],
                  [0.75 * np.sin(angle), 0.75 * np.cos(angle), -1.5],
                  [0, 0, 1]])
    reg, valid = _warp(thermal, t, (h, w))
    assert reg.shape == (h, w) and valid.shape == (h, w)
    expected = cv2.warpAffine(thermal, t[:2], (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    inside = valid > 0.999
    assert inside.mean() > 0.5
    np.testing.assert_allclose(reg[inside], expected[inside], atol=2e-3)


def test_valid_mask_is_zero_outside_the_thermal_image():
    h, w = 20, 30
    reg, valid = _warp(np.ones((h, w), np.float32), _translation(10.0, 0.0), (h, w))
    # RGB column x samples thermal column x + 10: inside for x <= w - 11, fully outside for x >= w - 10.
    np.testing.assert_allclose(valid[:, :w - 10], 1.0, atol=1e-6)
    np.testing.assert_array_equal(valid[:, w - 10:], 0.0)
    np.testing.assert_array_equal(reg[:, w - 10:], 0.0)  # zeros padding
    reg_b, _ = _warp(np.ones((h, w), np.float32), _translation(10.0, 0.0), (h, w), padding_mode='border')
    np.testing.assert_allclose(reg_b, 1.0, atol=1e-6)  # border padding repeats the edge


def test_warp_affine_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r'expected thermal \(B, C, h, w\), got \(4, 4\)'):
        warp_affine(torch.zeros(4, 4), identity_theta(1), (4, 4))
    with pytest.raises(ValueError, match=r'expected theta \(2, 2, 3\), got \(1, 2, 3\)'):
        warp_affine(torch.zeros(2, 1, 4, 4), identity_theta(1), (4, 4))


def test_stn_starts_at_identity():
    torch.manual_seed(0)
    stn = AffineSTN(STNConfig(loc_size=32))
    thermal, gray = torch.rand(2, 1, 30, 44), torch.rand(2, 1, 30, 44)
    registered, valid, theta = stn(thermal, gray)
    torch.testing.assert_close(theta, identity_theta(2))
    torch.testing.assert_close(registered, thermal, atol=1e-5, rtol=0)
    torch.testing.assert_close(valid, torch.ones_like(valid), atol=1e-5, rtol=0)


def test_stn_translation_is_bounded_by_max_shift():
    stn = AffineSTN(STNConfig(max_shift=0.2))
    with torch.no_grad():
        stn.head.bias.copy_(torch.tensor([1.0, 0, 5.0, 0, 1.0, -5.0]))
    theta = stn.theta(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16))
    torch.testing.assert_close(theta[0, :, 2], torch.tensor([0.2, -0.2]))
    torch.testing.assert_close(theta[0, :, :2], torch.eye(2))


def test_stn_gradients_reach_the_localisation_net():
    stn = AffineSTN()
    thermal, gray = torch.rand(1, 1, 24, 24), torch.rand(1, 1, 24, 24)
    registered, _, _ = stn(thermal, gray)
    (registered * gray).sum().backward()
    assert stn.head.bias.grad is not None and stn.head.bias.grad.abs().sum() > 0
