"""filters: Gaussian window, separable filtering, Gaussian blur and Sobel against hand values and OpenCV."""
import math

import cv2
import numpy as np
import pytest
import torch

from fusion_ros.filters import gaussian_blur, gaussian_kernel1d, separable_filter, sobel, sobel_magnitude


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None, None]


def test_gaussian_kernel_is_normalised_symmetric_and_gaussian():
    k = gaussian_kernel1d(11, 1.5)
    assert k.shape == (11,)
    assert math.isclose(float(k.sum()), 1.0, rel_tol=1e-6)
    torch.testing.assert_close(k, k.flip(0))
    assert int(k.argmax()) == 5
    for d in range(1, 6):  # k[c + d] / k[c] = exp(-d^2 / (2 sigma^2))
        assert math.isclose(float(k[5 + d] / k[5]), math.exp(-d * d / (2 * 1.5 ** 2)), rel_tol=1e-5)


def test_gaussian_kernel_matches_opencv():
    expected = cv2.getGaussianKernel(9, 2.0, cv2.CV_64F)[:, 0]
    np.testing.assert_allclose(gaussian_kernel1d(9, 2.0, dtype=torch.float64).numpy(), expected, atol=1e-12)


@pytest.mark.parametrize('size', [0, -3, 4])
def test_gaussian_kernel_rejects_even_or_non_positive_size(size):
    with pytest.raises(ValueError, match=f'must be odd and positive, got {size}'):
        gaussian_kernel1d(size, 1.0)


def test_separable_filter_valid_and_reflect_shapes_and_box_mean():
    x = torch.rand(2, 3, 10, 12)
    box = torch.full((3,), 1 / 3)
    valid = separable_filter(x, box, 'valid')
    assert valid.shape == (2, 3, 8, 10)
    # A 3x3 box mean at output (0, 0) is the mean of the top-left 3x3 block, per channel.
    torch.testing.assert_close(valid[:, :, 0, 0], x[:, :, :3, :3].mean(dim=(2, 3)))
    assert separable_filter(x, box, 'reflect').shape == x.shape
    const = torch.full((1, 2, 7, 7), 0.4)
    torch.testing.assert_close(separable_filter(const, gaussian_kernel1d(5, 1.0), 'reflect'), const)


def test_separable_filter_rejects_unknown_padding():
    with pytest.raises(ValueError, match="padding must be 'valid' or 'reflect', got 'same'"):
        separable_filter(torch.zeros(1, 1, 5, 5), torch.ones(3), 'same')


@pytest.mark.parametrize('sigma', [0.75, 1.0, 2.0])
def test_gaussian_blur_matches_opencv(sigma):
    img = np.random.default_rng(0).random((20, 24)).astype(np.float32)
    size = 2 * max(1, int(round(3 * sigma))) + 1
    expected = cv2.GaussianBlur(img, (size, size), sigma, borderType=cv2.BORDER_REFLECT_101)
    out = gaussian_blur(_t(img), sigma)[0, 0].numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_sobel_of_a_unit_ramp_is_eight():
    # [-1 0 1; -2 0 2; -1 0 1] on f(x, y) = x: (1 + 2 + 1) * (f(x+1) - f(x-1)) = 4 * 2 = 8 inside.
    ramp = np.tile(np.arange(9, dtype=np.float32), (7, 1))
    g = sobel(_t(ramp))
    assert g.shape == (1, 1, 2, 7, 9)
    dx, dy = g[0, 0, 0], g[0, 0, 1]
    assert torch.all(dx[:, 1:-1] == 8)
    # Replicate borders: at x = 0 the left neighbour is f(0), so the difference is 1: response 4.
    assert torch.all(dx[:, 0] == 4) and torch.all(dx[:, -1] == 4)
    assert torch.all(dy == 0)
    # The transpose ramp goes to d/dy.
    gy = sobel(_t(ramp.T.copy()))[0, 0]
    assert torch.all(gy[1, 1:-1, :] == 8) and torch.all(gy[0] == 0)


def test_sobel_unit_step_gives_four():
    step = np.zeros((5, 6), np.float32)
    step[:, 3:] = 1
    dx = sobel(_t(step))[0, 0, 0]
    np.testing.assert_array_equal(dx.numpy()[:, 2:4], 4)
    np.testing.assert_array_equal(dx.numpy()[:, [0, 1, 4, 5]], 0)


def test_sobel_matches_opencv_including_borders():
    img = np.random.default_rng(1).random((11, 13)).astype(np.float32)
    g = sobel(_t(img))[0, 0].numpy()
    for axis, (ddx, ddy) in enumerate([(1, 0), (0, 1)]):
        expected = cv2.Sobel(img, cv2.CV_32F, ddx, ddy, ksize=3, borderType=cv2.BORDER_REPLICATE)
        np.testing.assert_allclose(g[axis], expected, atol=1e-5)


def test_sobel_is_per_channel():
    x = torch.rand(2, 3, 6, 7)
    g = sobel(x)
    assert g.shape == (2, 3, 2, 6, 7)
    torch.testing.assert_close(g[1, 2], sobel(x[1:2, 2:3])[0, 0])


def test_sobel_magnitude_of_a_plane():
    # f = x + 2 y: d/dx = 8, d/dy = 16 inside, so |grad| = sqrt(64 + 256).
    yy, xx = np.mgrid[0:8, 0:9].astype(np.float32)
    mag = sobel_magnitude(_t(xx + 2 * yy))[0, 0]
    torch.testing.assert_close(mag[1:-1, 1:-1], torch.full((6, 7), math.sqrt(320.0)), atol=1e-4, rtol=0)
    # eps keeps the magnitude (and its gradient) finite on flat images.
    flat = torch.zeros(1, 1, 4, 4, requires_grad=True)
    sobel_magnitude(flat).sum().backward()
    assert torch.isfinite(flat.grad).all()
