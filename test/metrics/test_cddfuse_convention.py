"""The registry's field metrics equal CDDFuse's ``utils/Evaluator.py`` on the same 8-bit images.

The reference values here are computed independently, with numpy / scipy / scikit-image restating the
evaluator (github Zhaozixiang1228/MMIF-CDDFuse): images read by OpenCV as 8-bit BGR, float32,
``COLOR_BGR2GRAY``, rounded; EN, SD, SF, AG, SCD, VIF (``compare_viff``) and Qabf as written there; MI as
``sklearn.metrics.mutual_info_score`` computes it (a joint histogram, natural log); SSIM with scikit-image's
``structural_similarity`` and the ``data_range`` 2 it infers for float images.
"""
import math

import cv2
import numpy as np
import pytest
import torch
from scipy.signal import convolve2d

from fusion_ros.io import write_image
from fusion_ros.imaging import rgb_to_gray
from fusion_ros.metrics import (METRICS, cddfuse_inputs, mutual_information, opencv_gray, ssim_score,
                                ssim_sum, ssim_uniform, to_8bit)

skimage_metrics = pytest.importorskip('skimage.metrics')
skimage_color = pytest.importorskip('skimage.color')

H, W = 64, 80
CDDFUSE_NAMES = ['EN', 'SD', 'SF', 'AG', 'MI', 'VIF', 'Qabf', 'SSIM', 'SCD']

# --------------------------------------------------------------------------- the evaluator, restated


def read_gray(u8: np.ndarray) -> np.ndarray:
    """What ``image_read_cv2(path, 'GRAY')`` returns for a PNG holding ``u8`` ((H, W) or (H, W, 3) RGB)."""
    bgr = np.repeat(u8[..., None], 3, axis=2) if u8.ndim == 2 else u8[..., ::-1]  # cv2.imread: 3-channel BGR
    return np.round(cv2.cvtColor(np.ascontiguousarray(bgr).astype(np.float32), cv2.COLOR_BGR2GRAY))


def ref_en(img):
    a = np.uint8(np.round(img)).flatten()
    h = np.bincount(a) / a.shape[0]
    return -np.sum(h * np.log2(h + (h == 0)))


def ref_sd(img):
    return np.std(img)


def ref_sf(img):
    return np.sqrt(np.mean((img[:, 1:] - img[:, :-1]) ** 2) + np.mean((img[1:, :] - img[:-1, :]) ** 2))


def ref_ag(img):
    gx, gy = np.zeros_like(img), np.zeros_like(img)
    gx[:, 0], gx[:, -1] = img[:, 1] - img[:, 0], img[:, -1] - img[:, -2]
    gx[:, 1:-1] = (img[:, 2:] - img[:, :-2]) / 2
    gy[0, :], gy[-1, :] = img[1, :] - img[0, :], img[-1, :] - img[-2, :]
    gy[1:-1, :] = (img[2:, :] - img[:-2, :]) / 2
    return np.mean(np.sqrt((gx ** 2 + gy ** 2) / 2))


def ref_mi_pair(x, y):
    """``mutual_info_score``: ``sum p_xy ln(p_xy / (p_x p_y))`` over the non-empty contingency cells."""
    joint = np.zeros((256, 256))
    np.add.at(joint, (x.astype(np.int64).ravel(), y.astype(np.int64).ravel()), 1.0)
    p = joint / joint.sum()
    px, py = p.sum(axis=1), p.sum(axis=0)
    nz = p > 0
    return max(0.0, float(np.sum(p[nz] * np.log(p[nz] / np.outer(px, py)[nz]))))


def ref_mi(f, a, b):
    return ref_mi_pair(f, a) + ref_mi_pair(f, b)


def ref_ssim(f, a, b):
    # data_range 2: what skimage 0.19 inferred for CDDFuse's float images (newer versions need it given).
    # float64 here; the evaluator's float32 arrays make skimage work in float32, which moves real-image
    # scores by ~1e-5 (rounding noise, not a different definition).
    f, a, b = (x.astype(np.float64) for x in (f, a, b))
    return (skimage_metrics.structural_similarity(f, a, data_range=2)
            + skimage_metrics.structural_similarity(f, b, data_range=2))


def ref_scd(f, a, b):
    def corr(x, y):
        x, y = x - x.mean(), y - y.mean()
        return np.sum(x * y) / np.sqrt(np.sum(x ** 2) * np.sum(y ** 2))
    return corr(a, f - b) + corr(b, f - a)


def ref_vifp(ref, dist):
    sigma_nsq, eps = 2.0, 1e-10
    num = den = 0.0
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        sd = n / 5.0
        m = (n - 1) / 2
        yy, xx = np.ogrid[-m:m + 1, -m:m + 1]
        win = np.exp(-(xx * xx + yy * yy) / (2 * sd * sd))
        win[win < np.finfo(win.dtype).eps * win.max()] = 0
        win = win / win.sum()
        k = np.rot90(win, 2)
        if scale > 1:
            ref = convolve2d(ref, k, mode='valid')[::2, ::2]
            dist = convolve2d(dist, k, mode='valid')[::2, ::2]
        mu1, mu2 = convolve2d(ref, k, mode='valid'), convolve2d(dist, k, mode='valid')
        s1 = convolve2d(ref * ref, k, mode='valid') - mu1 * mu1
        s2 = convolve2d(dist * dist, k, mode='valid') - mu2 * mu2
        s12 = convolve2d(ref * dist, k, mode='valid') - mu1 * mu2
        s1[s1 < 0] = 0
        s2[s2 < 0] = 0
        g = s12 / (s1 + eps)
        sv = s2 - g * s12
        g[s1 < eps] = 0
        sv[s1 < eps] = s2[s1 < eps]
        s1[s1 < eps] = 0
        g[s2 < eps] = 0
        sv[s2 < eps] = 0
        sv[g < 0] = s2[g < 0]
        g[g < 0] = 0
        sv[sv <= eps] = eps
        num += np.sum(np.log10(1 + g * g * s1 / (sv + sigma_nsq)))
        den += np.sum(np.log10(1 + s1 / sigma_nsq))
    v = num / den
    return 1.0 if np.isnan(v) else v


def ref_vif(f, a, b):
    return ref_vifp(a, f) + ref_vifp(b, f)


def _sobel(img):
    h1 = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], np.float32)
    h3 = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
    sx, sy = convolve2d(img, h3, mode='same'), convolve2d(img, h1, mode='same')
    g = np.sqrt(sx * sx + sy * sy)
    al = np.zeros_like(img)
    al[sx == 0] = math.pi / 2
    al[sx != 0] = np.arctan(sy[sx != 0] / sx[sx != 0])
    return g, al


def _transfer(a_x, g_x, a_f, g_f):
    tg, kg, dg, ta, ka, da = 0.9994, -15, 0.5, 0.9879, -22, 0.8
    rel_g = np.zeros_like(a_x)
    rel_g[g_x > g_f] = g_f[g_x > g_f] / g_x[g_x > g_f]
    rel_g[g_x == g_f] = g_f[g_x == g_f]
    rel_g[g_x < g_f] = g_x[g_x < g_f] / g_f[g_x < g_f]
    rel_a = 1 - np.abs(a_x - a_f) / (math.pi / 2)
    return tg / (1 + np.exp(kg * (rel_g - dg))) * ta / (1 + np.exp(ka * (rel_a - da)))


def ref_qabf(f, a, b):
    (g_a, al_a), (g_b, al_b), (g_f, al_f) = _sobel(a), _sobel(b), _sobel(f)
    num = np.sum(_transfer(al_a, g_a, al_f, g_f) * g_a + _transfer(al_b, g_b, al_f, g_f) * g_b)
    return num / np.sum(g_a + g_b)


REFERENCE = {'EN': lambda f, a, b: ref_en(f), 'SD': lambda f, a, b: ref_sd(f),
             'SF': lambda f, a, b: ref_sf(f), 'AG': lambda f, a, b: ref_ag(f), 'MI': ref_mi, 'VIF': ref_vif,
             'Qabf': ref_qabf, 'SSIM': ref_ssim, 'SCD': ref_scd}

# --------------------------------------------------------------------------- test images


def _blur(x, k=5):
    return cv2.blur(x.astype(np.float32), (k, k))


def cases():
    """``(thermal u8 (H, W), visible u8 (H, W, 3), fused float32 (H, W, 3) in [0, 1])`` per case."""
    rng = np.random.default_rng(8)
    out = []
    # 1. Pure noise, fused = another 8-bit image.
    th = rng.integers(0, 256, (H, W), dtype=np.uint8)
    vi = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    out.append((th, vi, rng.integers(0, 256, (H, W, 3)).astype(np.float32) / 255))
    # 2. Smooth textures, fused = the float average (not on the 8-bit grid; quantised as saved).
    th = np.round(np.clip(_blur(rng.random((H, W)) * 255, 7) * 1.8 - 100, 0, 255)).astype(np.uint8)
    vi = np.round(np.clip(_blur(rng.random((H, W, 3)) * 255, 5) * 2 - 130, 0, 255)).astype(np.uint8)
    out.append((th, vi, (0.5 * vi / 255 + 0.5 * th[..., None] / 255).astype(np.float32)))
    # 3. Structured: flat areas (black and saturated), a disk, a ramp, stripes; fused = the visible image
    #    itself (equal gradients: Qabf's equal-strength rule) with a hot disk pasted in.
    yy, xx = np.mgrid[:H, :W]
    disk = (yy - 30) ** 2 + (xx - 44) ** 2 < 14 ** 2
    th = np.where(disk, 230, 20).astype(np.uint8)
    th[:, :10] = 255
    vi = np.zeros((H, W, 3), np.uint8)
    vi[..., 0] = (xx * 3).clip(0, 255)
    vi[..., 1] = np.where((xx // 6) % 2 == 0, 200, 40)
    vi[..., 2] = (yy * 4).clip(0, 255)
    vi[40:, :20] = 0
    fused = vi.astype(np.float32) / 255
    fused[disk] = 0.9
    out.append((th, vi, fused))
    # 4. A gray fusion (equal channels), max of the grays, plus some out-of-range values to clip.
    th = np.round(_blur(rng.random((H, W)) * 255, 3)).astype(np.uint8)
    vi = np.round(_blur(rng.random((H, W, 3)) * 255, 3)).astype(np.uint8)
    g = np.maximum(th / 255.0, vi.mean(axis=2) / 255.0) * 1.1 - 0.05
    out.append((th, vi, np.repeat(g[..., None], 3, axis=2).astype(np.float32)))
    return out


CASES = cases()


def as_tensors(batch):
    th = torch.from_numpy(np.stack([c[0] for c in batch]).astype(np.float32) / 255)[:, None]
    vi = torch.from_numpy(np.stack([c[1] for c in batch]).astype(np.float32) / 255).permute(0, 3, 1, 2)
    fu = torch.from_numpy(np.stack([c[2] for c in batch])).permute(0, 3, 1, 2).contiguous()
    return th, vi.contiguous(), fu


def reference_grays(case):
    """``(f, a, b)`` as the evaluator reads them, after saving the fused float image as an 8-bit PNG."""
    th, vi, fused = case
    f_u8 = np.round(np.clip(fused, 0, 1) * 255).astype(np.uint8)  # fusion_ros.io.write_image
    return read_gray(f_u8), read_gray(th), read_gray(vi)


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize('name', CDDFUSE_NAMES)
def test_registry_matches_the_cddfuse_evaluator(name):
    thermal, rgb, fused = as_tensors(CASES)
    got = METRICS[name](thermal, rgb, fused)
    assert got.shape == (len(CASES),)
    expected = [REFERENCE[name](*reference_grays(c)) for c in CASES]
    assert got.tolist() == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_one_image_scores_as_in_a_batch():
    thermal, rgb, fused = as_tensors(CASES)
    for name in ('EN', 'MI', 'VIF', 'Qabf', 'SSIM', 'DeltaE'):
        batch = METRICS[name](thermal, rgb, fused)
        single = METRICS[name](thermal[2:3], rgb[2:3], fused[2:3])
        assert single.item() == pytest.approx(batch[2].item(), rel=1e-6, abs=1e-7)


def test_delta_e_is_mean_ciede2000_of_the_8bit_colours():
    thermal, rgb, fused = as_tensors(CASES)
    got = METRICS['DeltaE'](thermal, rgb, fused)
    expected = []
    for th, vi, fu in CASES:
        f_u8 = np.round(np.clip(fu, 0, 1) * 255).astype(np.uint8)
        lab_v = skimage_color.rgb2lab(vi / 255.0)
        lab_f = skimage_color.rgb2lab(f_u8 / 255.0)
        expected.append(skimage_color.deltaE_ciede2000(lab_v, lab_f).mean())
    assert got.tolist() == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_opencv_gray_matches_cv2():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (301, 517, 3), dtype=np.uint8)  # odd width: OpenCV's scalar tail too
    ours = opencv_gray(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0, 0].numpy()
    cv = read_gray(rgb)
    diff = np.abs(ours - cv)
    # Bit-exact where OpenCV uses fused multiply-adds (x86-64 with AVX2); elsewhere a few colours out of
    # ~3e-5 whose exact gray is a half level round the other way (convention module docstring).
    assert diff.max() <= 1 and diff.mean() <= 1e-4
    levels = torch.arange(256.0).view(1, 1, 1, 256).expand(1, 3, 1, 256)
    assert torch.equal(opencv_gray(levels).flatten(), torch.arange(256.0, dtype=torch.float64))
    assert np.array_equal(read_gray(np.arange(256, dtype=np.uint8).reshape(16, 16)).ravel(), np.arange(256))


def test_quantisation_is_the_png_the_project_writes(tmp_path):
    g = torch.Generator().manual_seed(3)
    fused = torch.rand(1, 3, 24, 40, generator=g) * 1.2 - 0.1
    path = write_image(tmp_path / 'f.png', fused[0].permute(1, 2, 0).numpy())
    from_png = read_gray(cv2.imread(str(path))[..., ::-1])
    x = cddfuse_inputs(torch.rand(1, 1, 24, 40, generator=g), torch.rand(1, 3, 24, 40, generator=g), fused)
    assert np.array_equal(x.f[0, 0].numpy(), from_png)
    assert torch.equal(x.fused_rgb * 255, to_8bit(fused))
    assert x.a.dtype == x.b.dtype == x.f.dtype == torch.float64
    assert x.a.shape == x.b.shape == x.f.shape == (1, 1, 24, 40)


@pytest.mark.parametrize('data_range', [2.0, 255.0])
def test_ssim_uniform_is_skimage(data_range):
    g = torch.Generator().manual_seed(1)
    x = torch.round(torch.rand(3, 2, 20, 27, generator=g) * 255).double()
    y = torch.round(0.6 * x + 0.4 * torch.rand(3, 2, 20, 27, generator=g, dtype=torch.float64) * 255)
    got = ssim_uniform(x, y, data_range=data_range)
    assert got.shape == (3,)
    expected = [skimage_metrics.structural_similarity(xi.numpy(), yi.numpy(), data_range=data_range,
                                                      channel_axis=0) for xi, yi in zip(x, y)]
    assert got.tolist() == pytest.approx(expected, abs=1e-6)
    assert ssim_uniform(x, x, data_range=data_range).tolist() == pytest.approx([1.0] * 3, abs=1e-7)


def test_ssim_uniform_needs_a_data_range_and_a_window_that_fits():
    x = torch.rand(1, 1, 6, 6)
    with pytest.raises(TypeError):
        ssim_uniform(x, x)
    with pytest.raises(ValueError, match='smaller than the 7px'):
        ssim_uniform(x, x, data_range=1.0)


def test_gauss_ssim_and_paper000_scores_keep_their_definitions():
    thermal, rgb, fused = as_tensors(CASES)
    x = cddfuse_inputs(thermal, rgb, fused)
    gauss = ssim_sum(x.a / 255, x.b / 255, x.f / 255)
    assert torch.allclose(METRICS['SSIM_gauss'](thermal, rgb, fused), gauss)
    assert not torch.allclose(METRICS['SSIM'](thermal, rgb, fused), gauss, atol=1e-2)
    # Paper 000's scores stay on the unquantised BT.601 luma.
    luma = ssim_score(thermal, rgb_to_gray(rgb), rgb_to_gray(fused))
    assert torch.equal(METRICS['SSIM_score'](thermal, rgb, fused), luma)
    mi = mutual_information(x.a / 255, x.b / 255, x.f / 255)
    assert torch.allclose(METRICS['MI'](thermal, rgb, fused), mi)
