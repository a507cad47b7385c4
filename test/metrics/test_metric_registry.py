"""The uniform metric registry: every name, one signature, one value per image."""
import pytest
import torch

from fusion_ros.imaging import colorize, rgb_to_gray
from fusion_ros.metrics import (HIGHER_IS_BETTER, METRICS, UNITS, cddfuse_inputs, correlation_score,
                                get_metric, mutual_information)

NAMES = ['EN', 'SD', 'SF', 'AG', 'MI', 'VIF', 'Qabf', 'SSIM', 'SSIM_gauss', 'MS-SSIM', 'SCD', 'DeltaE',
         'SSIM_score', 'Corr_score', 'Canny_score']


def _inputs(seed=0, b=2, size=48):
    g = torch.Generator().manual_seed(seed)
    rgb = torch.nn.functional.avg_pool2d(torch.rand(b, 3, size + 2, size + 2, generator=g), 3, stride=1)
    thermal = torch.nn.functional.avg_pool2d(torch.rand(b, 1, size + 2, size + 2, generator=g), 3, stride=1)
    fused = colorize(rgb, 0.5 * (rgb_to_gray(rgb) + thermal))
    return thermal, rgb, fused


def test_registry_names_and_directions():
    assert list(METRICS) == NAMES
    assert set(HIGHER_IS_BETTER) == set(NAMES) == set(UNITS)
    assert [n for n, up in HIGHER_IS_BETTER.items() if not up] == ['DeltaE']


@pytest.mark.parametrize('name', NAMES)
def test_every_metric_returns_one_finite_value_per_image(name):
    thermal, rgb, fused = _inputs()
    out = METRICS[name](thermal, rgb, fused)
    assert out.shape == (2,)
    assert torch.isfinite(out).all()


def test_registry_scores_the_8bit_gray_and_paper000_the_luma():
    thermal, rgb, fused = _inputs()
    x = cddfuse_inputs(thermal, rgb, fused)
    expected = mutual_information(x.a / 255, x.b / 255, x.f / 255)
    assert torch.allclose(METRICS['MI'](thermal, rgb, fused), expected)
    assert METRICS['DeltaE'](thermal, rgb, rgb).abs().max() == 0
    luma = correlation_score(thermal, rgb_to_gray(rgb), rgb_to_gray(fused))
    assert torch.equal(METRICS['Corr_score'](thermal, rgb, fused), luma)


def test_registry_errors_are_clear():
    thermal, rgb, fused = _inputs()
    with pytest.raises(KeyError, match='valid names: EN'):
        get_metric('PSNR')
    with pytest.raises(ValueError, match='fused_rgb'):
        METRICS['EN'](thermal, rgb, rgb_to_gray(fused))
    with pytest.raises(ValueError, match='thermal'):
        METRICS['MI'](thermal[..., :32], rgb, fused)
