"""fuse_pair: every method behind one name, thermal resampling, the per-scene method's info, errors."""
import cv2
import numpy as np
import pytest

from fusion_ros.imaging import ImageError
from fusion_ros.methods import FusionOutput, fuse_pair, method_names
from fusion_ros.scene import SceneFit, SceneFitConfig


def test_method_names_lists_ssvif_scene_and_the_baselines():
    names = method_names()
    assert names[:2] == ['ssvif', 'scene']
    assert {'average', 'max', 'pca', 'laplacian', 'wavelet', 'guided'} <= set(names)
    assert len(names) == len(set(names))


def test_average_is_the_mean_of_thermal_and_luma(make_pair):
    rgb, thermal = make_pair(24, 32)
    out = fuse_pair('average', rgb, thermal)
    assert isinstance(out, FusionOutput) and out.scene is None and out.info == {}
    assert out.fused.shape == (24, 32, 3) and out.fused.dtype == np.float32
    luma = cv2.cvtColor(out.fused, cv2.COLOR_RGB2GRAY)
    expected = 0.5 * (thermal + cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    unclipped = ((out.fused > 0) & (out.fused < 1)).all(axis=2)
    assert unclipped.mean() > 0.9
    np.testing.assert_allclose(luma[unclipped], expected[unclipped], atol=1e-5)


@pytest.mark.parametrize('method', ['average', 'max', 'scene'])
def test_thermal_of_another_resolution(make_pair, method):
    rgb, thermal = make_pair(32, 48, seed=1, thermal_size=(16, 24))
    out = fuse_pair(method, rgb, thermal, scene_config=SceneFitConfig(epochs=2, device='cpu'))
    assert out.fused.shape == (32, 48, 3)
    assert out.fused.min() >= 0 and out.fused.max() <= 1


def test_scene_returns_info_with_times_and_the_fit(make_pair):
    rgb, thermal = make_pair(24, 32, seed=2)
    out = fuse_pair('scene', rgb, thermal, scene_config=SceneFitConfig(epochs=3, device='cpu'))
    assert isinstance(out.scene, SceneFit)
    assert {'train_s', 'total_s', 'epochs', 'stopped', 'device', 'rgb_from_thermal'} <= set(out.info)
    assert 0 < out.info['train_s'] <= out.info['total_s']
    assert out.info['epochs'] == 3 and out.info['stopped'] == 'max_epochs' and out.info['device'] == 'cpu'
    assert out.info['rgb_from_thermal'].shape == (3, 3)
    np.testing.assert_array_equal(out.fused, out.scene.fused)


def test_unknown_method_lists_the_valid_names(make_pair):
    rgb, thermal = make_pair(16, 16)
    with pytest.raises(KeyError, match=r"unknown fusion method 'median'; valid: ssvif, scene, average"):
        fuse_pair('median', rgb, thermal)


def test_bad_pairs_are_refused(make_pair):
    rgb, thermal = make_pair(16, 16)
    bad = thermal.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ImageError, match='thermal contains NaN or inf'):
        fuse_pair('average', rgb, bad)
    with pytest.raises(ImageError, match=r'rgb: expected \(H, W, 3\)'):
        fuse_pair('average', rgb[..., 0], thermal)


def test_integer_pixels_are_refused_with_the_fix(make_pair):
    rgb, thermal = make_pair(16, 16)
    with pytest.raises(ImageError, match='to_float01'):
        fuse_pair('average', (rgb * 255).astype(np.uint8), thermal)
