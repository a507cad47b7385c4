"""The shipped SSVIF model on its own validation split, against plain averaging and per-scene training.

    .venv/bin/python bench/eval_shipped.py [--model models/ssvif_default.pt] [--out out/eval_shipped] [--record FILE]

Rebuilds the training run's 9:1 split (fusion_ros.data.plan_split with the run's seed and data, see
models/README.md), fuses each validation pair at most 640 px on its long side (as trained) with
``average``, ``scene`` (paper 000, default recipe) and ``ssvif``, and scores MI, VIF, Qabf, SSIM,
Delta-E (paper 004's Table II metrics) plus EN and paper 000's SSIM score, with fusion_ros.evaluate.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from benchlib import append_record
from fusion_ros.data import find_sources, plan_split
from fusion_ros.evaluate import EvalConfig, build_methods, make_pair, run_methods, write_tables
from fusion_ros.io import read_pair

ROOT = Path(__file__).resolve().parents[1]
DATA = [ROOT.parent / 'shared/data/roadscene', ROOT.parent / 'shared/data/tno', ROOT.parent / 'shared/data/rgbnir/country']
METRICS = ['MI', 'VIF', 'Qabf', 'SSIM', 'DeltaE', 'EN', 'SSIM_score']


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', type=Path, default=ROOT / 'models' / 'ssvif_default.pt')
    ap.add_argument('--data', nargs='+', type=Path, default=DATA)
    ap.add_argument('--max-size', type=int, default=640)
    ap.add_argument('--out', type=Path, default=Path('out/eval_shipped'))
    ap.add_argument('--record', type=Path)
    args = ap.parse_args()
    pairs, bags = find_sources(args.data)
    split = plan_split(pairs, bags, val_fraction=0.1, seed=0)
    config = EvalConfig(methods=('average', 'scene', 'ssvif'), metrics=tuple(METRICS), model_path=args.model)
    methods, skipped = build_methods(config.methods, config)
    for s in skipped:
        print(s)

    def eval_pairs():
        for p in split.val_pairs:
            arr = read_pair(p.rgb, p.thermal)
            yield make_pair(f'{p.scene}/{p.stem}', p.scene, arr.rgb, arr.thermal, args.max_size)

    result = run_methods(eval_pairs(), methods, METRICS, total=len(split.val_pairs))
    header = (f'### Shipped SSVIF model on its validation split ({len(split.val_pairs)} pairs)\n\n'
              f'Command: `.venv/bin/python bench/eval_shipped.py`. Split: {split.description}. '
              f'Pairs at most {args.max_size} px on the long side. Scored as CDDFuse\'s evaluator does '
              '(8-bit images, rounded OpenCV gray; README, Metric conventions): MI in nats (sum over both '
              'sources), VIF and SSIM (skimage\'s) summed over both sources, Delta-E = mean CIEDE2000 '
              'between visible and fused RGB (lower is better), SSIM_score = paper 000 (mean over both '
              'sources, on the unquantised luma).\n\n')
    paths = write_tables(result, METRICS, args.out, header=header)
    text = paths['summary_md'].read_text()
    print(text)
    append_record(args.record, text)


if __name__ == '__main__':
    main()
