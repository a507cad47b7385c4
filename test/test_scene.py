"""fit_scene (paper 000, Algorithm 1): outputs, resolutions, degenerate inputs, budget, keep-best guard,
registration of a known transform by the alignment phase (fusion_ros.registration), recipes and config checks."""
import cv2
import numpy as np
import pytest
import torch

from fusion_ros.align import theta_to_pixels
from fusion_ros.imaging import ImageError, colorize, image_to_tensor, rgb_to_gray, tensor_to_image
from fusion_ros.losses.scene import scene_loss
from fusion_ros.models.compact import CompactFusionNet, init_as_average
from fusion_ros.models.scene import SceneModelConfig
from fusion_ros.scene import SceneFitConfig, fit_scene

CPU = dict(device='cpu')


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _average_start(rgb, thermal_on_rgb_grid, seed=0):
    """The gray fusion of the averaging warm start, computed outside fit_scene."""
    net = init_as_average(CompactFusionNet(), seed=seed)
    x = torch.from_numpy(np.stack([thermal_on_rgb_grid, _gray(rgb)]))[None]
    with torch.no_grad():
        return net(x)[0, 0].numpy()


def test_outputs_shapes_dtypes_ranges(make_pair):
    rgb, thermal = make_pair(48, 64)
    fit = fit_scene(rgb, thermal, SceneFitConfig(epochs=5, **CPU))
    assert fit.fused.shape == (48, 64, 3) and fit.fused.dtype == np.float32
    assert fit.gray_fused.shape == (48, 64) and fit.gray_fused.dtype == np.float32
    assert fit.thermal_registered.shape == (48, 64)
    assert fit.fused.min() >= 0 and fit.fused.max() <= 1
    assert fit.gray_fused.min() > 0 and fit.gray_fused.max() < 1
    assert fit.thermal_from_rgb.shape == (2, 3) and fit.rgb_from_thermal.shape == (3, 3)
    np.testing.assert_allclose(fit.rgb_from_thermal, np.eye(3), atol=1e-9)  # no STN: identity
    np.testing.assert_array_equal(fit.thermal_registered, thermal)
    assert fit.loop.epochs == 5 and fit.loop.steps == 5 and fit.loop.stopped == 'max_epochs'
    assert len(fit.loop.history) == 5 and fit.registration is None
    assert fit.device == 'cpu' and 0 < fit.train_s <= fit.total_s
    # The colour output is the gray fusion coloured back with the visible image.
    expected = colorize(image_to_tensor(rgb), image_to_tensor(fit.gray_fused))
    np.testing.assert_allclose(fit.fused, tensor_to_image(expected), atol=1e-5)


def test_tensor_inputs_give_the_same_result(make_pair):
    rgb, thermal = make_pair(32, 40, seed=1)
    config = SceneFitConfig(epochs=3, **CPU)
    a = fit_scene(rgb, thermal, config)
    b = fit_scene(image_to_tensor(rgb), image_to_tensor(thermal), config)
    np.testing.assert_array_equal(a.fused, b.fused)  # same seed, same data: deterministic


def test_thermal_of_another_resolution_is_resampled(make_pair):
    rgb, thermal = make_pair(48, 64, seed=2, thermal_size=(24, 32))
    fit = fit_scene(rgb, thermal, SceneFitConfig(epochs=3, **CPU))
    assert fit.fused.shape == (48, 64, 3) and fit.thermal_registered.shape == (48, 64)
    upsampled = cv2.resize(thermal, (64, 48), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(fit.thermal_registered, upsampled, atol=1e-4)
    # Identity transform between a 24x32 thermal and a 48x64 RGB grid of one field of view:
    # x_rgb = 2 x_th + 0.5 (pixel centres).
    expected = np.array([[2.0, 0, 0.5], [0, 2.0, 0.5], [0, 0, 1]])
    np.testing.assert_allclose(fit.rgb_from_thermal, expected, atol=1e-9)


@pytest.mark.parametrize('stn', [False, True])
@pytest.mark.parametrize('rgb_value, thermal_value', [(0.0, 0.0), (0.5, 0.5), (0.2, 0.9)])
def test_flat_images_give_finite_output(rgb_value, thermal_value, stn):
    rgb = np.full((24, 32, 3), rgb_value, np.float32)
    thermal = np.full((24, 32), thermal_value, np.float32)
    config = SceneFitConfig(model=SceneModelConfig(stn=stn), epochs=3, align_epochs=3, **CPU)
    fit = fit_scene(rgb, thermal, config)
    for a in (fit.fused, fit.gray_fused, fit.thermal_registered, fit.rgb_from_thermal):
        assert np.isfinite(a).all()
    assert fit.fused.min() >= 0 and fit.fused.max() <= 1


@pytest.mark.parametrize('which', ['rgb', 'thermal'])
@pytest.mark.parametrize('as_tensor', [False, True])
def test_nan_input_is_refused(make_pair, which, as_tensor):
    rgb, thermal = make_pair(24, 32)
    (rgb if which == 'rgb' else thermal)[3, 4] = np.nan
    if as_tensor:
        rgb, thermal = image_to_tensor(rgb), image_to_tensor(thermal)
    with pytest.raises(ImageError, match=f'{which} contains NaN or inf; normalise it first'):
        fit_scene(rgb, thermal, SceneFitConfig(epochs=1, **CPU))


@pytest.mark.parametrize('rgb_shape, thermal_shape, message', [
    ((24, 32), (24, 32), r'rgb: expected \(H, W, 3\) float in \[0, 1\], got \(24, 32\)'),
    ((24, 32, 4), (24, 32), r'rgb: expected \(H, W, 3\).*got \(24, 32, 4\)'),
    ((24, 32, 3), (24, 32, 3), r'thermal: expected \(H, W\) float in \[0, 1\], got \(24, 32, 3\)'),
])
def test_wrong_shapes_are_refused(rgb_shape, thermal_shape, message):
    with pytest.raises(ImageError, match=message):
        fit_scene(np.zeros(rgb_shape, np.float32), np.zeros(thermal_shape, np.float32),
                  SceneFitConfig(epochs=1, **CPU))


def test_integer_images_are_refused_with_the_fix(make_pair):
    rgb, thermal = make_pair(24, 32)
    with pytest.raises(ImageError, match=r'rgb: got uint8 pixels.*to_float01'):
        fit_scene((rgb * 255).astype(np.uint8), thermal, SceneFitConfig(epochs=1, **CPU))
    with pytest.raises(ImageError, match=r'thermal: values span \[.*\], expected \[0, 1\]; scale'):
        fit_scene(rgb, thermal * 255, SceneFitConfig(epochs=1, **CPU))


@pytest.mark.parametrize('size', [(1, 1), (2, 40), (15, 40)])
def test_too_small_images_are_refused(size):
    with pytest.raises(ImageError, match=r'rgb: .* too small for per-scene fusion; give at least 16 x 16'):
        fit_scene(np.zeros((*size, 3), np.float32), np.zeros(size, np.float32),
                  SceneFitConfig(epochs=1, **CPU))


def test_time_budget_stops_training(make_pair):
    rgb, thermal = make_pair(32, 40)
    fit = fit_scene(rgb, thermal, SceneFitConfig(epochs=10 ** 6, time_budget_s=0.05, **CPU))
    assert fit.loop.stopped == 'time_budget'
    assert 1 <= fit.loop.steps < 10 ** 6
    assert fit.fused.shape == (32, 40, 3)  # still a complete fusion


def test_keep_best_guard_keeps_the_averaging_start_when_training_hurts(make_pair):
    rgb, thermal = make_pair(48, 64, seed=3)
    # Adam with a huge constant learning rate throws the weights far from the start: a worse loss.
    fit = fit_scene(rgb, thermal, SceneFitConfig(epochs=5, lr=10.0, schedule='constant', **CPU))
    assert fit.kept_start
    assert fit.loop.history[-1]['loss'] > fit.loop.history[0]['loss']
    np.testing.assert_allclose(fit.gray_fused, _average_start(rgb, thermal), atol=1e-5)
    # ... which is about the plain average of the two sources.
    assert np.abs(fit.gray_fused - 0.5 * (thermal + _gray(rgb))).max() < 0.02


def test_training_lowers_the_loss_of_the_average(make_pair):
    rgb, thermal = make_pair(48, 64, seed=4)
    fit = fit_scene(rgb, thermal, SceneFitConfig(epochs=30, **CPU))
    assert not fit.kept_start
    gray = rgb_to_gray(image_to_tensor(rgb))
    th = image_to_tensor(thermal)

    def loss_of(gray_fused):
        return float(scene_loss(image_to_tensor(gray_fused), th, gray)['loss'])

    start, end = loss_of(_average_start(rgb, thermal)), loss_of(fit.gray_fused)
    assert end < start
    assert fit.loop.history[-1]['loss'] < fit.loop.history[0]['loss']


def test_random_crops_recipe_runs(make_pair):
    rgb, thermal = make_pair(48, 64, seed=5)
    fit = fit_scene(rgb, thermal, SceneFitConfig(epochs=3, crop_size=24, crops_per_step=2, **CPU))
    assert fit.fused.shape == (48, 64, 3) and np.isfinite(fit.fused).all()


def test_working_copy_is_used_for_large_images(make_pair):
    rgb, thermal = make_pair(80, 120, seed=6)
    fit = fit_scene(rgb, thermal, SceneFitConfig(epochs=2, work_size=40, **CPU))
    assert fit.fused.shape == (80, 120, 3)  # trained at 27x40, applied at full size


def test_paper_recipe_with_joint_stn(make_pair):
    rgb, thermal = make_pair(32, 40, seed=7)
    config = SceneFitConfig.paper(model=SceneModelConfig(stn=True), epochs=3, **CPU)
    fit = fit_scene(rgb, thermal, config)
    assert fit.registration is None and not fit.kept_start  # trained end to end; no guard
    assert {'loss', 'ssim', 'edge', 'align'} <= set(fit.loop.history[0])
    assert fit.fused.shape == (32, 40, 3)


# --------------------------------------------------------------------------- STN registration


def _warped_pair(make_texture, angle_deg, shift, h=120, w=160):
    gray = make_texture(h, w, seed=11)
    rgb = np.stack([gray, gray, gray], axis=-1)
    # thermal_from_rgb M (OpenCV's src -> dst of the warp): thermal(M p) = 1 - gray(p).
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    m[:, 2] += shift
    thermal = cv2.warpAffine(1.0 - gray, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return rgb, thermal, np.vstack([m, [0, 0, 1]])


@pytest.mark.parametrize('angle_deg, shift', [(3.0, (4.0, -3.0)), (0.0, (5.0, 2.0)), (-12.0, (15.0, 9.0))])
def test_stn_recovers_a_known_transform_within_a_pixel(make_texture, angle_deg, shift):
    from fusion_ros.registration import register
    h, w = 120, 160
    rgb, thermal, thermal_from_rgb = _warped_pair(make_texture, angle_deg, shift, h, w)
    config = SceneFitConfig(model=SceneModelConfig(stn=True), epochs=5, **CPU)
    fit = fit_scene(rgb, thermal, config)
    assert fit.registration is not None and not fit.align_rejected
    # The alignment phase is fusion_ros.registration.register on the pair (fusion-ros align runs the same).
    np.testing.assert_allclose(fit.rgb_from_thermal, register(rgb, thermal).rgb_from_thermal, atol=1e-3)
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], float).T
    truth = np.linalg.inv(thermal_from_rgb) @ corners
    error = np.abs(fit.rgb_from_thermal @ corners - truth)[:2].max()
    assert error < 1.0, (error, fit.rgb_from_thermal)
    # thermal_from_rgb is the same transform in normalised coordinates.
    px = theta_to_pixels(torch.from_numpy(fit.thermal_from_rgb)[None], (h, w), (h, w))[0].numpy()
    np.testing.assert_allclose(px @ fit.rgb_from_thermal, np.eye(3), atol=1e-6)
    # The registered thermal is the inverted visible image again, away from the borders.
    inner = (slice(15, -15), slice(15, -15))
    assert np.abs(fit.thermal_registered[inner] - (1 - rgb[..., 0])[inner]).mean() < 0.02


def test_stn_leaves_a_registered_pair_in_place(make_texture):
    gray = make_texture(48, 64, seed=12)
    rgb = np.stack([gray, gray, gray], axis=-1)
    fit = fit_scene(rgb, 1.0 - gray, SceneFitConfig(model=SceneModelConfig(stn=True), epochs=2, **CPU))
    corners = np.array([[0, 0, 1], [63, 0, 1], [0, 47, 1], [63, 47, 1]], float).T
    assert np.abs(fit.rgb_from_thermal @ corners - corners)[:2].max() < 0.5
    assert fit.align_rejected


# --------------------------------------------------------------------------- config


def test_paper_recipe_values():
    c = SceneFitConfig.paper()
    assert (c.init, c.crop_size, c.work_size, c.epochs, c.lr, c.schedule, c.align_epochs) == \
        ('random', None, None, 300, 1e-3, 'constant', 0)
    assert (c.ssim_window, c.ssim_kind, c.edge_weight, c.colour) == (11, 'gaussian', 1.0, 'ratio')
    assert SceneFitConfig.paper(epochs=7).epochs == 7
    default = SceneFitConfig()
    assert default.init == 'average' and default.model.stn is False and default.schedule == 'cosine'
    assert default.colour == 'ycbcr'


def test_colour_mode_reaches_the_output(make_pair):
    rgb, thermal = make_pair(32, 40, seed=3)
    fits = {mode: fit_scene(rgb, thermal, SceneFitConfig(epochs=2, colour=mode, **CPU))
            for mode in ('ycbcr', 'ratio')}
    np.testing.assert_array_equal(fits['ycbcr'].gray_fused, fits['ratio'].gray_fused)  # same fusion
    for mode, fit in fits.items():
        expected = colorize(image_to_tensor(rgb), image_to_tensor(fit.gray_fused), mode=mode)
        np.testing.assert_allclose(fit.fused, tensor_to_image(expected), atol=1e-5)
    assert np.abs(fits['ycbcr'].fused - fits['ratio'].fused).max() > 0.01


@pytest.mark.parametrize('kwargs, message', [
    (dict(epochs=0), 'epochs must be >= 1, got 0'),
    (dict(work_size=16), r'work_size must be >= 32 pixels \(or None for full size\), got 16'),
    (dict(crop_size=8), 'crop_size must be >= 16 pixels'),
    (dict(schedule='linear'), "schedule must be 'cosine' or 'constant', got 'linear'"),
    (dict(init='zeros'), "init must be 'average' or 'random', got 'zeros'"),
    (dict(lr=0.0), 'the learning rate must be > 0, got lr=0.0'),
    (dict(align_epochs=-1), r'align_epochs must be >= 0 \(0: STN trained jointly\), got -1'),
    (dict(time_budget_s=0), r'time_budget_s must be > 0 \(or None\), got 0'),
    (dict(align_loss='mi'), r"align_loss must be one of \['ncc', 'ngf'\], got 'mi'"),
    (dict(colour='lab'), r"colour must be one of \('ycbcr', 'ratio'\), got 'lab'"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SceneFitConfig(**kwargs)


def test_bad_device_is_refused_before_any_work(make_pair):
    rgb, thermal = make_pair(24, 32)
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'"):
        fit_scene(rgb, thermal, SceneFitConfig(device='tpu'))


def test_an_alignment_no_better_than_identity_is_rejected(make_texture):
    from fusion_ros.registration import RegisterConfig
    rgb, thermal, _ = _warped_pair(make_texture, 3.0, (4.0, -3.0))
    # Ask for an impossible gain over the identity: the fit must fall back to the identity.
    config = SceneFitConfig(model=SceneModelConfig(stn=True), epochs=2, align_register=RegisterConfig(min_gain=1e6),
                            **CPU)
    fit = fit_scene(rgb, thermal, config)
    assert fit.align_rejected and fit.registration.kept_identity
    np.testing.assert_allclose(fit.thermal_from_rgb, [[1, 0, 0], [0, 1, 0]], atol=1e-6)


def test_fit_scene_duty_paces_the_training():
    """duty < 1: the training sleeps between epochs (the node's train_duty), so it takes longer for the same
    epochs; a duty outside (0, 1] is refused."""
    import time
    from fusion_ros.scene import SceneFitConfig
    rng = np.random.default_rng(0)
    rgb, thermal = rng.random((48, 64, 3), dtype=np.float32), rng.random((48, 64), dtype=np.float32)
    times = {}
    for duty in (1.0, 0.25):
        t0 = time.perf_counter()
        fit_scene(rgb, thermal, SceneFitConfig(epochs=20, work_size=64, device='cpu', duty=duty))
        times[duty] = time.perf_counter() - t0
    assert times[0.25] > 2.0 * times[1.0]
    with pytest.raises(ValueError, match='duty'):
        SceneFitConfig(duty=1.5)
