"""Known answers for the gray fusion metrics (EN, SD, SF, AG, MI, VIF, Qabf, SSIM, MS-SSIM, SCD)."""
import math

import pytest
import torch

from fusion_ros.metrics import (average_gradient, entropy, ms_ssim, ms_ssim_sum, mutual_information,
                                mutual_information_pair, qabf, scd, spatial_frequency, ssim_sum,
                                standard_deviation, vif, vifp)
from fusion_ros.metrics.qabf import DA, DG, KA, KG, TA, TG


def smooth(seed: int, size: int = 64, batch: int = 2) -> torch.Tensor:
    """Textured image in [0, 1] on the 8-bit grid: blurred noise, stretched to the full range."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 1, size + 4, size + 4, generator=g)
    x = torch.nn.functional.avg_pool2d(x, 5, stride=1)
    lo = x.amin(dim=(2, 3), keepdim=True)
    hi = x.amax(dim=(2, 3), keepdim=True)
    return torch.round((x - lo) / (hi - lo) * 255) / 255


def two_level(size: int = 16) -> torch.Tensor:
    """Left half 0, right half 1: ``(1, 1, size, size)``."""
    x = torch.zeros(1, 1, size, size)
    x[..., size // 2:] = 1.0
    return x


A, B = smooth(1), smooth(2)
CONST = torch.full_like(A, 0.4)


# --------------------------------------------------------------------------- EN, SD, SF, AG


def test_entropy_known_values():
    assert entropy(CONST).tolist() == [0.0, 0.0]
    assert entropy(two_level()).item() == pytest.approx(1.0, abs=1e-6)
    ramp = (torch.arange(256.0) / 255).view(1, 1, 16, 16)  # every 8-bit level once
    assert entropy(ramp).item() == pytest.approx(8.0, abs=1e-6)


def test_sd_is_population_std_in_grey_levels():
    assert standard_deviation(two_level()).item() == pytest.approx(127.5)
    assert standard_deviation(CONST).tolist() == [0.0, 0.0]
    assert standard_deviation(two_level(), scale=1.0).item() == pytest.approx(0.5)


def test_sf_of_a_checkerboard():
    n = 8
    board = ((torch.arange(n).view(-1, 1) + torch.arange(n)) % 2).float().view(1, 1, n, n)
    # Every neighbour differs by 255: RF^2 = CF^2 = n (n - 1) 255^2 / n^2.
    expected = math.sqrt(2 * n * (n - 1) * 255.0 ** 2 / n ** 2)
    assert spatial_frequency(board).item() == pytest.approx(expected, rel=1e-6)
    assert spatial_frequency(CONST).tolist() == [0.0, 0.0]


def test_ag_of_a_ramp():
    h, w = 6, 11
    ramp = (torch.arange(w, dtype=torch.float32) / (w - 1)).expand(1, 1, h, w)
    s = (255.0 / (w - 1)) / math.sqrt(2)  # |gx| = 255 / (w - 1) everywhere, gy = 0
    assert average_gradient(ramp).item() == pytest.approx(h * w * s / ((h - 1) * (w - 1)), rel=1e-6)
    assert average_gradient(CONST).tolist() == [0.0, 0.0]


# --------------------------------------------------------------------------- MI


def test_mi_identity_symmetry_and_constants():
    h = entropy(A).double() * math.log(2)  # nats
    assert torch.allclose(mutual_information_pair(A, A).double(), h, atol=1e-5)
    assert torch.allclose(mutual_information_pair(A, B), mutual_information_pair(B, A))
    assert torch.allclose(mutual_information(A, B, A), mutual_information(B, A, A))
    assert mutual_information(A, B, CONST).abs().max() < 1e-6
    assert mutual_information_pair(two_level(), two_level()).item() == pytest.approx(math.log(2), abs=1e-6)


def test_mi_base_two_is_bits():
    nats = mutual_information(A, B, 0.5 * (A + B))
    bits = mutual_information(A, B, 0.5 * (A + B), base=2)
    assert torch.allclose(bits, nats / math.log(2), rtol=1e-5)


# --------------------------------------------------------------------------- VIF


def test_vif_identity_and_constant_reference():
    assert torch.allclose(vifp(A, A), torch.ones(2), atol=1e-6)
    assert torch.allclose(vif(A, A, A), torch.full((2,), 2.0), atol=1e-6)
    # A constant reference has nothing to lose: counted as 1 (CDDFuse's convention).
    assert torch.allclose(vifp(CONST, A), torch.ones(2))
    # A flattened fusion keeps little of the source's information.
    assert (vifp(A, 0.5 + 0.1 * (A - 0.5)) < 0.5).all()


def test_vif_is_symmetric_in_the_sources_and_rejects_tiny_images():
    f = 0.5 * (A + B)
    assert torch.allclose(vif(A, B, f), vif(B, A, f))
    with pytest.raises(ValueError, match='17x17'):
        vifp(A[..., :16, :16], A[..., :16, :16])


# --------------------------------------------------------------------------- Qabf


def test_qabf_perfect_transfer_and_symmetry():
    # The reference code's equal-strength quirk makes G = g_F (saturating), A = 1.
    q0 = TG * TA / (1 + math.exp(KA * (1 - DA)))
    assert torch.allclose(qabf(A, A, A), torch.full((2,), q0), atol=1e-5)
    f = torch.maximum(A, B)
    assert torch.allclose(qabf(A, B, f), qabf(B, A, f))
    assert ((qabf(A, B, f) > 0) & (qabf(A, B, f) < q0)).all()


def test_qabf_of_a_constant_fusion_is_near_zero():
    # g_F = 0 everywhere but the zero-padded frame: almost no gradient is transferred.
    q_flat = TG / (1 + math.exp(KG * (0 - DG)))
    assert q_flat < 1e-3
    assert (qabf(A, B, CONST) < 0.2).all()
    # Sources without any gradient (black: zero padding adds no frame either) score 0, not 0 / 0.
    black = torch.zeros_like(A)
    assert qabf(black, black, A).tolist() == [0.0, 0.0]


# --------------------------------------------------------------------------- SSIM, MS-SSIM, SCD


def test_ssim_sum():
    assert torch.allclose(ssim_sum(A, A, A), torch.full((2,), 2.0), atol=1e-5)
    f = 0.5 * (A + B)
    assert torch.allclose(ssim_sum(A, B, f), ssim_sum(B, A, f))
    assert ((ssim_sum(A, B, f) > 0) & (ssim_sum(A, B, f) < 2)).all()


def test_ms_ssim_identity_fallback_and_errors():
    assert torch.allclose(ms_ssim(A, A), torch.ones(2), atol=1e-5)
    assert torch.allclose(ms_ssim_sum(A, A, A), torch.full((2,), 2.0), atol=1e-5)
    f = 0.5 * (A + B)
    assert torch.allclose(ms_ssim_sum(A, B, f), ms_ssim_sum(B, A, f))
    # One scale is plain SSIM (16 px: a second scale of 8 px would not hold the 11 px window).
    small_a, small_f = A[..., :16, :16], f[..., :16, :16]
    from fusion_ros.losses.ssim import ssim
    assert torch.allclose(ms_ssim(small_a, small_f), ssim(small_a, small_f).clamp_min(0), atol=1e-5)
    with pytest.raises(ValueError, match='smaller than the 11px window'):
        ms_ssim(A[..., :8, :8], A[..., :8, :8])


def test_ms_ssim_five_scales_on_a_large_image():
    big_a, big_b = smooth(3, size=176, batch=1), smooth(4, size=176, batch=1)
    value = ms_ssim(big_a, 0.5 * (big_a + big_b))
    assert 0 < value.item() < 1


def test_scd_known_values():
    a, b = 0.5 * A, 0.5 * B
    assert torch.allclose(scd(a, b, a + b), torch.full((2,), 2.0), atol=1e-5)
    f = 0.3 * A + 0.6 * B
    assert torch.allclose(scd(A, B, f), scd(B, A, f), atol=1e-6)
    # F = A: corr(A - B, A) + corr(0, B), the second term counts 0.
    from fusion_ros.metrics import correlation
    assert torch.allclose(scd(A, B, A), correlation(A - B, A), atol=1e-6)


# --------------------------------------------------------------------------- input checks


@pytest.mark.parametrize('fn', [mutual_information, vif, qabf, ssim_sum, ms_ssim_sum, scd])
def test_source_metrics_reject_bad_shapes(fn):
    with pytest.raises(ValueError, match=r'\(B, 1, H, W\)'):
        fn(A.expand(2, 3, 64, 64), B, A)
    with pytest.raises(ValueError, match='one shape'):
        fn(A, B, A[..., :32, :32])


def test_fused_only_metrics_reject_nan():
    bad = A.clone()
    bad[0, 0, 0, 0] = float('nan')
    for fn in (entropy, standard_deviation, spatial_frequency, average_gradient):
        with pytest.raises(ValueError, match='NaN'):
            fn(bad)
