"""STN alignment losses: masked NCC against numpy; gradient NCC and normalised gradient fields near 0 when
aligned, blind to inverted contrast, growing with a shift."""
import numpy as np
import pytest
import torch

from fusion_ros.losses.align import gradient_ncc_loss, masked_ncc, normalized_gradient_loss

LOSSES = [gradient_ncc_loss, normalized_gradient_loss]


def _blobs(h=48, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 1, h // 4, w // 4, generator=g)
    return torch.nn.functional.interpolate(x, size=(h, w), mode='bicubic', align_corners=False).clamp(0, 1)


def test_masked_ncc_matches_numpy_corrcoef_on_the_mask():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 1, 10, 12, generator=g)
    y = 0.5 * x + torch.rand(2, 1, 10, 12, generator=g)
    mask = torch.zeros(2, 1, 10, 12)
    mask[0, :, 2:8, 3:11] = 1
    mask[1, :, :, :6] = 1
    out = masked_ncc(x, y, mask)
    assert out.shape == (2,)
    for b in range(2):
        m = mask[b, 0].bool().numpy()
        expected = np.corrcoef(x[b, 0].numpy()[m], y[b, 0].numpy()[m])[0, 1]
        assert abs(float(out[b]) - expected) < 1e-5


def test_masked_ncc_of_a_constant_is_zero_not_nan():
    x = torch.rand(1, 1, 6, 6)
    out = masked_ncc(torch.full_like(x, 0.5), x, torch.ones_like(x))
    assert torch.isfinite(out).all() and abs(float(out)) < 1e-6


def test_gradient_ncc_is_zero_for_identical_and_for_inverted_images():
    x = _blobs()
    valid = torch.ones_like(x)
    assert float(gradient_ncc_loss(x, x, valid)) < 1e-5
    # Cross-spectral: an intensity-inverted copy has the same gradient magnitudes.
    assert float(gradient_ncc_loss(1 - x, x, valid)) < 1e-5


def test_gradient_ncc_grows_with_the_shift():
    x = _blobs(seed=2)
    valid = torch.ones_like(x)
    losses = [float(gradient_ncc_loss(torch.roll(x, s, dims=-1), x, valid)) for s in (0, 1, 3, 6)]
    assert losses[0] < 1e-5
    assert losses[0] < losses[1] < losses[2] < losses[3]
    assert 0 <= min(losses) and max(losses) <= 2


def test_gradient_ncc_ignores_pixels_outside_the_valid_mask():
    x = _blobs(seed=3)
    corrupted = x.clone()
    corrupted[..., :, 40:] = torch.rand(1, 1, 48, 24)
    valid = torch.ones_like(x)
    valid[..., :, 28:] = 0  # away from the corruption by more than the blur reach at the finest scale
    assert float(gradient_ncc_loss(corrupted, x, valid, sigmas=(1.0,))) < 1e-5
    assert float(gradient_ncc_loss(corrupted, x, torch.ones_like(x), sigmas=(1.0,))) > 0.05
    # Partial validity (a bilinear border) does not count as valid.
    assert float(gradient_ncc_loss(corrupted, x, torch.full_like(x, 0.99), sigmas=(1.0,))) == 1.0


@pytest.mark.parametrize('loss', LOSSES, ids=['ncc', 'ngf'])
def test_both_losses_ignore_inverted_contrast_and_grow_with_the_shift(loss):
    x = _blobs(seed=4)
    valid = torch.ones_like(x)
    aligned = float(loss(x, x, valid))
    assert aligned < 0.02
    assert float(loss(1 - x, x, valid)) == pytest.approx(aligned, abs=1e-6)
    shifted = [float(loss(torch.roll(1 - x, s, dims=-2), x, valid)) for s in (1, 3, 6)]
    assert aligned < shifted[0] < shifted[1] < shifted[2]


def test_normalized_gradient_fields_compare_directions_only():
    h, w = 24, 32
    xs = torch.linspace(0, 1, w).expand(1, 1, h, w)
    ys = torch.linspace(0, 1, h).view(1, 1, h, 1).expand(1, 1, h, w).contiguous()
    valid = torch.ones(1, 1, h, w)
    # Perpendicular edges everywhere: cos^2 = 0, the loss is exactly 1.
    assert float(normalized_gradient_loss(xs, ys, valid)) == pytest.approx(1.0, abs=1e-6)
    # Parallel edges of the opposite sign: cos^2 = 1 / (1 + eps^2 / |g|^2)^2 with |g| = 8 / 31 inside
    # (Sobel of a ramp of slope 1/31), so the loss is about 0.003 inside, a little more where the blur's
    # reflected border flattens the ramp.
    assert float(normalized_gradient_loss(1 - xs, xs, valid)) < 0.02


def test_normalized_gradient_fields_shape_and_range():
    g = torch.Generator().manual_seed(5)
    a, b = torch.rand(3, 1, 20, 20, generator=g), torch.rand(3, 1, 20, 20, generator=g)
    out = normalized_gradient_loss(a, b, torch.ones_like(a))
    assert out.shape == (3,) and torch.all((out >= 0) & (out <= 1))
