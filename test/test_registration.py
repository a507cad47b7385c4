"""registration: global search + ECC refinement + identity guard on synthetic pairs with a known transform
(rotation, scale, shift; inverted contrast; black borders; another thermal resolution), registered pairs
left in place, JSON output, bad inputs and config checks."""
import json

import cv2
import numpy as np
import pytest
import torch

from fusion_ros.align import theta_to_pixels
from fusion_ros.imaging import ImageError
from fusion_ros.registration import (RegisterConfig, corner_distances, orientation_field, padding_mask,
                                     plausible, register)

H, W = 180, 240


def _rgb(gray):
    return np.repeat(gray[..., None], 3, axis=2)


def _warped(gray, angle_deg, scale, shift, border=cv2.BORDER_CONSTANT):
    """Thermal = inverted ``gray`` seen through ``thermal_from_rgb`` M (thermal(M p) = 1 - gray(p)); black
    corners where the warp leaves the image (``BORDER_CONSTANT``). Returns ``(thermal, M 3x3)``."""
    h, w = gray.shape
    m = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, scale), [0, 0, 1]])
    m[:2, 2] += shift
    thermal = cv2.warpAffine(1.0 - gray, m[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=border,
                             borderValue=0)
    return thermal.astype(np.float32), m


def _corner_error(rgb_from_thermal, true_thermal_from_rgb, size=(H, W)):
    return corner_distances(np.linalg.inv(rgb_from_thermal), true_thermal_from_rgb, size).max()


@pytest.mark.parametrize('angle_deg, scale, shift', [(8.0, 1.08, (14.0, -9.0)), (-13.0, 0.9, (-20.0, 12.0)),
                                                      (0.0, 1.0, (6.0, 4.0))])
def test_recovers_a_known_rotation_scale_shift_with_inverted_contrast(make_texture, angle_deg, scale, shift):
    gray = make_texture(H, W, seed=21)
    thermal, m = _warped(gray, angle_deg, scale, shift)
    reg = register(_rgb(gray), thermal)
    assert not reg.kept_identity, reg.reason
    assert _corner_error(reg.rgb_from_thermal, m) < 0.5, reg.rgb_from_thermal
    assert reg.agreement > reg.identity_agreement
    # The search's grid point (rotation and scale of the thermal image onto the RGB grid, the inverse of
    # the warp) is within a step of the truth before the refinement.
    angle, s, score, median = reg.search
    assert score - median > RegisterConfig().min_search_margin
    assert abs(angle + angle_deg) <= 2.0 and abs(np.log(s * scale)) < 0.06
    # thermal_from_rgb is the same transform as a normalised theta.
    px = theta_to_pixels(torch.from_numpy(reg.thermal_from_rgb)[None], (H, W), (H, W))[0].numpy()
    np.testing.assert_allclose(px @ reg.rgb_from_thermal, np.eye(3), atol=1e-5)
    # cv2.warpAffine(thermal, M, (W, H)) registers the thermal image: the inverted visible image again.
    registered = cv2.warpAffine(thermal, reg.rgb_from_thermal[:2], (W, H), flags=cv2.INTER_LINEAR)
    inner = (slice(40, -40), slice(50, -50))
    assert np.abs(registered[inner] - (1 - gray)[inner]).mean() < 0.02


def test_thermal_of_another_resolution(make_texture):
    gray = make_texture(H, W, seed=22)
    thermal_full, m = _warped(gray, 6.0, 1.05, (10.0, -6.0))
    thermal = cv2.resize(thermal_full, (W // 2, H // 2), interpolation=cv2.INTER_AREA)
    reg = register(_rgb(gray), thermal)
    assert reg.sizes == {'rgb': (H, W), 'thermal': (H // 2, W // 2)}
    # Half-size thermal pixel (u, v) is full-size thermal pixel (2u + 0.5, 2v + 0.5).
    full_from_half = np.array([[2.0, 0, 0.5], [0, 2.0, 0.5], [0, 0, 1]])
    assert _corner_error(reg.rgb_from_thermal @ np.linalg.inv(full_from_half), m) < 1.0


def test_a_registered_pair_stays_in_place(make_texture):
    gray = make_texture(H, W, seed=23)
    rng = np.random.default_rng(0)
    thermal = np.clip(1.0 - gray + rng.normal(0, 0.02, gray.shape), 0, 1).astype(np.float32)
    reg = register(_rgb(gray), thermal)
    assert _corner_error(reg.rgb_from_thermal, np.eye(3)) <= 1.0
    np.testing.assert_allclose(reg.rgb_from_thermal, np.eye(3), atol=1e-9)  # kept exactly
    assert reg.kept_identity and 'not clearly better' in reg.reason


@pytest.mark.parametrize('seed', [24, 25, 26])
def test_unrelated_images_keep_the_identity(make_texture, seed):
    reg = register(_rgb(make_texture(H, W, seed=seed)), make_texture(H, W, seed=seed + 100))
    assert reg.kept_identity and 'no clear match' in reg.reason
    np.testing.assert_allclose(reg.rgb_from_thermal, np.eye(3), atol=1e-9)


@pytest.mark.parametrize('value', [0.0, 0.5])
def test_flat_images_keep_the_identity(value):
    reg = register(np.full((40, 60, 3), value, np.float32), np.full((40, 60), value, np.float32))
    assert reg.kept_identity and np.isfinite(reg.rgb_from_thermal).all()


def test_the_guard_keeps_the_identity_unless_clearly_better(make_texture):
    gray = make_texture(H, W, seed=26)
    thermal, _ = _warped(gray, 4.0, 1.0, (5.0, 3.0))
    reg = register(_rgb(gray), thermal, RegisterConfig(min_gain=1000.0))
    assert reg.kept_identity and 'needs x1000' in reg.reason
    np.testing.assert_allclose(reg.rgb_from_thermal, np.eye(3), atol=1e-9)
    assert reg.candidate_rgb_from_thermal is not None  # what was judged is kept for diagnostics


def test_refinement_off_keeps_the_grid_point(make_texture):
    gray = make_texture(H, W, seed=27)
    thermal, m = _warped(gray, 4.0, 1.0, (4.0, -2.0))  # a grid point (4 deg, scale 1, whole pixels)
    reg = register(_rgb(gray), thermal, RegisterConfig(refine_iters=0))
    assert not reg.kept_identity and reg.reason.startswith('search transform')
    assert _corner_error(reg.rgb_from_thermal, m) < 1.0


def test_json_output(make_texture, tmp_path):
    gray = make_texture(H, W, seed=28)
    thermal, _ = _warped(gray, 3.0, 1.0, (4.0, -2.0))
    reg = register(_rgb(gray), thermal)
    data = reg.to_json()
    assert list(data) == ['rgb_from_thermal'] and np.shape(data['rgb_from_thermal']) == (2, 3)
    np.testing.assert_allclose(data['rgb_from_thermal'], reg.rgb_from_thermal[:2])
    path = reg.write_json(tmp_path / 'sub' / 'T.json')
    assert json.loads(path.read_text()) == data


def test_padding_mask_marks_dark_regions_touching_the_border(make_texture):
    gray = make_texture(60, 80, seed=29) * 0.8 + 0.1
    thermal, _ = _warped(gray, 20.0, 1.0, (0.0, 0.0))
    mask = padding_mask(thermal)
    assert mask[0, 0] == 0 and mask[30, 40] == 1
    inner = gray.copy()
    inner[20:30, 30:40] = 0.0  # dark, but not touching the border: real content
    assert padding_mask(inner).min() == 1


def test_orientation_field_ignores_the_sign_of_edges(make_texture):
    gray = make_texture(60, 80, seed=30)
    np.testing.assert_allclose(orientation_field(gray), orientation_field(1.0 - gray), atol=1e-5)
    assert np.abs(orientation_field(gray)).max() <= 1.0


def test_plausible():
    assert plausible(np.eye(3), (0.8, 1.25))
    assert plausible(np.diag([1.2, 0.85, 1.0]), (0.8, 1.25))
    for bad in (np.diag([-1.0, 1.0, 1.0]), np.diag([2.0, 2.0, 1.0]), np.diag([0.5, 0.5, 1.0]),
                np.array([[np.nan, 0, 0], [0, 1, 0], [0, 0, 1]])):
        assert not plausible(bad, (0.8, 1.25))


@pytest.mark.parametrize('rgb, thermal, message', [
    (np.zeros((40, 60, 3), np.float32), np.zeros((40, 60, 2), np.float32), r'thermal: expected an \(H, W\)'),
    (np.zeros((10, 60, 3), np.float32), np.zeros((40, 60), np.float32), 'rgb: 10 x 60 pixels is too small'),
    (np.full((40, 60, 3), np.nan, np.float32), np.zeros((40, 60), np.float32), 'rgb: contains NaN or inf'),
])
def test_bad_inputs(rgb, thermal, message):
    with pytest.raises(ImageError, match=message):
        register(rgb, thermal)


@pytest.mark.parametrize('kwargs, message', [
    (dict(search_size=16), 'search_size must be >= 32'),
    (dict(rotation_step_deg=0), 'rotation_step_deg must be > 0'),
    (dict(max_rotation_deg=120), r'max_rotation_deg must be in \[0, 90\]'),
    (dict(scale_range=(1.1, 1.3)), 'scale_range must be'),
    (dict(scale_steps=0), 'scale_steps must be >= 1'),
    (dict(refine_sizes=(8,)), 'refine_sizes must be >= 16'),
    (dict(refine_iters=-1), 'refine_iters must be >= 0'),
    (dict(min_gain=0.5), 'min_gain must be >= 1'),
    (dict(min_edge_gain=0.5), 'min_edge_gain must be 0'),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RegisterConfig(**kwargs)


def test_search_grid():
    c = RegisterConfig(max_rotation_deg=5, rotation_step_deg=2, scale_range=(0.9, 1.1), scale_steps=3)
    np.testing.assert_allclose(c.rotations(), [-4, -2, 0, 2, 4])
    np.testing.assert_allclose(c.scales(), [0.9, np.sqrt(0.99), 1.1])
    assert RegisterConfig(scale_steps=1).scales().tolist() == [1.0]


def test_the_edge_check_keeps_the_identity_when_edges_do_not_meet_better(make_texture):
    """Issue 11: a transform must also make the thermal edges meet more RGB edges (Canny) than the identity."""
    from fusion_ros.registration import _Pair, edge_overlap_gain
    gray = make_texture(H, W, seed=27)
    thermal, m = _warped(gray, 0.0, 1.0, (7.0, -5.0))
    pair = _Pair(gray.astype(np.float32), thermal, True)
    gain = edge_overlap_gain(pair, m, 1024)
    assert gain is None or gain > 1.15  # the true transform meets more edges (or the texture has too few)
    assert edge_overlap_gain(pair, np.eye(3), 1024) in (None, 1.0)
    reg = register(_rgb(gray), thermal, RegisterConfig(min_edge_gain=1e9, edge_check_below=1e9))
    if gain is not None:
        assert reg.kept_identity and 'meets x' in reg.reason, reg.reason
    assert not register(_rgb(gray), thermal, RegisterConfig(min_edge_gain=0)).kept_identity
    # an agreement gain of at least edge_check_below is trusted without the edge check
    trusted = register(_rgb(gray), thermal, RegisterConfig(min_edge_gain=1e9, edge_check_below=1.0))
    assert not trusted.kept_identity, trusted.reason
