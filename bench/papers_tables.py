"""The two papers' tables on the project's data, through ``fusion_ros.evaluate``.

    .venv/bin/python bench/papers_tables.py [--data ../shared/data] [--parts p000-gt,p000-own,p000-paper,p004]
        [--limit N] [--paper-subset K] [--out out/papers] [--record BENCHMARKS.md]
    .venv/bin/python bench/papers_tables.py --from-csv --record BENCHMARKS.md  # the section, from a past run

* ``p000-gt``: paper 000's Tables 2-4 protocol (SSIM score, correlation score, Canny edge preservation,
  per category) on ``rgbnir/``. ``country`` is aligned as shipped; the warped categories (field, forest,
  indoor, oldbuilding) are first brought back onto the RGB image with the inverse of their ground-truth
  affine matrix, then every method fuses and is scored inside the largest axis-aligned box of valid
  (non-border) pixels.
* ``p000-own``: the same pairs, aligned by the project's own STN instead: ``fit_scene`` with
  ``SceneModelConfig(stn=True)`` on the unaligned full pair; ``scene`` is that fit's fusion, the baselines
  fuse the RGB image with the NIR image as the STN registered it. Everything is scored against the
  ground-truth-aligned NIR image in the same box (so alignment errors cost score). Also reports the
  STN's corner error: mean distance in pixels between the four RGB corners mapped by the estimated and
  by the true transform.
* ``p000-paper``: ``scene`` with paper 000's recipe (300 full-size epochs from a random init) on the first
  ``--paper-subset`` pairs of each category (default 1; slow on a CPU: minutes per pair).
* ``p004``: paper 004's Table II metrics (EN, MI, VIF, Qabf, SSIM, MS-SSIM, Delta-E) on ``roadscene``
  and ``tno`` at full size.

Each part writes ``OUT/<part>/`` (``per_image.csv``, ``summary.csv``, ``summary.md``, ``examples.png``);
``--record`` appends one Markdown section with every table, the command and a win/loss note to the file.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import math
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from benchlib import append_record, machine
from fusion_ros import registry
from fusion_ros.evaluate import (EvalPair, FuseMethod, build_methods, discover_pairs, fmt, folder_pairs,
                                 make_pair, markdown_summary, resolve_metrics, run_methods, summarize,
                                 write_tables)
from fusion_ros.imaging import image_to_tensor, tensor_to_image
from fusion_ros.io import read_pair
from fusion_ros.models.scene import SceneModelConfig
from fusion_ros.scene import SceneFitConfig, fit_scene

DATA = Path(__file__).resolve().parents[2] / 'shared' / 'data'
BASELINE_ORDER = registry.names('baseline')  # average, max, pca, laplacian, wavelet, guided
P000 = ['SSIM_score', 'Corr_score', 'Canny_score']
P000_TITLES = {'SSIM_score': 'Table 2: SSIM score', 'Corr_score': 'Table 3: correlation score',
               'Canny_score': 'Table 4: Canny edge preservation'}
# Paper 000's own figures for its "Country" category (its data: 954 EPFL pairs, about 900x768), for reference.
PAPER000_COUNTRY = {'SSIM_score': 'PCA 74.1, SuperPixel 81.5, theirs (SSIM+EP) 82.3',
                    'Corr_score': 'PCA 66.1, SuperPixel 75.9, theirs (SSIM+EP) 77.4',
                    'Canny_score': 'theirs (SSIM+EP) 53.6'}
PAPER_RECIPE = 'scene (paper recipe)'
PARTS = ('p000-gt', 'p000-own', 'p000-paper', 'p004')


@dataclass
class Part:
    """What a part gives: summary rows (``fusion_ros.evaluate.summarize``), a note, the per-image rows."""
    summary: list[dict]
    note: str
    rows: list[dict]

# --------------------------------------------------------------------------- ground-truth alignment


def largest_valid_box(mask: np.ndarray, block: int = 4) -> tuple[int, int, int, int]:
    """Largest axis-aligned rectangle of ``True`` pixels in ``mask (H, W)`` bool: ``(y0, y1, x0, x1)``.

    Searched on ``block`` x ``block`` cells that are entirely valid (so the box is valid at full size),
    with the maximal-rectangle-in-a-histogram method row by row.
    """
    h, w = mask.shape
    hb, wb = h // block, w // block
    cells = mask[:hb * block, :wb * block].reshape(hb, block, wb, block).all(axis=(1, 3))
    heights = np.zeros(wb, dtype=np.int64)
    best = (0, 0, 0, 0, 0)  # area, y0, y1, x0, x1 in cells
    for y in range(hb):
        heights = np.where(cells[y], heights + 1, 0)
        stack: list[int] = []
        for x in range(wb + 1):
            cur = heights[x] if x < wb else 0
            while stack and heights[stack[-1]] >= cur:
                top = stack.pop()
                left = stack[-1] + 1 if stack else 0
                area = heights[top] * (x - left)
                if area > best[0]:
                    best = (area, y - heights[top] + 1, y + 1, left, x)
            stack.append(x)
    if best[0] == 0:
        raise ValueError('no valid pixels: the ground-truth transform leaves nothing of the NIR image on the '
                         'RGB grid; check the NNNN_nir.npy matrix')
    _, y0, y1, x0, x1 = best
    return y0 * block, y1 * block, x0 * block, x1 * block


def gt_register(nir: np.ndarray, a: np.ndarray, size: tuple[int, int], erode: int = 3):
    """Bring the warped NIR ``(h, w)`` back onto the RGB grid ``size = (H, W)`` with the inverse of ``a``.

    ``a``: ``(2, 3)`` pixel matrix that maps RGB pixels onto the warped NIR image (the dataset's
    ``NNNN_nir.npy``). Returns the registered NIR ``(H, W)`` float32 and the validity mask (bool,
    eroded by ``erode`` px so JPEG-smeared border pixels are left out).
    """
    inv = cv2.invertAffineTransform(a)
    h, w = size
    reg = cv2.warpAffine(nir, inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    ones = np.ones(nir.shape[:2], np.float32)
    valid = cv2.warpAffine(ones, inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT) > 0.999
    if erode:
        valid = cv2.erode(valid.astype(np.uint8), np.ones((2 * erode + 1,) * 2, np.uint8)) > 0
    return reg.astype(np.float32), valid


def corner_error(est: np.ndarray, gt: np.ndarray, size: tuple[int, int]) -> float:
    """Mean distance (px) of the four RGB corners mapped by two ``(2|3, 3)`` RGB-to-NIR pixel matrices."""
    h, w = size
    c = np.array([[0, 0, 1], [w - 1, 0, 1], [w - 1, h - 1, 1], [0, h - 1, 1]], dtype=np.float64).T
    return float(np.linalg.norm(est[:2] @ c - gt[:2] @ c, axis=0).mean())


def rgbnir_files(root: Path, per_category: int | None = None) -> list:
    """The rgbnir pairs (``PairFiles``, category = folder), at most ``per_category`` of each."""
    files = []
    for f in discover_pairs(root, 'folder'):
        if per_category is None or sum(p.category == f.category for p in files) < per_category:
            files.append(f)
    return files


def rgbnir_pair(f) -> EvalPair:
    """One rgbnir pair on the RGB grid, aligned by the ground truth and cropped to its valid box.

    ``extra``: ``rgb_full``, ``nir_raw`` (as shipped, possibly warped), ``gt`` (2x3 RGB-to-NIR pixel matrix,
    identity for country) and ``box`` ``(y0, y1, x0, x1)``.
    """
    pr = read_pair(f.rgb, f.thermal)
    h, w = pr.rgb.shape[:2]
    npy = f.thermal.with_suffix('.npy')
    if npy.is_file():
        gt = np.load(npy).astype(np.float64)
        nir, valid = gt_register(pr.thermal, gt, (h, w))
        box = largest_valid_box(valid)
    else:
        gt = np.eye(2, 3)
        nir, box = pr.thermal, (0, h, 0, w)
    y0, y1, x0, x1 = box
    pair = make_pair(f.name, f.category, pr.rgb[y0:y1, x0:x1], nir[y0:y1, x0:x1])
    pair.extra = {'rgb_full': pr.rgb, 'nir_raw': pr.thermal, 'gt': gt, 'box': box}
    return pair

# --------------------------------------------------------------------------- the project's own alignment


@dataclass
class OwnAlignment:
    """One ``fit_scene`` with the STN per pair, shared by the methods of the ``own`` protocol."""
    config: SceneFitConfig = field(default_factory=lambda: SceneFitConfig(model=SceneModelConfig(stn=True)))
    _name: str | None = None
    _fit: object = None

    def fit(self, pair: EvalPair):
        if self._name != pair.name:
            self._fit = fit_scene(pair.extra['rgb_full'], pair.extra['nir_raw'], self.config)
            self._name = pair.name
        return self._fit


@dataclass
class OwnScene:
    """``scene`` with the STN on the unaligned pair; its fusion cropped to the ground-truth box."""
    align: OwnAlignment
    name: str = 'scene'

    def fuse(self, pair):
        from fusion_ros.align import theta_to_pixels
        fit = self.align.fit(pair)
        y0, y1, x0, x1 = pair.extra['box']
        rgb_size = pair.extra['rgb_full'].shape[:2]
        est = theta_to_pixels(torch.from_numpy(fit.thermal_from_rgb)[None], rgb_size,
                              pair.extra['nir_raw'].shape[:2])[0].numpy()
        return fit.fused[y0:y1, x0:x1], {'corner_err_px': corner_error(est, pair.extra['gt'], rgb_size),
                                         'train_s': fit.train_s}


@dataclass
class OwnBaseline:
    """A baseline fusing the RGB image with the NIR image as the STN registered it (in the box)."""
    align: OwnAlignment
    name: str

    def fuse(self, pair):
        fit = self.align.fit(pair)
        y0, y1, x0, x1 = pair.extra['box']
        rgb = image_to_tensor(pair.rgb)
        th = image_to_tensor(np.ascontiguousarray(fit.thermal_registered[y0:y1, x0:x1]))
        with torch.inference_mode():
            return tensor_to_image(registry.get(self.name).build().fuse(rgb, th)), {}

# --------------------------------------------------------------------------- tables


def by_category_table(summary: list[dict], metric: str, methods: list[str], scale: float = 100.0) -> str:
    """Paper 000's layout: rows categories, columns methods, ``mean`` (x ``scale``); best per row in bold."""
    cats = list(dict.fromkeys(s['category'] for s in summary))
    lines = ['| category | n | ' + ' | '.join(methods) + ' |', '|---|---|' + '---|' * len(methods)]
    for cat in cats:
        vals = {s['method']: s[f'{metric}_mean'] * scale for s in summary if s['category'] == cat}
        n = max(s['n'] for s in summary if s['category'] == cat)
        finite = {m: v for m, v in vals.items() if m in methods and math.isfinite(v)}
        top = max(finite, key=finite.get) if finite else None
        cells = [('**' + fmt(vals[m], 1) + '**' if m == top else fmt(vals[m], 1)) if m in vals else '-'
                 for m in methods]
        lines.append(f'| {cat} | {n} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def win_loss(summary: list[dict], metrics: list[str], ours: str, baselines: list[str], scale: float = 1.0,
             unit: str = '') -> list[str]:
    """Lines ``category/metric: ours X vs best baseline Y (name): +d``, with the sign meaning better/worse."""
    from fusion_ros.metrics.registry import HIGHER_IS_BETTER
    out = []
    for cat in dict.fromkeys(s['category'] for s in summary):
        rows = {s['method']: s for s in summary if s['category'] == cat}
        if ours not in rows:
            continue
        parts = []
        for m in metrics:
            higher = HIGHER_IS_BETTER[m]
            base = {b: rows[b][f'{m}_mean'] for b in baselines if b in rows}
            best = (max if higher else min)(base, key=base.get)
            mine = rows[ours][f'{m}_mean']
            better = (mine - base[best]) * (1 if higher else -1) * scale
            rank = 1 + sum(((v > mine) if higher else (v < mine)) for v in base.values())
            verdict = f'+{better:.2f}{unit} better' if better >= 0 else f'{better:.2f}{unit} worse'
            if abs(better) < 0.005:
                verdict = f'tie, {better:+.4f}{unit}'
            parts.append(f'{m} {fmt(mine * scale, 2)} vs {best} {fmt(base[best] * scale, 2)} '
                         f'({verdict}, rank {rank}/{len(base) + 1})')
        out.append(f'- **{cat}**: ' + '; '.join(parts))
    return out


def pairwise(rows: list[dict], metrics: list[str], ours: str = 'scene', ref: str = 'average',
             why: str = ' (its starting point)') -> str:
    """``metric: k/n`` pairs where ``ours`` scores better than ``ref`` (the averaging start of ``scene``)."""
    from fusion_ros.metrics.registry import HIGHER_IS_BETTER
    by = {(r['pair'], r['method']): r for r in rows}
    names = [r['pair'] for r in rows if r['method'] == ours and (r['pair'], ref) in by]
    parts = []
    for m in metrics:
        sign = 1 if HIGHER_IS_BETTER[m] else -1
        wins = sum(sign * (by[(p, ours)][m] - by[(p, ref)][m]) > 0 for p in names)
        parts.append(f'{m} {wins}/{len(names)}')
    return f'Pairs where `{ours}` beats `{ref}`{why}: ' + ', '.join(parts) + '.'


def run_part(name: str, pairs, methods, metrics, out: Path, total: int, progress: bool):
    result = run_methods(pairs, methods, metrics, total=total, examples=4, progress=progress)
    header = f'# {name}\n\nCommand: `{command_line()}`\n\n'
    write_tables(result, metrics, out / name, header=header)
    (out / name / 'command.txt').write_text(command_line() + '\n')
    return result


def load_part(out: Path, name: str) -> Part:
    """A part's results from its ``per_image.csv`` (``--from-csv``: no recomputation)."""
    path = out / name / 'per_image.csv'
    if not path.is_file():
        raise SystemExit(f'{path}: missing; run the part first (without --from-csv)')
    with open(path) as fh:
        rows = [{k: (v if k in ('pair', 'category', 'method') else float(v)) for k, v in r.items() if v != ''}
                for r in csv.DictReader(fh)]
    columns = {'p000-own': P000 + ['time_s', 'corner_err_px'],
               'p004': resolve_metrics(['paper004']) + ['time_s']}.get(name, P000 + ['time_s'])
    n = len({r['pair'] for r in rows})
    per_cat = len({r['category'] for r in rows})
    note = f'{n} pairs' + (f' ({n // per_cat} per category)' if name == 'p000-paper' else '')
    return Part(summarize(rows, columns, overall=name != 'p004'), note, rows)


def command_line() -> str:
    args = ''.join(' ' + shlex.quote(a) for a in sys.argv[1:])
    return '.venv/bin/python bench/' + Path(sys.argv[0]).name + args



# --------------------------------------------------------------------------- parts


def part_p000(args, protocol: str) -> Part:
    files = rgbnir_files(args.data / 'rgbnir', args.limit)
    if protocol == 'gt':
        methods = [FuseMethod(b, b) for b in BASELINE_ORDER]
        methods.append(FuseMethod('scene', 'scene', SceneFitConfig()))
    else:
        align = OwnAlignment()
        methods = [OwnScene(align)] + [OwnBaseline(align, b) for b in BASELINE_ORDER]
    result = run_part(f'p000-{protocol}', map(rgbnir_pair, files), methods, P000, args.out, len(files),
                      not args.quiet)
    columns = P000 + ['time_s'] + (['corner_err_px'] if protocol == 'own' else [])
    return Part(summarize(result.rows, columns), f'{len(files)} pairs', result.rows)


def part_p000_paper(args) -> Part:
    k = args.paper_subset
    files = rgbnir_files(args.data / 'rgbnir', min(k, args.limit or k))
    methods = [FuseMethod(b, b) for b in BASELINE_ORDER] + [
        FuseMethod('scene', 'scene', SceneFitConfig()),
        FuseMethod(PAPER_RECIPE, 'scene', SceneFitConfig.paper())]
    result = run_part('p000-paper', map(rgbnir_pair, files), methods, P000, args.out, len(files),
                      not args.quiet)
    note = f'{len(files)} pairs ({k} per category)'
    return Part(summarize(result.rows, P000 + ['time_s']), note, result.rows)


def part_p004(args) -> Part:
    metrics = resolve_metrics(['paper004'])
    methods, skipped = build_methods([*BASELINE_ORDER, 'scene', 'ssvif'])
    files = []
    for ds in ('roadscene', 'tno'):
        found = discover_pairs(args.data / ds)[:args.limit]
        for f in found:
            f.category = ds
        files += found
    result = run_part('p004', folder_pairs(files), methods, metrics, args.out, len(files), not args.quiet)
    print(*skipped, sep='\n')
    summary = summarize(result.rows, metrics + ['time_s'], overall=False)
    return Part(summary, f'{len(files)} pairs', result.rows)

# --------------------------------------------------------------------------- the Markdown section

INTRO = """Methods: the six training-free baselines of `fusion_ros.baselines` and `scene` = per-scene training
(paper 000) with the project's default recipe (averaging warm start, 60 epochs on a 256 px working copy,
applied at full size). All images at full resolution; gray metrics on BT.601 luma."""

GT_PROTOCOL = """`rgbnir/`: `country` as shipped (aligned, 1024x679); `field`, `forest`, `indoor`,
`oldbuilding` (900x768, NIR affine-warped on purpose) brought back onto the RGB image with the inverse
ground-truth matrix and cropped to the largest axis-aligned box of valid pixels (3 px margin). Scores in
percent, as in the paper; `all` pools every pair."""

OWN_PROTOCOL = """The NIR image as shipped (warped) is aligned by the project's own alignment (`fit_scene` with
`SceneModelConfig(stn=True)`: `fusion_ros.registration.register` on the full pair, i.e. global search +
ECC refinement + identity guard, then the fusion phase); `scene` is that fit's fusion and the baselines
fuse the RGB image with the NIR image as that alignment registered it. Everything is scored against the
ground-truth-aligned NIR image inside the same box as above, so an alignment error costs score.
`country` is aligned already (true transform: the identity): it checks that the alignment does no harm."""

PAPER_PROTOCOL = """`scene (paper recipe)`: random init, 300 full-size epochs, constant Adam 1e-3
(`SceneFitConfig.paper()`), ground-truth alignment as above; the other columns are the same pairs."""

P004_PROTOCOL = """Full-size images (RoadScene 351-622 x 161-459, TNO up to 768x576), one table per data set;
paper 004 reports these metrics on FMB and MSRS, which the project does not have. Definitions:
`fusion_ros.metrics`, scored as CDDFuse's evaluator does (8-bit images, rounded OpenCV gray; README,
Metric conventions): MI in nats; SSIM (skimage's) and MS-SSIM are sums over both sources; Delta-E is
CIEDE2000 against the visible image, lower is better."""


def corner_table(rows: list[dict]) -> list[str]:
    """STN corner error per category: mean, median, max and the share of pairs within 10 px."""
    lines = ['| category | n | mean | median | max | pairs within 10 px |', '|---|---|---|---|---|---|']
    by: dict[str, list[float]] = {}
    for r in rows:
        if r['method'] == 'scene' and 'corner_err_px' in r:
            by.setdefault(r['category'], []).append(r['corner_err_px'])
    if len(by) > 1:
        by['all'] = [v for vs in list(by.values()) for v in vs]
    for cat, v in by.items():
        a = np.asarray(v)
        lines.append(f'| {cat} | {a.size} | {a.mean():.1f} | {np.median(a):.1f} | {a.max():.1f} | '
                     f'{int((a <= 10).sum())}/{a.size} |')
    return lines


def section(results: dict[str, Part], args) -> str:
    """The Markdown section for BENCHMARKS.md from the parts' results."""
    today = datetime.date.today().isoformat()
    made: dict[str, list[str]] = {}  # command -> parts it made
    for name in results:
        cmd_file = args.out / name / 'command.txt'
        cmd = cmd_file.read_text().strip() if cmd_file.is_file() else command_line()
        made.setdefault(cmd, []).append(name)
    if len(made) == 1:
        commands = f'Command: `{next(iter(made))}`'
    else:
        commands = 'Commands: ' + '; '.join(f'{", ".join(parts)}: `{cmd}`' for cmd, parts in made.items())
    title = "Papers' tables on our data"
    if set(results) == {'p004'}:
        title = "Paper 004's Table II metrics on RoadScene and TNO, with the shipped SSVIF model"
    lines = [f'## {title} (issue 5), {today}', '',
             f'{commands} (per-image scores, summaries and example grids under `{args.out}/`; '
             f'`--from-csv` rebuilds this section from them). Machine: {machine()}; the CPU was shared '
             'with other jobs while this ran, so times are indicative only.', '', INTRO, '']
    methods000 = [*BASELINE_ORDER, 'scene']
    for protocol in ('gt', 'own'):
        part = results.get(f'p000-{protocol}')
        if part is None:
            continue
        if protocol == 'gt':
            lines += [f'### Paper 000, Tables 2-4 protocol, ground-truth alignment ({part.note})', '',
                      GT_PROTOCOL, '']
        else:
            lines += [f"### Paper 000, Tables 2-4 protocol, the project's own alignment ({part.note})", '',
                      OWN_PROTOCOL, '']
        for m in P000:
            ref = f' Paper 000 on its own Country data: {PAPER000_COUNTRY[m]}.' if protocol == 'gt' else ''
            lines += [f'**{P000_TITLES[m]}** (%).{ref}', '', by_category_table(part.summary, m, methods000)]
        if protocol == 'own':
            lines += ['**STN corner error** (px; mean distance of the four image corners mapped by the '
                      'estimated and the true transform):', '', *corner_table(part.rows), '',
                      'A few diverged fits (see the max column) dominate the means; the median and the count '
                      'within 10 px say more.', '']
        lines += [f'Where `scene` wins and loses ({protocol} alignment; percentage points against the best '
                  'baseline of each category; rank among the 7 methods):', '',
                  *win_loss(part.summary, P000, 'scene', BASELINE_ORDER, 100.0, ' pt'), '',
                  pairwise(part.rows, P000), '']
    part = results.get('p000-paper')
    if part is not None:
        lines += [f"### Paper 000's own recipe on a subset ({part.note})", '', PAPER_PROTOCOL, '']
        for m in P000:
            table = by_category_table(part.summary, m, [*methods000, PAPER_RECIPE])
            lines += [f'**{P000_TITLES[m]}** (%)', '', table]
        lines += [pairwise(part.rows, P000, PAPER_RECIPE, 'scene', ' (the default recipe)'), '']
        times = {s['method']: s['time_s_mean'] for s in part.summary if s['category'] == 'all'}
        if times:
            lines += ['Seconds per pair: ' + ', '.join(f'{k} {fmt(v, 2)}' for k, v in times.items()), '']
    part = results.get('p004')
    if part is not None:
        metrics = resolve_metrics(['paper004'])
        lines += [f'### Paper 004, Table II metrics on RoadScene and TNO ({part.note})', '',
                  P004_PROTOCOL, '', markdown_summary(part.summary, metrics, level=4),
                  'Where `scene` wins and loses (against the best baseline per metric; rank among 7):', '',
                  *win_loss(part.summary, metrics, 'scene', BASELINE_ORDER), '',
                  pairwise(part.rows, metrics), '']
        if any(r['method'] == 'ssvif' for r in part.rows):
            lines += ['Where `ssvif` (the shipped model `models/ssvif_default.pt`, run as `fusion-ros fuse '
                      '--method ssvif` runs it: its luma, coloured from the visible image) wins and loses '
                      '(against the best baseline per metric; rank among the 6 baselines and itself). '
                      'Caveat: the shipped model was trained on RoadScene and TNO (all but 25 of these 246 '
                      'pairs, see `models/README.md`), so these are mostly training pairs, not held-out '
                      'ones:', '',
                      *win_loss(part.summary, metrics, 'ssvif', BASELINE_ORDER), '',
                      pairwise(part.rows, metrics, 'ssvif', 'average', ''), '']
        else:
            lines += ['The shipped SSVIF model (`models/ssvif_default.pt`) did not exist when this ran, so '
                      'it is not in the table; `fusion-ros evaluate --methods ssvif` scores it once it '
                      'ships.', '']
    return '\n'.join(lines) + '\n'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', type=Path, default=DATA)
    ap.add_argument('--parts', default=','.join(PARTS))
    ap.add_argument('--limit', type=int, help='at most N pairs per category / data set (quick checks)')
    ap.add_argument('--paper-subset', type=int, default=1, metavar='K',
                    help='pairs per category for p000-paper')
    ap.add_argument('--out', type=Path, default=Path('out/papers'))
    ap.add_argument('--record', type=Path, help='append the section to this Markdown file (BENCHMARKS.md)')
    ap.add_argument('--threads', type=int, default=1,
                    help='torch threads (1 avoids spin-waits on a busy CPU)')
    ap.add_argument('--quiet', action='store_true')
    ap.add_argument('--from-csv', action='store_true',
                    help='rebuild the section from OUT/<part>/per_image.csv of an earlier run')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    parts = [p.strip() for p in args.parts.split(',') if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        ap.error(f'unknown parts {sorted(unknown)}; valid: {", ".join(PARTS)}')
    if args.from_csv:
        results = {p: load_part(args.out, p) for p in parts}
    else:
        runners = {'p000-gt': lambda: part_p000(args, 'gt'), 'p000-own': lambda: part_p000(args, 'own'),
                   'p000-paper': lambda: part_p000_paper(args), 'p004': lambda: part_p004(args)}
        results = {}
        for p in parts:
            print(f'== {p}', flush=True)
            results[p] = runners[p]()
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / 'command.txt').write_text(command_line() + '\n')
    text = section(results, args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'section.md').write_text(text)
    print(text)
    if args.record:
        append_record(args.record, text)
        print(f'appended to {args.record}')


if __name__ == '__main__':
    main()
