"""Paper 000's scene loss: (1 - SSIM(F, T)) + (1 - SSIM(F, G)) + w (EP(F, T) + EP(F, G))."""
import pytest
import torch

from fusion_ros.losses.edge import edge_preservation
from fusion_ros.losses.scene import SceneLoss, scene_loss
from fusion_ros.losses.ssim import ssim


def _images(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(2, 1, 16, 18, generator=g) for _ in range(3)]


def test_keys_and_zero_when_all_three_agree():
    x = torch.rand(1, 1, 16, 16)
    out = scene_loss(x, x, x)
    assert set(out) == {'loss', 'ssim', 'edge'}
    assert all(v.ndim == 0 for v in out.values())
    assert float(out['loss']) == pytest.approx(0.0, abs=1e-5)
    assert float(out['edge']) == 0.0


def test_terms_are_the_paper_formula():
    f, t, g = _images()
    out = scene_loss(f, t, g, edge_weight=0.5)
    ssim_part = ((1 - ssim(f, t)) + (1 - ssim(f, g))).mean()
    edge_part = (edge_preservation(f, t) + edge_preservation(f, g)).mean()
    torch.testing.assert_close(out['ssim'], ssim_part)
    torch.testing.assert_close(out['edge'], edge_part)
    torch.testing.assert_close(out['loss'], ssim_part + 0.5 * edge_part)


def test_fusion_between_the_sources_beats_either_source_alone_on_ssim_part():
    _, t, g = _images(1)
    mean = scene_loss((t + g) / 2, t, g)
    assert float(mean['ssim']) < float(scene_loss(t, t, g)['ssim'])
    assert float(mean['ssim']) < float(scene_loss(g, t, g)['ssim'])


def test_window_options_are_passed_on():
    f, t, g = _images(2)
    out = scene_loss(f, t, g, window_size=5, window='box')
    kw = dict(window_size=5, window='box')
    expected = ((1 - ssim(f, t, **kw)) + (1 - ssim(f, g, **kw))).mean()
    torch.testing.assert_close(out['ssim'], expected)


def test_module_returns_the_total():
    f, t, g = _images(3)
    module = SceneLoss(edge_weight=2.0, window_size=7)
    torch.testing.assert_close(module(f, t, g), scene_loss(f, t, g, edge_weight=2.0, window_size=7)['loss'])
