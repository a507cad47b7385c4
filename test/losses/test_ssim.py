"""SSIM: identities, symmetry, an independent numpy implementation, windows, errors, gradients."""
import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from fusion_ros.losses.ssim import SSIMLoss, ssim, ssim_map


def _window(size, sigma, kind):
    if kind == 'box':
        return np.full((size, size), 1.0 / size ** 2)
    r = np.arange(size) - (size - 1) / 2
    w = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))  # 2-D, not separable code
    return w / w.sum()


def _ssim_map_numpy(x, y, size=11, sigma=1.5, kind='gaussian', data_range=1.0):
    """Wang et al. (2004), Eq. 13, with weighted local statistics, written directly on 2-D windows."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    w = _window(size, sigma, kind)
    px, py = sliding_window_view(x, (size, size)), sliding_window_view(y, (size, size))
    mx = (px * w).sum(axis=(-2, -1))
    my = (py * w).sum(axis=(-2, -1))
    vx = (((px - mx[..., None, None]) ** 2) * w).sum(axis=(-2, -1))
    vy = (((py - my[..., None, None]) ** 2) * w).sum(axis=(-2, -1))
    cxy = ((px - mx[..., None, None]) * (py - my[..., None, None]) * w).sum(axis=(-2, -1))
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))


def _pair(h=24, w=28, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 1, h, w, generator=g)
    y = (0.6 * x + 0.4 * torch.rand(1, 1, h, w, generator=g)).clamp(0, 1)
    return x, y


def test_ssim_of_an_image_with_itself_is_one():
    x = torch.rand(2, 3, 20, 20)
    torch.testing.assert_close(ssim(x, x), torch.ones(2), atol=1e-6, rtol=0)
    torch.testing.assert_close(ssim(x, x, window='box', window_size=7), torch.ones(2), atol=1e-6, rtol=0)


def test_ssim_is_symmetric_and_below_one_for_different_images():
    x, y = _pair()
    s = ssim(x, y)
    torch.testing.assert_close(s, ssim(y, x))
    assert -1 <= float(s) < 0.99


@pytest.mark.parametrize('kind, size', [('gaussian', 11), ('gaussian', 7), ('box', 7)])
def test_ssim_map_matches_numpy_reference(kind, size):
    x, y = _pair(seed=1)
    out = ssim_map(x, y, window=kind, window_size=size)
    assert out.shape == (1, 1, 24 - size + 1, 28 - size + 1)
    expected = _ssim_map_numpy(x[0, 0].numpy(), y[0, 0].numpy(), size=size, kind=kind)
    np.testing.assert_allclose(out[0, 0].numpy(), expected, atol=2e-5)


def test_ssim_data_range_sets_the_constants():
    x, y = _pair(seed=2)
    out = ssim_map(255 * x, 255 * y, data_range=255.0)  # SSIM is invariant to a common rescale with L
    torch.testing.assert_close(out, ssim_map(x, y), atol=1e-4, rtol=0)


def test_ssim_of_constant_images_follows_the_luminance_term():
    # Flat images: variances and covariance are 0, so SSIM = (2 a b + C1) / (a^2 + b^2 + C1).
    a, b, c1 = 0.2, 0.6, 0.01 ** 2
    out = ssim(torch.full((1, 1, 12, 12), a), torch.full((1, 1, 12, 12), b))
    assert abs(float(out) - (2 * a * b + c1) / (a * a + b * b + c1)) < 1e-5


def test_ssim_per_image_and_channel_values():
    x, y = _pair(seed=3)
    batch_x = torch.cat([x, y, x])
    batch_y = torch.cat([y, y, x])
    out = ssim(batch_x, batch_y)
    assert out.shape == (3,)
    torch.testing.assert_close(out, torch.stack([ssim(x, y)[0], torch.tensor(1.0), torch.tensor(1.0)]),
                               atol=1e-5, rtol=0)


def test_ssim_errors():
    with pytest.raises(ValueError, match=r'smaller than the 11px window; use a smaller window_size'):
        ssim(torch.zeros(1, 1, 10, 30), torch.zeros(1, 1, 10, 30))
    with pytest.raises(ValueError, match='two .* tensors of one shape'):
        ssim(torch.zeros(1, 1, 12, 12), torch.zeros(1, 1, 12, 13))
    with pytest.raises(ValueError, match="window must be 'gaussian' or 'box', got 'disk'"):
        ssim(torch.zeros(1, 1, 12, 12), torch.zeros(1, 1, 12, 12), window='disk')


def test_ssim_loss_module_is_one_minus_ssim_mean():
    x = torch.rand(3, 1, 16, 16)
    y = torch.rand(3, 1, 16, 16)
    loss = SSIMLoss(window_size=7, window='box')(x, y)
    torch.testing.assert_close(loss, (1 - ssim(x, y, window_size=7, window='box')).mean())
    assert float(SSIMLoss()(x, x)) == pytest.approx(0.0, abs=1e-6)


def test_ssim_gradcheck():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(1, 1, 7, 8, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 1, 7, 8, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: ssim(a, y, window_size=5), (x,))
