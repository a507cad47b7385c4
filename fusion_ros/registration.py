"""Registering the thermal/NIR image onto the RGB grid: global search, ECC refinement, identity guard.

One implementation for every user: ``fusion-ros align``, the per-scene fit's alignment phase
(:func:`fusion_ros.scene.fit_scene` with an STN, hence the node's ``'stn'`` alignment mode after
``~/train_scene``) and ``bench/bench_align.py``.

Method
------
1. **Features.** Both images become gradient-orientation fields in doubled-angle form,
   ``z = (gx + i gy)^2 / (|g|^2 + eps^2)`` (``eps``: the image's median gradient magnitude). Doubling
   the angle makes ``z`` blind to the sign of an edge, so a thermal image whose contrast is inverted
   against the visible one gives the same field; ``|z|`` saturates at 1, so the strong edges of one
   modality do not drown the rest, and flat, noisy areas count little. Dark constant regions that touch
   the border (the black corners of a rectified or warped image) are left out.
2. **Global search** on a ``search_size`` px copy: for every rotation x scale of a grid, the thermal image
   is rotated and scaled about its centre and the translation is the peak of the FFT cross-correlation
   of the two fields, normalised by their energies (``Re sum F conj(G) / sqrt(E_F E_G)``, which also
   makes small overlaps score low). The best grid point is within a grid step of the truth.
3. **Refinement** to sub-pixel: ``cv2.findTransformECCWithMask`` (affine motion) on the 3-channel fields
   ``(Re z, Im z, |z|)``, coarse to fine over ``refine_sizes``, from the search's best.
4. **Guard**: the identity is kept unless (a) the transform is plausible (both scales within
   ``scale_range``, not mirrored, finite), (b) the search found a clear match (its best score stands
   ``min_search_margin`` above the median score of its grid points; images without shared structure do
   not), and (c) the result's *agreement* (the normalised correlation of the two fields over the common
   area, on the ``search_size`` copy) is at least ``min_gain`` times the identity's. The better of the
   refined and the search's transform (by agreement) is the candidate. A registered pair therefore stays
   exactly where it is unless the evidence for moving it is clear.

Frames
------
``rgb_from_thermal`` is a 3x3 pixel matrix from the thermal image *as given* (any resolution) to the RGB
grid: ``cv2.warpAffine(thermal, rgb_from_thermal[:2], (W, H))`` registers it. ``thermal_from_rgb`` is the
same transform as the ``(2, 3)`` normalised theta of :mod:`fusion_ros.align` (``affine_grid``
convention; resolution-free). The thermal image is first taken onto the RGB grid with the same field of
view (resampled), so the identity means "same field of view".
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from fusion_ros.align import pixels_to_theta, theta_to_pixels
from fusion_ros.imaging import ImageError


@dataclass
class RegisterConfig:
    """How :func:`register` searches, refines and guards.

    search_size: longest side (px) of the copy the global search and the guard work on.
    max_rotation_deg, rotation_step_deg: rotations searched: ``-max .. +max`` in these steps.
    scale_range, scale_steps: relative scales searched (thermal to RGB; log-spaced), and the plausible
        range of the final transform's scales.
    refine_sizes: longest sides (px) of the ECC refinement levels, coarse to fine; sizes above the
        RGB image's are capped at it.
    refine_iters: ECC iterations per level (0: no refinement, the search's grid point is kept).
    min_gain: the result's agreement must be at least ``min_gain`` times the identity's.
    min_edge_gain, edge_check_size: and, checked independently of the orientation fields, the RGB edge
        pixels (Canny) that the warped thermal image's edges meet must be at least ``min_edge_gain`` times
        those the identity meets (same area; at longest side ``edge_check_size``; 0 switches it off), unless
        the agreement is at least ``edge_check_below`` times the identity's (a gain that large is trusted:
        across modalities Canny edges differ, and on the warped EPFL pairs the true transform's edge gain is
        0.7-1.1). On registered EPFL pairs some transforms raise the agreement by 1.4-1.6x while meeting no
        more edges (x0.97-1.04); genuinely misregistered ones meet x1.3-1.5 more (BENCHMARKS.md, issue 11;
        thresholds set on those pairs).
    min_search_margin: the search's best score must stand this far above the median score of its grid
        points (the chance level of this pair); images without shared structure do not get there.
    ignore_padding: leave out dark constant regions that touch the border (black corners).
    """
    search_size: int = 256
    max_rotation_deg: float = 20.0
    rotation_step_deg: float = 2.0
    scale_range: tuple[float, float] = (0.8, 1.25)
    scale_steps: int = 9
    refine_sizes: tuple[int, ...] = (256, 512)
    refine_iters: int = 100
    min_edge_gain: float = 1.15
    edge_check_size: int = 1024
    edge_check_below: float = 2.0
    min_gain: float = 1.1
    min_search_margin: float = 0.06
    ignore_padding: bool = True

    def __post_init__(self):
        self.scale_range = tuple(float(s) for s in self.scale_range)
        self.refine_sizes = tuple(int(s) for s in self.refine_sizes)
        if self.search_size < 32:
            raise ValueError(f'search_size must be >= 32 px, got {self.search_size}')
        if self.max_rotation_deg < 0 or self.max_rotation_deg > 90:
            raise ValueError(f'max_rotation_deg must be in [0, 90], got {self.max_rotation_deg}')
        if self.rotation_step_deg <= 0:
            raise ValueError(f'rotation_step_deg must be > 0, got {self.rotation_step_deg}')
        lo, hi = self.scale_range
        if len(self.scale_range) != 2 or not 0 < lo <= 1 <= hi:
            raise ValueError(f'scale_range must be (low, high) with 0 < low <= 1 <= high, '
                             f'got {self.scale_range}')
        if self.scale_steps < 1:
            raise ValueError(f'scale_steps must be >= 1, got {self.scale_steps}')
        if any(s < 16 for s in self.refine_sizes):
            raise ValueError(f'refine_sizes must be >= 16 px each, got {self.refine_sizes}')
        if self.refine_iters < 0:
            raise ValueError(f'refine_iters must be >= 0, got {self.refine_iters}')
        if self.min_gain < 1:
            raise ValueError(f'min_gain must be >= 1 (a factor over the identity), got {self.min_gain}')
        if self.min_edge_gain != 0 and self.min_edge_gain < 1:
            raise ValueError(f'min_edge_gain must be 0 (off) or >= 1 (a factor over the identity), got '
                             f'{self.min_edge_gain}')

    def rotations(self) -> np.ndarray:
        n = int(math.floor(self.max_rotation_deg / self.rotation_step_deg + 1e-9))
        return np.arange(-n, n + 1) * self.rotation_step_deg

    def scales(self) -> np.ndarray:
        lo, hi = self.scale_range
        if self.scale_steps == 1:
            return np.array([1.0])
        return np.exp(np.linspace(math.log(lo), math.log(hi), self.scale_steps))


@dataclass
class Registration:
    """What :func:`register` found.

    rgb_from_thermal: ``(3, 3)`` float64 pixel matrix, thermal image as given -> RGB grid.
    thermal_from_rgb: ``(2, 3)`` float32 normalised theta (:mod:`fusion_ros.align` convention).
    kept_identity: the guard kept the identity (``reason`` says why).
    agreement, identity_agreement: the guard's measure for the candidate and for the identity.
    search: ``(rotation_deg, scale, score, median_score)`` of the global search: its best grid point's
        rotation (``cv2.getRotationMatrix2D`` sense) and scale that take the thermal image onto the RGB
        grid, that point's score, and the median score of all grid points.
    seconds: wall time.
    """
    rgb_from_thermal: np.ndarray
    thermal_from_rgb: np.ndarray
    kept_identity: bool
    reason: str
    agreement: float
    identity_agreement: float
    search: tuple[float, float, float, float] | None = None
    candidate_rgb_from_thermal: np.ndarray | None = None  # what the guard judged (kept or not)
    seconds: float = 0.0
    sizes: dict = field(default_factory=dict)  # 'rgb': (H, W), 'thermal': (h, w)

    def to_json(self) -> dict:
        """``{"rgb_from_thermal": [[a, b, c], [d, e, f]]}``: the 2x3 matrix for ``cv2.warpAffine``."""
        return {'rgb_from_thermal': [[float(v) for v in row] for row in self.rgb_from_thermal[:2]]}

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json()) + '\n')
        return path


# --------------------------------------------------------------------------- image helpers


def _gray(image: np.ndarray, name: str) -> np.ndarray:
    """``(H, W)`` float32 from ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` RGB float in [0, 1]."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[2] == 3:
        a = a.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)  # BT.601 luma
    if a.ndim != 2:
        raise ImageError(f'{name}: expected an (H, W) or (H, W, 3) image, got shape {a.shape}')
    if a.shape[0] < 16 or a.shape[1] < 16:
        raise ImageError(f'{name}: {a.shape[0]} x {a.shape[1]} pixels is too small to register; '
                         'give at least 16 x 16')
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise ImageError(f'{name}: contains NaN or inf values; clean or normalise the image first')
    return a


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    interp = cv2.INTER_AREA if h < image.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(image, (w, h), interpolation=interp)


def _level_size(size: tuple[int, int], longest: int) -> tuple[int, int]:
    h, w = size
    s = min(1.0, longest / max(h, w))
    return max(8, round(h * s)), max(8, round(w * s))


def _scale_matrix(src: tuple[int, int], dst: tuple[int, int]) -> np.ndarray:
    """Pixel map from grid ``src (H, W)`` to grid ``dst`` of the same field of view (pixel centres)."""
    sx, sy = dst[1] / src[1], dst[0] / src[0]
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def _rescale(m: np.ndarray, src: tuple[int, int], dst: tuple[int, int]) -> np.ndarray:
    """A 3x3 map between two images on grid ``src`` as the same map on grid ``dst``."""
    s = _scale_matrix(src, dst)
    return s @ m @ np.linalg.inv(s)


def padding_mask(image: np.ndarray, level: float = 0.03) -> np.ndarray:
    """``(H, W)`` float32, 0 on padding: dark (``<= level``) regions connected to the image border, else 1."""
    dark = (image <= level).astype(np.uint8)
    if not dark.any():
        return np.ones(image.shape, np.float32)
    _, labels = cv2.connectedComponents(dark, connectivity=4)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    edge = edge[edge > 0]
    return (~np.isin(labels, edge)).astype(np.float32)


def orientation_field(image: np.ndarray, mask: np.ndarray | None = None, sigma: float = 1.0) -> np.ndarray:
    """Doubled-angle gradient-orientation field ``(H, W)`` complex64 (see the module docstring).

    ``mask`` (``(H, W)``, 1 valid): the field is zero outside it and ``eps`` is measured inside it.
    """
    g = cv2.GaussianBlur(image, (0, 0), sigma) if sigma > 0 else image
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    m2 = gx * gx + gy * gy
    inside = m2[mask > 0.5] if mask is not None else m2
    eps = float(np.sqrt(np.median(inside))) if inside.size else 0.0
    eps = max(eps, 1e-4)
    z = (gx + 1j * gy) ** 2 / (m2 + eps * eps)
    if mask is not None:
        z = z * mask
    return z.astype(np.complex64)


def _erode(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0:
        return mask
    return cv2.erode(mask, np.ones((2 * px + 1, 2 * px + 1), np.uint8), borderType=cv2.BORDER_CONSTANT,
                     borderValue=1)


class _Pair:
    """The two images on one grid at several sizes, with their validity masks."""

    def __init__(self, gray: np.ndarray, thermal_on_grid: np.ndarray, ignore_padding: bool):
        self.size = gray.shape
        self.gray, self.thermal = gray, thermal_on_grid
        ones = np.ones(self.size, np.float32)
        self.gray_mask = padding_mask(gray) if ignore_padding else ones
        self.thermal_mask = padding_mask(thermal_on_grid) if ignore_padding else ones
        self._levels: dict[tuple[int, int], tuple] = {}

    def level(self, longest: int):
        """``(gray, thermal, gray_mask, thermal_mask)`` at longest side ``longest`` (masks eroded 1 px)."""
        size = _level_size(self.size, longest)
        if size not in self._levels:
            masks = [(_resize(m, size) > 0.99).astype(np.float32)
                     for m in (self.gray_mask, self.thermal_mask)]
            self._levels[size] = (_resize(self.gray, size), _resize(self.thermal, size),
                                  *[_erode(m, 1) for m in masks])
        return self._levels[size]


# --------------------------------------------------------------------------- the three steps


def _warped_level(pair: _Pair, thermal_from_rgb: np.ndarray, longest: int):
    """The pair at longest side ``longest`` with its thermal image mapped by the 3x3 pixel ``thermal_from_rgb``
    (on the full RGB grid): ``(gray, thermal, gray_mask, thermal_mask, warped thermal, warped thermal mask)``."""
    gray, th, gmask, tmask = pair.level(longest)
    h, w = gray.shape
    m = _rescale(thermal_from_rgb, pair.size, (h, w))
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    th_w = cv2.warpAffine(th, m[:2], (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    valid = cv2.warpAffine(tmask, m[:2], (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return gray, th, gmask, tmask, th_w, valid


def agreement(pair: _Pair, thermal_from_rgb: np.ndarray, longest: int) -> float:
    """Normalised correlation of the two orientation fields over their common area, in [-1, 1], with the
    thermal image mapped by the 3x3 pixel ``thermal_from_rgb`` (on the full RGB grid)."""
    gray, _, gmask, _, th_w, valid = _warped_level(pair, thermal_from_rgb, longest)
    h, w = gray.shape
    valid = _erode(valid, 1) * gmask
    if valid.sum() < 0.05 * h * w:
        return -1.0
    f = orientation_field(gray, gmask) * valid
    g = orientation_field(th_w, valid) * valid
    den = math.sqrt(float((np.abs(f) ** 2).sum()) * float((np.abs(g) ** 2).sum()))
    return float((f * np.conj(g)).real.sum() / den) if den > 1e-12 else -1.0


def edge_overlap_gain(pair: _Pair, thermal_from_rgb: np.ndarray, longest: int) -> float | None:
    """How many more RGB Canny edge pixels the thermal edges meet with ``thermal_from_rgb`` than with the
    identity, over the area both cover (ratio; 1: no better). Canny 60/150 on 8-bit copies at ``longest``.
    None when the images have too few such edges to judge (fewer than 100 met either way)."""
    gray, th, gmask, tmask, th_w, valid = _warped_level(pair, thermal_from_rgb, longest)
    common = (_erode(valid, 3) * _erode(tmask, 3) * gmask) > 0

    def edges(x):
        return cv2.Canny(np.clip(np.round(x * 255), 0, 255).astype(np.uint8), 60, 150) > 0
    e_rgb = edges(gray) & common
    before = float((e_rgb & edges(th)).sum())
    after = float((e_rgb & edges(th_w)).sum())
    if max(before, after) < 100:
        return None
    return after / before if before > 0 else math.inf


def global_search(pair: _Pair, config: RegisterConfig) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Best similarity transform of the rotation x scale grid with the FFT translation: ``(thermal_from_rgb
    3x3 on the full RGB grid, (rotation_deg, scale, score))``."""
    gray, th, gmask, tmask = pair.level(config.search_size)
    h, w = gray.shape
    shape = (cv2.getOptimalDFTSize(2 * h), cv2.getOptimalDFTSize(2 * w))
    f = orientation_field(gray, gmask)
    ef = float((np.abs(f) ** 2).sum())
    spec_f = np.fft.fft2(f, shape)
    centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    best = (-np.inf, 0.0, 1.0, 0, 0)
    scores = []
    for angle in config.rotations():
        for scale in config.scales():
            s = cv2.getRotationMatrix2D(centre, float(angle), float(scale))
            th_s = cv2.warpAffine(th, s, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            m_s = cv2.warpAffine(tmask, s, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
            m_s = _erode(m_s, 1)
            g = orientation_field(th_s, m_s)
            eg = float((np.abs(g) ** 2).sum())
            if eg <= 1e-12 or ef <= 1e-12:
                continue
            # corr(t) = sum_x f(x) conj(g(x - t)): g shifted by t lines up with f.
            corr = np.fft.ifft2(spec_f * np.conj(np.fft.fft2(g, shape))).real
            i = int(np.argmax(corr))
            score = float(corr.flat[i]) / math.sqrt(ef * eg)
            scores.append(score)
            if score > best[0]:
                ty, tx = np.unravel_index(i, shape)
                ty = ty - shape[0] if ty > shape[0] // 2 else ty
                tx = tx - shape[1] if tx > shape[1] // 2 else tx
                best = (score, float(angle), float(scale), int(tx), int(ty))
    score, angle, scale, tx, ty = best
    if not np.isfinite(score):
        return np.eye(3), (0.0, 1.0, float('nan'), float('nan'))
    s = np.vstack([cv2.getRotationMatrix2D(centre, angle, scale), [0.0, 0.0, 1.0]])
    # The rotated/scaled thermal, shifted by t, lines up with the RGB: rgb(x) ~ thermal(S^-1 (x - t)).
    m = np.linalg.inv(s) @ np.array([[1.0, 0.0, -tx], [0.0, 1.0, -ty], [0.0, 0.0, 1.0]])
    return _rescale(m, (h, w), pair.size), (angle, scale, score, float(np.median(scores)))


def refine_ecc(pair: _Pair, thermal_from_rgb: np.ndarray, config: RegisterConfig) -> np.ndarray:
    """ECC (affine) on the 3-channel orientation fields, coarse to fine; a level that fails keeps the
    previous estimate."""
    m = thermal_from_rgb
    if config.refine_iters == 0:
        return m
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, config.refine_iters, 1e-5)
    done = set()
    for longest in config.refine_sizes:
        gray, th, gmask, tmask = pair.level(longest)
        if gray.shape in done:  # sizes capped at the image's: one level only once
            continue
        done.add(gray.shape)

        def channels(image, mask):
            z = orientation_field(image, mask)
            return np.ascontiguousarray(np.dstack([z.real, z.imag, np.abs(z)]).astype(np.float32))

        ml = _rescale(m, pair.size, gray.shape)
        try:
            _, warp = cv2.findTransformECCWithMask(
                channels(gray, gmask), channels(th, tmask), gmask.astype(np.uint8), tmask.astype(np.uint8),
                ml[:2].astype(np.float32), cv2.MOTION_AFFINE, criteria, 5)
        except cv2.error:  # no convergence (e.g. no shared structure): keep what we have
            continue
        if not np.isfinite(warp).all():
            continue
        m = _rescale(np.vstack([warp.astype(np.float64), [0.0, 0.0, 1.0]]), gray.shape, pair.size)
    return m


def plausible(thermal_from_rgb: np.ndarray, scale_range: tuple[float, float]) -> bool:
    """Finite, not mirrored, both singular values of the linear part within ``scale_range`` (either way)."""
    a = np.asarray(thermal_from_rgb, np.float64)[:2, :2]
    if not np.isfinite(thermal_from_rgb).all() or np.linalg.det(a) <= 0:
        return False
    sv = np.linalg.svd(a, compute_uv=False)
    lo, hi = scale_range
    return bool(min(lo, 1 / hi) * 0.999 <= sv.min() and sv.max() <= max(hi, 1 / lo) * 1.001)


def corner_distances(thermal_from_rgb_a: np.ndarray, thermal_from_rgb_b: np.ndarray,
                     size: tuple[int, int]) -> np.ndarray:
    """``(4,)`` distances (px) between the four corners of a ``size (H, W)`` grid mapped by two 2x3/3x3
    maps (the corner error of ``bench/papers_tables.py`` is their mean)."""
    h, w = size
    c = np.array([[0, 0, 1], [w - 1, 0, 1], [w - 1, h - 1, 1], [0, h - 1, 1]], dtype=np.float64).T
    a, b = np.asarray(thermal_from_rgb_a, np.float64), np.asarray(thermal_from_rgb_b, np.float64)
    return np.linalg.norm(a[:2] @ c - b[:2] @ c, axis=0)


# --------------------------------------------------------------------------- entry point


def register(rgb, thermal, config: RegisterConfig | None = None) -> Registration:
    """Find the affine transform that puts ``thermal`` onto the RGB grid.

    Args:
        rgb: ``(H, W, 3)`` RGB or ``(H, W)`` gray float image (values in [0, 1]).
        thermal: ``(h, w)`` float image in [0, 1], any resolution (same field of view is the start).
        config: :class:`RegisterConfig`.

    Returns:
        :class:`Registration`; ``rgb_from_thermal`` maps thermal pixels (as given) onto the RGB grid.

    Raises:
        ImageError: an image of the wrong shape, smaller than 16 x 16, or with NaN/inf values.
    """
    config = config or RegisterConfig()
    t0 = time.perf_counter()
    gray = _gray(rgb, 'rgb')
    th = _gray(thermal, 'thermal')
    size, th_size = gray.shape, th.shape
    pair = _Pair(gray, _resize(th, size), config.ignore_padding)

    identity = np.eye(3)
    id_agree = agreement(pair, identity, config.search_size)
    coarse, search = global_search(pair, config)
    found = [('search', coarse)]
    if config.refine_iters:
        found.append(('refined', refine_ecc(pair, coarse, config)))
    candidates = [(agreement(pair, m, config.search_size), kind, m) for kind, m in found
                  if plausible(m, config.scale_range)]
    best_agree, kind, best = max(candidates, key=lambda c: c[0]) if candidates else (-1.0, 'none', None)

    margin = search[2] - search[3]
    if best is None:
        reason = 'no plausible transform found (scales outside the range or mirrored)'
    elif not margin >= config.min_search_margin:
        reason = (f"no clear match: the search's best score {search[2]:.3f} is {margin:.3f} above its "
                  f'median (needs {config.min_search_margin})')
    elif best_agree < config.min_gain * max(id_agree, 0.0):
        reason = (f'not clearly better than the identity (agreement {best_agree:.3f} vs {id_agree:.3f}; '
                  f'needs x{config.min_gain})')
    else:
        reason = None
        if config.min_edge_gain > 0 and best_agree < config.edge_check_below * max(id_agree, 0.0):
            gain = edge_overlap_gain(pair, best, config.edge_check_size)
            if gain is not None and not gain >= config.min_edge_gain:
                reason = (f'not clearly better than the identity: it meets x{gain:.2f} the RGB edges the identity '
                          f'meets (needs x{config.min_edge_gain}; agreement {best_agree:.3f} vs {id_agree:.3f})')
    kept = reason is not None
    chosen = identity if kept else best
    if not kept:
        reason = f'{kind} transform, agreement {best_agree:.3f} vs identity {id_agree:.3f}'
    theta = pixels_to_theta(torch.from_numpy(chosen)[None], size, size)[0].numpy()
    return Registration(
        rgb_from_thermal=_rgb_from_thermal(chosen, size, th_size), thermal_from_rgb=theta, kept_identity=kept,
        reason=reason, agreement=float(best_agree), identity_agreement=float(id_agree), search=search,
        candidate_rgb_from_thermal=None if best is None else _rgb_from_thermal(best, size, th_size),
        seconds=time.perf_counter() - t0, sizes={'rgb': size, 'thermal': th_size})


def _rgb_from_thermal(thermal_from_rgb: np.ndarray, size: tuple[int, int],
                      th_size: tuple[int, int]) -> np.ndarray:
    """A 3x3 ``thermal_from_rgb`` between the RGB grid and the thermal image resampled onto it -> the 3x3
    ``rgb_from_thermal`` for the thermal image as given (``th_size``), through the resolution-free theta."""
    theta = pixels_to_theta(torch.from_numpy(thermal_from_rgb)[None], size, size)
    return np.linalg.inv(theta_to_pixels(theta, size, th_size)[0].numpy())
