"""Edge preservation (paper 000, Section 3.3): zero for equal gradients, a hand-computed value, module."""
import pytest
import torch

from fusion_ros.losses.edge import EdgePreservationLoss, edge_preservation, edge_preservation_map


def test_zero_for_identical_images_and_for_an_offset():
    x = torch.rand(2, 1, 12, 14)
    assert torch.all(edge_preservation_map(x, x) == 0)
    # A constant offset changes no gradient.
    torch.testing.assert_close(edge_preservation(x, x + 0.3), torch.zeros(2), atol=1e-10, rtol=0)


def test_positive_for_different_images():
    x, y = torch.rand(2, 1, 12, 14), torch.rand(2, 1, 12, 14)
    ep = edge_preservation(x, y)
    assert ep.shape == (2,) and torch.all(ep > 0)


def test_known_value_ramp_against_flat():
    # f = x (unit ramp), g = 0: Sobel d/dx is 8 inside and 4 in the two border columns (replicate), d/dy = 0.
    h, w = 5, 10
    ramp = torch.arange(w, dtype=torch.float32).expand(1, 1, h, w)
    ep_map = edge_preservation_map(ramp, torch.zeros_like(ramp))
    assert torch.all(ep_map[..., 1:-1] == 64) and torch.all(ep_map[..., [0, -1]] == 16)
    expected = (64 * (w - 2) + 16 * 2) / w
    assert float(edge_preservation(ramp, torch.zeros_like(ramp))) == pytest.approx(expected)


def test_module_is_batch_mean_of_function():
    x, y = torch.rand(3, 1, 9, 9), torch.rand(3, 1, 9, 9)
    torch.testing.assert_close(EdgePreservationLoss()(x, y), edge_preservation(x, y).mean())


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r'two \(B, C, H, W\) tensors of one shape, got \(1, 1, 4, 4\) and'):
        edge_preservation(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))
