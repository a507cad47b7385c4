"""SSVIF framework (paper 004): GDWA/DWA weights, stage switch, segmentation branches, objective."""
import math

import pytest
import torch
from torch import nn

from fusion_ros.models.ssvif import SSVIFFusionNet, SSVIFModelConfig
from fusion_ros.ssvif import (LossWeighting, SegmentationHead, SSVIFConfig, SSVIFObjective, StageSwitch,
                              build_segmentation_model, descent_rate, dwa_weights, gdwa_weights, grad_norm)

N = 5  # classes in the fast tests




def _pair(b=2, h=64, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    rgb = torch.rand(b, 3, h, w, generator=g)
    thermal = torch.rand(b, 1, h, w, generator=g)
    return rgb, thermal


def _objective(**cfg):
    """Small F, default H and a one-conv S (SegFormer is exercised in its own test)."""
    torch.manual_seed(0)
    fusion = SSVIFFusionNet(SSVIFModelConfig(width=16, stem_width=8))
    config = SSVIFConfig(n_classes=N, **cfg)
    seg = nn.Conv2d(3, N, 3, padding=1) if config.use_csc else None
    return SSVIFObjective(fusion, config, seg_model=seg)


# --------------------------------------------------------------------------- weights


def test_gdwa_weights_match_hand_computation():
    # g~ = (0.75, 0.25); s_f = e^{0.4} / (e^{0.4} + e^{0.6}) = 1 / (1 + e^{0.2}) = 0.450166...
    lam_f, lam_c = gdwa_weights(3.0, 1.0, 0.8, 1.2, T=2.0)
    s_f = 1.0 / (1.0 + math.exp(0.2))
    expected = 0.75 * s_f / (0.75 * s_f + 0.25 * (1 - s_f))
    assert lam_f == pytest.approx(expected, rel=1e-12) and lam_f == pytest.approx(0.710664, abs=1e-6)
    assert lam_f + lam_c == pytest.approx(1.0)
    # w_csc = lambda_csc / lambda_fusion = (g_c / g_f) e^{(r_c - r_f) / T}
    assert lam_c / lam_f == pytest.approx((1 / 3) * math.exp(0.2), rel=1e-9)


def test_gdwa_weights_edge_cases():
    assert gdwa_weights(3.0, 1.0, 1.0, 1.0) == pytest.approx((0.75, 0.25))
    assert gdwa_weights(0.0, 0.0, 1.0, 1.0) == pytest.approx((0.5, 0.5))
    # slower convergence (higher rate) of the CSC task raises its weight
    assert gdwa_weights(1.0, 1.0, 0.9, 1.1)[1] > 0.5
    with pytest.raises(ValueError, match='>= 0'):
        gdwa_weights(-1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match='T'):
        gdwa_weights(1.0, 1.0, 1.0, 1.0, T=0.0)


def test_dwa_weights_are_a_softmax_of_descent_rates():
    lam_f, lam_c = dwa_weights(0.8, 1.2, T=2.0)
    assert lam_f == pytest.approx(math.exp(0.4) / (math.exp(0.4) + math.exp(0.6)))
    assert lam_f + lam_c == pytest.approx(1.0)
    assert dwa_weights(1.0, 1.0) == pytest.approx((0.5, 0.5))


def test_loss_weighting_methods():
    assert descent_rate([]) == 1.0 and descent_rate([2.0]) == 1.0 and descent_rate([2.0, 1.0]) == 0.5
    gdwa = LossWeighting('gdwa', temperature=2.0)
    for f, c in ((5.0, None), (4.0, None), (3.2, 2.0), (3.0, 2.4)):
        gdwa.record_epoch(f, c)
    assert gdwa.descent_rates() == pytest.approx((3.0 / 3.2, 1.2))
    w = gdwa.w_csc(2.0, 1.0)
    assert w == pytest.approx(0.5 * math.exp((1.2 - 3.0 / 3.2) / 2.0))
    assert gdwa.w_csc() == pytest.approx(math.exp((1.2 - 3.0 / 3.2) / 2.0))  # no norms yet: equal
    dwa = LossWeighting('dwa')
    dwa.load_state_dict(gdwa.state_dict())
    lam_f, lam_c = dwa_weights(3.0 / 3.2, 1.2)
    assert dwa.w_csc(100.0, 1.0) == pytest.approx(lam_c / lam_f)  # gradient norms ignored
    fixed = LossWeighting('fixed', fixed_w_csc=0.1)
    assert fixed.w_csc(5.0, 1.0) == 0.1 and sum(fixed.lambdas()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match='gdwa'):
        LossWeighting('uncertainty')


# --------------------------------------------------------------------------- stage switch


def test_stage_switch_flips_at_the_first_rise_and_stays():
    s = StageSwitch()
    stages = [s.update(x) for x in (9.0, 7.0, 6.0, 6.0, 6.5, 5.0, 7.0)]
    assert stages == [1, 1, 1, 1, 2, 2, 2]  # equal is not a rise
    assert s.switch_epoch == 4
    restored = StageSwitch()
    restored.load_state_dict(s.state_dict())
    assert restored.stage == 2 and restored.history == s.history
    assert StageSwitch(two_stage=False).stage == 2
    with pytest.raises(ValueError, match='diverged'):
        StageSwitch().update(float('nan'))


# --------------------------------------------------------------------------- branches


def test_segmentation_head_shape():
    head = SegmentationHead(16, n_classes=15)
    assert head(torch.rand(2, 16, 16, 16)).shape == (2, 15, 16, 16)
    assert sum(isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) for m in head.modules()) == 2


def test_segformer_any_size():
    seg = build_segmentation_model('mit_b0', n=15)
    with torch.no_grad():
        assert seg(torch.rand(1, 3, 40, 52)).shape == (1, 15, 40, 52)
    with pytest.raises(KeyError, match='mit_b3'):
        build_segmentation_model('not_a_model')


# --------------------------------------------------------------------------- objective


def test_stage_one_runs_the_fusion_loss_only():
    obj = _objective()
    out = obj(*_pair())
    assert out['stage'] == 1 and obj.stage == 1
    assert torch.allclose(out['loss'], out['fusion']) and out['csc'] == 0 and out['w_csc'] == 0
    out['loss'].backward()
    assert all(p.grad is None for p in obj.head.parameters())
    assert all(p.grad is None for p in obj.seg_model.parameters())
    assert all(p.grad is not None for p in obj.fusion_model.parameters())


def test_stage_two_adds_weighted_csc_with_gdwa():
    obj = _objective(weighting='gdwa')
    out = obj(*_pair(), stage=2)
    assert out['w_csc'] > 0 and out['csc'] > 0
    assert torch.allclose(out['loss'], out['fusion'] + out['w_csc'] * out['csc'], rtol=1e-5)
    lam_f, lam_c = gdwa_weights(float(out['g_fusion']), float(out['g_csc']), 1.0, 1.0, 2.0)
    assert float(out['w_csc']) == pytest.approx(lam_c / lam_f, rel=1e-5)
    out['loss'].backward()
    assert all(p.grad is not None for p in obj.head.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in obj.seg_model.parameters())


def test_shared_parameters_and_grad_norm():
    obj = _objective(shared='backbone')
    shared = obj.shared_parameters()
    assert len(shared) == len(list(obj.fusion_model.backbone.parameters()))
    x = torch.ones(3, requires_grad=True)
    assert float(grad_norm((2 * x).sum(), [x])) == pytest.approx(2 * math.sqrt(3))

    class NoBackbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = SSVIFFusionNet(SSVIFModelConfig(width=8, stem_width=4))

        def forward(self, rgb, thermal):
            return self.net(rgb, thermal)

    obj = SSVIFObjective(NoBackbone(), SSVIFConfig(n_classes=N, shared='backbone'),
                         seg_model=nn.Conv2d(3, N, 1))
    assert obj.head.net[0].in_channels == 8  # C found by a dry run
    with pytest.raises(AttributeError, match="shared='fusion'"):
        obj.shared_parameters()


def test_end_epoch_feeds_means_to_switch_and_weighting():
    obj = _objective()
    values = [float(obj(*_pair(seed=i))['fusion']) for i in range(2)]
    summary = obj.end_epoch()
    assert summary['fusion'] == pytest.approx(sum(values) / 2, rel=1e-5) and summary['csc'] is None
    assert obj.stage_switch.history == [pytest.approx(summary['fusion'])]
    with torch.no_grad():
        obj(*_pair())  # not recorded
    with pytest.raises(RuntimeError, match='train'):
        obj.end_epoch()
    # force a rise: the next epoch's mean is higher -> stage II, recorded in the state dict
    obj.stage_switch.history[-1] = 0.0
    obj(*_pair())
    assert obj.end_epoch()['switched'] and obj.stage == 2
    state = obj.state_dict()
    fresh = _objective()
    fresh.load_state_dict(state)
    assert fresh.stage == 2 and fresh.weighting.fusion_history == obj.weighting.fusion_history


def test_ablation_switches():
    no_csc = _objective(use_csc=False)
    assert no_csc.head is None and no_csc.seg_model is None
    out = no_csc(*_pair(), stage=2)
    assert torch.allclose(out['loss'], out['fusion'])
    assert _objective(two_stage=False).stage == 2
    fixed = _objective(weighting='fixed', fixed_w_csc=0.1)
    assert float(fixed(*_pair(), stage=2)['w_csc']) == pytest.approx(0.1)
    cfg = SSVIFConfig.from_dict({'n_classes': 9, 'head': {'width': 32}, 'fusion_loss': {'w_color': 10}})
    assert cfg.head.width == 32 and cfg.fusion_loss.w_color == 10
    with pytest.raises(KeyError, match='valid keys'):
        SSVIFConfig.from_dict({'weigthing': 'dwa'})
    with pytest.raises(ValueError, match='weighting'):
        SSVIFConfig(weighting='gradnorm')


@pytest.mark.parametrize('stage,weighting', [(1, 'gdwa'), (2, 'fixed'), (2, 'gdwa')])
def test_a_few_adam_steps_lower_the_objective(stage, weighting):
    obj = _objective(weighting=weighting)
    opt = torch.optim.Adam(obj.parameters(), lr=3e-3)
    rgb, thermal = _pair(2, 48, 48)
    first = None
    for _ in range(12):
        out = obj(rgb, thermal, stage=stage)
        opt.zero_grad()
        out['loss'].backward()
        opt.step()
        # compare at a fixed weight: the unweighted sum (the weight itself moves with GDWA)
        value = float(out['fusion'] + out['csc'])
        first = value if first is None else first
    assert value < first


def test_default_objective_with_segformer_runs_a_stage_two_step():
    obj = SSVIFObjective(SSVIFFusionNet())  # paper settings: n = 15, GDWA, mit_b0 here
    out = obj(*_pair(1, 64, 64), stage=2)
    out['loss'].backward()
    assert torch.isfinite(out['loss']) and out['g_fusion'] > 0 and out['g_csc'] > 0


def test_stage_switch_waits_for_min_stage1_epochs():
    from fusion_ros.ssvif import StageSwitch
    paper = StageSwitch(True)
    assert [paper.update(x) for x in (5.0, 4.0, 4.5)] == [1, 1, 2]
    patient = StageSwitch(True, min_stage1_epochs=4)
    assert [patient.update(x) for x in (5.0, 4.0, 4.5, 3.0, 3.5)] == [1, 1, 1, 1, 2]
