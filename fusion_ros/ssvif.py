"""SSVIF (paper 004): the pieces of the self-supervised, segmentation-oriented training framework.

Not the data loading and not the training loop (the shared loop in ``fusion_ros.training`` calls
:class:`SSVIFObjective` once per batch and :meth:`SSVIFObjective.end_epoch` once per epoch). Here:

* :class:`SegmentationHead` H (two 3x3 conv + BN + ReLU, then 1x1 to n classes; Section III-C), on the
  fusion model's fused features: branch A, ``p^A = H(B(I_ir, I_vis))``.
* :func:`build_segmentation_model` S, a SegFormer from ``segmentation_models_pytorch`` trained from
  scratch, on the fused image: branch B, ``p^B = S(F(I_ir, I_vis))``. The paper uses ``mit_b3``; the
  default here is ``mit_b0`` (3.7M parameters instead of 44.6M) so that training fits a small machine.
* Loss weighting (Section III-E): :func:`gdwa_weights` (the paper's GDWA), :func:`dwa_weights`
  (Liu et al. 2019, the ablation) and a fixed ``w_csc`` (ablation, 0.1), wrapped by :class:`LossWeighting`.
* :class:`StageSwitch`: two-stage training (Section III-C): stage I trains the fusion model alone on
  ``L_fusion``; the first epoch whose mean ``L_fusion`` rises above the previous epoch's switches to
  stage II, ``L_fusion + w_csc L_csc``, for good.
* :class:`SSVIFObjective`: F, H, S and the losses in one module; returns the dict of losses.

Settings from the paper: n = 15 classes (Appendix B-A), fusion-loss lambdas 20/20/10/20
(Appendix B-A), Adam at 1e-4, crops of 160x160, batch 10 (Section IV-A; for the loop). The paper gives
no value for the GDWA temperature T; T = 2 is DWA's (Liu et al. 2019), which GDWA builds on.

GDWA's shared parameters. ``g_k = sqrt(sum_i ||grad_theta_i L_k||^2)`` over "the shared fusion model
parameters". Both tasks minimise over all of the fusion model's parameters omega_f (Section III-B): the
backbone B feeds both segmentation branches and the decoder D lies on the fusion path and on branch B
(``S(D(B(.)))``). So the default ``shared='fusion'`` takes every parameter of F; ``shared='backbone'``
takes only ``F.backbone`` (cheaper to reason about, same cost to compute) for comparison.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Literal

import torch
import torch.nn.functional as F
from torch import nn

from fusion_ros.config import dataclass_from_dict
from fusion_ros.losses.csc import csc_loss
from fusion_ros.losses.fusion import FusionLossConfig, fusion_loss

WEIGHTINGS = ('gdwa', 'dwa', 'fixed')


# --------------------------------------------------------------------------- segmentation branches


@dataclass
class SegmentationHeadConfig:
    """H: ``width`` channels in its two 3x3 conv layers, ``n_classes`` outputs."""
    width: int = 64
    n_classes: int = 15


class SegmentationHead(nn.Module):
    """H: ``(B, in_channels, h, w)`` fused features -> ``(B, n_classes, h, w)`` logits.

    Two 3x3 conv + BatchNorm + ReLU layers, then a 1x1 conv to ``n_classes`` (Section III-C). The
    logits stay at the features' resolution; :func:`fusion_ros.losses.csc.csc_loss` resizes them.

    Example:
        >>> SegmentationHead(32, n_classes=15)(torch.rand(2, 32, 16, 16)).shape
        torch.Size([2, 15, 16, 16])
    """

    def __init__(self, in_channels: int, n_classes: int = 15, width: int = 64):
        super().__init__()

        def block(i, o):
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

        self.net = nn.Sequential(*block(in_channels, width), *block(width, width),
                                 nn.Conv2d(width, n_classes, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


class PaddedSegmenter(nn.Module):
    """Runs a segmentation net that needs H, W divisible by ``multiple`` on any size.

    ``forward(x (B, C, H, W)) -> (B, n, H, W)`` logits: ``x`` is padded (reflect, or replicate when too
    small) to a multiple of ``multiple``, the output resized to the padded size if the net returns
    another, then cropped back to H, W.
    """

    def __init__(self, net: nn.Module, multiple: int = 32):
        super().__init__()
        self.net = net
        self.multiple = multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.multiple, (-w) % self.multiple
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode='reflect' if min(h, w) > max(ph, pw) else 'replicate')
        out = self.net(x)
        if out.shape[-2:] != x.shape[-2:]:
            out = F.interpolate(out, size=tuple(x.shape[-2:]), mode='bilinear', align_corners=False)
        return out[..., :h, :w]


def build_segmentation_model(name: str = 'mit_b0', n: int = 15, in_channels: int = 3) -> nn.Module:
    """S: ``segmentation_models_pytorch.Segformer(name, encoder_weights=None)`` with random weights.

    Args:
        name: the SegFormer encoder, ``'mit_b0'`` ... ``'mit_b5'`` (paper: ``'mit_b3'``).
        n: number of classes (paper: 15).
        in_channels: channels of the image it segments (3: the fused RGB).

    Returns:
        a module ``(B, in_channels, H, W) -> (B, n, H, W)`` logits, any H, W (see :class:`PaddedSegmenter`).
    """
    import segmentation_models_pytorch as smp  # heavy import, only when a model is built

    try:
        net = smp.Segformer(encoder_name=name, encoder_weights=None, in_channels=in_channels, classes=n)
    except KeyError as e:
        raise KeyError(f"build_segmentation_model: unknown SegFormer encoder {name!r}; use one of 'mit_b0' "
                       f"... 'mit_b5' (paper: 'mit_b3'). segmentation_models_pytorch said: {e}") from None
    return PaddedSegmenter(net, 32)


# --------------------------------------------------------------------------- loss weighting


def descent_rate(history: list[float]) -> float:
    """``r = L^j / L^{j-1}`` from the last two epoch means; 1.0 (neutral) while fewer than two are known."""
    if len(history) < 2:
        return 1.0
    prev = history[-2]
    return float(history[-1]) / prev if prev != 0 else 1.0


def _softmax2(a: float, b: float) -> float:
    """``e^a / (e^a + e^b)``, computed stably."""
    return 1.0 / (1.0 + math.exp(min(b - a, 700.0)))


def gdwa_weights(g_fusion: float, g_csc: float, r_fusion: float, r_csc: float,
                 T: float = 2.0) -> tuple[float, float]:
    """GDWA task weights (Section III-E): ``(lambda_fusion, lambda_csc)``, summing to 1.

    ``g~_A = g_A / (g_A + g_B)``, ``s_A = softmax(r / T)_A``,
    ``lambda_A = g~_A s_A / (g~_A s_A + g~_B s_B)``, ``lambda_B = 1 - lambda_A`` (A = fusion, B = csc).

    Args:
        g_fusion, g_csc: gradient norms (>= 0) of each task's loss w.r.t. the shared parameters
            (both 0: treated as equal).
        r_fusion, r_csc: descent rates ``L^j / L^{j-1}`` (> 0).
        T: softmax temperature (> 0).

    Example:
        >>> gdwa_weights(3.0, 1.0, 1.0, 1.0)   # equal rates: the gradient-norm shares decide
        (0.75, 0.25)
    """
    g_fusion, g_csc = float(g_fusion), float(g_csc)
    if g_fusion < 0 or g_csc < 0 or not math.isfinite(g_fusion + g_csc):
        raise ValueError(f'gdwa_weights: gradient norms must be finite and >= 0, got {g_fusion}, {g_csc}')
    if T <= 0:
        raise ValueError(f'gdwa_weights: temperature T must be > 0, got {T}')
    total = g_fusion + g_csc
    gt_f = g_fusion / total if total > 0 else 0.5
    s_f = _softmax2(r_fusion / T, r_csc / T)
    a, b = gt_f * s_f, (1.0 - gt_f) * (1.0 - s_f)
    lam_f = a / (a + b)
    return lam_f, 1.0 - lam_f


def dwa_weights(r_fusion: float, r_csc: float, T: float = 2.0) -> tuple[float, float]:
    """DWA (Liu, Johns and Davison, CVPR 2019): ``(lambda_fusion, lambda_csc) = softmax(r / T)``.

    Liu et al. scale the softmax by the number of tasks K (= 2); the scale cancels in
    ``w_csc = lambda_csc / lambda_fusion``, so the weights here sum to 1 like GDWA's.
    """
    if T <= 0:
        raise ValueError(f'dwa_weights: temperature T must be > 0, got {T}')
    s_f = _softmax2(r_fusion / T, r_csc / T)
    return s_f, 1.0 - s_f


class LossWeighting:
    """The weight ``w_csc`` of Eq. 2 for ``method`` in ``'gdwa'``, ``'dwa'``, ``'fixed'``.

    Holds the epoch means of both losses (:meth:`record_epoch`); descent rates come from the last two
    known epochs of each loss (1.0 until two are known: right after the switch to stage II, the CSC
    rate is neutral while the fusion rate uses the stage-I history). ``w_csc = lambda_csc / lambda_fusion``
    (Eq. 7); the weights are plain floats: no gradient flows through them.
    """

    def __init__(self, method: str = 'gdwa', temperature: float = 2.0, fixed_w_csc: float = 0.1):
        if method not in WEIGHTINGS:
            raise ValueError(f'LossWeighting: method must be one of {WEIGHTINGS}, got {method!r}')
        if temperature <= 0:
            raise ValueError(f'LossWeighting: temperature must be > 0, got {temperature}')
        if fixed_w_csc < 0:
            raise ValueError(f'LossWeighting: fixed_w_csc must be >= 0, got {fixed_w_csc}')
        self.method, self.temperature, self.fixed_w_csc = method, float(temperature), float(fixed_w_csc)
        self.fusion_history: list[float] = []
        self.csc_history: list[float] = []

    @property
    def needs_grad_norms(self) -> bool:
        return self.method == 'gdwa'

    def record_epoch(self, fusion: float, csc: float | None = None) -> None:
        """Append one epoch's mean losses (``csc=None`` in epochs without the CSC task)."""
        self.fusion_history.append(float(fusion))
        if csc is not None:
            self.csc_history.append(float(csc))

    def descent_rates(self) -> tuple[float, float]:
        """``(r_fusion, r_csc)``."""
        return descent_rate(self.fusion_history), descent_rate(self.csc_history)

    def lambdas(self, g_fusion: float | None = None, g_csc: float | None = None) -> tuple[float, float]:
        """``(lambda_fusion, lambda_csc)``, summing to 1. GDWA without gradient norms treats them as equal."""
        if self.method == 'fixed':
            return 1.0 / (1.0 + self.fixed_w_csc), self.fixed_w_csc / (1.0 + self.fixed_w_csc)
        r_f, r_c = self.descent_rates()
        if self.method == 'dwa':
            return dwa_weights(r_f, r_c, self.temperature)
        if g_fusion is None or g_csc is None:
            g_fusion = g_csc = 1.0
        return gdwa_weights(g_fusion, g_csc, r_f, r_c, self.temperature)

    def w_csc(self, g_fusion: float | None = None, g_csc: float | None = None) -> float:
        """``lambda_csc / lambda_fusion`` (Eq. 7)."""
        if self.method == 'fixed':
            return self.fixed_w_csc
        lam_f, lam_c = self.lambdas(g_fusion, g_csc)
        return lam_c / max(lam_f, 1e-12)

    def state_dict(self) -> dict:
        return {'fusion_history': list(self.fusion_history), 'csc_history': list(self.csc_history)}

    def load_state_dict(self, state: dict) -> None:
        self.fusion_history = [float(x) for x in state.get('fusion_history', [])]
        self.csc_history = [float(x) for x in state.get('csc_history', [])]


def grad_norm(loss: torch.Tensor, params: Iterable[torch.Tensor]) -> torch.Tensor:
    """``sqrt(sum_i ||d loss / d theta_i||^2)`` over ``params`` (0-d, detached); keeps the graph."""
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError('grad_norm: no parameter requires grad; the shared parameters must be trainable')
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    sq = [g.detach().pow(2).sum() for g in grads if g is not None]
    return torch.sqrt(torch.stack(sq).sum()) if sq else loss.new_zeros(())


# --------------------------------------------------------------------------- two-stage training


class StageSwitch:
    """Two-stage training (Section III-C): stage 1 until the epoch-mean fusion loss first rises.

    :meth:`update` takes each epoch's mean ``L_fusion``; the first time ``L^j > L^{j-1}`` the stage becomes
    2 and stays 2. With ``two_stage=False`` (ablation "w/o 2-stage") the stage is 2 from the start.
    ``min_stage1_epochs`` (default 0, the paper's rule) ignores rises before that many epochs: with small
    batches on a CPU the epoch loss is noisy and the paper's rule can fire after two epochs, before the
    fusion model has learned anything.

    Example:
        >>> s = StageSwitch()
        >>> [s.update(x) for x in (5.0, 4.0, 4.5, 3.0)]
        [1, 1, 2, 2]
    """

    def __init__(self, two_stage: bool = True, min_stage1_epochs: int = 0):
        self.two_stage = bool(two_stage)
        self.min_stage1_epochs = int(min_stage1_epochs)
        self.history: list[float] = []
        self.switch_epoch: int | None = None  # index into ``history`` of the epoch that switched

    @property
    def stage(self) -> int:
        return 2 if (not self.two_stage or self.switch_epoch is not None) else 1

    def update(self, epoch_fusion_loss: float) -> int:
        """Record one epoch's mean fusion loss; returns the stage for the next epoch."""
        value = float(epoch_fusion_loss)
        if not math.isfinite(value):
            raise ValueError(f'StageSwitch: the epoch fusion loss is {value}; training diverged (lower the '
                             'learning rate or check the inputs for NaN)')
        self.history.append(value)
        if (self.stage == 1 and len(self.history) >= max(2, self.min_stage1_epochs)
                and self.history[-1] > self.history[-2]):
            self.switch_epoch = len(self.history) - 1
        return self.stage

    def state_dict(self) -> dict:
        return {'history': list(self.history), 'switch_epoch': self.switch_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.history = [float(x) for x in state.get('history', [])]
        self.switch_epoch = state.get('switch_epoch')


# --------------------------------------------------------------------------- the objective


@dataclass
class SSVIFConfig:
    """The SSVIF framework's settings (the fusion model has its own config).

    n_classes: classes of both segmentation branches (paper: 15).
    seg_model: SegFormer encoder of S (paper ``'mit_b3'``; default ``'mit_b0'``, small).
    head: the segmentation head H (its ``n_classes`` is overridden by ``n_classes``).
    use_csc: False is the ablation "w/o L_csc" (H and S are not built; fusion loss only).
    two_stage: False is the ablation "w/o 2-stage" (stage II from the first step).
    weighting: ``'gdwa'`` (paper), ``'dwa'`` or ``'fixed'`` (``w_csc = fixed_w_csc``).
    temperature: T of GDWA/DWA (not given in the paper; 2 as in DWA).
    shared: GDWA's shared parameters, ``'fusion'`` (all of F, default) or ``'backbone'`` (``F.backbone``).
    grad_norm_every: recompute GDWA's gradient norms every this many stage-II training steps (1: each
        step, as the paper; larger saves two partial backward passes per skipped step).
    csc_eps: Dice smoothing in L_csc.
    min_stage1_epochs: stage II cannot start before this many epochs (0: the paper's rule alone).
    fusion_loss: weights and options of L_fusion.
    """
    n_classes: int = 15
    seg_model: str = 'mit_b0'
    head: SegmentationHeadConfig = field(default_factory=SegmentationHeadConfig)
    use_csc: bool = True
    two_stage: bool = True
    weighting: Literal['gdwa', 'dwa', 'fixed'] = 'gdwa'
    fixed_w_csc: float = 0.1
    temperature: float = 2.0
    shared: Literal['fusion', 'backbone'] = 'fusion'
    grad_norm_every: int = 1
    csc_eps: float = 1e-5
    min_stage1_epochs: int = 0
    fusion_loss: FusionLossConfig = field(default_factory=FusionLossConfig)

    def __post_init__(self):
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f'SSVIFConfig.weighting must be one of {WEIGHTINGS}, got {self.weighting!r}')
        if self.shared not in ('fusion', 'backbone'):
            raise ValueError(f"SSVIFConfig.shared must be 'fusion' or 'backbone', got {self.shared!r}")
        if self.n_classes < 2:
            raise ValueError(f'SSVIFConfig.n_classes must be >= 2, got {self.n_classes}')
        if self.grad_norm_every < 1:
            raise ValueError(f'SSVIFConfig.grad_norm_every must be >= 1, got {self.grad_norm_every}')

    @classmethod
    def from_dict(cls, d: dict) -> 'SSVIFConfig':
        """From a plain dict (YAML): nested ``head`` and ``fusion_loss`` dicts; unknown keys refused."""
        d = dict(d)
        if isinstance(d.get('head'), dict):
            d['head'] = dataclass_from_dict(SegmentationHeadConfig, d['head'])
        if isinstance(d.get('fusion_loss'), dict):
            d['fusion_loss'] = FusionLossConfig.from_dict(d['fusion_loss'])
        return dataclass_from_dict(cls, d)


class SSVIFObjective(nn.Module):
    """Fusion model F, segmentation head H and segmentation model S with the SSVIF losses (Eq. 2).

    Args:
        fusion_model: F, called as ``F(rgb, thermal)`` and returning a dict with ``fused (B, 3, H, W)``
            in [0, 1] and ``features (B, C, h, w)`` (e.g. ``fusion_ros.models.ssvif.SSVIFFusionNet``).
            ``C`` is read from ``F.feature_channels`` or, failing that, from one dry run.
        config: :class:`SSVIFConfig` (or a plain dict).
        head, seg_model: replace H or S (tests use small ones); built from ``config`` when None.

    ``forward(rgb (B, 3, H, W), thermal (B, 1, H, W), stage=None)`` (float in [0, 1]; ``stage`` None
    uses :attr:`stage`) returns a dict of 0-d tensors; only ``loss`` carries gradients:

    * ``loss``: stage I ``L_fusion``; stage II ``L_fusion + w_csc L_csc`` (H and S only run in stage II,
      and only with ``use_csc``);
    * ``fusion`` and its terms ``intensity``, ``gradient``, ``ssim``, ``color``;
    * ``csc``, ``w_csc``, ``lambda_fusion``, ``lambda_csc`` (0 when the CSC task is off this step), and in
      stage II ``agreement`` (fraction of pixels where A and B agree) and, for GDWA, the gradient norms
      ``g_fusion``, ``g_csc`` last computed;
    * ``stage``.

    In ``train()`` mode with gradients enabled each call also adds its losses to the epoch's running
    means; :meth:`end_epoch` closes the epoch: it feeds the mean fusion loss to the stage switch and both
    means to the weighting (descent rates). The optimiser should hold ``objective.parameters()`` (F, H,
    S); in stage I H and S get no gradients, and optimisers such as Adam leave them untouched.
    Stage switch and loss histories are part of ``state_dict()`` (as plain lists), so a checkpoint
    resumes in the right stage.
    """

    def __init__(self, fusion_model: nn.Module, config: SSVIFConfig | dict | None = None,
                 head: nn.Module | None = None, seg_model: nn.Module | None = None):
        super().__init__()
        if isinstance(config, dict):
            config = SSVIFConfig.from_dict(config)
        self.config = cfg = config or SSVIFConfig()
        self.fusion_model = fusion_model
        self.head = self.seg_model = None
        if cfg.use_csc:
            self.head = head if head is not None else SegmentationHead(
                _feature_channels(fusion_model), cfg.n_classes, cfg.head.width)
            self.seg_model = seg_model if seg_model is not None else build_segmentation_model(
                cfg.seg_model, cfg.n_classes)
        self.stage_switch = StageSwitch(cfg.two_stage, cfg.min_stage1_epochs)
        self.weighting = LossWeighting(cfg.weighting, cfg.temperature, cfg.fixed_w_csc)
        self._grad_norms: tuple[float, float] | None = None
        self._stage2_steps = 0
        self._reset_epoch()

    @property
    def stage(self) -> int:
        """1 or 2: the stage the next training step runs in."""
        return self.stage_switch.stage

    def shared_parameters(self) -> list[nn.Parameter]:
        """GDWA's shared parameters: all of F (``shared='fusion'``) or ``F.backbone`` (``'backbone'``)."""
        if self.config.shared == 'backbone':
            backbone = getattr(self.fusion_model, 'backbone', None)
            if not isinstance(backbone, nn.Module):
                raise AttributeError(f"SSVIFConfig.shared='backbone' needs a fusion model with a .backbone "
                                     f'module; {type(self.fusion_model).__name__} has none: '
                                     "use shared='fusion'")
            return [p for p in backbone.parameters() if p.requires_grad]
        return [p for p in self.fusion_model.parameters() if p.requires_grad]

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor,
                stage: int | None = None) -> dict[str, torch.Tensor]:
        stage = self.stage if stage is None else int(stage)
        if stage not in (1, 2):
            raise ValueError(f'SSVIFObjective: stage must be 1 or 2, got {stage}')
        out = self.fusion_model(rgb, thermal)
        fused, features = out['fused'], out['features']
        c = self.config.fusion_loss
        fl = fusion_loss(fused, rgb, thermal, **c.kwargs())
        l_fusion = fl['loss']
        result = {k: v.detach() for k, v in fl.items() if k != 'loss'}
        result['fusion'] = l_fusion.detach()
        zero = l_fusion.new_zeros(())
        recording = self.training and torch.is_grad_enabled()
        if self.config.use_csc and stage == 2:
            cl = csc_loss(self.head(features), self.seg_model(fused), eps=self.config.csc_eps)
            l_csc = cl['loss']
            w = self._weight(l_fusion, l_csc, recording)
            loss = l_fusion + w * l_csc
            lam_f, lam_c = self.weighting.lambdas(*(self._grad_norms or (None, None)))
            result.update(csc=l_csc.detach(), w_csc=zero + w, lambda_fusion=zero + lam_f,
                          lambda_csc=zero + lam_c, agreement=cl['agreement'])
            if self._grad_norms is not None:
                result.update(g_fusion=zero + self._grad_norms[0], g_csc=zero + self._grad_norms[1])
        else:
            l_csc = None
            loss = l_fusion
            result.update(csc=zero, w_csc=zero, lambda_fusion=zero + 1.0, lambda_csc=zero)
        if recording:
            self._epoch_fusion = self._epoch_fusion + l_fusion.detach()
            self._epoch_steps += 1
            if l_csc is not None:
                self._epoch_csc = self._epoch_csc + l_csc.detach()
                self._epoch_csc_steps += 1
        result['loss'] = loss
        result['stage'] = zero + stage
        return result

    def _weight(self, l_fusion: torch.Tensor, l_csc: torch.Tensor, recording: bool) -> float:
        """w_csc for this step; GDWA's gradient norms are computed on training steps only."""
        if self.weighting.needs_grad_norms and recording:
            if self._grad_norms is None or self._stage2_steps % self.config.grad_norm_every == 0:
                params = self.shared_parameters()
                self._grad_norms = (float(grad_norm(l_fusion, params)), float(grad_norm(l_csc, params)))
            self._stage2_steps += 1
        return self.weighting.w_csc(*(self._grad_norms or (None, None)))

    def end_epoch(self) -> dict:
        """Close a training epoch: update the stage switch and the descent-rate histories.

        Returns:
            dict ``stage`` (for the next epoch), ``switched`` (True on the epoch that ended stage I),
            ``fusion`` and ``csc`` (the epoch means; ``csc`` None without CSC steps), ``r_fusion``, ``r_csc``.
        """
        if self._epoch_steps == 0:
            raise RuntimeError('SSVIFObjective.end_epoch: no training step since the last call; call the '
                               'objective in train() mode with gradients enabled before ending an epoch')
        fusion = float(self._epoch_fusion) / self._epoch_steps
        csc = float(self._epoch_csc) / self._epoch_csc_steps if self._epoch_csc_steps else None
        before = self.stage
        self.stage_switch.update(fusion)
        self.weighting.record_epoch(fusion, csc)
        self._reset_epoch()
        r_f, r_c = self.weighting.descent_rates()
        return {'stage': self.stage, 'switched': before == 1 and self.stage == 2, 'fusion': fusion,
                'csc': csc, 'r_fusion': r_f, 'r_csc': r_c}

    def _reset_epoch(self) -> None:
        self._epoch_fusion = torch.zeros(())
        self._epoch_csc = torch.zeros(())
        self._epoch_steps = self._epoch_csc_steps = 0

    def get_extra_state(self) -> dict:
        return {'stage_switch': self.stage_switch.state_dict(), 'weighting': self.weighting.state_dict()}

    def set_extra_state(self, state: dict) -> None:
        self.stage_switch.load_state_dict(state.get('stage_switch', {}))
        self.weighting.load_state_dict(state.get('weighting', {}))


def _feature_channels(fusion_model: nn.Module) -> int:
    """C of the fusion model's ``features``: ``feature_channels`` if it has one, else one dry run at 64x64."""
    c = getattr(fusion_model, 'feature_channels', None)
    if isinstance(c, int):
        return c
    p = next(fusion_model.parameters())
    with torch.no_grad():
        out = fusion_model(torch.zeros(1, 3, 64, 64, device=p.device),
                           torch.zeros(1, 1, 64, 64, device=p.device))
    if not isinstance(out, dict) or 'features' not in out:
        raise TypeError(f'SSVIFObjective: the fusion model must return a dict with "fused" and "features"; '
                        f'{type(fusion_model).__name__} returned {type(out).__name__}')
    return int(out['features'].shape[1])


__all__ = ['LossWeighting', 'PaddedSegmenter', 'SSVIFConfig', 'SSVIFObjective', 'SegmentationHead',
           'SegmentationHeadConfig', 'StageSwitch', 'build_segmentation_model', 'descent_rate',
           'dwa_weights', 'gdwa_weights', 'grad_norm']
