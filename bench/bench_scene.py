"""Per-scene training speed: paper 000's recipe vs the project's default recipe, same 640x480 pair, one run.

    .venv/bin/python bench/bench_scene.py [--pair RGB IR] [--device cpu] [--repeats 5] [--record BENCHMARKS.md]

Prints both times and both SSIM scores (paper 000's definition) side by side, with plain averaging as
the quality reference, and with --record appends the table to BENCHMARKS.md. The first fit in a
process pays one-off start-up costs (torch's optimiser machinery imports about 1.4 s of modules);
it is run first and reported separately, then each recipe is timed warm.
"""
from __future__ import annotations

import argparse
import datetime
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from benchlib import append_record, machine
from fusion_ros.demo import SAMPLES
from fusion_ros.io import read_pair
from fusion_ros.methods import fuse_pair
from fusion_ros.report import pair_scores
from fusion_ros.scene import SceneFitConfig

DEFAULT_PAIR = (Path(__file__).resolve().parents[2] / 'shared/data/rgbnir/country/0003_rgb.jpg',
                Path(__file__).resolve().parents[2] / 'shared/data/rgbnir/country/0003_nir.jpg')


def load_640x480(rgb_path: Path, ir_path: Path):
    pair = read_pair(rgb_path, ir_path)
    rgb = cv2.resize(pair.rgb, (640, 480), interpolation=cv2.INTER_AREA)
    th = cv2.resize(pair.thermal, (640, 480), interpolation=cv2.INTER_AREA)
    return rgb, th


def timed_fit(rgb, th, config):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fuse_pair('scene', rgb, th, scene_config=config)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t0, pair_scores(rgb, th, out.fused)['ssim_score']



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--pair', nargs=2, type=Path, metavar=('RGB', 'IR'))
    ap.add_argument('--device', default='auto')
    ap.add_argument('--repeats', type=int, default=5, help='warm runs of the default recipe (median reported)')
    ap.add_argument('--paper-repeats', type=int, default=1)
    ap.add_argument('--record', type=Path, help='append the results to this Markdown file')
    args = ap.parse_args()

    rgb_path, ir_path = args.pair or DEFAULT_PAIR
    if not Path(rgb_path).is_file():  # no shared data: fall back to the bundled sample
        rgb_path, ir_path = SAMPLES / 'country_0003_rgb.jpg', SAMPLES / 'country_0003_thermal.png'
    rgb, th = load_640x480(rgb_path, ir_path)
    avg = pair_scores(rgb, th, fuse_pair('average', rgb, th).fused)['ssim_score']

    default = SceneFitConfig(device=args.device)
    paper = SceneFitConfig.paper(device=args.device)
    cold_s, _ = timed_fit(rgb, th, default)
    runs = {'default': [timed_fit(rgb, th, default) for _ in range(args.repeats)],
            'paper': [timed_fit(rgb, th, paper) for _ in range(args.paper_repeats)]}
    t_def = statistics.median(t for t, _ in runs['default'])
    t_pap = statistics.median(t for t, _ in runs['paper'])
    s_def = float(np.mean([s for _, s in runs['default']]))
    s_pap = float(np.mean([s for _, s in runs['paper']]))
    device = str(torch.device('cuda' if torch.cuda.is_available() and args.device != 'cpu' else 'cpu'))
    lines = [
        f'### Per-scene training, 640x480 pair `{Path(rgb_path).name}` ({datetime.date.today()})',
        '',
        f'Machine: {machine()}, device `{device}`. Command: `.venv/bin/python bench/bench_scene.py`.',
        '',
        '| recipe | what | time (s) | SSIM score |',
        '|---|---|---|---|',
        f'| paper | random init, 300 epochs at 640x480, Adam 1e-3 | {t_pap:.2f} '
        f'(median of {len(runs["paper"])}) | {s_pap:.4f} |',
        f'| default | averaging warm start, 60 epochs at 256 px long side, cosine Adam 1e-3, keep-best guard | '
        f'{t_def:.2f} (median of {len(runs["default"])}; first call in a process {cold_s:.2f}) | {s_def:.4f} |',
        f'| plain average | reference | - | {avg:.4f} |',
        '',
        f'Speed-up of the default recipe over the paper recipe: **{t_pap / t_def:.1f}x** '
        f'(SSIM score {s_def - s_pap:+.4f}).',
        '',
    ]
    text = '\n'.join(lines)
    print(text)
    append_record(args.record, text)


if __name__ == '__main__':
    main()
