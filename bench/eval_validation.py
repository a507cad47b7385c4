"""A fusion checkpoint against the baselines on its training run's validation split (model selection).

    .venv/bin/python bench/eval_validation.py --model runs/blend/best.pt [--data D ...] [--every N]

Rebuilds the run's split (fusion_ros.data.plan_split, seed 0, 9:1, test split excluded as in training), fuses
the validation pairs (at most 1024 px) with the baselines and the checkpoint, and prints the field metrics
(CDDFuse convention). Used to choose checkpoints and loss weights without looking at the test split.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from fusion_ros.data import find_sources, plan_split
from fusion_ros.evaluate import EvalConfig, build_methods, make_pair, markdown_summary, run_methods, summarize
from fusion_ros.io import read_pair
from fusion_ros.splits import exclude_test

ROOT = Path(__file__).resolve().parents[1]
DATA = [ROOT.parent / 'shared/data' / d for d in ('m3fd', 'roadscene', 'tno', 'rgbnir/country')]
METRICS = ['MI', 'VIF', 'Qabf', 'SSIM', 'DeltaE']


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', type=Path, required=True)
    ap.add_argument('--data', nargs='+', type=Path, default=DATA)
    ap.add_argument('--methods', nargs='+', default=['max', 'guided', 'ssvif'])
    ap.add_argument('--every', type=int, default=1)
    ap.add_argument('--max-size', type=int, default=1024)
    args = ap.parse_args()
    pairs, bags = find_sources(args.data)
    split = plan_split(exclude_test(pairs), bags, val_fraction=0.1, seed=0)
    val = split.val_pairs[::args.every]
    methods, skipped = build_methods(args.methods, EvalConfig(methods=tuple(args.methods), model_path=args.model))

    def gen():
        for p in val:
            arr = read_pair(p.rgb, p.thermal)
            yield make_pair(f'{p.scene}/{p.stem}', 'val', arr.rgb, arr.thermal, args.max_size)

    result = run_methods(gen(), methods, METRICS, total=len(val), progress=False, examples=0)
    print(f'{len(val)} validation pairs ({split.description}); model {args.model}')
    print(markdown_summary(summarize(result.rows, [*METRICS, 'time_s']), METRICS))


if __name__ == '__main__':
    main()
