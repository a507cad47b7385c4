"""Cross-segmentation consistency loss (paper 004, Eqs. 4-6)."""
import math

import pytest
import torch
import torch.nn.functional as F

from fusion_ros.losses.csc import CSCLoss, cross_entropy, csc_loss, dice_loss, pseudo_labels




def _logits(rows):
    """(pixels x classes) list -> (1, n, 1, pixels) logits."""
    return torch.tensor(rows, dtype=torch.float32).t().reshape(1, len(rows[0]), 1, len(rows))


def test_pseudo_labels_take_the_more_confident_branch_ties_to_b():
    a = _logits([[4., 0., 0.], [0., 1., 0.], [0., 2., 0.]])
    b = _logits([[0., 0., 1.], [0., 0., 5.], [2., 0., 0.]])  # pixel 2: equal confidence -> B
    assert pseudo_labels(a, b).tolist() == [[[0, 2, 0]]]


def test_pseudo_labels_are_detached_and_a_is_resized():
    a = torch.randn(2, 5, 8, 8, requires_grad=True)
    b = torch.randn(2, 5, 32, 32, requires_grad=True)
    labels = pseudo_labels(a, b)
    assert labels.shape == (2, 32, 32) and labels.dtype == torch.long and not labels.requires_grad


def test_cross_entropy_matches_hand_computation():
    logits = _logits([[1., 2., 0.], [0., 0., 3.]])
    labels = torch.tensor([[[1, 0]]])
    ce0 = -math.log(math.exp(2) / (math.exp(1) + math.exp(2) + 1))
    ce1 = -math.log(1 / (2 + math.exp(3)))
    assert float(cross_entropy(logits, labels)) == pytest.approx((ce0 + ce1) / 2, rel=1e-6)


def test_dice_zero_for_a_perfect_one_hot_prediction():
    labels = torch.randint(0, 4, (2, 16, 16))
    logits = 100.0 * F.one_hot(labels, 4).permute(0, 3, 1, 2).float()
    assert torch.allclose(dice_loss(logits, labels, 4), torch.zeros(2), atol=1e-6)
    # also with a class missing from the labels
    labels[labels == 3] = 0
    logits = 100.0 * F.one_hot(labels, 4).permute(0, 3, 1, 2).float()
    assert torch.allclose(dice_loss(logits, labels, 4), torch.zeros(2), atol=1e-6)


def test_dice_hand_case():
    # 2 classes, 2 pixels; p(class 0) = 0.75 at both; labels [0, 1].
    logits = _logits([[math.log(3.0), 0.0], [math.log(3.0), 0.0]])
    labels = torch.tensor([[[0, 1]]])
    # class 0: inter 0.75, sum p 1.5, sum y 1 -> 1.5/2.5 = 0.6; class 1: inter 0.25, 0.5 + 1 -> 0.5/1.5
    expected = 1 - 0.5 * (0.6 + 1 / 3)
    assert float(dice_loss(logits, labels, 2, eps=0.0)) == pytest.approx(expected, rel=1e-6)


def test_csc_is_the_mean_of_both_hybrid_losses():
    torch.manual_seed(0)
    a = torch.randn(2, 6, 8, 8, requires_grad=True)
    b = torch.randn(2, 6, 16, 16, requires_grad=True)
    out = csc_loss(a, b)
    labels = out['labels']
    a_up = F.interpolate(a, size=(16, 16), mode='bilinear', align_corners=False)
    hyb_a = cross_entropy(a_up, labels) + dice_loss(a_up, labels, 6)
    hyb_b = cross_entropy(b, labels) + dice_loss(b, labels, 6)
    assert torch.allclose(out['loss'], (0.5 * (hyb_a + hyb_b)).mean())
    out['loss'].backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    assert 0.0 <= float(out['agreement']) <= 1.0
    assert torch.allclose(CSCLoss()(a, b)['loss'], out['loss'])


def test_csc_errors_say_what_came():
    with pytest.raises(ValueError, match='number of classes'):
        csc_loss(torch.randn(1, 3, 4, 4), torch.randn(1, 5, 4, 4))
    with pytest.raises(ValueError, match='int64'):
        dice_loss(torch.randn(1, 3, 4, 4), torch.zeros(1, 4, 4, dtype=torch.int32))
