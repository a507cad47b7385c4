"""Alignment accuracy of ``fusion_ros.registration.register`` (what ``fusion-ros align`` and the node's
``stn`` mode run) on the EPFL RGB-NIR pairs.

    .venv/bin/python bench/bench_align.py [--data ../shared/data] [--categories field,forest,...]
        [--limit N] [--out out/bench_align] [--record BENCHMARKS.md]

* warped categories (``field``, ``forest``, ``indoor``, ``oldbuilding``): the NIR image was affine-warped on
  purpose; ``NNNN_nir.npy`` is the true RGB-to-NIR pixel matrix. Corner error: mean distance (px) of the
  four RGB image corners mapped by the estimated and by the true transform (the protocol of
  ``bench/papers_tables.py``).
* ``country``: pairs registered as shipped (true transform: the identity). Displacement: the largest
  distance (px) any of the four corners moves; the target is <= 1 px.

Prints one Markdown table (per category: median / max corner error, pairs above 10 px, median / max
displacement of the registered pairs, time per pair), writes ``OUT/per_pair.csv`` and with ``--record``
appends the section to the given file.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from benchlib import append_record, machine
from fusion_ros.io import read_pair
from fusion_ros.registration import RegisterConfig, corner_distances, register

DATA = Path(__file__).resolve().parents[2] / 'shared' / 'data'
WARPED = ('field', 'forest', 'indoor', 'oldbuilding')
REGISTERED = ('country',)
FAIL_PX = 10.0
MOVE_PX = 1.0


def pairs(root: Path, categories: list[str], limit: int | None):
    """``(category, stem, rgb_path, nir_path, gt_or_None)`` for the rgbnir pairs, sorted."""
    for cat in categories:
        folder = root / cat
        if not folder.is_dir():
            raise FileNotFoundError(f'{folder}: no such folder; give --data the folder that holds rgbnir/')
        stems = sorted(p.name[:-len('_rgb.jpg')] for p in folder.glob('*_rgb.jpg'))[:limit]
        for stem in stems:
            npy = folder / f'{stem}_nir.npy'
            gt = np.load(npy).astype(np.float64) if npy.is_file() else None
            if cat in WARPED and gt is None:
                raise FileNotFoundError(f'{npy}: the warped pair has no ground-truth matrix')
            yield cat, stem, folder / f'{stem}_rgb.jpg', folder / f'{stem}_nir.jpg', gt


def run(args) -> list[dict]:
    config = RegisterConfig()
    rows = []
    items = list(pairs(args.data / 'rgbnir', args.categories, args.limit))
    for i, (cat, stem, rgb_path, nir_path, gt) in enumerate(items, 1):
        pair = read_pair(rgb_path, nir_path)
        t0 = time.perf_counter()
        reg = register(pair.rgb, pair.thermal, config)
        seconds = time.perf_counter() - t0
        size = pair.rgb.shape[:2]
        est = np.linalg.inv(reg.rgb_from_thermal)  # thermal_from_rgb in pixels, as the ground truth
        truth = np.eye(3) if gt is None else np.vstack([gt, [0.0, 0.0, 1.0]])
        d = corner_distances(est, truth, size)
        row = {'category': cat, 'pair': stem, 'corner_err_px': float(d.mean()),
               'max_corner_px': float(d.max()), 'kept_identity': reg.kept_identity, 'agreement': reg.agreement,
               'identity_agreement': reg.identity_agreement, 'time_s': seconds, 'reason': reg.reason}
        rows.append(row)
        if not args.quiet:
            print(f'[{i}/{len(items)}] {cat}/{stem}: corner error {row["corner_err_px"]:.2f} px '
                  f'(max corner {row["max_corner_px"]:.2f}), {seconds:.2f} s; {reg.reason}', flush=True)
    return rows


def table(rows: list[dict]) -> list[str]:
    lines = ['| category | pairs | median corner error (px) | max (px) | above 10 px | '
             'registered pairs: median / max corner movement (px) | moved > 1 px | time per pair (s) |',
             '|---|---|---|---|---|---|---|---|']
    cats = list(dict.fromkeys(r['category'] for r in rows))
    for cat in cats + (['all warped'] if sum(c in WARPED for c in cats) > 1 else []):
        rs = [r for r in rows if r['category'] == cat or (cat == 'all warped' and r['category'] in WARPED)]
        t = statistics.median(r['time_s'] for r in rs)
        if cat in REGISTERED:
            mv = [r['max_corner_px'] for r in rs]
            lines.append(f'| {cat} (registered) | {len(rs)} | - | - | - | {statistics.median(mv):.2f} / '
                         f'{max(mv):.2f} | {sum(m > MOVE_PX for m in mv)}/{len(rs)} | {t:.2f} |')
        else:
            err = [r['corner_err_px'] for r in rs]
            lines.append(f'| {cat} | {len(rs)} | {statistics.median(err):.2f} | {max(err):.2f} | '
                         f'{sum(e > FAIL_PX for e in err)}/{len(rs)} | - | - | {t:.2f} |')
    return lines


def moved_list(rows: list[dict]) -> list[str]:
    moved = [r for r in rows if r['category'] in REGISTERED and r['max_corner_px'] > MOVE_PX]
    if not moved:
        return []
    out = ['Registered pairs moved by more than 1 px (corner movement; the guard\'s edge agreement of the '
           'transform vs the identity):', '']
    for r in sorted(moved, key=lambda r: -r['max_corner_px']):
        out.append(f"- {r['category']}/{r['pair']}: {r['max_corner_px']:.1f} px, agreement "
                   f"{r['agreement']:.3f} vs {r['identity_agreement']:.3f}")
    return out


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def command_line() -> str:
    args = ''.join(' ' + shlex.quote(a) for a in sys.argv[1:])
    return '.venv/bin/python bench/' + Path(sys.argv[0]).name + args


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', type=Path, default=DATA, help='the shared data folder (holds rgbnir/)')
    ap.add_argument('--categories', default=','.join(WARPED + REGISTERED),
                    help='comma-separated rgbnir categories (default: all five)')
    ap.add_argument('--limit', type=int, help='at most N pairs per category')
    ap.add_argument('--out', type=Path, default=Path('out/bench_align'), help='folder for per_pair.csv')
    ap.add_argument('--record', type=Path, help='append the results to this Markdown file (BENCHMARKS.md)')
    ap.add_argument('--quiet', action='store_true', help='no line per pair')
    args = ap.parse_args(argv)
    args.categories = [c for c in args.categories.split(',') if c]

    rows = run(args)
    write_csv(rows, args.out / 'per_pair.csv')
    c = RegisterConfig()
    method = (f'Method (`fusion_ros.registration`, defaults): global search over rotations '
              f'+-{c.max_rotation_deg:g} deg (step {c.rotation_step_deg:g}) x {c.scale_steps} scales '
              f'{c.scale_range[0]:g}-{c.scale_range[1]:g} with the translation by FFT cross-correlation of '
              f'doubled-angle gradient-orientation fields on a {c.search_size} px copy, then affine ECC on the '
              f'same fields at {", ".join(map(str, c.refine_sizes))} px, then the guard (a clear search match '
              f"and an edge agreement at least x{c.min_gain:g} the identity's; below x{c.edge_check_below:g} "
              f"also Canny edges met at least x{c.min_edge_gain:g} the identity's; else identity). Corner error: "
              'mean distance of the four image corners mapped by the estimated and the true transform (warped '
              'pairs); corner movement: the largest distance a corner moves (registered `country` pairs, true '
              'transform: identity).')
    lines = [f'## Alignment: global search + ECC refinement (`fusion-ros align`), {datetime.date.today()}', '',
             f'Command: `{command_line()}` (per-pair results in `{args.out}/per_pair.csv`). '
             f'Machine: {machine()}; the CPU was shared with other jobs, so times are indicative only.', '',
             method, '', *table(rows), '', *moved_list(rows)]
    text = '\n'.join(lines).rstrip() + '\n'
    print(text)
    append_record(args.record, text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
