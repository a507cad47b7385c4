"""Where the shipped models live: ``models/`` of a source checkout, or ``share/fusion_ros/models``.

``FUSION_ROS_MODEL_DIR`` overrides the search. Nothing is ever downloaded: a missing file is an error
that says where it looked.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

SSVIF_DEFAULT = 'ssvif_default.pt'      # the streaming fusion model (SSVIF, paper 004)
SEGMENTER_DEFAULT = 'segmenter_ssvif.pt'  # SSVIF's self-supervised SegFormer: degenerate, not a working model
DETECTOR_DEFAULT = 'detector_default.pt'  # the ultralytics detector (fusion-ros train-detector), when installed


def model_dirs() -> list[Path]:
    """Folders searched, in order."""
    dirs = []
    if os.environ.get('FUSION_ROS_MODEL_DIR'):
        dirs.append(Path(os.environ['FUSION_ROS_MODEL_DIR']))
    dirs.append(Path(__file__).resolve().parents[1] / 'models')  # source checkout / editable install
    try:  # a colcon install on a robot (ament_index is plain Python, no rclpy)
        from ament_index_python.packages import get_package_share_directory
        dirs.append(Path(get_package_share_directory('fusion_ros')) / 'models')
    except Exception:  # noqa: BLE001 - not a ROS install, or the package is not indexed
        pass
    dirs.append(Path(sys.prefix) / 'share' / 'fusion_ros' / 'models')  # pip install of the data_files
    return dirs


def shipped_model_path(name: str = SSVIF_DEFAULT) -> Path:
    """The first ``name`` found in :func:`model_dirs`; ``FileNotFoundError`` listing them otherwise."""
    for d in model_dirs():
        if (d / name).is_file():
            return d / name
    raise FileNotFoundError(
        f'shipped model {name} not found in {", ".join(str(d) for d in model_dirs())}; reinstall the package '
        'or set FUSION_ROS_MODEL_DIR (models are never downloaded)')
