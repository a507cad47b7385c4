"""Command-line options of the per-scene method, shared by the sub-commands that can run it."""
from __future__ import annotations

import argparse

RECIPES = ('fast', 'paper')


def add_scene_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group('per-scene training (--method scene)')
    g.add_argument('--recipe', choices=RECIPES, default='fast',
                   help="'fast': the project's default recipe; 'paper': paper 000's 300 full-size epochs")
    g.add_argument('--epochs', type=int, help='optimiser steps (overrides the recipe)')
    g.add_argument('--time-budget', type=float, metavar='S', help='stop training after S seconds')
    g.add_argument('--work-size', type=int, metavar='PX',
                   help='longest side of the working copy trained on (0 = full size)')
    g.add_argument('--variant', choices=('compact', 'unet'), default='compact',
                   help="'compact': paper 000's 1.4k-parameter CNN; 'unet': plus the UNet-ResNet18 branch")
    g.add_argument('--align', choices=('none', 'stn'), default='none',
                   help="'stn': learn an affine thermal-to-RGB transform (for pairs that are not registered)")
    g.add_argument('--device', default='auto', help="'auto' (GPU when present), 'cpu', 'cuda', 'cuda:N'")
    g.add_argument('--seed', type=int, default=0)


def scene_config_from_args(args) -> 'SceneFitConfig':  # noqa: F821 - imported lazily below
    from fusion_ros.models.compact import CompactFusionConfig
    from fusion_ros.models.scene import SceneModelConfig
    from fusion_ros.scene import SceneFitConfig

    model = SceneModelConfig(fusion=CompactFusionConfig(unet=args.variant == 'unet'), stn=args.align == 'stn')
    overrides = dict(model=model, device=args.device, seed=args.seed, time_budget_s=args.time_budget)
    if args.epochs is not None:
        overrides['epochs'] = args.epochs
    if args.work_size is not None:
        overrides['work_size'] = args.work_size or None
    return SceneFitConfig.paper(**overrides) if args.recipe == 'paper' else SceneFitConfig(**overrides)


