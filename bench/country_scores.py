"""Paper 000's scores of `fusion-ros fuse` methods over every pair of a folder (default: EPFL country).

    .venv/bin/python bench/country_scores.py [--folder DIR] [--methods scene average pca] [--record FILE]

Runs the same code path as `fusion-ros fuse --method M` (fusion_ros.methods.fuse_pair) at full
resolution and prints mean, standard deviation and the per-pair win rate of each method against the
first baseline listed after it.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from benchlib import append_record
from fusion_ros.io import read_pair
from fusion_ros.methods import fuse_pair
from fusion_ros.report import pair_scores

DEFAULT = Path(__file__).resolve().parents[2] / 'shared/data/rgbnir/country'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--folder', type=Path, default=DEFAULT)
    ap.add_argument('--methods', nargs='+', default=['scene', 'average', 'pca'])
    ap.add_argument('--record', type=Path)
    args = ap.parse_args()
    pairs = sorted(args.folder.glob('*_rgb.*'))
    scores = {m: [] for m in args.methods}
    times = {m: [] for m in args.methods}
    for rgb_path in tqdm(pairs, desc='pairs'):
        ir_path = next(args.folder.glob(rgb_path.name.split('_rgb.')[0] + '_nir.*'))
        pair = read_pair(rgb_path, ir_path)
        for m in args.methods:
            t0 = time.perf_counter()
            fused = fuse_pair(m, pair.rgb, pair.thermal).fused
            times[m].append(time.perf_counter() - t0)
            scores[m].append(pair_scores(pair.rgb, pair.thermal, fused))
    ref = args.methods[0]
    lines = [f'### `{args.folder.name}`: {len(pairs)} pairs at full resolution', '',
             f'Command: `.venv/bin/python bench/country_scores.py --folder {args.folder} '
             f'--methods {" ".join(args.methods)}`', '',
             '| method | SSIM score | correlation | Canny | s / pair | pairs where ' + ref + ' scores higher (SSIM) |',
             '|---|---|---|---|---|---|']
    ref_ssim = np.array([s['ssim_score'] for s in scores[ref]])
    for m in args.methods:
        arr = {k: np.array([s[k] for s in scores[m]]) for k in ('ssim_score', 'correlation_score', 'canny_score')}
        wins = '' if m == ref else f'{int((ref_ssim > arr["ssim_score"]).sum())} / {len(pairs)}'
        lines.append(f'| {m} | {arr["ssim_score"].mean():.4f} ± {arr["ssim_score"].std():.4f} | '
                     f'{arr["correlation_score"].mean():.4f} | {arr["canny_score"].mean():.4f} | '
                     f'{np.mean(times[m]):.2f} | {wins} |')
    text = '\n'.join(lines) + '\n'
    print(text)
    append_record(args.record, text)


if __name__ == '__main__':
    main()
