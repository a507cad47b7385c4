"""The fixed fusion test split: which stems are test pairs, and that training data leaves them out."""
from pathlib import Path

import numpy as np
import pytest

from fusion_ros.data import DataConfig, build_datasets
from fusion_ros.io import write_image
from fusion_ros.splits import exclude_test, is_test_pair, is_test_stem, held_out_pairs


@pytest.mark.parametrize('dataset, stem, expected', [
    ('m3fd', '02000', True), ('m3fd', '01999', False), ('roadscene', 'FLIR_08000', True),
    ('roadscene', 'FLIR_07999', False), ('roadscene', 'FLIR_video_00069', True), ('tno', '21', True),
    ('tno', '20', False), ('msrs', '00008N', True), ('rgbnir', '0001', False)])
def test_is_test_stem(dataset, stem, expected):
    assert is_test_stem(dataset, stem) is expected


def _write_pairs(root: Path, stems):
    for s in stems:
        write_image(root / 'vi' / f'{s}.png', np.random.rand(40, 40, 3).astype(np.float32))
        write_image(root / 'ir' / f'{s}.png', np.random.rand(40, 40).astype(np.float32))


def test_training_data_never_holds_test_pairs(tmp_path):
    root = tmp_path / 'm3fd'
    _write_pairs(root, ['00001', '00002', '00003', '02001', '02500'])
    assert [p.stem for p in held_out_pairs(tmp_path, ('m3fd',))] == ['02001', '02500']
    ds = build_datasets(DataConfig(paths=(str(root),), crop_size=16, val_fraction=0.0))
    assert sorted(p.stem for p in ds.split.train_pairs) == ['00001', '00002', '00003']
    kept = build_datasets(DataConfig(paths=(str(root),), crop_size=16, val_fraction=0.0, exclude_test=False))
    assert len(kept.split.train_pairs) == 5
    assert not any(is_test_pair(p.rgb, p.stem) for p in exclude_test(kept.split.train_pairs))


def test_only_test_pairs_is_a_clear_error(tmp_path):
    _write_pairs(tmp_path / 'tno', ['21', '22'])
    with pytest.raises(ValueError, match='test split'):
        build_datasets(DataConfig(paths=(str(tmp_path / 'tno'),), crop_size=16, val_fraction=0.0))


def test_missing_dataset_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='m3fd'):
        held_out_pairs(tmp_path, ('m3fd',))
