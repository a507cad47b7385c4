"""Per-scene single-example fusion (paper 000, Algorithm 1): train a tiny CNN on the pair itself.

``fit_scene(rgb, thermal)`` aligns the thermal image (an affine transform: :func:`fusion_ros.registration.register`,
or paper 000's STN trained end to end), trains the compact CNN with
SSIM + edge-preservation losses against both inputs, fuses in gray and colours the result back from the
visible image (:func:`fusion_ros.imaging.colorize`: the visible chroma by default, the paper's
``RGB * GrayFusion / GRAY`` in its recipe). ``SceneFitConfig.paper()`` is the paper's recipe (300
full-resolution epochs); the default recipe trains on a reduced working copy with a short, well-scheduled
run and
then applies the learned weights and transform at full resolution (the net is fully convolutional
and the STN's transform is in resolution-free normalised coordinates).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from fusion_ros.align import theta_to_pixels, warp_affine
from fusion_ros.device import resolve_device
from fusion_ros.imaging import (COLOUR_MODES, ImageError, as_image_tensor, check_pair, colorize, resize_to,
                                rgb_to_gray, tensor_to_image)
from fusion_ros.losses.align import gradient_ncc_loss, normalized_gradient_loss
from fusion_ros.losses.scene import scene_loss
from fusion_ros.models.compact import init_as_average
from fusion_ros.models.scene import SceneFusionModel, SceneModelConfig
from fusion_ros.registration import RegisterConfig, Registration, register
from fusion_ros.training.loop import LoopConfig, LoopResult, Pacer, train_loop


ALIGN_LOSSES = {'ngf': normalized_gradient_loss, 'ncc': gradient_ncc_loss}


@dataclass
class SceneFitConfig:
    """How a per-scene fit runs. Defaults: the project's fast recipe; :meth:`paper` gives the paper's.

    epochs: optimiser steps of the fusion net on the pair (the paper's MaxEpoch).
    time_budget_s: stop training when this much wall time has passed (``None``: no limit); the
        result is still a complete fusion with the weights reached so far.
    init: ``'average'`` starts the net as plain averaging (:func:`init_as_average`), ``'random'`` as
        the paper (PyTorch's default init).
    crop_size, crops_per_step: train on this many random full-resolution crops per step (the net is
        fully convolutional); ``crop_size=None`` trains on the whole (working-size) image.
    work_size: longest side (pixels) of the working copy used when ``crop_size`` is None and by the
        alignment phase; ``None``: full size.
    lr, schedule: Adam learning rate; ``'cosine'`` decays it to 5 % over the run, ``'constant'`` keeps it.
    ssim_window, ssim_kind: SSIM window used by the loss (the scores always use Gaussian 11).
    edge_weight: weight of the edge-preservation term (1 in the paper).
    align_weight: weight of the STN's alignment loss when it is trained jointly (``align_epochs=0``).
    align_epochs: with an STN (``model.stn``): 0 trains the STN jointly with the fusion loss, end to
        end, as the paper does; otherwise an alignment phase registers the full-resolution pair first
        with :func:`fusion_ros.registration.register` (global rotation x scale x translation search,
        then ECC refinement with at most ``align_epochs`` iterations per level, then the guard that
        keeps the identity unless the transform is clearly better) and the transform is then fixed.
        This is the one registration of the project (``fusion-ros align`` runs the same).
    align_register: the rest of that registration's settings (:class:`RegisterConfig`).
    align_loss: the joint STN's alignment loss: ``'ngf'`` (normalised gradient fields: edge directions
        only) or ``'ncc'`` (correlation of gradient magnitudes); see ``fusion_ros.losses.align``.
    device: ``auto`` (cuda when present), ``cpu``, ``cuda:N``.
    duty: share of the wall time the training computes; below 1 it sleeps after each epoch as long as
        needed (:class:`fusion_ros.training.loop.Pacer`), so a node streaming meanwhile keeps its CPU.
    colour: how :attr:`SceneFit.fused` is coloured back (:data:`fusion_ros.imaging.COLOUR_MODES`):
        ``'ycbcr'`` keeps the visible chroma (the project's default), ``'ratio'`` is the paper's
        ``RGB * F / GRAY``. A trained net used later as a fusion model (the node's ``scene`` mode, a saved
        checkpoint) is coloured like every other method, ``'ycbcr'``.
    """
    model: SceneModelConfig = field(default_factory=lambda: SceneModelConfig(stn=False))
    epochs: int = 60
    time_budget_s: float | None = None
    init: str = 'average'
    crop_size: int | None = None
    crops_per_step: int = 4
    work_size: int | None = 256
    lr: float = 1e-3
    schedule: str = 'cosine'
    ssim_window: int = 11
    ssim_kind: str = 'gaussian'
    edge_weight: float = 1.0
    align_weight: float = 1.0
    align_epochs: int = 100
    align_register: RegisterConfig = field(default_factory=RegisterConfig)
    align_loss: str = 'ngf'
    device: str = 'auto'
    seed: int = 0
    duty: float = 1.0
    colour: str = 'ycbcr'

    def __post_init__(self):
        if not 0.0 < self.duty <= 1.0:
            raise ValueError(f'duty must lie in (0, 1], got {self.duty}')
        if self.epochs < 1:
            raise ValueError(f'epochs must be >= 1, got {self.epochs}')
        if self.work_size is not None and self.work_size < 32:
            raise ValueError(f'work_size must be >= 32 pixels (or None for full size), got {self.work_size}')
        if self.crop_size is not None and self.crop_size < 16:
            raise ValueError(f'crop_size must be >= 16 pixels (or None for whole images), got {self.crop_size}')
        if self.schedule not in ('cosine', 'constant'):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if self.init not in ('average', 'random'):
            raise ValueError(f"init must be 'average' or 'random', got {self.init!r}")
        if self.align_loss not in ALIGN_LOSSES:
            raise ValueError(f"align_loss must be one of {sorted(ALIGN_LOSSES)}, got {self.align_loss!r}")
        if self.align_epochs < 0:
            raise ValueError(f'align_epochs must be >= 0 (0: STN trained jointly), got {self.align_epochs}')
        if self.lr <= 0:
            raise ValueError(f'the learning rate must be > 0, got lr={self.lr}')
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ValueError(f'time_budget_s must be > 0 (or None), got {self.time_budget_s}')
        if self.colour not in COLOUR_MODES:
            raise ValueError(f'colour must be one of {COLOUR_MODES}, got {self.colour!r}')

    @classmethod
    def paper(cls, **overrides) -> 'SceneFitConfig':
        """Paper 000's recipe: random init, 300 full-resolution epochs on the whole image, constant
        Adam LR, Gaussian-11 SSIM, STN (when enabled) trained jointly end to end, colour
        ``RGB * F / GRAY``."""
        base = dict(init='random', crop_size=None, work_size=None, epochs=300, lr=1e-3, schedule='constant',
                    align_epochs=0, colour='ratio')
        base.update(overrides)
        return cls(**base)


@dataclass
class SceneFit:
    """What :func:`fit_scene` returns.

    fused: ``(H, W, 3)`` float32 in [0, 1], on the RGB grid.
    gray_fused: ``(H, W)`` float32 in [0, 1].
    thermal_registered: ``(H, W)`` float32, the thermal image warped onto the RGB grid.
    thermal_from_rgb: ``(2, 3)`` normalised theta (``affine_grid`` convention, see ``fusion_ros.align``).
    rgb_from_thermal: ``(3, 3)`` float64 pixel matrix: ``cv2.warpAffine(thermal, m[:2], (W, H))``
        registers the thermal image (in its original resolution) onto the RGB grid.
    registration: what the alignment phase found (None without one: no STN, or the STN trained jointly).
    align_rejected: the alignment phase kept the identity (``registration.reason`` says why).
    """
    fused: np.ndarray
    gray_fused: np.ndarray
    thermal_registered: np.ndarray
    thermal_from_rgb: np.ndarray
    rgb_from_thermal: np.ndarray
    model: SceneFusionModel
    loop: LoopResult
    registration: Registration | None
    kept_start: bool  # training did not lower the whole-image loss, so the starting weights were kept
    train_s: float
    total_s: float
    device: str
    align_rejected: bool = False


MIN_SIZE = 16  # smallest RGB side fit_scene accepts (the net's reflect padding and the SSIM window need room)


def _working_size(size: tuple[int, int], longest: int | None) -> tuple[int, int]:
    h, w = size
    if longest is None or max(h, w) <= longest:
        return h, w
    s = longest / max(h, w)
    return max(16, round(h * s)), max(16, round(w * s))


def _cosine(optimizer, steps: int):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))


def _random_crops(images: list[torch.Tensor], size: int, count: int, gen: torch.Generator) -> list[torch.Tensor]:
    """The same ``count`` random ``size`` x ``size`` windows of each ``(1, C, H, W)`` image, batched."""
    h, w = images[0].shape[-2:]
    size_h, size_w = min(size, h), min(size, w)
    ys = torch.randint(0, h - size_h + 1, (count,), generator=gen).tolist()
    xs = torch.randint(0, w - size_w + 1, (count,), generator=gen).tolist()
    return [torch.cat([im[..., y:y + size_h, x:x + size_w] for y, x in zip(ys, xs)]) for im in images]


def fit_scene(rgb, thermal, config: SceneFitConfig | None = None, *, progress: bool = False) -> SceneFit:
    """Train paper 000's per-scene model on one pair and fuse it.

    Args:
        rgb: ``(H, W, 3)`` float32 in [0, 1] (numpy) or ``(1, 3, H, W)`` tensor.
        thermal: ``(h, w)`` float32 in [0, 1] (numpy) or ``(1, 1, h, w)`` tensor; any resolution, it
            is resampled onto the RGB grid first.
        config: :class:`SceneFitConfig` (default: the fast recipe).
        progress: show progress bars.

    Returns:
        :class:`SceneFit` with the colour fusion, the trained model and the thermal-to-RGB transform.

    Raises:
        ImageError: inputs of the wrong shape or dtype, with NaN/inf or values outside [0, 1], or an RGB
            image smaller than ``MIN_SIZE`` pixels on a side.
        DivergedError: the loss became NaN/inf (the caller keeps its previous model).
    """
    config = config or SceneFitConfig()
    t_start = time.perf_counter()
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    rgb_t = as_image_tensor(rgb, 3, 'rgb', device)
    th_t = as_image_tensor(thermal, 1, 'thermal', device)
    full_size = tuple(rgb_t.shape[-2:])
    if min(full_size) < MIN_SIZE:
        raise ImageError(f'rgb: {full_size[0]} x {full_size[1]} pixels is too small for per-scene fusion; '
                         f'give at least {MIN_SIZE} x {MIN_SIZE}')
    th_t = resize_to(th_t, full_size)
    check_pair(rgb_t, th_t)
    gray = rgb_to_gray(rgb_t)

    model = SceneFusionModel(config.model)
    if config.init == 'average':
        init_as_average(model.fusion, seed=config.seed)
    model = model.to(device).train()
    work = _working_size(full_size, config.work_size)
    gray_w, th_w = resize_to(gray, work), resize_to(th_t, work)
    # Blur scales of the joint STN's alignment loss, in working-copy pixels (about 2 %, 1 % and 0.5 % of the side).
    sigmas = tuple(max(0.75, max(work) * f) for f in (0.02, 0.01, 0.005))

    def remaining():
        if config.time_budget_s is None:
            return None
        return max(1e-3, config.time_budget_s - (time.perf_counter() - t_start))

    registration = None
    joint_stn = model.stn is not None and config.align_epochs == 0
    fixed_theta = None
    if model.stn is not None and not joint_stn:  # register once at full resolution; the transform is then fixed
        registration = register(tensor_to_image(gray), tensor_to_image(th_t),
                                replace(config.align_register, refine_iters=config.align_epochs))
        fixed_theta = torch.from_numpy(registration.thermal_from_rgb).to(device=device, dtype=th_t.dtype)[None]

    if config.crop_size is None:
        sources = (th_w, gray_w)
    else:
        sources = (th_t, gray)
    if fixed_theta is not None:  # register once; the fusion phase then sees aligned inputs
        with torch.no_grad():
            sources = (warp_affine(sources[0], fixed_theta, tuple(sources[1].shape[-2:]), padding_mode='border')[0],
                       sources[1])
    window_cap = min(config.crop_size or 10 ** 9, *sources[1].shape[-2:])
    window = min(config.ssim_window, window_cap // 2 * 2 - 1)

    def objective(_batch):
        th_s, gray_s = sources
        if joint_stn:  # paper: STN trained end to end with the fusion loss (+ the alignment term)
            out = model(th_s, gray_s)
        else:
            if config.crop_size is not None:
                th_s, gray_s = _random_crops([th_s, gray_s], config.crop_size, config.crops_per_step, gen)
            out = {'fused': model.fusion(torch.cat([th_s, gray_s], dim=1)), 'thermal_registered': th_s}
        losses = scene_loss(out['fused'], out['thermal_registered'], gray_s, edge_weight=config.edge_weight,
                            window_size=window, window=config.ssim_kind)
        if joint_stn and config.align_weight > 0:
            align = ALIGN_LOSSES[config.align_loss](out['thermal_registered'], gray_s, out['valid'], sigmas).mean()
            losses['align'] = align
            losses['loss'] = losses['loss'] + config.align_weight * align
        return losses

    def working_loss() -> float:
        """The fusion loss of the current model on the whole working copy (for the keep-best guard)."""
        with torch.no_grad():
            th_s = sources[0] if config.crop_size is None else resize_to(sources[0], work)
            fused = model.fusion(torch.cat([th_s, gray_w], dim=1))
            return float(scene_loss(fused, th_s, gray_w, edge_weight=config.edge_weight,
                                    window_size=min(config.ssim_window, min(work) // 2 * 2 - 1))['loss'])

    guard = not joint_stn
    if guard:
        start_state = copy.deepcopy(model.fusion.state_dict())
        start_loss = working_loss()
    params = model.parameters() if joint_stn else model.fusion.parameters()
    optimizer = torch.optim.Adam(params, lr=config.lr)
    scheduler = _cosine(optimizer, config.epochs) if config.schedule == 'cosine' else None
    loop_cfg = LoopConfig(max_epochs=config.epochs, time_budget_s=remaining(), progress=progress, desc='fit_scene')
    loop = train_loop(objective, optimizer, lambda epoch: (None,), loop_cfg, scheduler=scheduler,
                      pace=Pacer(config.duty))
    kept_start = False
    if guard and working_loss() > start_loss:  # training made it worse: keep the starting weights
        model.fusion.load_state_dict(start_state)
        kept_start = True
    train_s = time.perf_counter() - t_start

    model.eval()
    with torch.inference_mode():
        if joint_stn:
            fixed_theta = model.stn.theta(th_w, gray_w)
        out = model(th_t, gray, thermal_from_rgb=fixed_theta)
        fused = colorize(rgb_t, out['fused'], mode=config.colour)
    theta = out['thermal_from_rgb'][:1].cpu()
    th_size = tuple(thermal.shape[-2:]) if torch.is_tensor(thermal) else tuple(np.shape(thermal)[:2])
    rgb_from_thermal = np.linalg.inv(theta_to_pixels(theta, full_size, th_size)[0].numpy())
    return SceneFit(fused=tensor_to_image(fused), gray_fused=tensor_to_image(out['fused']),
                    thermal_registered=tensor_to_image(out['thermal_registered']),
                    thermal_from_rgb=theta[0].numpy(), rgb_from_thermal=rgb_from_thermal, model=model,
                    loop=loop, registration=registration, kept_start=kept_start,
                    align_rejected=bool(registration is not None and registration.kept_identity),
                    train_s=train_s,
                    total_s=time.perf_counter() - t_start, device=str(device))
