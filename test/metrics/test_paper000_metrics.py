"""Paper 000's three scores: SSIM score, correlation score, Canny edge preservation."""
import cv2
import numpy as np
import pytest
import torch

from fusion_ros.losses.ssim import ssim
from fusion_ros.metrics.paper000 import (canny_edges, canny_preservation, correlation, correlation_score,
                                         ssim_score)


def _images(seed=0, b=2, h=32, w=40):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(b, 1, h, w, generator=g) for _ in range(3)]


def _squares(h=40, w=48):
    a = torch.zeros(1, 1, h, w)
    a[..., 8:24, 8:24] = 1.0
    b = torch.zeros(1, 1, h, w)
    b[..., 20:36, 24:44] = 1.0
    return a, b


def test_ssim_score_is_the_mean_of_two_ssims():
    a, b, f = _images()
    torch.testing.assert_close(ssim_score(a, b, f), 0.5 * ssim(a, f) + 0.5 * ssim(b, f))
    torch.testing.assert_close(ssim_score(a, a, a), torch.ones(2), atol=1e-6, rtol=0)


def test_correlation_matches_numpy_and_is_zero_for_constants():
    a, b, _ = _images(1)
    out = correlation(a, b)
    for i in range(2):
        assert float(out[i]) == pytest.approx(np.corrcoef(a[i].ravel(), b[i].ravel())[0, 1], abs=1e-6)
    torch.testing.assert_close(correlation(a, 1 - a), -torch.ones(2), atol=1e-6, rtol=0)
    assert torch.all(correlation(torch.full_like(a, 0.3), b) == 0)


def test_correlation_score_is_the_mean_of_two_correlations():
    a, b, f = _images(2)
    torch.testing.assert_close(correlation_score(a, b, f), 0.5 * correlation(a, f) + 0.5 * correlation(b, f))


def test_canny_edges_match_opencv():
    a, _, _ = _images(3, b=1)
    u8 = np.round(a[0, 0].numpy() * 255).astype(np.uint8)
    expected = cv2.Canny(u8, 50, 150) > 0
    np.testing.assert_array_equal(canny_edges(a)[0, 0].numpy(), expected)


def test_canny_preservation_known_cases():
    a, b = _squares()
    both = torch.maximum(a, b)
    # The fusion keeping both squares keeps every edge of a; of b all but where a's square covers it.
    assert float(canny_preservation(a, b, both)) > 0.9
    torch.testing.assert_close(canny_preservation(a, b, a), 0.5 + 0.5 * _share(b, a), atol=1e-6, rtol=0)
    # A flat fusion keeps no edge; a source without edges counts as fully kept.
    assert float(canny_preservation(a, b, torch.zeros_like(a))) == 0.0
    assert float(canny_preservation(torch.zeros_like(a), b, b)) == 1.0


def _share(src, fused):
    """Share of src's Canny pixels that are Canny pixels of fused, by OpenCV directly."""
    cs = cv2.Canny(np.round(src[0, 0].numpy() * 255).astype(np.uint8), 50, 150) > 0
    cf = cv2.Canny(np.round(fused[0, 0].numpy() * 255).astype(np.uint8), 50, 150) > 0
    return torch.tensor([(cs & cf).sum() / cs.sum()], dtype=torch.float32)


@pytest.mark.parametrize('fn', [ssim_score, correlation_score, canny_preservation])
def test_shape_errors_say_what_to_do(fn):
    a = torch.zeros(1, 1, 16, 16)
    with pytest.raises(ValueError, match='three .* gray images of one shape.*convert colour to luma first'):
        fn(a, a, torch.zeros(1, 3, 16, 16))
