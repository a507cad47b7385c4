"""The thermal-normalisation option of the commands that make images for use or training (fuse, detect,
eval-detector, pseudo-label, train-detector, train): by default they normalise thermal images as the node does."""
from __future__ import annotations

import argparse

CHOICES = ('percentile', 'dtype')


def add_thermal_norm_option(p) -> None:
    """Add ``--thermal-norm`` to a parser or an argument group."""
    p.add_argument('--thermal-norm', choices=CHOICES, default='percentile',
                   help="thermal images to [0, 1]: 'percentile' (0.5-99.5 %% per image, the node's default "
                        "thermal_normalization, so offline results match the robot's) or 'dtype' (8-bit files as "
                        "they are, the field's fusion-evaluation protocol)")


def thermal_norm_from_args(args: argparse.Namespace):
    from fusion_ros.imaging import ThermalNormConfig
    return ThermalNormConfig(getattr(args, 'thermal_norm', 'percentile'))
