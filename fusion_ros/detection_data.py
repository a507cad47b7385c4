"""YOLO-format detection data (ROS-free): label and prediction files, image folders, the training dataset.

File formats (one object a line, coordinates normalised to the image width and height, ``cx cy`` the box
centre)::

    labels       class cx cy w h              (an empty file: no object)
    predictions  class cx cy w h confidence   (what ``fusion-ros detect`` writes)

:func:`build_dataset` turns folders of images + labels into an ultralytics dataset under a run folder::

    <dataset>/data.yaml                  path, train, val, names (ultralytics' dataset yaml)
    <dataset>/images/{train,val}/<tag>_<stem>.<ext>   thermal images (8-bit PNG, normalised as the node does;
                                                       symlinks of 8-bit files with ``dtype``) and fused images
                                                       (PNG, fused by a method of fusion_ros.registry)
    <dataset>/labels/{train,val}/<tag>_<stem>.txt     the labels, checked and rewritten
    <dataset>/manifest.json              sources, counts per split, skipped images and why

Sources: ``thermal`` (a folder of thermal images and a folder of labels, by stem) and ``pairs`` (a folder with
``ir/`` and ``vi/`` sub-folders, same stems, and the labels of the fused images): each pair is fused once per
method and labelled with the pair's label file. The validation split is chosen by stem over all sources
together (the thermal and fused images of one stem land in the same split), in blocks of consecutive stems
spread over the set (neighbouring video frames are near duplicates).

Thermal normalisation: every image a detector sees here (the thermal input, the thermal half of a fused
pair) is normalised as the node normalises its thermal stream by default (``thermal_normalization:
percentile``, 0.5-99.5 % per image, whatever the pixel type), so a detector trained, run and scored offline
sees what it sees on the robot. ``ThermalNormConfig('dtype')`` takes 8-bit files as they are instead (the
field's fusion-evaluation protocol; MSRS's thermal images are dark, mean gray about 15 at night, and stay so).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from fusion_ros.imaging import ThermalNormConfig

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')
DEFAULT_NAMES = ('person', 'bicycle', 'car')  # MSRS's classes (labels/classes.txt)
THERMAL_DIR_NAMES = ('ir', 'thermal', 'lwir', 'nir')
VISIBLE_DIR_NAMES = ('vi', 'vis', 'visible', 'rgb')
INPUTS = ('thermal', 'visible', 'fused')


class LabelError(ValueError):
    """A label or prediction file that is not YOLO text; the message names the file and line."""


# --------------------------------------------------------------------------- files


def read_yolo_file(path: str | Path, *, confidence: bool = False, num_classes: int | None = None) -> np.ndarray:
    """Boxes of a YOLO text file: ``(n, 5)`` ``class cx cy w h`` (``confidence``: ``(n, 6)`` with the score).

    Missing file: ``FileNotFoundError``. Each line must have 5 numbers (6 with ``confidence``); class ids must
    be whole numbers (below ``num_classes`` when given) and sizes positive; coordinates are clipped to [0, 1].
    """
    path = Path(path)
    cols = 6 if confidence else 5
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != cols:
            raise LabelError(f'{path}:{i}: {len(parts)} values; expected {cols} '
                             f'({"class cx cy w h" + (" confidence" if confidence else "")})')
        try:
            values = [float(v) for v in parts]
        except ValueError:
            raise LabelError(f'{path}:{i}: not numbers: {line.strip()!r}') from None
        if not all(math.isfinite(v) for v in values):
            raise LabelError(f'{path}:{i}: non-finite value: {line.strip()!r}')
        cls = values[0]
        if cls != int(cls) or cls < 0 or (num_classes is not None and cls >= num_classes):
            raise LabelError(f'{path}:{i}: class {parts[0]} is not a class id'
                             + (f' in 0..{num_classes - 1}' if num_classes else ''))
        if values[3] <= 0 or values[4] <= 0:
            raise LabelError(f'{path}:{i}: box width and height must be > 0: {line.strip()!r}')
        rows.append(values)
    out = np.array(rows, np.float64).reshape(-1, cols)
    out[:, 1:5] = np.clip(out[:, 1:5], 0.0, 1.0)
    return out


def write_yolo_file(path: str | Path, boxes: np.ndarray) -> Path:
    """Write ``(n, 5)`` labels or ``(n, 6)`` predictions as YOLO text (an empty file for no boxes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    boxes = np.asarray(boxes, np.float64).reshape(len(boxes), -1) if len(boxes) else np.zeros((0, 5))
    lines = [' '.join([str(int(b[0]))] + [f'{v:.6f}' for v in b[1:]]) for b in boxes]
    path.write_text(''.join(line + '\n' for line in lines))
    return path


def detections_to_yolo(detections, size: tuple[int, int]) -> np.ndarray:
    """``(n, 6)`` ``class cx cy w h confidence`` normalised, from :class:`fusion_ros.detection.Detection` boxes in
    pixels of an image of ``size`` = ``(width, height)``, sorted by descending confidence."""
    w, h = size
    rows = [(d.class_id, (d.x1 + d.x2) / 2 / w, (d.y1 + d.y2) / 2 / h, (d.x2 - d.x1) / w, (d.y2 - d.y1) / h, d.score)
            for d in sorted(detections, key=lambda d: -d.score)]
    out = np.array(rows, np.float64).reshape(-1, 6)
    out[:, 1:5] = np.clip(out[:, 1:5], 0.0, 1.0)
    return out


def read_class_names(path: str | Path) -> list[str]:
    """Class names from a ``classes.txt``: one class a line, ``name`` or ``id name`` (ids 0, 1, 2... in order)."""
    names = []
    for i, line in enumerate(Path(path).read_text().splitlines()):
        parts = line.split(maxsplit=1)
        if not parts:
            continue
        if len(parts) == 2 and parts[0].isdigit():
            if int(parts[0]) != len(names):
                raise LabelError(f'{path}:{i + 1}: class id {parts[0]}, expected {len(names)} (ids in order from 0)')
            names.append(parts[1].strip())
        else:
            names.append(line.strip())
    if not names:
        raise LabelError(f'{path}: no class names')
    return names


def images_by_stem(folder: str | Path) -> dict[str, Path]:
    """``{stem: image file}`` of the images directly in ``folder`` (sorted by stem).

    Raises:
        FileNotFoundError: no such folder. ValueError: two images with one stem.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f'{folder}: no such folder of images')
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            if p.stem in out:
                raise ValueError(f'{folder}: two images named {p.stem} ({out[p.stem].name}, {p.name}); keep one')
            out[p.stem] = p
    return out


def pair_folders(root: str | Path) -> tuple[Path, Path]:
    """``(visible folder, thermal folder)`` of a pairs folder with ``vi/`` and ``ir/`` sub-folders (also
    ``visible``/``rgb`` and ``thermal``/``lwir``/``nir``)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f'{root}: no such folder of pairs')
    subdirs = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    vi = next((subdirs[n] for n in VISIBLE_DIR_NAMES if n in subdirs), None)
    ir = next((subdirs[n] for n in THERMAL_DIR_NAMES if n in subdirs), None)
    if vi is None or ir is None:
        raise FileNotFoundError(f'{root}: expected sub-folders vi/ and ir/ (visible and thermal images, same stems)')
    return vi, ir


def matched_stems(rgb_dir: str | Path | None, ir_dir: str | Path | None) -> list[tuple[str, Path | None, Path | None]]:
    """``[(stem, rgb file, thermal file)]`` sorted by stem: stems in both folders (either folder may be None,
    then every image of the other one).

    Raises:
        ValueError: both given but no stem in common.
    """
    if rgb_dir is None and ir_dir is None:
        raise ValueError('give a visible folder, a thermal folder or both')
    rgb = images_by_stem(rgb_dir) if rgb_dir is not None else None
    ir = images_by_stem(ir_dir) if ir_dir is not None else None
    if rgb is not None and ir is not None:
        stems = sorted(set(rgb) & set(ir))
        if not stems:
            raise ValueError(f'{rgb_dir} and {ir_dir} have no image stem in common; pairs share their file stem')
        return [(s, rgb[s], ir[s]) for s in stems]
    only = rgb if rgb is not None else ir
    return [(s, only[s] if rgb is not None else None, only[s] if ir is not None else None) for s in sorted(only)]


def read_thermal_u8(path: str | Path, thermal_norm: ThermalNormConfig | None = None) -> np.ndarray:
    """A thermal image file as ``(H, W)`` uint8, normalised by ``thermal_norm`` (default: the node's default,
    0.5-99.5 percentiles); colour files are reduced to luma, ``dtype`` leaves 8-bit pixels unchanged."""
    from fusion_ros.io import read_image
    return _thermal_u8(read_image(path), thermal_norm or ThermalNormConfig(), path)


def _thermal_u8(image: np.ndarray, norm: ThermalNormConfig, path: str | Path) -> np.ndarray:
    """:func:`read_thermal_u8` on the pixels of ``path`` already read (:func:`fusion_ros.io.read_image`)."""
    from fusion_ros.imaging import normalize_thermal

    if image.ndim == 3:
        import cv2
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    if image.dtype == np.uint8 and norm.mode == 'dtype':
        return image
    try:
        return np.round(normalize_thermal(image, norm) * 255).astype(np.uint8)
    except ValueError as exc:
        raise ValueError(f'{path}: {exc}') from exc


def load_detector_input(kind: str, rgb_path: Path | None, ir_path: Path | None, *, method: str = 'ssvif',
                        model_path: str | Path | None = None, device: str = 'cpu',
                        thermal_norm: ThermalNormConfig | None = None) -> np.ndarray:
    """The ``(H, W, 3)`` uint8 RGB image a detector sees for ``kind``: ``'thermal'`` (the thermal image as gray
    RGB), ``'visible'`` (the visible image) or ``'fused'`` (the pair fused by ``method`` of
    :mod:`fusion_ros.registry`, on the visible image's grid). The thermal image is normalised by
    ``thermal_norm`` first (default ``ThermalNormConfig()``: per-image percentiles, the node's default)."""
    from fusion_ros.imaging import to_float01
    from fusion_ros.io import read_image, read_pair

    if kind not in INPUTS:
        raise ValueError(f'input must be one of {", ".join(INPUTS)}, got {kind!r}')
    thermal_norm = thermal_norm or ThermalNormConfig()
    if kind == 'thermal':
        if ir_path is None:
            raise ValueError('thermal input needs the thermal image')
        image = read_thermal_u8(ir_path, thermal_norm)
        return np.repeat(image[..., None], 3, axis=2)
    if kind == 'visible':
        if rgb_path is None:
            raise ValueError('visible input needs the visible image')
        image = to_float01(read_image(rgb_path), name=str(rgb_path))
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    if rgb_path is None or ir_path is None:
        raise ValueError('fused input needs both images of the pair')
    from fusion_ros.methods import fuse_pair
    pair = read_pair(rgb_path, ir_path, thermal_norm)
    fused = fuse_pair(method, pair.rgb, pair.thermal, model_path=model_path, device=device).fused
    return np.round(np.clip(fused, 0, 1) * 255).astype(np.uint8)


# --------------------------------------------------------------------------- the training dataset


@dataclass
class DatasetConfig:
    """What :func:`build_dataset` builds.

    thermal: ``(images folder, labels folder)`` of thermal images.
    pairs: ``(pairs folder with vi/ and ir/, labels folder of the fused images)``; each pair is fused once per
        method in ``methods`` (names of :mod:`fusion_ros.registry`; ``fusion_model``: checkpoint of a
        checkpoint method, None: its shipped file).
    names: class names (label class ids index them).
    val_fraction: share of stems for validation (0: validate on the training images), chosen in blocks of
        ``val_block`` consecutive stems spread evenly over the sorted stems.
    thermal_norm: how thermal images are normalised (default: as the node does, per-image percentiles); with
        ``ThermalNormConfig('dtype')`` 8-bit thermal files are taken as they are (and linked, see ``link``).
    link: with ``dtype``, symlink 8-bit thermal images instead of copying them (other images are written as
        8-bit PNG).
    limit: use the first ``limit`` labelled images of each source only (smoke runs).
    include_test: allow sources under a ``test`` folder (evaluation data: never for a shipped model).
    """
    thermal: tuple[tuple[Path, Path], ...] = ()
    pairs: tuple[tuple[Path, Path], ...] = ()
    methods: tuple[str, ...] = ('ssvif',)
    fusion_model: Path | None = None
    device: str = 'cpu'
    names: tuple[str, ...] = DEFAULT_NAMES
    val_fraction: float = 0.1
    val_block: int = 20
    thermal_norm: ThermalNormConfig = field(default_factory=ThermalNormConfig)
    link: bool = True
    limit: int | None = None
    include_test: bool = False

    def __post_init__(self):
        self.thermal = tuple((Path(i), Path(lb)) for i, lb in self.thermal)
        self.pairs = tuple((Path(i), Path(lb)) for i, lb in self.pairs)
        self.methods, self.names = tuple(self.methods), tuple(self.names)
        if isinstance(self.thermal_norm, dict):  # from a manifest
            self.thermal_norm = ThermalNormConfig(**self.thermal_norm)
        if not self.thermal and not self.pairs:
            raise ValueError('no training images: give thermal images (--thermal IMAGES LABELS) and/or pairs to '
                             'fuse (--pairs PAIRS LABELS)')
        if self.pairs and not self.methods:
            raise ValueError('pairs given but no fusion method; name at least one (e.g. ssvif)')
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f'val_fraction must lie in [0, 1), got {self.val_fraction}')
        if self.val_block < 1:
            raise ValueError(f'val_block must be >= 1, got {self.val_block}')
        if not self.names or len(set(self.names)) != len(self.names):
            raise ValueError(f'class names must be given and distinct, got {list(self.names)}')
        if self.limit is not None and self.limit < 1:
            raise ValueError(f'limit must be >= 1 (or None), got {self.limit}')
        from fusion_ros import registry
        for m in self.methods:
            registry.get(m)  # KeyError listing the valid names


@dataclass
class DatasetInfo:
    """What :func:`build_dataset` wrote: ``yaml`` (the ultralytics dataset file) and the counts."""
    root: Path
    yaml: Path
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # {split: {tag: images}}
    boxes: dict[str, dict[str, int]] = field(default_factory=dict)   # {split: {class name: boxes}}
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [f'{split} ' + ', '.join(f'{n} {tag}' for tag, n in c.items()) for split, c in self.counts.items()]
        return '; '.join(parts) + (f'; {len(self.skipped)} skipped' if self.skipped else '')


def _under_test(path: Path) -> bool:
    return any(part.lower() == 'test' for part in path.resolve().parts)


def _val_stems(stems: Iterable[str], fraction: float, block: int) -> set[str]:
    """Stems for validation: ``round(fraction * blocks)`` blocks of ``block`` consecutive sorted stems, spread
    evenly (block ``j`` of ``n``: index ``floor((j + 0.5) * blocks / n)``); always leaves training stems."""
    stems = sorted(stems)
    if fraction <= 0 or len(stems) < 2:
        return set()
    block = min(block, max(1, len(stems) // 2))  # at least two blocks
    n_blocks = math.ceil(len(stems) / block)
    n_val = min(n_blocks - 1, max(1, round(fraction * n_blocks)))
    chosen = {int((j + 0.5) * n_blocks / n_val) for j in range(n_val)}
    return {s for i, s in enumerate(stems) if i // block in chosen}


def _safe(stem: str) -> str:
    return stem.replace('/', '__').replace(os.sep, '__')


def _put_image(src: Path, dst_stem: Path, link: bool, thermal_norm: ThermalNormConfig) -> Path:
    """A thermal image readable by ultralytics at ``dst_stem`` + suffix: an 8-bit PNG normalised by
    ``thermal_norm`` (:func:`read_thermal_u8`), or, with ``dtype``, a symlink/copy of an 8-bit gray file."""
    import cv2

    from fusion_ros.io import read_image

    pixels = read_image(src)  # read once: it decides between a link and a normalised copy
    if (thermal_norm.mode == 'dtype' and pixels.dtype == np.uint8 and pixels.ndim == 2
            and src.suffix.lower() in ('.png', '.jpg', '.jpeg', '.bmp')):
        dst = dst_stem.with_suffix(src.suffix.lower())
        if link:
            os.symlink(src.resolve(), dst)
        else:
            shutil.copyfile(src, dst)
        return dst
    dst = dst_stem.with_suffix('.png')
    cv2.imwrite(str(dst), _thermal_u8(pixels, thermal_norm, src))
    return dst


def build_dataset(config: DatasetConfig, root: str | Path, *, progress: bool = True) -> DatasetInfo:
    """Build the ultralytics dataset described by ``config`` under ``root`` (see the module docstring).

    Images without a label file are skipped (listed in the manifest); a label file that is not YOLO text stops
    the build (:class:`LabelError` naming the file and line).

    Raises:
        FileExistsError: ``root`` holds a dataset already. ValueError: no labelled image, or a source under a
        ``test`` folder without ``include_test``.
    """
    from tqdm import tqdm

    from fusion_ros.io import write_image

    t0 = time.monotonic()
    root = Path(root)
    if (root / 'data.yaml').exists():
        raise FileExistsError(f'{root}: a dataset is there already; use another folder')
    nc = len(config.names)
    # -- what goes in: (tag, stem, kind, (rgb, thermal), label file); tags name the source in the file names
    items, skipped = [], []
    sources = [('thermal', f'ir{k}' if len(config.thermal) > 1 else 'ir', imgs, labels)
               for k, (imgs, labels) in enumerate(config.thermal)]
    sources += [('pairs', str(k) if len(config.pairs) > 1 else '', pairs, labels)
                for k, (pairs, labels) in enumerate(config.pairs)]
    for kind, tag, folder, labels in sources:
        if not config.include_test and _under_test(folder):
            raise ValueError(f'{folder} is under a "test" folder: evaluation data, not training data (include it '
                             'anyway with include_test / --include-test; never for a shipped model)')
        if not labels.is_dir():
            raise FileNotFoundError(f'{labels}: no such folder of labels')
        found = ([(s, None, p) for s, p in images_by_stem(folder).items()] if kind == 'thermal'
                 else matched_stems(*pair_folders(folder)))
        used = 0
        for stem, rgb, ir in found:
            label = labels / f'{stem}.txt'
            if not label.is_file():
                skipped.append(f'{ir or rgb}: no label file {label}')
                continue
            if config.limit is not None and used >= config.limit:
                break
            used += 1
            if kind == 'thermal':
                items.append((tag, stem, 'thermal', (None, ir), label))
            else:
                items += [(f'{m}{tag}', stem, m, (rgb, ir), label) for m in config.methods]
    if not items:
        raise ValueError('no labelled images found (' + '; '.join(skipped[:3]) + ')' if skipped else
                         'no images found in the given folders')
    val = _val_stems({stem for _, stem, _, _, _ in items}, config.val_fraction, config.val_block)
    # -- write
    for split in ('train', 'val'):
        (root / 'images' / split).mkdir(parents=True, exist_ok=True)
        (root / 'labels' / split).mkdir(parents=True, exist_ok=True)
    counts: dict[str, dict[str, int]] = {'train': {}, 'val': {}}
    boxes: dict[str, dict[str, int]] = {'train': dict.fromkeys(config.names, 0), 'val': dict.fromkeys(config.names, 0)}
    for tag, stem, kind, (rgb, ir), label in tqdm(items, desc='dataset', unit='image', disable=not progress):
        split = 'val' if stem in val else 'train'
        name = f'{tag}_{_safe(stem)}'
        target = read_yolo_file(label, num_classes=nc)
        if kind == 'thermal':
            _put_image(ir, root / 'images' / split / name, config.link, config.thermal_norm)
        else:
            fused = load_detector_input('fused', rgb, ir, method=kind, model_path=config.fusion_model,
                                        device=config.device, thermal_norm=config.thermal_norm)
            write_image(root / 'images' / split / f'{name}.png', fused)
        write_yolo_file(root / 'labels' / split / f'{name}.txt', target)
        counts[split][tag] = counts[split].get(tag, 0) + 1
        for c in target[:, 0].astype(int):
            boxes[split][config.names[c]] += 1
    val_dir = 'images/val' if sum(counts['val'].values()) else 'images/train'
    yaml_text = (f'# fusion_ros detection dataset (fusion_ros.detection_data.build_dataset); see manifest.json\n'
                 f'path: {json.dumps(str(root.resolve()))}\ntrain: images/train\nval: {val_dir}\n'
                 f'names:\n' + ''.join(f'  {i}: {json.dumps(n)}\n' for i, n in enumerate(config.names)))
    info = DatasetInfo(root, root / 'data.yaml', counts, boxes, skipped, time.monotonic() - t0)
    manifest = {'config': {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
                'val_is_train': val_dir == 'images/train', 'counts': counts, 'boxes': boxes,
                'skipped': skipped, 'seconds': round(info.seconds, 1)}
    manifest['config']['thermal'] = [[str(a), str(b)] for a, b in config.thermal]
    manifest['config']['pairs'] = [[str(a), str(b)] for a, b in config.pairs]
    (root / 'manifest.json').write_text(json.dumps(manifest, indent=2))
    info.yaml.write_text(yaml_text)  # last: its presence means the dataset is complete
    return info
