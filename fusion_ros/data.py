"""Training data: RGB + thermal/NIR pairs from image folders and rosbag2 bags, split 9:1 by scene, cropped.

Sources (``DataConfig.paths``; each path is searched recursively):

* **image folders**, pairs sharing a file stem, in either layout (image files only: png, jpg, jpeg,
  bmp, tif, tiff; other files such as ``.npy`` are ignored):

  - ``D/{ir,vi}/STEM.ext`` (RoadScene, TNO): a thermal folder (``ir``, ``thermal``, ``nir``, ``lwir``)
    and a visible folder (``vi``, ``vis``, ``visible``, ``rgb``) side by side;
  - ``D/STEM_rgb.ext`` + ``D/STEM_nir.ext`` (EPFL RGB-NIR) or ``D/STEM_thermal.ext`` / ``D/STEM_ir.ext``.

  The scene of a pair is its folder ``D`` (named ``<root>/<D relative to root>``).
* **bags** (a directory with ``metadata.yaml``, or a ``.mcap`` / ``.db3`` file): the pairs of
  ``rgb_topic`` and ``thermal_topic``, paired by stamp as the node pairs them
  (:func:`fusion_ros.bags.read_pairs`), streamed: a bag is never loaded whole. The scene is the bag.

The 9:1 split (:func:`plan_split`), deterministic for a given seed and set of sources:

* with at least ``min_scenes`` scenes (folders and bags together), whole scenes go to validation
  (chosen at random by ``seed``, about ``val_fraction`` of the pairs), so near-duplicate frames of one
  recording never sit on both sides;
* with fewer scenes (a single folder of video frames, one bag), each scene gives one *contiguous*
  block of about ``val_fraction`` of its pairs (in file-name order for folders, a window of
  ``val_fraction`` of the recording's duration for bags) to validation: neighbouring frames stay
  together, only the two block edges touch the training part.

Samples (:func:`prepare_sample`): the thermal image is resampled onto the RGB grid, the pair is
optionally downscaled (``max_side``), then cut to ``crop_size`` x ``crop_size``: training crops at a
random place with random flips, validation crops in the centre, both deterministic functions of
``(seed, epoch, pair)`` so a resumed run sees the same data. Each sample is a dict
``rgb (3, c, c)`` and ``thermal (1, c, c)``, float32 in [0, 1].

Datasets: :class:`FolderPairDataset` (map-style; folders only, works with ``DistributedSampler``) and
:class:`PairStream` (``IterableDataset`` over folders and bags, with a shuffle buffer, sharded over
DDP ranks and DataLoader workers). :func:`build_datasets` picks them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal, NamedTuple, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from fusion_ros.imaging import ImageError, ThermalNormConfig
from fusion_ros.pairing import PairingConfig

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')
THERMAL_DIRS = ('ir', 'thermal', 'nir', 'lwir')
VISIBLE_DIRS = ('vi', 'vis', 'visible', 'rgb')
_SUFFIX_RE = re.compile(r'^(?P<stem>.+)_(?P<kind>rgb|nir|thermal|ir)$', re.IGNORECASE)


class DataError(ValueError):
    """Training data that cannot be used as given; the message says what came and the fix."""


# --------------------------------------------------------------------------- configuration


@dataclass
class DataConfig:
    """Where the pairs come from, how they are split and cut.

    paths: image folders and/or bags (see the module docstring); searched recursively.
    crop_size: side of the square training crops (paper: 160). Images smaller than this are
        upscaled so that their shorter side equals it.
    val_crop_size: side of the centred validation crops (None: ``crop_size``).
    hflip, vflip: probabilities of a horizontal / vertical flip of a training crop.
    max_side: downscale a pair whose longer side exceeds this many pixels before cropping
        (None: keep the resolution; e.g. 640 for 1024-px RGB-NIR images).
    crops_per_pair: training crops cut from each pair per epoch.
    val_fraction: share of pairs for validation (paper: 0.1); 0 disables validation.
    min_scenes: scenes needed to split by whole scenes (fewer: contiguous blocks per scene).
    seed: seed of the split, crops, flips and shuffling.
    rgb_topic, thermal_topic: the image topics of bags.
    pairing: how bag messages are paired (the node's queue size and tolerance).
    thermal_norm: ``'percentile'`` (0.5-99.5 % of each image, whatever the pixel type: what the node does
        with its thermal stream by default, so a model trains on what it will see), ``'auto'`` (8-bit by its
        range, 16-bit/float by percentiles: the field's protocol for 8-bit datasets) or ``'dtype'`` (the shipped
        SSVIF model was trained on 8-bit files taken as they are).
    shuffle_buffer: samples held by the streaming dataset to shuffle bag frames (1: no shuffling).
    exclude_test: drop the pairs of the fixed fusion test split (:mod:`fusion_ros.splits`) so no training
        run or model selection sees them (default True).
    """
    paths: tuple[str, ...] = ()
    crop_size: int = 160
    val_crop_size: int | None = None
    hflip: float = 0.5
    vflip: float = 0.0
    max_side: int | None = None
    crops_per_pair: int = 1
    val_fraction: float = 0.1
    min_scenes: int = 10
    seed: int = 0
    rgb_topic: str = 'rgb/image'
    thermal_topic: str = 'thermal/image'
    pairing: PairingConfig = field(default_factory=PairingConfig)
    thermal_norm: Literal['auto', 'dtype', 'percentile'] = 'percentile'
    shuffle_buffer: int = 64
    exclude_test: bool = True

    def __post_init__(self):
        if isinstance(self.paths, (str, Path)):
            self.paths = (str(self.paths),)
        self.paths = tuple(str(p) for p in self.paths)
        if isinstance(self.pairing, dict):
            self.pairing = PairingConfig(**self.pairing)
        if self.crop_size < 16:
            raise ValueError(f'DataConfig.crop_size must be >= 16 pixels, got {self.crop_size}')
        if self.val_crop_size is not None and self.val_crop_size < 16:
            raise ValueError(f'DataConfig.val_crop_size must be >= 16 pixels (or None), '
                             f'got {self.val_crop_size}')
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f'DataConfig.val_fraction must be in [0, 1), got {self.val_fraction}; use 0.1 '
                             'for the paper\'s 9:1 split')
        for name in ('hflip', 'vflip'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'DataConfig.{name} is a probability in [0, 1], got {getattr(self, name)}')
        if self.max_side is not None and self.max_side < self.crop_size:
            raise ValueError(f'DataConfig.max_side ({self.max_side}) must be >= crop_size ({self.crop_size})')
        if self.crops_per_pair < 1 or self.shuffle_buffer < 1 or self.min_scenes < 2:
            raise ValueError('DataConfig: crops_per_pair and shuffle_buffer must be >= 1 and min_scenes >= 2,'
                             f' got {self.crops_per_pair}, {self.shuffle_buffer}, {self.min_scenes}')
        if self.thermal_norm not in ('auto', 'dtype', 'percentile'):
            raise ValueError(f"DataConfig.thermal_norm must be 'auto', 'dtype' or 'percentile', "
                             f'got {self.thermal_norm!r}')


# --------------------------------------------------------------------------- discovering sources


class FolderPair(NamedTuple):
    """A pair of image files: visible ``rgb``, thermal/NIR ``thermal``, its ``scene`` and ``stem``."""
    rgb: Path
    thermal: Path
    scene: str
    stem: str


@dataclass
class BagSource:
    """A bag to stream pairs from; ``val_window`` is set by :func:`plan_split`.

    scene: the bag's scene id; count: messages on the RGB topic (for the split's weights);
    start_ns, end_ns: the recording's log-time span; val_window: log-time interval ``[t0, t1)`` of
    the RGB frames that go to validation (``(0, 0)``: none, ``(start, end + 1)``: the whole bag).
    """
    path: Path
    scene: str
    count: int
    start_ns: int
    end_ns: int
    val_window: tuple[int, int] = (0, 0)

    def is_val(self, log_time_ns: int) -> bool:
        return self.val_window[0] <= log_time_ns < self.val_window[1]


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _scene_name(root: Path, folder: Path) -> str:
    rel = folder.relative_to(root).as_posix()
    return root.name if rel == '.' else f'{root.name}/{rel}'


def _pairs_in_folder(root: Path, folder: Path) -> list[FolderPair]:
    """Pairs of one folder: ``{ir,vi}/STEM`` sub-folders and ``STEM_rgb`` / ``STEM_nir`` files."""
    scene = _scene_name(root, folder)
    subdirs = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
    pairs = []
    thermal_dir = next((subdirs[n] for n in THERMAL_DIRS if n in subdirs), None)
    visible_dir = next((subdirs[n] for n in VISIBLE_DIRS if n in subdirs), None)
    if thermal_dir is not None and visible_dir is not None:
        thermal = {p.stem: p for p in sorted(thermal_dir.iterdir()) if _is_image(p)}
        for p in sorted(visible_dir.iterdir()):
            if _is_image(p) and p.stem in thermal:
                pairs.append(FolderPair(p, thermal[p.stem], scene, p.stem))
    by_stem: dict[str, dict[str, Path]] = {}
    for p in sorted(folder.iterdir()):
        m = _SUFFIX_RE.match(p.stem) if _is_image(p) else None
        if m:
            kind = 'rgb' if m['kind'].lower() == 'rgb' else 'thermal'
            by_stem.setdefault(m['stem'], {}).setdefault(kind, p)
    for stem, files in sorted(by_stem.items()):
        if 'rgb' in files and 'thermal' in files:
            pairs.append(FolderPair(files['rgb'], files['thermal'], scene, stem))
    return pairs


def find_sources(paths: Sequence[str | Path]) -> tuple[list[FolderPair], list[Path]]:
    """Folder pairs and bags under ``paths`` (searched recursively; bags are not descended into).

    Returns:
        ``(pairs, bags)``: folder pairs sorted by scene then stem, and bag paths, sorted.

    Raises:
        FileNotFoundError: a path that does not exist.
        DataError: nothing usable found (the message lists the layouts looked for).
    """
    from fusion_ros.bags import is_bag

    pairs: list[FolderPair] = []
    bags: list[Path] = []
    for given in paths:
        root = Path(given)
        if not root.exists():
            raise FileNotFoundError(f'{root}: no such folder or bag; check --data')
        if is_bag(root):
            bags.append(root)
            continue
        if not root.is_dir():
            raise DataError(f'{root}: neither a folder of image pairs nor a bag (.mcap/.db3 or a directory '
                            'with metadata.yaml)')
        stack = [root]
        while stack:
            folder = stack.pop()
            if is_bag(folder):
                bags.append(folder)
                continue
            pairs.extend(_pairs_in_folder(root, folder))
            for child in sorted(folder.iterdir(), reverse=True):
                if child.is_dir() and child.name.lower() not in THERMAL_DIRS + VISIBLE_DIRS:
                    stack.append(child)
                elif child.is_file() and child.suffix in ('.mcap', '.db3') and is_bag(child):
                    bags.append(child)
    pairs = sorted(dict.fromkeys(pairs), key=lambda p: (p.scene, p.stem))
    bags = sorted(dict.fromkeys(bags))
    if not pairs and not bags:
        raise DataError(
            f'no image pairs or bags found under {", ".join(map(str, paths)) or "(no paths given)"}; '
            'expected '
            'folders D/{ir,vi}/STEM.ext, files STEM_rgb.ext + STEM_nir.ext (or STEM_thermal.ext), or rosbag2 '
            'bags (.mcap/.db3 files, or directories with metadata.yaml)')
    return pairs, bags


def describe_bag(path: Path, rgb_topic: str, thermal_topic: str) -> BagSource:
    """A :class:`BagSource` with the RGB topic's message count and the bag's log-time span.

    Raises:
        BagError: unreadable bag, or a topic missing (the message lists the bag's image topics).
    """
    from fusion_ros.bags import bag_info, find_topic

    info = bag_info(path)
    rgb = find_topic(info.topics, rgb_topic, path=path, role='rgb')
    find_topic(info.topics, thermal_topic, path=path, role='thermal')
    return BagSource(Path(path), f'bag:{Path(path).as_posix()}', rgb.count, info.start_ns,
                     max(info.end_ns, info.start_ns + 1))


# --------------------------------------------------------------------------- the 9:1 split


@dataclass
class Split:
    """The result of :func:`plan_split`.

    train_pairs, val_pairs: folder pairs of each side; bags: every bag with its ``val_window`` set;
    description: one line saying how the split was made (for the run log).
    """
    train_pairs: list[FolderPair]
    val_pairs: list[FolderPair]
    bags: list[BagSource]
    description: str


def plan_split(pairs: Sequence[FolderPair], bags: Sequence[BagSource], val_fraction: float = 0.1,
               seed: int = 0, min_scenes: int = 10) -> Split:
    """Split folder pairs and bags about ``val_fraction`` : ``1 - val_fraction`` by scene.

    See the module docstring for the two regimes. Deterministic: the same sources, fraction and seed
    give the same split, independent of the order the paths were given in.
    """
    pairs = sorted(pairs, key=lambda p: (p.scene, p.stem))
    bags = [BagSource(b.path, b.scene, b.count, b.start_ns, b.end_ns)
            for b in sorted(bags, key=lambda b: b.scene)]
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        groups.setdefault(p.scene, []).append(i)
    weights = {s: len(ix) for s, ix in groups.items()}
    weights.update({b.scene: b.count for b in bags})
    total = sum(weights.values())
    rng = np.random.default_rng(seed)
    if val_fraction <= 0 or total < 2:
        return Split(list(pairs), [], bags, 'no validation split (val_fraction 0 or fewer than 2 pairs)')

    val_idx: set[int] = set()
    if len(weights) >= min_scenes:
        chosen = _choose_scenes(weights, val_fraction * total, rng)
        for s in chosen:
            val_idx.update(groups.get(s, []))
        for b in bags:
            if b.scene in chosen:
                b.val_window = (b.start_ns, b.end_ns + 1)
        desc = (f'split by scene: {len(chosen)} of {len(weights)} scenes for validation '
                f'({", ".join(sorted(chosen))})')
    else:
        parts = []
        for scene, ix in groups.items():
            n_val = int(math.floor(val_fraction * len(ix) + 0.5))
            if n_val == 0 or n_val >= len(ix):
                continue
            first = int(rng.integers(0, len(ix) - n_val + 1))
            val_idx.update(ix[first:first + n_val])
            parts.append(f'{scene} [{first}:{first + n_val}] of {len(ix)}')
        for b in bags:
            span = b.end_ns - b.start_ns
            width = int(round(val_fraction * span))
            t0 = b.start_ns + int(rng.integers(0, max(span - width, 0) + 1))
            b.val_window = (t0, t0 + width)
            a, z = (t0 - b.start_ns) / 1e9, (t0 + width - b.start_ns) / 1e9
            parts.append(f'{b.scene} log time [{a:.1f}, {z:.1f}) s')
        if not val_idx and not bags:  # tiny scenes: one pair of the largest one
            scene = max(groups, key=lambda s: len(groups[s]))
            val_idx.add(groups[scene][int(rng.integers(0, len(groups[scene])))])
            parts.append(f'{scene}: 1 pair')
        desc = (f'split within each of {len(weights)} scenes (fewer than {min_scenes}) by one contiguous '
                f'block: ' + '; '.join(parts))
    train = [p for i, p in enumerate(pairs) if i not in val_idx]
    val = [p for i, p in enumerate(pairs) if i in val_idx]
    if not train and not any(b.val_window != (b.start_ns, b.end_ns + 1) for b in bags):
        raise DataError('the split left no training data; lower val_fraction or add scenes')
    return Split(train, val, bags, desc)


def _choose_scenes(weights: dict[str, int], target: float, rng: np.random.Generator) -> set[str]:
    """Scenes in random order, each taken when it brings the validation total nearer to ``target``."""
    names = sorted(weights)
    order = [names[i] for i in rng.permutation(len(names))]
    chosen: set[str] = set()
    got = 0
    for s in order:
        if len(chosen) == len(names) - 1:
            break  # keep at least one training scene
        if abs(got + weights[s] - target) < abs(got - target):
            chosen.add(s)
            got += weights[s]
    if not chosen:  # every scene overshoots: the smallest one
        chosen.add(min(names, key=lambda s: (weights[s], s)))
    return chosen


# --------------------------------------------------------------------------- one sample


def thermal_norm_for(pixels: np.ndarray, mode: str = 'auto') -> ThermalNormConfig:
    """The thermal normalisation of ``mode`` for an image (``'auto'``: dtype if 8-bit, else percentiles)."""
    if mode == 'auto':
        mode = 'dtype' if pixels.dtype == np.uint8 else 'percentile'
    return ThermalNormConfig(mode)


def _resize(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    h, w = hw
    if image.shape[:2] == (h, w):
        return image
    shrink = h < image.shape[0] or w < image.shape[1]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def prepare_sample(rgb: np.ndarray, thermal: np.ndarray, crop_size: int, *, rng: np.random.Generator | None,
                   hflip: float = 0.0, vflip: float = 0.0,
                   max_side: int | None = None) -> dict[str, torch.Tensor]:
    """Cut one training (random) or validation (centred, ``rng=None``) sample from a pair.

    Args:
        rgb: ``(H, W, 3)`` float32 in [0, 1]; thermal: ``(h, w)`` float32 in [0, 1], any size
            (resampled onto the RGB grid; both cameras are assumed to see the same field of view).
        crop_size: side ``c`` of the square crop; a pair whose shorter side is below ``c`` is upscaled.
        rng: random crop position and flips; None: centre crop, no flips.
        hflip, vflip: flip probabilities (training only).
        max_side: downscale first so that the longer side is at most this.

    Returns:
        ``{'rgb': (3, c, c), 'thermal': (1, c, c)}`` float32 tensors in [0, 1].
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or thermal.ndim != 2:
        raise ImageError(f'prepare_sample: expected rgb (H, W, 3) and thermal (h, w), got {rgb.shape} and '
                         f'{thermal.shape}')
    h, w = rgb.shape[:2]
    scale = 1.0
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
    if min(h, w) * scale < crop_size:
        scale = crop_size / min(h, w)
    if scale != 1.0:
        h, w = max(crop_size, int(round(h * scale))), max(crop_size, int(round(w * scale)))
        rgb = _resize(rgb, (h, w))
    thermal = _resize(thermal, (h, w))
    if rng is None:
        y, x = (h - crop_size) // 2, (w - crop_size) // 2
        flip_h = flip_v = False
    else:
        y, x = int(rng.integers(0, h - crop_size + 1)), int(rng.integers(0, w - crop_size + 1))
        flip_h, flip_v = bool(rng.random() < hflip), bool(rng.random() < vflip)
    rgb = rgb[y:y + crop_size, x:x + crop_size]
    thermal = thermal[y:y + crop_size, x:x + crop_size]
    if flip_h:
        rgb, thermal = rgb[:, ::-1], thermal[:, ::-1]
    if flip_v:
        rgb, thermal = rgb[::-1], thermal[::-1]
    return {'rgb': torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)),
            'thermal': torch.from_numpy(np.ascontiguousarray(thermal[None], dtype=np.float32))}


_CROP, _ORDER, _BUFFER = 0, 1, 2  # what a generator is for (keeps their streams independent)


def _sample_rng(seed: int, epoch: int, purpose: int, *keys: int) -> np.random.Generator:
    """The generator for ``purpose`` in ``epoch`` (and for e.g. a sample index): reproducible, resumable."""
    return np.random.default_rng([seed, epoch, purpose, *keys])


def _read_folder_pair(pair: FolderPair, thermal_norm: str) -> tuple[np.ndarray, np.ndarray]:
    from fusion_ros.io import read_pair

    norm = None if thermal_norm == 'auto' else ThermalNormConfig(thermal_norm)
    arrays = read_pair(pair.rgb, pair.thermal, norm)
    return arrays.rgb, arrays.thermal


def _decode_bag_pair(pair, thermal_norm: str) -> tuple[np.ndarray, np.ndarray]:
    from fusion_ros.bags import decode_frame
    from fusion_ros.encodings import rgb_array_to_float, thermal_array_to_float

    rgb = decode_frame(pair.rgb, name='rgb')
    thermal = decode_frame(pair.thermal, name='thermal')
    return (rgb_array_to_float(rgb.image, name=f'{pair.rgb.topic} at {rgb.stamp_ns} ns'),
            thermal_array_to_float(thermal.image, thermal_norm_for(thermal.image, thermal_norm)))


# --------------------------------------------------------------------------- datasets


class FolderPairDataset(Dataset):
    """Map-style dataset of folder pairs: ``len = len(pairs) * crops_per_pair`` (training) or ``len(pairs)``.

    ``dataset[i]`` reads pair ``i // crops_per_pair`` from disk and returns :func:`prepare_sample`'s dict;
    training crops depend on ``(seed, epoch, i)`` only (call :meth:`set_epoch` each epoch).
    """

    def __init__(self, pairs: Sequence[FolderPair], config: DataConfig, train: bool = True):
        self.pairs = list(pairs)
        self.config = config
        self.train = train
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.pairs) * (self.config.crops_per_pair if self.train else 1)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        c = self.config
        k = c.crops_per_pair if self.train else 1
        pair = self.pairs[index // k]
        rgb, thermal = _read_folder_pair(pair, c.thermal_norm)
        if self.train:
            rng = _sample_rng(c.seed, self.epoch, _CROP, index)
            return prepare_sample(rgb, thermal, c.crop_size, rng=rng, hflip=c.hflip, vflip=c.vflip,
                                  max_side=c.max_side)
        return prepare_sample(rgb, thermal, c.val_crop_size or c.crop_size, rng=None, max_side=c.max_side)


class PairStream(IterableDataset):
    """Streaming dataset over folder pairs and bags: yields :func:`prepare_sample` dicts.

    Training: folder pairs in a random order, then the bags in a random order, each bag read once
    from start to end (pairs formed by the node's pairer), through a shuffle buffer of
    ``config.shuffle_buffer`` samples. Validation: the same sources in a fixed order, centre crops.

    Sharding: with ``rank``/``world_size`` (DDP) and DataLoader workers, candidate pair ``j`` (counted
    over all sources) goes to shard ``j mod (world_size * workers)``; pixels are decoded only by the
    shard that keeps the pair. Shards may differ by one sample; the training run stops an epoch when
    the first rank runs out.
    """

    def __init__(self, pairs: Sequence[FolderPair], bags: Sequence[BagSource], config: DataConfig,
                 train: bool = True, rank: int = 0, world_size: int = 1):
        super().__init__()
        self.pairs = list(pairs)
        self.bags = list(bags)
        self.config = config
        self.train = train
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _candidates(self, rng: np.random.Generator | None) -> Iterator[tuple[Callable, str]]:
        """``(load, name)`` per pair of this side of the split; ``load()`` returns the float arrays."""
        c = self.config
        order = rng.permutation(len(self.pairs)) if rng is not None else range(len(self.pairs))
        for i in order:
            pair = self.pairs[int(i)]
            yield (lambda pair=pair: _read_folder_pair(pair, c.thermal_norm)), f'{pair.scene}/{pair.stem}'
        bag_order = rng.permutation(len(self.bags)) if rng is not None else range(len(self.bags))
        for b in bag_order:
            yield from self._bag_candidates(self.bags[int(b)])

    def _bag_candidates(self, bag: BagSource) -> Iterator[tuple[Callable, str]]:
        from fusion_ros.bags import read_pairs

        c = self.config
        for pair in read_pairs(bag.path, c.rgb_topic, c.thermal_topic, c.pairing, decode=False):
            if bag.is_val(pair.rgb.log_time_ns) != (not self.train):
                continue
            name = f'{bag.scene}@{pair.rgb_stamp_ns}'
            yield (lambda pair=pair: _decode_bag_pair(pair, c.thermal_norm)), name

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        c = self.config
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        shards, shard = self.world_size * workers, self.rank * workers + worker
        rng = _sample_rng(c.seed, self.epoch, _ORDER) if self.train else None
        buffer_rng = _sample_rng(c.seed, self.epoch, _BUFFER, shard)
        buffer: list[dict] = []
        for j, (load, _name) in enumerate(self._candidates(rng)):
            if j % shards != shard:
                continue
            rgb, thermal = load()
            if not self.train:
                yield prepare_sample(rgb, thermal, c.val_crop_size or c.crop_size, rng=None,
                                     max_side=c.max_side)
                continue
            for k in range(c.crops_per_pair):
                rng_k = _sample_rng(c.seed, self.epoch, _CROP, j, k)
                sample = prepare_sample(rgb, thermal, c.crop_size, rng=rng_k, hflip=c.hflip, vflip=c.vflip,
                                        max_side=c.max_side)
                if len(buffer) < c.shuffle_buffer:
                    buffer.append(sample)
                    continue
                slot = int(buffer_rng.integers(0, len(buffer)))
                buffer[slot], sample = sample, buffer[slot]
                yield sample
        if self.train:
            for i in buffer_rng.permutation(len(buffer)):
                yield buffer[int(i)]


@dataclass
class Datasets:
    """What :func:`build_datasets` returns: ``train`` / ``val`` datasets, the :class:`Split`, and whether
    they stream (``IterableDataset``; then a ``DistributedSampler`` does not apply)."""
    train: Dataset
    val: Dataset | None
    split: Split
    streaming: bool
    n_train_pairs: int | None  # None when streaming (unknown until read)
    n_val_pairs: int | None


def build_datasets(config: DataConfig, rank: int = 0, world_size: int = 1) -> Datasets:
    """Find the sources of ``config.paths``, split them, and build the training and validation datasets.

    Folder pairs only: :class:`FolderPairDataset` (map-style). With bags: :class:`PairStream` for both,
    sharded over ``rank`` / ``world_size``.
    """
    pairs, bag_paths = find_sources(config.paths)
    if config.exclude_test:
        from fusion_ros.splits import exclude_test

        kept = exclude_test(pairs)
        if pairs and not kept and not bag_paths:
            raise DataError(f'all {len(pairs)} pairs under {", ".join(config.paths)} belong to the fixed test '
                            'split (fusion_ros.splits); train on other data, or set exclude_test=False')
        pairs = kept
    bags = [describe_bag(p, config.rgb_topic, config.thermal_topic) for p in bag_paths]
    split = plan_split(pairs, bags, config.val_fraction, config.seed, config.min_scenes)
    if not bags:
        val = FolderPairDataset(split.val_pairs, config, train=False) if split.val_pairs else None
        return Datasets(FolderPairDataset(split.train_pairs, config, train=True), val, split, False,
                        len(split.train_pairs), len(split.val_pairs))
    has_val = bool(split.val_pairs) or any(b.val_window[1] > b.val_window[0] for b in split.bags)
    train = PairStream(split.train_pairs, split.bags, config, True, rank, world_size)
    val = PairStream(split.val_pairs, split.bags, config, False, rank, world_size) if has_val else None
    return Datasets(train, val, split, True, None, None)


__all__ = ['BagSource', 'DataConfig', 'DataError', 'Datasets', 'FolderPair', 'FolderPairDataset',
           'PairStream',
           'Split', 'build_datasets', 'describe_bag', 'find_sources', 'plan_split', 'prepare_sample']
