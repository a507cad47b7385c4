"""sensor_msgs/Image and CompressedImage <-> numpy, without cv_bridge.

The pixel decoding and encoding is ROS-free and lives in :mod:`fusion_ros.encodings` (shared with
the bag tools, :mod:`fusion_ros.bags`); this module adds the rclpy message classes and headers.

Encodings, array conventions and the ``CompressedImage`` formats read: see :mod:`fusion_ros.encodings`.
"""
from __future__ import annotations

import array

import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from fusion_ros.encodings import (READ_ENCODINGS, WRITE_ENCODINGS, array_to_image_fields,  # noqa: F401
                                  compressed_msg_to_array, image_msg_to_array, msg_to_array,
                                  rgb_array_to_float, thermal_array_to_float)
from fusion_ros.imaging import ImageError, ThermalNormConfig


# --------------------------------------------------------------------------- messages -> fusion inputs


def rgb_msg_to_float(msg: Image | CompressedImage, *, name: str = 'rgb') -> np.ndarray:
    """The visible input: an Image/CompressedImage to ``(H, W, 3)`` float32 RGB in [0, 1].

    8-bit images are divided by 255, 16-bit by 65535, ``32FC1`` is taken as already in [0, 1]
    (clipped; NaN -> 0). A mono (visible or NIR) image is repeated to 3 channels; alpha is dropped.
    """
    pixels, _ = msg_to_array(msg, name=name)
    return rgb_array_to_float(pixels, name=name)


def thermal_msg_to_float(msg: Image | CompressedImage, config: ThermalNormConfig | None = None,
                         *, name: str = 'thermal') -> np.ndarray:
    """The thermal/NIR input: an Image/CompressedImage to ``(H, W)`` float32 in [0, 1].

    See :func:`fusion_ros.encodings.thermal_array_to_float` (default: 0.5-99.5 percentiles).
    """
    pixels, _ = msg_to_array(msg, name=name)
    return thermal_array_to_float(pixels, config)


# --------------------------------------------------------------------------- numpy -> Image


def _copy_header(header: Header) -> Header:
    out = Header()
    out.stamp.sec = header.stamp.sec
    out.stamp.nanosec = header.stamp.nanosec
    out.frame_id = header.frame_id
    return out


def array_to_image_msg(pixels: np.ndarray, encoding: str, header: Header) -> Image:
    """Build a ``sensor_msgs/Image`` from an array; the header (stamp and frame_id) is copied.

    Args:
        pixels: ``(H, W, 3)`` uint8 for ``'rgb8'``; ``(H, W)`` (or ``(H, W, 1)``) uint8 for
            ``'mono8'``, uint16 for ``'mono16'``, float32 for ``'32FC1'`` (float64 is cast).
        encoding: ``'rgb8'``, ``'mono8'``, ``'mono16'`` or ``'32FC1'``.
        header: the header to stamp the image with, usually the input's (outputs keep the input
            stamp and frame_id, as image_pipeline nodes do).

    Returns:
        The message, rows unpadded (``step = width * bytes per pixel``), host byte order.

    Raises:
        ImageError: unknown encoding, or an array whose shape or dtype does not fit it.
    """
    if encoding is None:  # the ROS API takes the encoding explicitly (None would infer it)
        raise ImageError('array_to_image_msg: give the encoding (rgb8, mono8, mono16 or 32FC1)')
    fields = array_to_image_fields(pixels, encoding, where='array_to_image_msg')
    msg = Image()
    msg.header = _copy_header(header)
    msg.height, msg.width, msg.encoding = fields.height, fields.width, fields.encoding
    msg.is_bigendian, msg.step = fields.is_bigendian, fields.step
    data = array.array('B')
    data.frombytes(fields.data)
    msg.data = data
    return msg
