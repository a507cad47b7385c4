"""Input checks and 8-bit quantisation shared by the fusion metrics."""
from __future__ import annotations

import torch

GRAY_LEVELS = 256


def check_gray(*images: torch.Tensor, names: tuple[str, ...] = ('a', 'b', 'f')) -> None:
    """Raise ``ValueError`` unless every image is a finite ``(B, 1, H, W)`` tensor of one shape."""
    names = names if len(names) == len(images) else tuple(f'image {i}' for i in range(len(images)))
    for name, x in zip(names, images):
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 1:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f'{name}: expected a gray (B, 1, H, W) tensor, got {shape}; '
                             'convert colour to luma first (fusion_ros.imaging.rgb_to_gray)')
        if not torch.isfinite(x).all():
            raise ValueError(f'{name} contains NaN or inf; metrics need finite images in [0, 1]')
    shapes = {tuple(x.shape) for x in images}
    if len(shapes) > 1:
        listed = ', '.join(f'{n} {tuple(x.shape)}' for n, x in zip(names, images))
        raise ValueError(f'expected gray images of one shape, got {listed}; resample them onto one grid '
                         '(fusion_ros.imaging.resize_to)')


def check_rgb(*images: torch.Tensor, names: tuple[str, ...] = ('rgb_visible', 'rgb_fused')) -> None:
    """Raise ``ValueError`` unless every image is a finite ``(B, 3, H, W)`` tensor of one shape."""
    for name, x in zip(names, images):
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f'{name}: expected an RGB (B, 3, H, W) tensor in [0, 1], got {shape}')
        if not torch.isfinite(x).all():
            raise ValueError(f'{name} contains NaN or inf; metrics need finite images in [0, 1]')
    shapes = {tuple(x.shape) for x in images}
    if len(shapes) > 1:
        listed = ', '.join(f'{n} {tuple(x.shape)}' for n, x in zip(names, images))
        raise ValueError(f'expected RGB images of one shape, got {listed}')


def quantize8(x: torch.Tensor) -> torch.Tensor:
    """``(B, 1, H, W)`` float in [0, 1] -> ``(B, H*W)`` int64 grey levels ``round(255 x)`` in 0..255.

    Values outside [0, 1] are clipped. This is what saving the image as an 8-bit PNG does, so
    histogram metrics computed here equal those of the MATLAB/Python evaluation code run on the PNG.
    """
    q = torch.round(x.detach().double().clamp(0.0, 1.0) * (GRAY_LEVELS - 1)).long()
    return q.flatten(1)
