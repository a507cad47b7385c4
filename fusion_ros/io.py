"""Reading and writing image files, with errors that name the file and the fix."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fusion_ros.imaging import ImageError, ThermalNormConfig, normalize_thermal, to_float01


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as stored: ``(H, W)`` or ``(H, W, 3)`` RGB order, uint8/uint16/float32.

    Alpha channels are dropped. Raises ``FileNotFoundError`` for a missing file and
    :class:`ImageError` for a file that is not a readable image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no such file; check the path (relative paths start at {Path.cwd()})')
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageError(
            f'{path}: not a readable image (OpenCV could not decode it); '
            'give a PNG, JPEG, TIFF or other format OpenCV reads')
    if image.ndim == 3:
        if image.shape[2] == 4:
            image = image[..., :3]
        image = image[..., ::-1]  # OpenCV's BGR -> RGB
    return np.ascontiguousarray(image)


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Write ``(H, W)`` or ``(H, W, 3)`` RGB uint8/uint16 (float in [0, 1] is written as uint8)."""
    path = Path(path)
    image = np.asarray(image)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ImageError(f'{path}: cannot write an image of shape {image.shape}; give (H, W) or (H, W, 3)')
    path.parent.mkdir(parents=True, exist_ok=True)
    if np.issubdtype(image.dtype, np.floating):
        image = np.round(np.clip(np.nan_to_num(image), 0, 1) * 255).astype(np.uint8)
    if image.ndim == 3:
        image = image[..., ::-1]
    try:
        written = cv2.imwrite(str(path), np.ascontiguousarray(image))
    except cv2.error:  # OpenCV raises (not returns False) for an unknown extension
        written = False
    if not written:
        raise ImageError(f'{path}: could not write the image; check the extension (.png, .jpg) and the folder')
    return path


@dataclass
class PairArrays:
    """A visible/thermal pair as float arrays, not yet on a common grid.

    rgb: ``(H, W, 3)`` float32 in [0, 1]; thermal: ``(h, w)`` float32 in [0, 1].
    """
    rgb: np.ndarray
    thermal: np.ndarray


def rgb_float(image: np.ndarray, *, name: str = 'rgb') -> np.ndarray:
    """An RGB or mono visible image as ``(H, W, 3)`` float32 in [0, 1] (mono is repeated)."""
    image = to_float01(image, name=name)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ImageError(f'{name}: expected an RGB or mono image, got shape {image.shape}')
    return image


def read_pair(rgb_path: str | Path, thermal_path: str | Path,
              thermal_norm: ThermalNormConfig | None = None) -> PairArrays:
    """Read a visible + thermal/NIR pair of files and normalise both to [0, 1].

    The thermal file may be 8-bit, 16-bit or float and of another resolution than the RGB one;
    colour thermal files (pseudo-coloured or stored as 3 equal channels) are reduced to luma.
    Default thermal normalisation: by dtype for 8-bit files, 0.5-99.5 percentiles otherwise.
    """
    rgb = read_image(rgb_path)
    thermal = read_image(thermal_path)
    if thermal.ndim == 3:
        thermal = cv2.cvtColor(np.ascontiguousarray(thermal), cv2.COLOR_RGB2GRAY)
    if thermal_norm is None:
        thermal_norm = ThermalNormConfig('dtype' if thermal.dtype == np.uint8 else 'percentile')
    rgb_f = rgb_float(rgb, name=str(rgb_path))  # its errors start with the file name
    try:
        thermal_f = normalize_thermal(thermal, thermal_norm)
    except ImageError as exc:
        raise ImageError(f'{thermal_path}: {exc}') from exc
    return PairArrays(rgb=rgb_f, thermal=thermal_f)
