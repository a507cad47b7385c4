"""~/train_scene 'adapt' on consecutive frames: does adapting to the scene help the frames that follow?

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_adapt.py [--blocks test unseen] [--record BENCHMARKS.md]

M3FD's ids are frame numbers of its recordings; ids less than 13 apart are nearby frames of one scene (a
"block"). For each block of at least 4 frames, as the node does on a stream: the shipped model fuses the
frames in order (thermal registered as the node would: resampled onto the RGB grid, at most 640 px), the
first three are the recent pairs (adapt trains on the third, judges on the first two,
:meth:`fusion_ros.engine.FusionEngine.adapt_scene` with the node's defaults), and the frames after them
(never seen by the training) are scored with the shipped model and with the model the engine has after
the call (the adapted one if it was accepted, else still the shipped one). Field metrics, CDDFuse convention.

Blocks: ``test`` (ids >= 02000: the fixed fusion test split), ``unseen`` (blocks below 02000 that were not
used to choose the adapt recipe: the recipe was chosen on every second block of at least four frames
among the first eight, ids 25, 147, 320, 434, 712, 857, 950 and 1204), ``dev`` (those eight).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from benchlib import append_record, machine
from fusion_ros.adapt import AdaptConfig
from fusion_ros.engine import FusionEngine, load_fusion_model
from fusion_ros.evaluate import make_pair, score
from fusion_ros.io import read_pair

ROOT = Path(__file__).resolve().parents[1]
M3FD = ROOT.parent / 'shared/data/m3fd'
METRICS = ['VIF', 'Qabf', 'SSIM', 'MI', 'DeltaE']
DEV_STARTS = (25, 147, 320, 434, 712, 857, 950, 1204)


def blocks(root: Path, gap: int = 12, min_len: int = 4) -> list[list[int]]:
    ids = sorted(int(p.stem) for p in (root / 'ir').glob('*.png'))
    out, cur = [], [ids[0]]
    for i in ids[1:]:
        if i - cur[-1] <= gap:
            cur.append(i)
        else:
            out.append(cur)
            cur = [i]
    out.append(cur)
    return [b for b in out if len(b) >= min_len]


def select(kind: str, all_blocks: list[list[int]]) -> list[list[int]]:
    if kind == 'test':
        return [b for b in all_blocks if b[0] >= 2000]
    if kind == 'dev':
        return [b for b in all_blocks if b[0] in DEV_STARTS]
    return [b for b in all_blocks if b[0] < 2000 and b[0] not in DEV_STARTS]


def load(i: int, max_size: int):
    arr = read_pair(M3FD / 'vi' / f'{i:05d}.jpg', M3FD / 'ir' / f'{i:05d}.png')
    return make_pair(f'm3fd/{i:05d}', 'm3fd', arr.rgb, arr.thermal, max_size)


def run_block(block: list[int], config: AdaptConfig, max_size: int) -> dict:
    engine = FusionEngine(load_fusion_model('ssvif'))
    shipped = engine.active
    frames = [load(i, max_size) for i in block]
    recent = []
    for f in frames[:config.pairs_needed]:
        out = engine.process(f.rgb, f.thermal, heads=False)
        recent.append((f.rgb, out.thermal_registered))
    result = engine.adapt_scene(recent, config)
    rows = []
    reference = FusionEngine(shipped.model)  # the shipped model, whatever the engine has now
    for f in frames[config.pairs_needed:]:
        before = score(f, reference.process(f.rgb, f.thermal, heads=False).fused, METRICS)
        after = score(f, engine.process(f.rgb, f.thermal, heads=False).fused, METRICS)
        rows.append((before, after))
    return dict(block=block, result=result, rows=rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--blocks', nargs='+', default=['test', 'unseen'], choices=['test', 'unseen', 'dev'])
    ap.add_argument('--max-size', type=int, default=640)
    ap.add_argument('--time-budget', type=float, default=AdaptConfig.time_budget_s)
    ap.add_argument('--loss', default='ssvif', choices=['ssvif', 'field'])
    ap.add_argument('--record', type=Path)
    args = ap.parse_args()
    config = AdaptConfig(time_budget_s=args.time_budget, loss=args.loss)
    all_blocks = blocks(M3FD)
    sections = []
    for kind in args.blocks:
        chosen = select(kind, all_blocks)
        lines = [f'| block (m3fd ids) | adapt s | steps | accepted | held-out VIF+Qabf+SSIM before -> after | '
                 f'following frames | ' + ' | '.join(f'{m} shipped -> after' for m in METRICS) + ' |',
                 '|' + '---|' * (6 + len(METRICS))]
        all_rows, seconds, accepted = [], [], 0
        for block in chosen:
            t0 = time.perf_counter()
            r = run_block(block, config, args.max_size)
            res = r['result']
            seconds.append(res.seconds)
            accepted += res.accepted
            all_rows += r['rows']
            held = (f"{sum(res.before.values()):.3f} -> {sum(res.after.values()):.3f}" if res.after else 'n/a')
            means = {m: (np.mean([b[m] for b, _ in r['rows']]), np.mean([a[m] for _, a in r['rows']]))
                     for m in METRICS}
            lines.append(f"| {'-'.join(map(str, (block[0], block[-1])))} ({len(block)}) | {res.seconds:.2f} | "
                         f"{res.epochs} | {'yes' if res.accepted else 'no'} | {held} | {len(r['rows'])} | "
                         + ' | '.join(f'{b:.4f} -> {a:.4f}' for b, a in means.values()) + ' |')
            print(lines[-1], f'({time.perf_counter() - t0:.0f} s)', flush=True)
        means = {m: (np.mean([b[m] for b, _ in all_rows]), np.mean([a[m] for _, a in all_rows])) for m in METRICS}
        lines.append(f'| **all {len(chosen)} blocks** | {np.mean(seconds):.2f} (max {np.max(seconds):.2f}) | | '
                     f'{accepted}/{len(chosen)} | | {len(all_rows)} | '
                     + ' | '.join(f'**{b:.4f} -> {a:.4f}**' for b, a in means.values()) + ' |')
        sections.append(f'### {kind} blocks\n\n' + '\n'.join(lines))
        print(lines[-1], flush=True)
    text = (f'## Issue 11: ~/train_scene adapt on the frames that follow, {time.strftime("%Y-%m-%d")}\n\n'
            f'Command: `OMP_NUM_THREADS=1 .venv/bin/python bench/bench_adapt.py --blocks {" ".join(args.blocks)}'
            f'{" --loss " + args.loss if args.loss != "ssvif" else ""}`. Machine: {machine()}. '
            f'Adapt settings: {config}. MI and Delta-E for information (adapt is judged on VIF, Qabf '
            'and SSIM: none lower, sum higher).\n\n'
            + '\n\n'.join(sections))
    print(text)
    append_record(args.record, text)


if __name__ == '__main__':
    torch.set_num_threads(1)
    main()
