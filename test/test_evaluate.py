"""``fusion_ros.evaluate`` and ``fusion-ros evaluate`` on a tiny synthetic folder (3 pairs, 48x64)."""
from __future__ import annotations

import csv
import importlib.util
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fusion_ros.cli import main
from fusion_ros.evaluate import (EvalConfig, build_methods, discover_pairs, evaluate, folder_pairs, make_pair,
                                 mean_std, resolve_metrics, run_methods, score, summarize)

H, W = 48, 64


def _scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A structured RGB uint8 (H, W, 3) and thermal uint8 (H, W): gradients, a box, a disc, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W]
    rgb = np.stack([x * 3, y * 4, (x + y) * 2], axis=-1).astype(np.float32)
    rgb[10:30, 8 + seed:28 + seed] = 220
    thermal = 40 + 30 * np.sin(x / 6.0)
    thermal += 150 * (((y - 24) ** 2 + (x - 40 + seed) ** 2) < 100)
    rgb += rng.normal(0, 4, rgb.shape)
    thermal += rng.normal(0, 4, thermal.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8), np.clip(thermal, 0, 255).astype(np.uint8)


def _write_pair(rgb_path: Path, th_path: Path, seed: int) -> None:
    rgb, th = _scene(seed)
    rgb_path.parent.mkdir(parents=True, exist_ok=True)
    th_path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(rgb_path), rgb[..., ::-1])
    cv2.imwrite(str(th_path), th)


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / 'data'
    for i in range(3):
        _write_pair(root / 'vi' / f'p{i}.png', root / 'ir' / f'p{i}.png', seed=i)
    return root


FAST = dict(metrics=('SSIM_score', 'EN', 'DeltaE'), examples=2, progress=False)


def _read_csv(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_tables_written(folder, tmp_path):
    out = tmp_path / 'out'
    result, paths = evaluate(folder, out, EvalConfig(methods=('average', 'max'), **FAST))
    assert {p.name for p in paths.values()} == {'per_image.csv', 'summary.csv', 'summary.md', 'examples.png'}
    per_image = _read_csv(out / 'per_image.csv')
    assert len(per_image) == 6 and {r['method'] for r in per_image} == {'average', 'max'}
    assert {r['pair'] for r in per_image} == {'p0', 'p1', 'p2'}
    summary = _read_csv(out / 'summary.csv')
    assert [(r['category'], r['method'], r['n']) for r in summary] == [('all', 'average', '3'),
                                                                       ('all', 'max', '3')]
    for metric in ('SSIM_score', 'EN', 'DeltaE', 'time_s'):
        vals = [float(r[metric]) for r in per_image if r['method'] == 'max']
        assert float(summary[1][f'{metric}_mean']) == pytest.approx(np.mean(vals), rel=1e-4, abs=1e-6)
        assert float(summary[1][f'{metric}_std']) == pytest.approx(np.std(vals, ddof=1), rel=1e-3, abs=1e-5)
    md = (out / 'summary.md').read_text()
    assert '| method | n | SSIM_score ↑ | EN ↑ | DeltaE ↓ |' in md and '| average | 3 |' in md
    assert cv2.imread(str(out / 'examples.png')) is not None


def test_mean_std_of_a_constant_metric(tmp_path):
    rows = [{'pair': f'p{i}', 'category': 'all', 'method': 'm', 'x': 0.25} for i in range(3)]
    s = summarize(rows, ['x'])
    assert s == [{'category': 'all', 'method': 'm', 'n': 3, 'x_mean': 0.25, 'x_std': 0.0}]
    assert mean_std([2.0, 4.0]) == (3.0, pytest.approx(math.sqrt(2.0)))
    assert math.isnan(mean_std([1.0])[1])  # sample std of one value is undefined, shown as '-'
    # End to end: three copies of one pair give the same score three times: std 0, mean = the direct score.
    root = tmp_path / 'same'
    for i in range(3):
        _write_pair(root / 'vi' / f's{i}.png', root / 'ir' / f's{i}.png', seed=0)
    result, _ = evaluate(root, tmp_path / 'o', EvalConfig(methods=('pca',), **FAST))
    stats = summarize(result.rows, ['SSIM_score'])[0]
    pair = next(folder_pairs(discover_pairs(root)))
    direct = score(pair, build_methods(['pca'])[0][0].fuse(pair)[0], ['SSIM_score'])['SSIM_score']
    assert stats['SSIM_score_std'] == pytest.approx(0.0, abs=1e-12)
    assert stats['SSIM_score_mean'] == pytest.approx(direct, abs=1e-7)


def test_folder_of_fused_images_is_scored(folder, tmp_path):
    out = tmp_path / 'first'
    first, _ = evaluate(folder, out, EvalConfig(methods=('average',), save_fused=True, **FAST))
    assert sorted(p.name for p in (out / 'fused' / 'average').iterdir()) == ['p0.png', 'p1.png', 'p2.png']
    # Another "tool": gray images at another size, one pair missing.
    other = tmp_path / 'tool'
    other.mkdir()
    for i in range(2):
        img = cv2.imread(str(out / 'fused' / 'average' / f'p{i}.png'), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(other / f'p{i}.jpg'), cv2.resize(img, (2 * W, 2 * H)))
    cfg = EvalConfig(methods=('average', f'again={out / "fused" / "average"}', f'tool={other}'), **FAST)
    result, paths = evaluate(folder, tmp_path / 'second', cfg)
    by = {(r['method'], r['pair']): r for r in result.rows}
    for i in range(3):  # the re-read 8-bit files score as the in-memory fusion, up to rounding
        again, direct = by[('again', f'p{i}')], by[('average', f'p{i}')]
        assert again['SSIM_score'] == pytest.approx(direct['SSIM_score'], abs=2e-3)
    assert ('tool', 'p2') not in by and ('tool', 'p0') in by
    assert result.missing == {'tool': ['p2']}
    assert 'tool: no fused image for 1 pair(s)' in paths['summary_md'].read_text()


def test_ssvif_checkpoint_and_missing_model(folder, tmp_path):
    from fusion_ros.checkpoint import save_checkpoint
    from fusion_ros.models import build_model

    methods, skipped = build_methods(['ssvif'], EvalConfig(model_path=tmp_path / 'nope.pt'))
    assert methods == [] and 'nope.pt' in skipped[0] and '--model' in skipped[0]
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / 'ssvif.pt', build_model('ssvif'), 'ssvif')
    result, _ = evaluate(folder, tmp_path / 'o', EvalConfig(methods=('ssvif',), model_path=ckpt, **FAST))
    assert [r['method'] for r in result.rows] == ['ssvif'] * 3
    assert all(math.isfinite(r['SSIM_score']) for r in result.rows)


def test_unknown_names_are_clear_errors(folder, tmp_path, capsys):
    with pytest.raises(KeyError, match="unknown method 'nope'.*average.*NAME=DIR"):
        build_methods(['nope'])
    with pytest.raises(KeyError, match="unknown metric 'PSNR'.*SSIM_score.*paper004"):
        resolve_metrics(['PSNR'])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no image pairs or bags found'):
        discover_pairs(tmp_path / 'empty')
    with pytest.raises(ValueError, match='given twice'):
        build_methods(['average', 'baselines'])
    out = str(tmp_path / 'o')
    rc = main(['evaluate', str(folder), '--out', out, '--methods', 'average,bogus', '--quiet'])
    assert rc == 2 and "unknown method 'bogus'" in capsys.readouterr().err
    rc = main(['evaluate', str(folder), '--out', out, '--metrics', 'EN,PSNR', '--quiet'])
    assert rc == 2 and "unknown metric 'PSNR'" in capsys.readouterr().err


def test_cli_on_a_folder_with_categories_and_options(tmp_path, capsys):
    root = tmp_path / 'rgbnir'
    for cat, n in (('a', 2), ('b', 1)):
        for i in range(n):
            _write_pair(root / cat / f'{i:04d}_rgb.png', root / cat / f'{i:04d}_nir.png', seed=i)
    out = tmp_path / 'out'
    rc = main(['evaluate', str(root), '--out', str(out), '--methods', 'average,scene', '--metrics',
               'paper000', '--category-by', 'folder', '--max-size', '32', '--limit', '3', '--epochs', '2',
               '--device', 'cpu', '--quiet', '--examples', '1'])
    assert rc == 0
    summary = _read_csv(out / 'summary.csv')
    assert [(r['category'], r['method'], r['n']) for r in summary] == [
        ('a', 'average', '2'), ('a', 'scene', '2'), ('b', 'average', '1'), ('b', 'scene', '1'),
        ('all', 'average', '3'), ('all', 'scene', '3')]
    assert summary[2]['SSIM_score_std'] == 'nan'
    md = (out / 'summary.md').read_text()
    assert 'longest side <= 32 px' in md and '### a (2 pairs)' in md
    assert 'Command: `fusion-ros evaluate' not in md  # only recorded when run from a shell
    assert 'Canny_score' in md and 'EN ↑' not in md
    assert 'wrote' in capsys.readouterr().out


def test_make_pair_downscales_and_regrids():
    rgb, thermal = np.zeros((100, 200, 3), np.float32), np.ones((50, 80), np.float32)
    pair = make_pair('x', 'all', rgb, thermal, max_size=64)
    assert pair.rgb.shape == (32, 64, 3) and pair.thermal.shape == (32, 64)
    with pytest.raises(ValueError, match='max_size must be >= 16'):
        EvalConfig(max_size=4)


def test_run_methods_examples_spread_over_the_set(folder):
    files = discover_pairs(folder)
    methods, _ = build_methods(['average'])
    result = run_methods(folder_pairs(files), methods, ['EN'], total=3, examples=2, progress=False)
    assert result.example_titles == ['p0', 'p2']
    assert list(result.examples[0]) == ['RGB', 'thermal', 'average']


def _bench():
    path = Path(__file__).resolve().parents[1] / 'bench' / 'papers_tables.py'
    if str(path.parent) not in sys.path:  # the script imports its sibling benchlib, as when run directly
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location('papers_tables', path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the file runs
    spec.loader.exec_module(mod)
    return mod


def test_bench_ground_truth_alignment_helpers():
    bench = _bench()
    h, w = 120, 160
    a = cv2.getRotationMatrix2D((w / 2, h / 2), 10, 0.9)
    a[:, 2] += (6, -4)
    nir = cv2.GaussianBlur(np.random.default_rng(0).random((h, w)).astype(np.float32), (0, 0), 3)
    reg, valid = bench.gt_register(cv2.warpAffine(nir, a, (w, h)), a, (h, w))
    y0, y1, x0, x1 = bench.largest_valid_box(valid)
    assert valid[y0:y1, x0:x1].all() and (y1 - y0) * (x1 - x0) > 0.4 * h * w
    inner = (slice(y0 + 2, y1 - 2), slice(x0 + 2, x1 - 2))
    assert np.corrcoef(reg[inner].ravel(), nir[inner].ravel())[0, 1] > 0.95
    assert bench.corner_error(a, a, (h, w)) == 0.0
    shifted = a.copy()
    shifted[0, 2] += 3.0
    assert bench.corner_error(shifted, a, (h, w)) == pytest.approx(3.0)


def test_cli_on_a_bag(tmp_path, capsys):
    from fusion_ros.bags import write_pairs

    frames = []
    for i in range(3):
        rgb, th = _scene(i)
        frames.append((1_000_000_000 + i * 100_000_000, rgb, th))
    bag = tmp_path / 'run'
    assert write_pairs(bag, frames, rgb_topic='cam/rgb', thermal_topic='cam/thermal') == 3
    out = tmp_path / 'out'
    args = ['evaluate', str(bag), '--out', str(out), '--methods', 'average,pca', '--metrics', 'SSIM_score,EN',
            '--rgb-topic', 'cam/rgb', '--thermal-topic', 'cam/thermal', '--quiet', '--save-fused']
    assert main(args) == 0
    per_image = _read_csv(out / 'per_image.csv')
    assert [r['pair'] for r in per_image if r['method'] == 'pca'] == ['000000', '000001', '000002']
    assert (out / 'fused' / 'average' / '000002.png').is_file() and (out / 'examples.png').is_file()
    # The fused images of the bag's pairs are read back by name.
    assert main([*args[:-1], '--fused', f'again={out / "fused" / "pca"}', '--out', str(tmp_path / 'o2')]) == 0
    summary = {r['method']: r for r in _read_csv(tmp_path / 'o2' / 'summary.csv')}
    assert summary['again']['n'] == '3'
    assert float(summary['again']['EN_mean']) == pytest.approx(float(summary['pca']['EN_mean']), abs=0.05)
    # A missing topic names the bag's image topics.
    capsys.readouterr()
    assert main(['evaluate', str(bag), '--out', str(out), '--rgb-topic', 'nope', '--quiet']) == 2
    assert '/cam/rgb' in capsys.readouterr().err
