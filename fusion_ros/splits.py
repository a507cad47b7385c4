"""The fixed fusion test split of ``../shared/data``: pairs no training run or model selection ever sees.

Whole blocks, so that neighbouring video frames of a test scene are not in training either:

* ``m3fd``: ids 02000 and above (the last six id blocks, 42 pairs: roads, campus, night, fog);
* ``roadscene``: ``FLIR_08000`` and above plus all ``FLIR_video_*`` frames (the end of the FLIR ADAS
  drive and the separate video clip);
* ``tno``: scenes 21-25;
* ``msrs``: the 14 labelled test pairs (day and night; their visible images are never used for training).

``rgbnir`` is not part of the fusion test split: paper 000's tables use all of it (see
``bench/papers_tables.py``), and ``country`` minus nothing trains the fusion model's NIR side.

:func:`is_test_pair` decides by the dataset folder name and the file stem, so it works for any copy of
the data; :func:`exclude_test` drops test pairs from a list of :class:`fusion_ros.data.FolderPair`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

#: Human-readable description of the split, for cards and benchmark tables.
TEST_SPLIT_DESCRIPTION = ('m3fd ids >= 02000 (42 pairs), roadscene FLIR_08000+ and FLIR_video_* , '
                          'tno 21-25, msrs test (14 pairs)')

#: The dataset folders (under ``../shared/data``) that hold test pairs.
TEST_DATASETS = ('m3fd', 'roadscene', 'tno', 'msrs')


def _dataset_of(path: Path) -> str | None:
    parts = [p.lower() for p in Path(path).parts]
    for name in TEST_DATASETS:
        if name in parts:
            return name
    return None


def is_test_stem(dataset: str, stem: str) -> bool:
    """Is the pair ``stem`` of ``dataset`` (``'m3fd'``, ``'roadscene'``, ``'tno'``, ``'msrs'``) a test pair?"""
    if dataset == 'm3fd':
        return stem.isdigit() and int(stem) >= 2000
    if dataset == 'roadscene':
        if stem.startswith('FLIR_video_'):
            return True
        tail = stem.removeprefix('FLIR_')
        return tail.isdigit() and int(tail) >= 8000
    if dataset == 'tno':
        return stem.isdigit() and 21 <= int(stem) <= 25
    if dataset == 'msrs':
        return True  # only msrs/test has visible images; all of it is test data
    return False


def is_test_pair(path: str | Path, stem: str) -> bool:
    """Is the pair with file ``path`` (either image) and ``stem`` in the fixed test split?"""
    dataset = _dataset_of(Path(path))
    return dataset is not None and is_test_stem(dataset, stem)


def exclude_test(pairs: Iterable) -> list:
    """The pairs (objects with ``.rgb`` and ``.stem``) that are not in the test split, order kept."""
    return [p for p in pairs if not is_test_pair(p.rgb, p.stem)]


def held_out_pairs(data_root: str | Path, datasets: Sequence[str] = TEST_DATASETS) -> list:
    """The test pairs under ``data_root`` (a copy of ``shared/data``), sorted by dataset then stem.

    Returns :class:`fusion_ros.data.FolderPair` items whose ``scene`` is the dataset name.
    Raises ``FileNotFoundError`` naming the folder when a dataset is missing.
    """
    from fusion_ros.data import FolderPair, find_sources

    root = Path(data_root)
    out = []
    for name in datasets:
        folder = root / name / 'test' if name == 'msrs' else root / name
        if not folder.is_dir():
            raise FileNotFoundError(f'{folder}: test-split dataset missing; point --data-root at a copy of '
                                    'shared/data')
        pairs, _ = find_sources([folder])
        out.extend(FolderPair(p.rgb, p.thermal, name, p.stem) for p in pairs if is_test_stem(name, p.stem))
    return out
