"""Scores of one fused pair (paper 000) and contact sheets."""
import cv2
import numpy as np
import pytest
import torch

from fusion_ros.losses.ssim import ssim
from fusion_ros.methods import fuse_pair
from fusion_ros.report import contact_sheet, pair_scores


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None, None]


def test_pair_scores_of_the_average_fusion(make_pair):
    rgb, thermal = make_pair(32, 40)
    fused = fuse_pair('average', rgb, thermal).fused
    scores = pair_scores(rgb, thermal, fused)
    assert set(scores) == {'ssim_score', 'correlation_score', 'canny_score'}
    gray, f = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.cvtColor(fused, cv2.COLOR_RGB2GRAY)
    # SSIM score = 0.5 SSIM(T, F) + 0.5 SSIM(G, F), reference SSIM (Gaussian 11, sigma 1.5).
    expected_ssim = 0.5 * float(ssim(_t(thermal), _t(f))) + 0.5 * float(ssim(_t(gray), _t(f)))
    assert scores['ssim_score'] == pytest.approx(expected_ssim, abs=1e-5)
    # Correlation score = 0.5 corr(T, F) + 0.5 corr(G, F), Pearson over all pixels.
    expected_corr = (0.5 * np.corrcoef(thermal.ravel(), f.ravel())[0, 1]
                     + 0.5 * np.corrcoef(gray.ravel(), f.ravel())[0, 1])
    assert scores['correlation_score'] == pytest.approx(expected_corr, abs=1e-5)
    assert 0 <= scores['canny_score'] <= 1


def test_pair_scores_resample_the_thermal(make_pair):
    rgb, thermal = make_pair(32, 40, seed=1, thermal_size=(16, 20))
    scores = pair_scores(rgb, thermal, rgb)
    assert all(np.isfinite(v) for v in scores.values())


def test_pair_scores_of_the_visible_image_itself(make_pair):
    rgb, thermal = make_pair(32, 40, seed=2)
    scores = pair_scores(rgb, thermal, rgb)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    # F = G: SSIM(G, F) = corr(G, F) = 1, so each score is 0.5 + 0.5 x (the thermal term).
    assert scores['ssim_score'] == pytest.approx(0.5 + 0.5 * float(ssim(_t(thermal), _t(gray))), abs=1e-5)
    corr_tg = np.corrcoef(thermal.ravel(), gray.ravel())[0, 1]
    assert scores['correlation_score'] == pytest.approx(0.5 + 0.5 * corr_tg, abs=1e-5)


def test_contact_sheet_writes_a_png(tmp_path, make_pair):
    rgb, thermal = make_pair(24, 32)
    rows = [{'RGB': rgb, 'thermal': thermal}, {'RGB': rgb[::-1], 'thermal': thermal[::-1]}]
    path = contact_sheet(rows, tmp_path / 'sheets' / 'sheet.png', titles=['a', 'b'])
    assert path == tmp_path / 'sheets' / 'sheet.png'
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.ndim == 3 and image.shape[2] in (3, 4)
    # 2 rows x 2 columns of 3.2-inch tiles at 110 dpi: wider than tall, a few hundred pixels each way.
    h, w = image.shape[:2]
    assert 300 < w < 1000 and 200 < h < w
    assert image[..., :3].std() > 5  # not blank


def test_contact_sheet_with_no_rows_is_refused(tmp_path):
    with pytest.raises(ValueError, match='contact_sheet: no rows to draw'):
        contact_sheet([], tmp_path / 'x.png')
