"""Tests of fusion_ros.data: folder layouts, bag streaming, the 9:1 split by scene, crops and flips."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from fusion_ros import bags
from fusion_ros.data import (BagSource, DataConfig, DataError, FolderPair, FolderPairDataset, PairStream,
                             build_datasets, find_sources, plan_split, prepare_sample)

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image[..., ::-1] if image.ndim == 3 else image)


def pair_arrays(seed: int, h=24, w=32):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8), rng.integers(0, 256, (h, w), dtype=np.uint8)


@pytest.fixture
def folders(tmp_path):
    """Three layouts: roadscene-like {ir,vi}, rgbnir-like STEM_rgb/STEM_nir, and STEM_rgb/STEM_thermal."""
    root = tmp_path / 'data'
    for i in range(3):
        rgb, th = pair_arrays(i)
        write_png(root / 'road' / 'vi' / f'F{i}.png', rgb)
        write_png(root / 'road' / 'ir' / f'F{i}.png', th)
    write_png(root / 'road' / 'vi' / 'lonely.png', pair_arrays(9)[0])  # no thermal partner: ignored
    for i in range(4):
        rgb, th = pair_arrays(10 + i)
        write_png(root / 'rgbnir' / 'country' / f'{i:04d}_rgb.png', rgb)
        write_png(root / 'rgbnir' / 'country' / f'{i:04d}_nir.png', th)
    np.save(root / 'rgbnir' / 'country' / '0000_nir.npy', np.eye(2, 3))  # not an image: ignored
    rgb, th = pair_arrays(20)
    write_png(root / 'cams' / 'a_rgb.png', rgb)
    write_png(root / 'cams' / 'a_thermal.png', th)
    return root


def test_find_sources_reads_every_layout(folders):
    pairs, found_bags = find_sources([folders])
    assert found_bags == []
    by_scene = {}
    for p in pairs:
        by_scene.setdefault(p.scene, []).append(p.stem)
    assert by_scene == {'data/cams': ['a'], 'data/rgbnir/country': ['0000', '0001', '0002', '0003'],
                        'data/road': ['F0', 'F1', 'F2']}
    road = next(p for p in pairs if p.stem == 'F1')
    assert road.rgb.parent.name == 'vi' and road.thermal.parent.name == 'ir'
    nir = next(p for p in pairs if p.stem == '0002')
    assert nir.rgb.name == '0002_rgb.png' and nir.thermal.name == '0002_nir.png'


def test_find_sources_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='no such folder or bag'):
        find_sources([tmp_path / 'nope'])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DataError, match=r'no image pairs or bags found .* expected folders '
                                        r'D/\{ir,vi\}/STEM.ext'):
        find_sources([tmp_path / 'empty'])


def fake_pairs(scenes: dict[str, int]) -> list[FolderPair]:
    return [FolderPair(Path(f'{s}/{i}_rgb.png'), Path(f'{s}/{i}_nir.png'), s, f'{i:04d}')
            for s, n in scenes.items() for i in range(n)]


def test_split_by_whole_scenes_is_disjoint_deterministic_and_about_one_tenth():
    pairs = fake_pairs({f'scene{k:02d}': 8 + k for k in range(20)})
    split = plan_split(pairs, [], val_fraction=0.1, seed=3)
    train_scenes = {p.scene for p in split.train_pairs}
    val_scenes = {p.scene for p in split.val_pairs}
    assert val_scenes and not train_scenes & val_scenes
    assert len(split.train_pairs) + len(split.val_pairs) == len(pairs)
    assert abs(len(split.val_pairs) / len(pairs) - 0.1) < 0.05
    assert 'split by scene' in split.description
    again = plan_split(list(reversed(pairs)), [], val_fraction=0.1, seed=3)  # order of the inputs: no effect
    assert again.val_pairs == split.val_pairs
    assert plan_split(pairs, [], 0.1, seed=4).val_pairs != split.val_pairs


def test_split_with_few_scenes_takes_one_contiguous_block_per_scene():
    pairs = fake_pairs({'road': 50, 'tno': 20, 'tiny': 3})
    split = plan_split(pairs, [], val_fraction=0.1, seed=0)
    val = {}
    for p in split.val_pairs:
        val.setdefault(p.scene, []).append(int(p.stem))
    assert sorted(val) == ['road', 'tno']  # 10 % of 3 pairs rounds to none
    for scene, stems in val.items():
        assert stems == list(range(stems[0], stems[0] + len(stems)))  # contiguous
    assert len(val['road']) == 5 and len(val['tno']) == 2
    assert 'contiguous block' in split.description
    assert plan_split(pairs, [], val_fraction=0.0).val_pairs == []
    one = plan_split(fake_pairs({'a': 4}), [], val_fraction=0.1)  # rounds to none: still one pair
    assert len(one.val_pairs) == 1 and len(one.train_pairs) == 3


def test_bag_split_windows():
    b = BagSource(Path('x'), 'bag:x', 100, start_ns=T0, end_ns=T0 + 10_000 * MS)
    split = plan_split([], [b], val_fraction=0.1, seed=0)
    (t0, t1), = [s.val_window for s in split.bags]
    assert t1 - t0 == 1_000 * MS and T0 <= t0 and t1 <= T0 + 10_000 * MS
    many = [BagSource(Path(f'b{k}'), f'bag:b{k}', 10, T0, T0 + 1_000 * MS) for k in range(12)]
    split = plan_split([], many, val_fraction=0.1, seed=0)
    whole = [s for s in split.bags if s.val_window == (s.start_ns, s.end_ns + 1)]
    assert len(whole) == 1 and all(s.val_window == (0, 0) for s in split.bags if s not in whole)


def test_prepare_sample_crops_flips_and_resamples_consistently():
    rng = np.random.default_rng(0)
    rgb = rng.random((40, 60, 3)).astype(np.float32)
    thermal = cv2.resize(rgb.mean(axis=2), (30, 20), interpolation=cv2.INTER_AREA)  # half resolution
    up = cv2.resize(thermal, (60, 40), interpolation=cv2.INTER_LINEAR)
    for seed in range(6):
        s = prepare_sample(rgb, thermal, 16, rng=np.random.default_rng(seed), hflip=0.5, vflip=0.5)
        assert s['rgb'].shape == (3, 16, 16) and s['thermal'].shape == (1, 16, 16)
        assert s['rgb'].dtype == torch.float32 and 0 <= float(s['rgb'].min()) and float(s['rgb'].max()) <= 1
        crop = s['rgb'].numpy().transpose(1, 2, 0)
        # find where the crop came from (with flips) and check the thermal crop matches that place
        matches = [(y, x, fh, fv) for y in range(25) for x in range(45) for fh in (0, 1) for fv in (0, 1)
                   if np.array_equal(_flip(rgb[y:y + 16, x:x + 16], fh, fv), crop)]
        (y, x, fh, fv), = matches
        np.testing.assert_allclose(s['thermal'][0].numpy(), _flip(up[y:y + 16, x:x + 16], fh, fv), atol=1e-6)
    centre = prepare_sample(rgb, thermal, 16, rng=None)
    np.testing.assert_array_equal(centre['rgb'].numpy().transpose(1, 2, 0), rgb[12:28, 22:38])
    small = prepare_sample(rgb[:10, :12], thermal[:5, :6], 16, rng=None)  # upscaled to fit the crop
    assert small['rgb'].shape == (3, 16, 16)
    big = prepare_sample(rgb, thermal, 16, rng=None, max_side=30)  # 60x40 -> 30x20 first
    assert big['rgb'].shape == (3, 16, 16)


def _flip(a, fh, fv):
    a = a[:, ::-1] if fh else a
    return a[::-1] if fv else a


def test_folder_dataset_is_deterministic_per_epoch(folders):
    config = DataConfig(paths=(str(folders),), crop_size=16, val_fraction=0.0)
    data = build_datasets(config)
    assert not data.streaming and data.val is None and len(data.train) == 8
    a = data.train[3]
    assert torch.equal(a['rgb'], data.train[3]['rgb'])
    data.train.set_epoch(1)
    assert not torch.equal(a['rgb'], data.train[3]['rgb'])
    batch = next(iter(DataLoader(data.train, batch_size=4)))
    assert batch['rgb'].shape == (4, 3, 16, 16) and batch['thermal'].shape == (4, 1, 16, 16)
    with_val = build_datasets(DataConfig(paths=(str(folders),), crop_size=16))
    assert isinstance(with_val.val, FolderPairDataset) and with_val.n_train_pairs + with_val.n_val_pairs == 8


@pytest.fixture
def bag(tmp_path):
    """A bag of 20 jittered pairs at 10 Hz, pixels encoding their index."""
    path = tmp_path / 'rec'
    rng = np.random.default_rng(0)
    pairs = [(T0 + k * 100 * MS, np.full((24, 32, 3), k, np.uint8),
              T0 + k * 100 * MS + int(rng.integers(-5 * MS, 5 * MS)), np.full((12, 16), 10 * k, np.uint16))
             for k in range(20)]
    bags.write_pairs(path, pairs, 'cam/rgb', 'cam/thermal')
    return path


def _indices(stream) -> list[int]:
    return [int(round(float(s['rgb'][0, 0, 0]) * 255)) for s in stream]


def test_stream_from_a_bag_splits_by_time_and_shards(bag):
    config = DataConfig(paths=(str(bag),), crop_size=16, rgb_topic='cam/rgb', thermal_topic='cam/thermal',
                        shuffle_buffer=4)
    data = build_datasets(config)
    assert data.streaming and isinstance(data.train, PairStream)
    train, val = _indices(data.train), _indices(data.val)
    assert sorted(train + val) == list(range(20))
    assert len(val) == 2 and val[1] == val[0] + 1  # one contiguous window of 10 % of the recording
    assert train != sorted(train)  # shuffled by the buffer
    assert _indices(data.train) == train  # deterministic for a given epoch
    data.train.set_epoch(1)
    assert sorted(_indices(data.train)) == sorted(train)
    shards = [_indices(PairStream([], data.split.bags, config, True, rank, 2)) for rank in (0, 1)]
    assert sorted(shards[0] + shards[1]) == sorted(train) and not set(shards[0]) & set(shards[1])
    sample = next(iter(data.val))
    assert sample['thermal'].shape == (1, 16, 16)  # thermal (12x16, mono16) resampled onto the RGB grid


def test_stream_with_dataloader_workers_and_folders(bag, folders):
    config = DataConfig(paths=(str(bag), str(folders)), crop_size=16, rgb_topic='cam/rgb',
                        thermal_topic='cam/thermal', val_fraction=0.0)
    data = build_datasets(config)
    assert data.streaming and data.val is None
    seen = sum(b['rgb'].shape[0] for b in DataLoader(data.train, batch_size=5, num_workers=2))
    assert seen == 20 + 8


def test_bag_topic_errors_name_the_topics(bag):
    with pytest.raises(bags.BagError, match=r"no topic 'rgb/image' for the rgb images; image topics in "
                                            r'this bag: /cam/rgb \(Image, 20 messages\)'):
        build_datasets(DataConfig(paths=(str(bag),)))


def test_training_pairs_are_normalised_as_the_node_does_by_default(tmp_path):
    """A dark 8-bit thermal file is stretched to its percentiles for training, as the node stretches its thermal
    stream (so a model trains on what it sees); 'auto' keeps 8-bit files as they are."""
    from fusion_ros.data import _read_folder_pair
    rgb_path, ir_path = tmp_path / 'a_rgb.png', tmp_path / 'a_ir.png'
    cv2.imwrite(str(rgb_path), np.full((24, 32, 3), 90, np.uint8))
    cv2.imwrite(str(ir_path), np.tile(np.arange(32, dtype=np.uint8), (24, 1)))  # 0 .. 31: a dark image
    pair = FolderPair(rgb_path, ir_path, 'scene', 'a')
    _, stretched = _read_folder_pair(pair, DataConfig().thermal_norm)
    _, kept = _read_folder_pair(pair, 'auto')
    assert stretched.max() == 1.0 and stretched.min() == 0.0
    assert abs(kept.max() - 31 / 255) < 1e-6
    with pytest.raises(ValueError, match='thermal_norm'):
        DataConfig(thermal_norm='stretch')
