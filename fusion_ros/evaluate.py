"""Evaluate fusion methods over many pairs: fuse, score, aggregate, write tables (ROS-free core).

Pipeline::

    pairs (EvalPair: a folder or a bag)  ->  methods (each fuses a pair into RGB)
        ->  metrics (fusion_ros.metrics.METRICS)  ->  rows (one per pair and method)
        ->  summary (mean and standard deviation per category, method and metric)  ->  files

:func:`evaluate` does it all for a folder or a bag and writes, under the output folder,
``summary.md`` and ``summary.csv`` (mean and sample standard deviation per metric), ``per_image.csv``
(every score of every pair), ``examples.png`` (a grid: RGB | thermal | each method) and, with
``save_fused``, every fused image as ``fused/<method>/<pair name>.png`` (a layout that ``--fused``
reads back). The pieces (:func:`folder_pairs`, :func:`build_methods`, :func:`run_methods`,
:func:`summarize`, :func:`write_tables`) are public so that benchmark scripts can run their own
protocols (see ``bench/papers_tables.py``).

Methods are named as on the command line, by the names of :mod:`fusion_ros.registry`: ``scene``
(per-scene training, paper 000), the baselines (``average``, ``max``, ``pca``, ``laplacian``, ``wavelet``,
``guided``; ``baselines`` for all of them), ``ssvif`` (the shipped or a given SSVIF checkpoint), and
``NAME=DIR`` for a folder of images fused by another tool.

Every method is scored against the pair's thermal image as given (resampled onto the RGB grid), so
evaluate registered pairs; ``bench/papers_tables.py`` shows protocols for unregistered ones (align
with the ground truth first, or with the project's STN and score against the ground truth).
"""
from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

import cv2
import numpy as np
import torch

from fusion_ros import registry
from fusion_ros.imaging import image_to_tensor, to_float01
from fusion_ros.metrics.registry import HIGHER_IS_BETTER, METRICS, UNITS
from fusion_ros.scene import SceneFitConfig

IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp')
METRIC_GROUPS = {
    'paper000': ('SSIM_score', 'Corr_score', 'Canny_score'),
    'paper004': ('EN', 'MI', 'VIF', 'Qabf', 'SSIM', 'MS-SSIM', 'DeltaE'),
    'all': tuple(METRICS),
}

# --------------------------------------------------------------------------- configuration


@dataclass
class EvalConfig:
    """What :func:`evaluate` runs.

    methods: method names (see module docstring); ``'baselines'`` expands to every baseline.
    metrics: metric names of ``fusion_ros.metrics.METRICS`` or groups ``paper000``, ``paper004``, ``all``.
    max_size: downscale each pair (area averaging) so its longest side is at most this many pixels;
        ``None`` keeps full size. Scores then describe the downscaled images (say so in reports).
    limit: evaluate only the first ``limit`` pairs (in sorted name order); ``None``: all.
    category_by: ``'none'`` (one table) or ``'folder'`` (one table per sub-folder, plus ``all``).
    scene: options of the ``scene`` method (``None``: the default recipe).
    model_path: checkpoint for the checkpoint methods, ``ssvif`` (``None``: the method's shipped file,
        ``models/ssvif_default.pt``, found by ``fusion_ros.shipped``; the method is skipped with a message
        when there is none).
    device: device of the checkpoint methods (``auto``, ``cpu``, ``cuda:N``; the scene method has its own in
        ``scene.device``).
    examples: rows (pairs, spread over the set) in ``examples.png``; 0 writes no grid.
    save_fused: also write every fused image under ``<out>/fused/<method>/``.
    progress: show a progress bar (on stderr).
    """
    methods: tuple[str, ...] = ('baselines', 'scene', 'ssvif')
    metrics: tuple[str, ...] = ('all',)
    max_size: int | None = None
    limit: int | None = None
    category_by: str = 'none'
    scene: SceneFitConfig | None = None
    model_path: Path | None = None
    device: str = 'cpu'
    examples: int = 4
    save_fused: bool = False
    progress: bool = True

    def __post_init__(self):
        if self.category_by not in ('none', 'folder'):
            raise ValueError(f"category_by must be 'none' or 'folder', got {self.category_by!r}")
        if self.max_size is not None and self.max_size < 16:
            raise ValueError(f'max_size must be >= 16 pixels (or None for full size), got {self.max_size}')
        if self.limit is not None and self.limit < 1:
            raise ValueError(f'limit must be >= 1 (or None for all pairs), got {self.limit}')
        if self.examples < 0:
            raise ValueError(f'examples must be >= 0, got {self.examples}')


def resolve_metrics(names: Iterable[str]) -> list[str]:
    """Expand groups and check names: a list of keys of ``METRICS`` without repeats, in the given order."""
    out = []
    for name in names:
        for m in METRIC_GROUPS.get(name, (name,)):
            if m not in METRICS:
                raise KeyError(f'unknown metric {m!r}; valid: {", ".join(METRICS)} '
                               f'or a group: {", ".join(METRIC_GROUPS)}')
            if m not in out:
                out.append(m)
    if not out:
        raise ValueError('no metrics given; name at least one (e.g. --metrics SSIM_score,EN)')
    return out

# --------------------------------------------------------------------------- pairs


@dataclass
class EvalPair:
    """One pair, ready to fuse and score.

    name: unique id, the pair's path without extension and modality suffix relative to the input
        (``field/0001``), or the frame index for a bag; fused images are looked up and saved by it.
    category: group for the tables (``'all'`` when not grouped).
    rgb: ``(H, W, 3)`` float32 in [0, 1]. thermal: ``(H, W)`` float32 in [0, 1] on the RGB grid (the
        reference the metrics compare with, and what the methods fuse).
    extra: anything a custom method needs (e.g. the unaligned thermal image of a protocol).
    """
    name: str
    category: str
    rgb: np.ndarray
    thermal: np.ndarray
    extra: dict = field(default_factory=dict)


def downscale(image: np.ndarray, max_size: int | None) -> np.ndarray:
    """Shrink ``(H, W[, C])`` with area averaging so that ``max(H, W) <= max_size``; never enlarges."""
    h, w = image.shape[:2]
    if max_size is None or max(h, w) <= max_size:
        return image
    s = max_size / max(h, w)
    return cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def make_pair(name: str, category: str, rgb: np.ndarray, thermal: np.ndarray,
              max_size: int | None = None) -> EvalPair:
    """An :class:`EvalPair` from float images: RGB downscaled to ``max_size``, thermal put on its grid."""
    rgb = np.ascontiguousarray(downscale(rgb, max_size), dtype=np.float32)
    h, w = rgb.shape[:2]
    if thermal.shape[:2] != (h, w):
        shrink = thermal.shape[0] > h or thermal.shape[1] > w
        thermal = cv2.resize(thermal, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return EvalPair(name, category, rgb, np.ascontiguousarray(np.clip(thermal, 0, 1), dtype=np.float32))


@dataclass
class PairFiles:
    """A pair found on disk: ``name`` and ``category`` as in :class:`EvalPair`."""
    name: str
    category: str
    rgb: Path
    thermal: Path


def discover_pairs(root: str | Path, category_by: str = 'none') -> list[PairFiles]:
    """The image pairs under ``root`` (searched recursively), sorted by name.

    Discovery is ``fusion_ros.data.find_sources``: ``D/{ir,vi}/STEM.ext`` (also ``thermal``/``nir``/
    ``lwir`` and ``vis``/``visible``/``rgb`` folders) and ``D/STEM_rgb.ext`` + ``D/STEM_nir.ext`` (or
    ``_thermal``, ``_ir``). A pair's name is ``D/STEM`` relative to ``root``; with ``category_by='folder'``
    its category is ``D`` relative to ``root`` (``root``'s own name for pairs directly in it). Bags
    inside ``root`` are not read (evaluate each bag on its own). A root that is itself a thermal or
    visible folder is read through its parent.

    Raises:
        FileNotFoundError: no such folder. ``fusion_ros.data.DataError``: no pairs found.
    """
    from fusion_ros.data import THERMAL_DIRS, VISIBLE_DIRS, DataError, find_sources

    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f'{root}: no such folder; give a folder of pairs ({{ir,vi}}/STEM.ext or '
                                'STEM_rgb.ext + STEM_nir.ext) or a ROS bag')
    if root.name.lower() in THERMAL_DIRS + VISIBLE_DIRS:
        root = root.parent
    pairs, bags = find_sources([root])
    if not pairs:
        raise DataError(f'{root}: no image pairs, only bags ({", ".join(map(str, bags[:3]))}); '
                        'evaluate a bag by giving its path')
    found = []
    for p in pairs:
        folder = p.scene[len(root.name) + 1:] if p.scene.startswith(root.name + '/') else ''
        category = (folder or root.name) if category_by == 'folder' else 'all'
        found.append(PairFiles(f'{folder}/{p.stem}' if folder else p.stem, category, p.rgb, p.thermal))
    return sorted(found, key=lambda f: f.name)


def folder_pairs(files: list[PairFiles], max_size: int | None = None) -> Iterator[EvalPair]:
    """Read each :class:`PairFiles` (``fusion_ros.io.read_pair``) as an :class:`EvalPair`, lazily."""
    from fusion_ros.io import read_pair

    for f in files:
        pair = read_pair(f.rgb, f.thermal)
        yield make_pair(f.name, f.category, pair.rgb, pair.thermal, max_size)


def bag_eval_pairs(bag: Path, topics: tuple[str | None, str | None] | None,
                   config: EvalConfig) -> tuple[Iterator[EvalPair], int]:
    """The stamp-matched pairs of a bag as :class:`EvalPair`, streamed, and an upper bound of their count.

    Pairs come from ``fusion_ros.bags.read_pairs`` (the node's pairing); they are named by their index
    in the bag, ``000000``, ``000001``... (the names ``--save-fused`` writes and ``NAME=DIR`` reads).
    Topics default to the node's ``rgb/image`` and ``thermal/image``; thermal images are normalised as
    ``fusion_ros.io.read_pair`` does (8-bit by dtype, others by percentiles).
    """
    from fusion_ros.bags import bag_info, find_topic, read_pairs
    from fusion_ros.data import thermal_norm_for
    from fusion_ros.encodings import rgb_array_to_float, thermal_array_to_float

    rgb_topic, thermal_topic = topics or (None, None)
    rgb_topic, thermal_topic = rgb_topic or 'rgb/image', thermal_topic or 'thermal/image'
    info = bag_info(bag)
    counts = [find_topic(info.topics, t, path=bag, role=r).count
              for t, r in ((rgb_topic, 'rgb'), (thermal_topic, 'thermal'))]
    bound = min(counts) if config.limit is None else min(*counts, config.limit)
    category = Path(bag).stem if config.category_by == 'folder' else 'all'

    def gen():
        for i, p in enumerate(read_pairs(bag, rgb_topic, thermal_topic)):
            if config.limit and i >= config.limit:
                break
            rgb = rgb_array_to_float(p.rgb.image, name=f'{rgb_topic} at {p.rgb_stamp_ns} ns')
            thermal = thermal_array_to_float(p.thermal.image, thermal_norm_for(p.thermal.image))
            yield make_pair(f'{i:06d}', category, rgb, thermal, config.max_size)
    return gen(), bound


# --------------------------------------------------------------------------- methods


class Method(Protocol):
    """A fusion method under evaluation: ``fuse(pair) -> (fused (H, W, 3) float32 in [0, 1], info)``.

    ``info`` holds numbers worth a column of the per-image table (e.g. ``train_s``); ``None`` for no
    image (a fused folder lacking the pair), which is counted and skipped.
    """
    name: str

    def fuse(self, pair: EvalPair) -> tuple[np.ndarray | None, dict]: ...


@dataclass
class FuseMethod:
    """A method of ``fusion_ros.methods.fuse_pair`` (``scene`` or a baseline), shown as ``name``."""
    name: str
    method: str
    scene_config: SceneFitConfig | None = None

    def fuse(self, pair):
        from fusion_ros.methods import fuse_pair
        out = fuse_pair(self.method, pair.rgb, pair.thermal, scene_config=self.scene_config)
        info = {k: float(v) for k, v in out.info.items() if k in ('train_s', 'epochs')}
        return out.fused, info


@dataclass
class ModelMethod:
    """A trained checkpoint of a checkpoint method (``method``, default ``ssvif``), run as
    ``fusion-ros fuse --method ssvif`` runs it.

    ``fusion_ros.methods.fuse_pair(method, ..., model_path=path)``: loaded once per process (for
    ``ssvif``: the net's luma coloured from the visible image, the project's default SSVIF colour).
    """
    name: str
    path: Path
    device: str = 'cpu'
    method: str = 'ssvif'

    def fuse(self, pair):
        from fusion_ros.methods import fuse_pair
        out = fuse_pair(self.method, pair.rgb, pair.thermal, model_path=self.path, device=self.device)
        return out.fused, {}


@dataclass
class FolderMethod:
    """Images fused by another tool: ``DIR/<pair name>.<ext>`` or ``DIR/<stem>.<ext>`` (flat).

    Gray images count as colour images with three equal channels; images of another size are
    resampled onto the pair's grid (e.g. when ``max_size`` shrank the pair).
    """
    name: str
    folder: Path

    def __post_init__(self):
        self.folder = Path(self.folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f'{self.folder}: no such folder of fused images (for method '
                                    f'{self.name!r}); give NAME=DIR with DIR holding one image per pair, '
                                    'named by its stem')

    def find(self, name: str) -> Path | None:
        for stem in dict.fromkeys((name, name.rsplit('/', 1)[-1])):
            for ext in IMAGE_EXTS:
                for cand in (self.folder / f'{stem}{ext}', self.folder / f'{stem}{ext.upper()}'):
                    if cand.is_file():
                        return cand
        return None

    def fuse(self, pair):
        from fusion_ros.io import read_image
        path = self.find(pair.name)
        if path is None:
            return None, {}
        image = to_float01(read_image(path), name=str(path))
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        h, w = pair.rgb.shape[:2]
        if image.shape[:2] != (h, w):
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        return np.clip(image, 0, 1).astype(np.float32), {}


def _model_path(given: Path | None, method: str = 'ssvif') -> Path | str:
    """The checkpoint of checkpoint method ``method`` (``given`` or its shipped one), or why there is none."""
    if given is not None:
        return Path(given) if Path(given).is_file() else f'no model file {given}'
    try:
        path = registry.get(method).default_path()
    except FileNotFoundError as exc:
        return str(exc)
    return path if path is not None else f'no --model given and {method!r} ships none'


def build_methods(names: Iterable[str], config: EvalConfig | None = None) -> tuple[list[Method], list[str]]:
    """Method objects for ``names``; returns ``(methods, skipped)`` with one message per skipped method.

    Names are those of :mod:`fusion_ros.registry`, ``baselines`` (every baseline) and ``NAME=DIR``. A
    checkpoint method (``ssvif``) is skipped (not an error) when its checkpoint file does not exist: the
    shipped model is optional. Unknown names raise ``KeyError`` listing the valid ones.
    """
    config = config or EvalConfig()
    baselines = registry.names('baseline')
    methods: list[Method] = []
    skipped: list[str] = []
    for spec in names:
        if '=' in spec:
            label, folder = spec.split('=', 1)
            methods.append(FolderMethod(label.strip() or Path(folder).name, Path(folder)))
        elif spec == 'baselines':
            methods += [FuseMethod(b, b) for b in baselines]
        elif spec in registry.names():
            kind = registry.get(spec).kind
            if kind == 'checkpoint':
                path = _model_path(config.model_path, spec)
                if isinstance(path, Path):
                    methods.append(ModelMethod(spec, path, config.device, spec))
                else:
                    skipped.append(f'{spec}: {path}; skipped (train one and pass --model PATH, or drop '
                                   f'{spec} from --methods)')
            else:
                methods.append(FuseMethod(spec, spec, config.scene if kind == 'scene' else None))
        else:
            raise KeyError(f'unknown method {spec!r}; valid: {", ".join(registry.names())}, baselines (all '
                           f'of {", ".join(baselines)}), or NAME=DIR for a folder of images fused by another '
                           'tool')
    seen = set()
    for m in methods:
        if m.name in seen:
            raise ValueError(f'method {m.name!r} given twice; give each method once '
                             '(or another NAME=DIR label)')
        seen.add(m.name)
    return methods, skipped

# --------------------------------------------------------------------------- scoring


def score(pair: EvalPair, fused: np.ndarray, metrics: list[str]) -> dict[str, float]:
    """``{metric: value}`` of one fused image ``(H, W, 3)`` float32 in [0, 1] against its pair."""
    th, rgb, f = (image_to_tensor(x) for x in (pair.thermal, pair.rgb, fused))
    with torch.inference_mode():
        return {m: float(METRICS[m](th, rgb, f)[0]) for m in metrics}


@dataclass
class EvalResult:
    """rows: one dict per (pair, method): ``pair``, ``category``, ``method``, ``time_s``, the metrics
    and the methods' numeric info. examples: rows of the example grid. missing: method -> pair names
    it had no image for. skipped: messages of methods not run."""
    rows: list[dict]
    examples: list[dict] = field(default_factory=list)
    example_titles: list[str] = field(default_factory=list)
    missing: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def _thumb(image: np.ndarray, size: int = 320) -> np.ndarray:
    return downscale(np.asarray(image, dtype=np.float32), size)


def run_methods(pairs: Iterable[EvalPair], methods: list[Method], metrics: list[str], *,
                total: int | None = None, examples: int = 4, fused_dir: Path | None = None,
                progress: bool = True, exact_total: bool = True,
                after_pair: Callable[[EvalPair, dict], None] | None = None) -> EvalResult:
    """Fuse every pair with every method and score it.

    Args:
        pairs: :class:`EvalPair` iterable (read lazily; only thumbnails of example pairs are kept).
        methods: from :func:`build_methods` (or any :class:`Method`).
        metrics: keys of ``METRICS`` (see :func:`resolve_metrics`).
        total: number of pairs, for the progress bar and to spread the examples over the set.
        exact_total: False when ``total`` is only an upper bound (bags): the examples are then the first
            pairs.
        examples: pairs shown in the example grid.
        fused_dir: write each fused image to ``fused_dir/<method>/<pair name>.png``.
        after_pair: called with each pair and ``{method: fused}`` (for custom reports).
    """
    from tqdm import tqdm

    if not methods:
        raise ValueError('no methods to run; give at least one with --methods')
    if total and exact_total and examples:
        pick = set(np.linspace(0, total - 1, min(examples, total)).round().astype(int).tolist())
    else:
        pick = set(range(examples))
    result = EvalResult(rows=[])
    bar = tqdm(total=total, unit='pair', disable=not progress, dynamic_ncols=True)
    for i, pair in enumerate(pairs):
        fused_by = {}
        for method in methods:
            bar.set_postfix_str(f'{pair.name} {method.name}', refresh=False)
            t0 = time.perf_counter()
            fused, info = method.fuse(pair)
            seconds = time.perf_counter() - t0
            if fused is None:
                result.missing.setdefault(method.name, []).append(pair.name)
                continue
            fused_by[method.name] = fused
            row = {'pair': pair.name, 'category': pair.category, 'method': method.name, 'time_s': seconds}
            row.update(score(pair, fused, metrics))
            row.update(info)
            result.rows.append(row)
            if fused_dir is not None:
                from fusion_ros.io import write_image
                write_image(Path(fused_dir) / method.name / f'{pair.name}.png', fused)
        if i in pick:
            ex = {'RGB': _thumb(pair.rgb), 'thermal': _thumb(pair.thermal)}
            blank = np.zeros_like(ex['RGB'])
            ex.update({m.name: _thumb(fused_by[m.name]) if m.name in fused_by else blank for m in methods})
            result.examples.append(ex)
            result.example_titles.append(pair.name)
        if after_pair is not None:
            after_pair(pair, fused_by)
        bar.update(1)
    bar.close()
    return result

# --------------------------------------------------------------------------- aggregation


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``; NaN for one value) of the finite values."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan


def summarize(rows: list[dict], columns: list[str], *, overall: bool = True) -> list[dict]:
    """One dict per (category, method): ``category``, ``method``, ``n`` and ``<col>_mean``/``<col>_std``.

    Categories and methods keep their first-seen order. With more than one category and ``overall``,
    an ``all`` category pools every pair (not a mean of category means).
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r['category'], r['method']), []).append(r)
    categories = list(dict.fromkeys(r['category'] for r in rows))
    if overall and len(categories) > 1:
        for r in rows:
            groups.setdefault(('all', r['method']), []).append(r)
    out = []
    for (cat, method), rs in groups.items():
        s = {'category': cat, 'method': method, 'n': len(rs)}
        for c in columns:
            s[f'{c}_mean'], s[f'{c}_std'] = mean_std([r.get(c, math.nan) for r in rs])
        out.append(s)
    return out


def fmt(x: float, digits: int = 4) -> str:
    """A table number: ``digits`` decimals (2 from 100 up), ``-`` for NaN."""
    if x is None or not math.isfinite(x):
        return '-'
    return f'{x:.2f}' if abs(x) >= 100 else f'{x:.{digits}f}'


def best_of(values: dict[str, float], metric: str) -> str | None:
    """The key with the best finite value (``HIGHER_IS_BETTER``; lower for unknown columns like time)."""
    finite = {k: v for k, v in values.items() if v is not None and math.isfinite(v)}
    if not finite:
        return None
    higher = HIGHER_IS_BETTER.get(metric, False)
    return (max if higher else min)(finite, key=finite.get)


def metric_header(metric: str) -> str:
    """Column title with the direction arrow: ``EN ↑``, ``DeltaE ↓``."""
    return f'{metric} {"↑" if HIGHER_IS_BETTER.get(metric, False) else "↓"}'


def markdown_summary(summary: list[dict], metrics: list[str], *, extra: tuple[str, ...] = ('time_s',),
                     level: int = 3) -> str:
    """Markdown tables, one per category (a heading of ``level``): rows methods, columns ``mean ± std``
    per metric; best mean in bold."""
    lines = []
    cols = [*metrics, *extra]
    for cat in dict.fromkeys(s['category'] for s in summary):
        rows = [s for s in summary if s['category'] == cat]
        n_pairs = max(s['n'] for s in rows)
        titles = [metric_header(c) if c in METRICS else f'{c} ↓' for c in cols]
        lines += [f'{"#" * level} {cat} ({n_pairs} pairs)', '', '| method | n | ' + ' | '.join(titles) + ' |',
                  '|---|---|' + '---|' * len(cols)]
        best = {c: best_of({s['method']: s[f'{c}_mean'] for s in rows}, c) for c in cols}
        for s in rows:
            cells = []
            for c in cols:
                cell = f"{fmt(s[f'{c}_mean'])} ± {fmt(s[f'{c}_std'])}"
                cells.append(f'**{cell}**' if best[c] == s['method'] and len(rows) > 1 else cell)
            lines.append(f"| {s['method']} | {s['n']} | " + ' | '.join(cells) + ' |')
        lines.append('')
    units = ', '.join(f'{m}: {UNITS[m]}' for m in metrics if m in UNITS)
    lines.append(f'Mean ± sample standard deviation over the pairs; best mean in bold. Units: {units}; '
                 'time_s: seconds per pair for fusing (excluding scoring).')
    return '\n'.join(lines) + '\n'


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    """Write dicts as CSV; ``columns`` default to the union of the keys in first-seen order."""
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', newline='') as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction='ignore')
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f'{v:.6g}' if isinstance(v, float) else v) for k, v in r.items()})
    return path


def write_tables(result: EvalResult, metrics: list[str], out: Path, *, header: str = '') -> dict[str, Path]:
    """Write ``summary.md``, ``summary.csv``, ``per_image.csv`` and ``examples.png`` under ``out``."""
    from fusion_ros.report import contact_sheet

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not result.rows:
        raise ValueError('no scores to write: every method was skipped or found no image; '
                         'see the messages above')
    summary = summarize(result.rows, [*metrics, 'time_s'])
    paths = {'per_image': write_csv(out / 'per_image.csv', result.rows),
             'summary_csv': write_csv(out / 'summary.csv', summary)}
    notes = [f'- {m}: no fused image for {len(p)} pair(s), e.g. {p[0]}' for m, p in result.missing.items()]
    notes += [f'- {s}' for s in result.skipped]
    text = header + markdown_summary(summary, metrics)
    if notes:
        text += '\nNotes:\n' + '\n'.join(notes) + '\n'
    paths['summary_md'] = out / 'summary.md'
    paths['summary_md'].write_text(text)
    if result.examples:
        paths['examples'] = contact_sheet(result.examples, out / 'examples.png', titles=result.example_titles)
    return paths

# --------------------------------------------------------------------------- the whole job


def evaluate(source: str | Path, out: str | Path, config: EvalConfig | None = None, *,
             bag_topics: tuple[str | None, str | None] | None = None,
             command: str = '') -> tuple[EvalResult, dict[str, Path]]:
    """Evaluate ``config.methods`` on a folder of pairs or a bag; write the tables under ``out``.

    Args:
        source: a folder (see :func:`discover_pairs`) or a rosbag2 bag (see :func:`bag_eval_pairs`).
        bag_topics: ``(rgb_topic, thermal_topic)`` of a bag; ``None`` entries take the defaults.
        command: the command line, recorded in ``summary.md``.

    Returns:
        The :class:`EvalResult` and the written paths.
    """
    config = config or EvalConfig()
    metrics = resolve_metrics(config.metrics)
    methods, skipped = build_methods(config.methods, config)
    for msg in skipped:
        print(msg)
    if not methods:
        raise ValueError('every method was skipped (' + '; '.join(skipped) + '); give one that can run')
    from fusion_ros.bags import is_bag

    source = Path(source)
    exact = True
    if is_bag(source):
        (pairs, total), exact = bag_eval_pairs(source, bag_topics, config), False
    elif bag_topics is not None and any(bag_topics):
        raise ValueError(f'{source}: --rgb-topic/--thermal-topic given, but this is not a bag (a '
                         '.mcap/.db3 file or a folder with metadata.yaml); drop them to evaluate a folder')
    else:
        files = discover_pairs(source, config.category_by)
        if config.limit:
            files = files[:config.limit]
        pairs, total = folder_pairs(files, config.max_size), len(files)
    fused_dir = Path(out) / 'fused' if config.save_fused else None
    result = run_methods(pairs, methods, metrics, total=total, examples=config.examples, fused_dir=fused_dir,
                         progress=config.progress, exact_total=exact)
    result.skipped = skipped
    for name, missing in result.missing.items():
        print(f'{name}: no fused image for {len(missing)} pair(s) (e.g. {missing[0]}); '
              'those pairs are left out')
    size = f'longest side <= {config.max_size} px (area averaging)' if config.max_size else 'full size'
    n_pairs = len({r['pair'] for r in result.rows})
    header = (f'# fusion-ros evaluate\n\nInput: `{source}` ({n_pairs} pairs, {size}). Methods: '
              f'{", ".join(m.name for m in methods)}.\n')
    header += (f'Command: `{command}`\n' if command else '') + '\n'
    return result, write_tables(result, metrics, Path(out), header=header)
