"""Shared fixtures: small synthetic textured images and visible/thermal pairs (no files, no downloads)."""
import cv2
import numpy as np
import pytest


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """``(h, w)`` float32 in [0, 1]: blurred noise plus a few bright discs (edges at several scales)."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 2.0)
    img = 0.5 * (noise - noise.min()) / max(float(noise.max() - noise.min()), 1e-6)
    for _ in range(max(3, h * w // 2400)):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        radius = int(rng.integers(max(2, min(h, w) // 24), max(3, min(h, w) // 7)))
        cv2.circle(img, centre, radius, float(rng.uniform(0.4, 1.0)), -1)
    return np.clip(cv2.GaussianBlur(img, (0, 0), 1.0), 0.0, 1.0).astype(np.float32)


def colour_from_gray(gray: np.ndarray, seed: int = 0) -> np.ndarray:
    """``(h, w, 3)`` float32 in [0, 1]: a gray image tinted by a smooth colour field."""
    h, w = gray.shape
    rng = np.random.default_rng(seed)
    tint = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 6.0)
    tint = 0.6 + 0.4 * (tint - tint.min()) / max(float(tint.max() - tint.min()), 1e-6)
    return np.clip(gray[..., None] * tint, 0.0, 1.0).astype(np.float32)


@pytest.fixture
def make_texture():
    """``make_texture(h, w, seed=0)`` -> ``(h, w)`` float32 textured image in [0, 1]."""
    return textured


@pytest.fixture
def make_pair():
    """``make_pair(h, w, seed=0, thermal_size=None)`` -> ``(rgb (h, w, 3), thermal (h', w'))`` float32 [0, 1].

    The thermal image shares some structure with the visible one (inverted) and adds structure of its
    own, so plain averaging is not the best fusion.
    """
    def make(h=48, w=64, seed=0, thermal_size=None):
        gray = textured(h, w, seed)
        rgb = colour_from_gray(gray, seed + 100)
        thermal = np.clip(0.5 * (1.0 - gray) + 0.5 * textured(h, w, seed + 1), 0, 1).astype(np.float32)
        if thermal_size is not None:
            th, tw = thermal_size
            thermal = cv2.resize(thermal, (tw, th), interpolation=cv2.INTER_AREA)
        return rgb, thermal
    return make


@pytest.fixture(scope='session', autouse=True)
def _torch_single_thread():
    """One torch thread: on a shared 2-core machine, a second intra-op thread competing with other
    processes makes small convolutions many times slower. Restored after the session."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
