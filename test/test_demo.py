"""The demo job on a folder of small synthetic pairs: fused images, contact sheet, summaries."""
import json

import cv2
import numpy as np
import pytest

from fusion_ros.demo import SAMPLES, run_demo, sample_pairs
from fusion_ros.io import read_image, read_pair
from fusion_ros.scene import SceneFitConfig


@pytest.fixture
def folder(tmp_path, make_pair):
    src = tmp_path / 'pairs'
    src.mkdir()
    for i, (stem, size) in enumerate([('alpha', (32, 40)), ('beta', (36, 48))]):
        rgb, thermal = make_pair(*size, seed=i, thermal_size=(size[0] // 2, size[1] // 2))
        cv2.imwrite(str(src / f'{stem}_rgb.png'), np.round(rgb[..., ::-1] * 255).astype(np.uint8))
        cv2.imwrite(str(src / f'{stem}_thermal.png'), np.round(thermal * 255).astype(np.uint8))
    cv2.imwrite(str(src / 'lonely_rgb.png'), np.zeros((8, 8, 3), np.uint8))  # no thermal beside it: skipped
    return src


def test_sample_pairs_finds_stems_with_both_images(folder):
    pairs = sample_pairs(folder)
    assert [stem for stem, _, _ in pairs] == ['alpha', 'beta']
    assert pairs[0][1].name == 'alpha_rgb.png' and pairs[0][2].name == 'alpha_thermal.png'


def test_run_demo_writes_images_sheet_and_summaries(folder, tmp_path, capsys):
    out = tmp_path / 'out'
    summary = run_demo(out, SceneFitConfig(epochs=3, device='cpu'), progress=False, folder=folder)
    assert read_image(out / 'alpha_fused.png').shape == (32, 40, 3)
    assert read_image(out / 'beta_fused.png').shape == (36, 48, 3)
    assert cv2.imread(str(out / 'contact_sheet.png')) is not None
    on_disk = json.loads((out / 'summary.json').read_text())
    assert on_disk == summary
    assert [p['pair'] for p in summary['pairs']] == ['alpha', 'beta']
    first = summary['pairs'][0]
    assert first['size'] == [32, 40] and first['device'] == 'cpu' and first['scene_s'] > 0
    for method in ('scene', 'average'):
        assert set(first[method]) == {'ssim_score', 'correlation_score', 'canny_score'}
        assert 0 < first[method]['ssim_score'] <= 1
    md = (out / 'summary.md').read_text().splitlines()
    assert len(md) == 2 + 2 and md[2].startswith('| alpha |') and md[3].startswith('| beta |')
    stdout = capsys.readouterr().out
    assert 'alpha: per-scene fusion' in stdout and 'wrote 2 fused images' in stdout


def test_run_demo_on_an_empty_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'no sample pairs \(STEM_rgb.\* \+ STEM_thermal.\*\) found'):
        run_demo(tmp_path / 'out', folder=tmp_path)


def test_bundled_samples_are_readable_pairs():
    pairs = sample_pairs(SAMPLES)
    assert len(pairs) >= 3
    for stem, rgb_path, th_path in pairs:
        pair = read_pair(rgb_path, th_path)
        assert pair.rgb.ndim == 3 and pair.rgb.shape[2] == 3 and pair.thermal.ndim == 2, stem
        assert pair.thermal.max() > pair.thermal.min(), stem
