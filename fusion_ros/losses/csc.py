"""Cross-segmentation consistency loss of SSVIF (paper 004, Section III-D, Eqs. 4-6).

Two segmentation predictions of the same scene, ``A = H(B(I_ir, I_vis))`` from the fused features and
``B = S(F(I_ir, I_vis))`` from the fused image, supervise each other without labels:

* Eq. 4, pseudo label per pixel: the arg-max class of the more confident branch (larger max softmax
  probability); a tie goes to B (the paper's "otherwise"). The pseudo label is a constant (no gradient).
* Eq. 5, hybrid loss of each branch against the pseudo label: cross-entropy + Dice over the n classes.
* Eq. 6, ``L_csc = (L_hyb(A) + L_hyb(B)) / 2``.

Deviations from the printed equations, both deliberate:

* The paper writes the cross-entropy as a **sum** over pixels; it is taken here as the **mean** over
  pixels (what ``F.cross_entropy`` and every common implementation do). A sum grows with the crop size
  and would swamp the Dice term, which lies in [0, 1].
* The Dice smoothing ``eps`` is added to the numerator as well as to the denominator
  (``(2 sum p y + eps) / (sum p + sum y + eps)``, as MONAI's ``smooth_nr``/``smooth_dr``), so a perfect
  one-hot prediction scores exactly 0, also for classes absent from the image. For present classes the
  difference to the printed equation is O(eps / pixels). Classes absent from the pseudo label still
  score about 0 overlap whenever the branch gives them any probability mass, as in the paper's form.

Resolution: the segmentation head may run on features at reduced resolution. When the two logits
differ in size, A's logits are resized bilinearly to B's size (the image's) before anything else, so
the pseudo label and both losses live on B's pixel grid.
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn


def match_size(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """Return ``logits_a`` resized (bilinear, align_corners=False) to ``logits_b``'s H, W; checks B and n."""
    for name, t in (('logits_a', logits_a), ('logits_b', logits_b)):
        if t.ndim != 4:
            raise ValueError(f'csc: {name} must be (B, n, H, W) logits, got {tuple(t.shape)}')
    if logits_a.shape[:2] != logits_b.shape[:2]:
        raise ValueError(f'csc: logits_a {tuple(logits_a.shape)} and logits_b {tuple(logits_b.shape)} must '
                         'agree in batch size and number of classes n; give the segmentation head and the '
                         'segmentation model the same n')
    if logits_a.shape[-2:] != logits_b.shape[-2:]:
        logits_a = F.interpolate(logits_a, size=tuple(logits_b.shape[-2:]), mode='bilinear',
                                 align_corners=False)
    return logits_a


@torch.no_grad()
def pseudo_labels(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """Eq. 4: per pixel, the arg-max class of the more confident branch (ties -> B).

    Args:
        logits_a: ``(B, n, h, w)`` logits of the feature-level branch (resized to B's size if different).
        logits_b: ``(B, n, H, W)`` logits of the pixel-level branch.

    Returns:
        ``(B, H, W)`` int64 class indices in ``[0, n)``, detached.

    Example:
        >>> a = torch.tensor([3.0, 0.0]).view(1, 2, 1, 1)   # A: class 0, confident
        >>> b = torch.tensor([0.0, 1.0]).view(1, 2, 1, 1)   # B: class 1, less confident
        >>> pseudo_labels(a, b).flatten().tolist()
        [0]
    """
    logits_a = match_size(logits_a, logits_b)
    conf_a, cls_a = logits_a.detach().float().softmax(dim=1).max(dim=1)
    conf_b, cls_b = logits_b.detach().float().softmax(dim=1).max(dim=1)
    return torch.where(conf_a > conf_b, cls_a, cls_b)


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Pixel-mean cross-entropy per image: ``-mean_x log softmax(logits)_{labels(x)}(x)``.

    Args:
        logits: ``(B, n, H, W)`` float.
        labels: ``(B, H, W)`` int64 in ``[0, n)``.

    Returns:
        ``(B,)``, >= 0.
    """
    _check_labels(logits, labels, 'cross_entropy')
    return F.cross_entropy(logits.float(), labels, reduction='none').flatten(1).mean(dim=1)


def dice_loss(logits: torch.Tensor, labels: torch.Tensor, n: int | None = None,
              eps: float = 1e-5) -> torch.Tensor:
    """Multi-class soft Dice loss per image.

    ``1 - 1/n sum_c (2 sum_x p_c y_c + eps) / (sum_x p_c + sum_x y_c + eps)``.

    Args:
        logits: ``(B, n, H, W)`` float; ``p = softmax(logits)`` over the class axis.
        labels: ``(B, H, W)`` int64 in ``[0, n)``; ``y`` is their one-hot encoding.
        n: number of classes (defaults to ``logits.shape[1]``; must equal it).
        eps: smoothing (see the module docstring).

    Returns:
        ``(B,)`` in [0, 1]; 0 for a perfect one-hot prediction.
    """
    _check_labels(logits, labels, 'dice_loss')
    n = logits.shape[1] if n is None else n
    if n != logits.shape[1]:
        raise ValueError(f'dice_loss: n={n} but logits have {logits.shape[1]} classes; '
                         'pass n=logits.shape[1]')
    p = logits.float().softmax(dim=1)
    y = F.one_hot(labels, n).permute(0, 3, 1, 2).to(p.dtype)
    inter = (p * y).sum(dim=(2, 3))
    denom = p.sum(dim=(2, 3)) + y.sum(dim=(2, 3))
    return 1.0 - ((2.0 * inter + eps) / (denom + eps)).mean(dim=1)


def hybrid_loss(logits: torch.Tensor, labels: torch.Tensor, eps: float = 1e-5) -> dict[str, torch.Tensor]:
    """Eq. 5: ``L_hyb = L_ce + L_dice``; returns ``{'loss', 'ce', 'dice'}``, each ``(B,)``."""
    ce = cross_entropy(logits, labels)
    dice = dice_loss(logits, labels, eps=eps)
    return {'loss': ce + dice, 'ce': ce, 'dice': dice}


def csc_loss(logits_a: torch.Tensor, logits_b: torch.Tensor, *, eps: float = 1e-5,
             reduction: Literal['mean', 'none'] = 'mean') -> dict[str, torch.Tensor]:
    """Eq. 6: ``L_csc = (L_hyb(A, p~) + L_hyb(B, p~)) / 2`` with the pseudo label ``p~`` of Eq. 4.

    Args:
        logits_a: ``(B, n, h, w)`` segmentation-head logits (feature-level fusion); resized bilinearly
            to ``logits_b``'s size if different.
        logits_b: ``(B, n, H, W)`` segmentation-model logits (pixel-level fusion, the fused image).
        eps: Dice smoothing.
        reduction: ``'mean'`` (batch means, 0-d) or ``'none'`` (``(B,)``) for the loss terms.

    Returns:
        dict: ``loss`` (L_csc), ``hyb_a``, ``hyb_b``, ``ce_a``, ``dice_a``, ``ce_b``, ``dice_b``
        (differentiable), and detached diagnostics: ``labels (B, H, W)`` the pseudo label,
        ``agreement`` the fraction of pixels where both branches' arg-max agree, ``from_a`` the fraction
        where they disagree and A's class won (so ``1 - agreement - from_a`` is where B's won).
    """
    if reduction not in ('mean', 'none'):
        raise ValueError(f"csc_loss: reduction must be 'mean' or 'none', got {reduction!r}")
    logits_a = match_size(logits_a, logits_b)
    labels = pseudo_labels(logits_a, logits_b)
    hyb_a = hybrid_loss(logits_a, labels, eps)
    hyb_b = hybrid_loss(logits_b, labels, eps)
    out = {'loss': 0.5 * (hyb_a['loss'] + hyb_b['loss']), 'hyb_a': hyb_a['loss'], 'hyb_b': hyb_b['loss'],
           'ce_a': hyb_a['ce'], 'dice_a': hyb_a['dice'], 'ce_b': hyb_b['ce'], 'dice_b': hyb_b['dice']}
    if reduction == 'mean':
        out = {k: v.mean() for k, v in out.items()}
    with torch.no_grad():
        cls_a, cls_b = logits_a.argmax(dim=1), logits_b.argmax(dim=1)
        out['labels'] = labels
        out['from_a'] = ((labels == cls_a) & (labels != cls_b)).float().mean()
        out['agreement'] = (cls_a == cls_b).float().mean()
    return out


class CSCLoss(nn.Module):
    """Module form of :func:`csc_loss`; ``forward(logits_a, logits_b)`` returns the dict (batch means)."""

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, logits_a: torch.Tensor, logits_b: torch.Tensor) -> dict[str, torch.Tensor]:
        return csc_loss(logits_a, logits_b, eps=self.eps)


def _check_labels(logits: torch.Tensor, labels: torch.Tensor, where: str) -> None:
    if logits.ndim != 4:
        raise ValueError(f'{where}: logits must be (B, n, H, W), got {tuple(logits.shape)}')
    if labels.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f'{where}: labels must be (B, H, W) = {(logits.shape[0], *logits.shape[2:])} to '
                         f'match logits {tuple(logits.shape)}, got {tuple(labels.shape)}')
    if labels.dtype != torch.long:
        raise ValueError(f'{where}: labels must be int64 class indices, got {labels.dtype}; '
                         'use labels.long()')


__all__ = ['CSCLoss', 'csc_loss', 'cross_entropy', 'dice_loss', 'hybrid_loss', 'match_size', 'pseudo_labels']
