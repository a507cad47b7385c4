"""Classical fusion baselines: shapes, ranges, known answers, colour handling, errors."""
import pytest
import torch

from fusion_ros.baselines import (BASELINES, GRAY_BASELINES, box_mean, fuse_with, get_baseline, gray_average,
                                  gray_laplacian, gray_max, gray_pca, gray_wavelet, haar_dwt, haar_idwt,
                                  laplacian_pyramid, pca_weights, reconstruct_laplacian)
from fusion_ros.imaging import ImageError, rgb_to_gray

NAMES = ['average', 'max', 'pca', 'laplacian', 'wavelet', 'guided', 'texmax']


def _smooth(shape, seed):
    g = torch.Generator().manual_seed(seed)
    b, c, h, w = shape
    x = torch.rand(b, c, h + 2, w + 2, generator=g)
    return torch.nn.functional.avg_pool2d(x, 3, stride=1)


RGB = 0.2 + 0.6 * _smooth((2, 3, 40, 36), 0)
THERMAL = _smooth((2, 1, 40, 36), 1)
GRAY = rgb_to_gray(RGB)


def test_registry_and_lookup():
    assert list(BASELINES) == NAMES == list(GRAY_BASELINES)
    assert get_baseline('pca') is BASELINES['pca']
    with pytest.raises(KeyError, match='valid names: average, max, pca'):
        get_baseline('curvelet')


@pytest.mark.parametrize('name', NAMES)
def test_output_shape_range_dtype(name):
    out = BASELINES[name](RGB, THERMAL)
    assert out.shape == RGB.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize('name', NAMES)
def test_identical_sources_give_the_source(name):
    fused = GRAY_BASELINES[name](GRAY, GRAY)
    assert torch.allclose(fused, GRAY, atol=1e-5), (fused - GRAY).abs().max()


@pytest.mark.parametrize('name', NAMES)
def test_colour_is_kept_and_luma_is_the_gray_fusion(name):
    out = BASELINES[name](RGB, THERMAL)
    gray_fused = GRAY_BASELINES[name](THERMAL, GRAY).clamp(0, 1)
    inside = ((out > 0) & (out < 1)).all(dim=1, keepdim=True)  # unsaturated pixels: reachable luma
    assert inside.float().mean() > 0.5
    assert torch.allclose(rgb_to_gray(out)[inside], gray_fused[inside], atol=1e-5)


def test_average_of_identical_sources_keeps_the_rgb():
    assert torch.allclose(BASELINES['average'](RGB, GRAY), RGB, atol=1e-5)


def test_max_is_at_least_both_sources():
    fused = gray_max(THERMAL, GRAY)
    assert (fused >= THERMAL).all() and (fused >= GRAY).all()


def test_pca_weights():
    const = torch.full_like(GRAY, 0.3)
    assert torch.allclose(pca_weights(const, GRAY), torch.tensor([[0.0, 1.0]] * 2), atol=1e-6)
    assert torch.allclose(pca_weights(GRAY, const), torch.tensor([[1.0, 0.0]] * 2), atol=1e-6)
    assert torch.allclose(gray_pca(const, GRAY), GRAY, atol=1e-6)
    assert torch.allclose(pca_weights(const, const), torch.full((2, 2), 0.5))
    w = pca_weights(THERMAL, 1.0 - THERMAL)  # anti-correlated: still convex
    assert (w >= 0).all() and torch.allclose(w.sum(1), torch.ones(2))
    w = pca_weights(THERMAL, 0.5 * THERMAL)  # the higher-variance source weighs more
    assert (w[:, 0] > w[:, 1]).all()


@pytest.mark.parametrize('size', [(40, 36), (37, 29)])
def test_pyramid_and_haar_reconstruct_exactly(size):
    x = _smooth((1, 1) + size, 3)
    assert torch.allclose(reconstruct_laplacian(laplacian_pyramid(x, 3)), x, atol=1e-6)
    ll, details = haar_dwt(x)
    assert torch.allclose(haar_idwt(ll, details, size), x, atol=1e-6)
    assert torch.allclose(gray_laplacian(x, x), x, atol=1e-6)
    assert torch.allclose(gray_wavelet(x, x), x, atol=1e-6)


def test_multiscale_fusions_keep_the_detail_of_either_source():
    # Texture in one source, a flat other: max-abs keeps all of the fine detail, averaging halves it.
    texture = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(5))
    flat = torch.full_like(texture, 0.5)

    def fine_detail(x):
        return (x - box_mean(x, 1)).pow(2).mean()

    assert fine_detail(gray_average(texture, flat)) < 0.3 * fine_detail(texture)
    for fuse in (gray_laplacian, gray_wavelet):
        assert fine_detail(fuse(texture, flat)) > 0.7 * fine_detail(texture)


def test_box_mean_with_windows_larger_than_the_image():
    x = _smooth((1, 1, 9, 7), 4)
    assert torch.allclose(box_mean(x, 50), x.mean().expand_as(x), atol=1e-6)
    # radius 1 inside the image: the plain 3x3 average
    inner = torch.nn.functional.avg_pool2d(x, 3, stride=1)
    assert torch.allclose(box_mean(x, 1)[..., 1:-1, 1:-1], inner, atol=1e-6)


@pytest.mark.parametrize('name', NAMES)
def test_invalid_inputs_raise_clear_errors(name):
    fuse = BASELINES[name]
    with pytest.raises(ImageError, match=r'thermal: expected \(B, 1, H, W\)'):
        fuse(RGB, THERMAL.expand(2, 3, 40, 36))
    with pytest.raises(ImageError, match=r'rgb: expected \(B, 3, H, W\)'):
        fuse(GRAY, THERMAL)
    with pytest.raises(ImageError, match='resize_to'):
        fuse(RGB, THERMAL[..., :20, :20])


def test_fuse_with_takes_any_gray_rule():
    out = fuse_with(lambda a, b: torch.minimum(a, b), RGB, THERMAL)
    assert out.shape == RGB.shape


def _texture(h, w, seed, amplitude=0.2):
    g = torch.Generator().manual_seed(seed)
    return amplitude * torch.rand(1, 1, h, w, generator=g)


def test_texmax_copies_the_textured_source_where_the_other_is_flat():
    """Issue 8: a bright flat thermal background no longer hides the visible scene, and a flat bright visible
    region no longer hides thermal structure; elsewhere texmax is the max rule; every pixel is an exact copy."""
    from fusion_ros.baselines import gray_texmax
    h, w = 96, 192
    visible = 0.3 + _texture(h, w, 1)           # textured everywhere
    thermal = torch.full((1, 1, h, w), 0.8)      # flat and brighter: max would return it everywhere
    thermal[..., w // 2:] = 0.2 + _texture(h, w // 2, 2, 0.6)  # right half: textured thermal
    visible[..., :, 3 * w // 4:] = 0.95          # far right: flat bright visible (sky)
    out = gray_texmax(thermal, visible)
    left, far_right = (slice(None), slice(None), slice(8, -8), slice(8, w // 2 - 40)), \
        (slice(None), slice(None), slice(8, -8), slice(3 * w // 4 + 40, w - 8))
    assert torch.equal(out[left], visible[left])  # the visible texture, not the flat thermal max
    assert torch.equal(out[far_right], thermal[far_right])  # thermal structure, not the flat bright sky
    assert bool(((out == thermal) | (out == visible)).all())  # exact copies only
    # sources of equal texture: exactly the max rule
    a, b = _texture(h, w, 3) + 0.1, _texture(h, w, 4) + 0.3
    assert torch.equal(gray_texmax(a, b), torch.maximum(a, b))


def test_texmax_is_registered_and_runs_on_small_images():
    from fusion_ros import registry
    assert registry.get('texmax').kind == 'baseline' and 'texmax' in BASELINES
    rgb, thermal = torch.rand(1, 3, 20, 24), torch.rand(1, 1, 20, 24)
    out = BASELINES['texmax'](rgb, thermal)
    assert out.shape == rgb.shape and torch.isfinite(out).all()


@pytest.mark.parametrize('radius', [1, 3, 30])
def test_fast_box_mean_matches_box_mean(radius):
    from fusion_ros.baselines import _box_mean_fast
    x = torch.rand(2, 1, 23, 31, dtype=torch.float64)
    assert torch.allclose(_box_mean_fast(x, radius), box_mean(x, radius), atol=1e-12)
