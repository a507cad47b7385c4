"""sensor_msgs/Image and CompressedImage <-> numpy, without cv_bridge.

Arrays follow :mod:`fusion_ros.imaging`: ``(H, W)`` or ``(H, W, C)``, colour in RGB(A) order, and
they own their memory (never a view of the message's buffer).

Supported ``Image`` encodings (read): ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8``, ``mono8``,
``mono16``, ``16UC1``, ``32FC1``, ``8UC1`` and ``8UC3`` (taken as BGR, as cv_bridge does).
Rows may be padded (``step`` larger than ``width * bytes per pixel``) and 16/32-bit data may be
big-endian (``is_bigendian``). Written: ``rgb8``, ``mono8``, ``mono16``, ``32FC1``.

``CompressedImage`` (image_transport's ``compressed`` plugin: ``format`` like ``'jpeg'``,
``'png'``, ``'rgb8; jpeg compressed bgr8'``, ``'mono16; png compressed mono16'``) is decoded with
OpenCV; ``compressedDepth`` PNG of ``16UC1``/``mono16`` images is read too.
"""
from __future__ import annotations

import array
import sys
from typing import NamedTuple

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from fusion_ros.imaging import ImageError, ThermalNormConfig, normalize_thermal, to_float01


class _Encoding(NamedTuple):
    dtype: type
    channels: int
    order: str  # 'mono', 'rgb', 'bgr', 'rgba' or 'bgra'


READ_ENCODINGS = {
    'rgb8': _Encoding(np.uint8, 3, 'rgb'),
    'bgr8': _Encoding(np.uint8, 3, 'bgr'),
    'rgba8': _Encoding(np.uint8, 4, 'rgba'),
    'bgra8': _Encoding(np.uint8, 4, 'bgra'),
    'mono8': _Encoding(np.uint8, 1, 'mono'),
    '8UC1': _Encoding(np.uint8, 1, 'mono'),
    '8UC3': _Encoding(np.uint8, 3, 'bgr'),
    'mono16': _Encoding(np.uint16, 1, 'mono'),
    '16UC1': _Encoding(np.uint16, 1, 'mono'),
    '32FC1': _Encoding(np.float32, 1, 'mono'),
}
WRITE_ENCODINGS = {
    'rgb8': _Encoding(np.uint8, 3, 'rgb'),
    'mono8': _Encoding(np.uint8, 1, 'mono'),
    'mono16': _Encoding(np.uint16, 1, 'mono'),
    '32FC1': _Encoding(np.float32, 1, 'mono'),
}
_MONO_ENCODINGS = ('mono8', '8UC1', 'mono16', '16UC1', '32FC1')
# compressed_depth_image_transport prefixes the PNG with a ConfigHeader: int32 format + float32[2].
_COMPRESSED_DEPTH_HEADER_BYTES = 12


def _canonical_encoding(array_: np.ndarray) -> str:
    """The encoding naming an array as returned here: rgb8, rgba8, rgb16, rgba16, mono8, mono16, 32FC1."""
    if array_.ndim == 2:
        return {np.dtype(np.uint8): 'mono8', np.dtype(np.uint16): 'mono16'}.get(array_.dtype, '32FC1')
    bits = 8 if array_.dtype == np.uint8 else 16
    return f"{'rgb' if array_.shape[2] == 3 else 'rgba'}{bits}"


def _to_rgb_order(pixels: np.ndarray, order: str) -> np.ndarray:
    if order == 'bgr':
        return pixels[..., ::-1]
    if order == 'bgra':
        return pixels[..., [2, 1, 0, 3]]
    return pixels


# --------------------------------------------------------------------------- Image -> numpy


def image_msg_to_array(msg: Image, *, name: str = 'image') -> tuple[np.ndarray, str]:
    """Decode a ``sensor_msgs/Image`` into a numpy array, colour in RGB order.

    Args:
        msg: the message; see the module docstring for the encodings.
        name: the input's name in error messages (e.g. ``'rgb'``, ``'thermal'``).

    Returns:
        ``(array, encoding)``: ``(H, W, 3)`` uint8 ``'rgb8'`` (from rgb8, bgr8, 8UC3),
        ``(H, W, 4)`` uint8 ``'rgba8'`` (from rgba8, bgra8), ``(H, W)`` uint8 ``'mono8'``
        (mono8, 8UC1), ``(H, W)`` uint16 ``'mono16'`` (mono16, 16UC1) or ``(H, W)`` float32
        ``'32FC1'`` (NaN/inf kept), in native byte order.

    Raises:
        ImageError: unknown encoding, empty image, ``step`` too small, or a data length that does
            not match ``height * step``.
    """
    spec = READ_ENCODINGS.get(msg.encoding)
    if spec is None:
        raise ImageError(
            f"{name}: unsupported Image encoding {msg.encoding!r}; supported: {', '.join(READ_ENCODINGS)}. "
            'Publish one of these (for Bayer or YUV cameras, run image_proc to get rgb8/mono8 first)')
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ImageError(
            f'{name}: empty image ({width}x{height}, {msg.encoding}); the publisher sent no pixels')
    itemsize = np.dtype(spec.dtype).itemsize
    row_bytes = width * spec.channels * itemsize
    if step < row_bytes:
        raise ImageError(
            f'{name}: step {step} is less than width x bytes per pixel = {width} x '
            f'{spec.channels * itemsize} = {row_bytes} for {msg.encoding!r}; the publisher must set '
            'step to the bytes per row (width x bytes per pixel, plus any row padding)')
    if len(msg.data) != height * step:
        raise ImageError(
            f'{name}: got {len(msg.data)} data bytes, expected height x step = {height} x {step} = '
            f'{height * step} for a {width}x{height} {msg.encoding!r} image; the message is truncated '
            'or its height/width/step/encoding do not describe its data: fix the publisher')
    rows = np.frombuffer(msg.data, np.uint8).reshape(height, step)[:, :row_bytes]
    dtype = np.dtype(spec.dtype).newbyteorder('>' if msg.is_bigendian else '<')
    pixels = np.ascontiguousarray(rows).view(dtype).reshape(height, width, spec.channels)
    pixels = _to_rgb_order(pixels, spec.order)
    if spec.channels == 1:
        pixels = pixels[..., 0]
    out = np.array(pixels, dtype=np.dtype(spec.dtype), order='C', copy=True)  # native order, own memory
    return out, _canonical_encoding(out)


# --------------------------------------------------------------------------- CompressedImage -> numpy


def compressed_msg_to_array(msg: CompressedImage, *, name: str = 'image') -> tuple[np.ndarray, str]:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG or PNG) into a numpy array, colour in RGB order.

    Args:
        msg: ``format`` as written by image_transport (``'jpeg'``, ``'png'``,
            ``'rgb8; jpeg compressed bgr8'``, ``'16UC1; compressedDepth png'``, ...).
        name: the input's name in error messages.

    Returns:
        ``(array, encoding)`` as :func:`image_msg_to_array`: ``(H, W, 3)`` uint8 ``'rgb8'``,
        ``(H, W, 4)`` ``'rgba8'``, ``(H, W)`` uint8 ``'mono8'`` or uint16 ``'mono16'`` (16-bit PNG;
        16-bit colour PNG gives ``'rgb16'``/``'rgba16'``). An image whose original encoding (the
        part of ``format`` before ``;``) is mono comes back mono.

    Raises:
        ImageError: empty, corrupt or truncated data, or an unsupported ``compressedDepth`` format.
    """
    fmt = msg.format or ''
    data = np.frombuffer(msg.data, np.uint8)
    source_encoding = fmt.split(';')[0].strip() if ';' in fmt else ''
    if data.size == 0:
        raise ImageError(
            f'{name}: CompressedImage (format {fmt!r}) has no data; the publisher sent an empty image')
    if 'compresseddepth' in fmt.lower():
        if source_encoding not in ('16UC1', 'mono16'):
            raise ImageError(
                f'{name}: compressedDepth format {fmt!r} is not supported (only 16UC1/mono16 PNG); '
                '32FC1 compressedDepth is quantised inverse depth, not a thermal image: subscribe to '
                'the raw topic or to the compressed (png) transport of a mono16 image')
        data = data[_COMPRESSED_DEPTH_HEADER_BYTES:]
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise ImageError(
            f'{name}: could not decode {len(msg.data)} bytes of CompressedImage data with format {fmt!r} '
            f'(first bytes {bytes(data[:8])!r}); the data is corrupt, truncated or not JPEG/PNG: check '
            "the publisher's image_transport plugin, and that the whole message arrived")
    if decoded.ndim == 3 and decoded.shape[2] == 1:
        decoded = decoded[..., 0]
    if decoded.ndim == 3:
        if source_encoding in _MONO_ENCODINGS:
            decoded = cv2.cvtColor(np.ascontiguousarray(decoded[..., :3]), cv2.COLOR_BGR2GRAY)
        else:
            decoded = _to_rgb_order(decoded, 'bgr' if decoded.shape[2] == 3 else 'bgra')
    out = np.ascontiguousarray(decoded)
    return out, _canonical_encoding(out)


def msg_to_array(msg: Image | CompressedImage, *, name: str = 'image') -> tuple[np.ndarray, str]:
    """:func:`image_msg_to_array` or :func:`compressed_msg_to_array`, by the message's type."""
    if hasattr(msg, 'encoding') and hasattr(msg, 'step'):
        return image_msg_to_array(msg, name=name)
    if hasattr(msg, 'format') and hasattr(msg, 'data'):
        return compressed_msg_to_array(msg, name=name)
    raise ImageError(
        f'{name}: expected a sensor_msgs/Image or sensor_msgs/CompressedImage, got {type(msg).__name__}')


# --------------------------------------------------------------------------- messages -> fusion inputs


def rgb_msg_to_float(msg: Image | CompressedImage, *, name: str = 'rgb') -> np.ndarray:
    """The visible input: an Image/CompressedImage to ``(H, W, 3)`` float32 RGB in [0, 1].

    8-bit images are divided by 255, 16-bit by 65535, ``32FC1`` is taken as already in [0, 1]
    (clipped; NaN -> 0). A mono (visible or NIR) image is repeated to 3 channels; alpha is dropped.
    """
    pixels, _ = msg_to_array(msg, name=name)
    out = to_float01(pixels, name=name)
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    return np.ascontiguousarray(out[..., :3])


def thermal_msg_to_float(msg: Image | CompressedImage, config: ThermalNormConfig | None = None,
                         *, name: str = 'thermal') -> np.ndarray:
    """The thermal/NIR input: an Image/CompressedImage to ``(H, W)`` float32 in [0, 1].

    ``mono8``, ``mono16``/``16UC1`` and ``32FC1`` (NaN/inf allowed, they become 0) are normalised
    by :func:`fusion_ros.imaging.normalize_thermal` with ``config`` (default: 0.5-99.5 percentiles;
    ``ThermalNormConfig('range', low, high)`` for raw units such as centi-kelvin). A colour image
    is reduced to its BT.601 luma first (same dtype, so the same raw units); a false-colour palette
    is not undone, so publish the camera's raw mono16 where you can.
    """
    pixels, _ = msg_to_array(msg, name=name)
    if pixels.ndim == 3:  # uint8 or uint16 colour: luma keeps the dtype (and so the raw units)
        pixels = cv2.cvtColor(np.ascontiguousarray(pixels[..., :3]), cv2.COLOR_RGB2GRAY)
    return normalize_thermal(pixels, config)


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
    spec = WRITE_ENCODINGS.get(encoding)
    if spec is None:
        raise ImageError(
            f"array_to_image_msg: unsupported encoding {encoding!r}; supported: {', '.join(WRITE_ENCODINGS)}")
    pixels = np.asarray(pixels)
    if spec.channels == 1 and pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    expected_shape = '(H, W, 3)' if spec.channels == 3 else '(H, W)'
    if (pixels.ndim != (3 if spec.channels == 3 else 2) or (spec.channels == 3 and pixels.shape[2] != 3)
            or pixels.size == 0):
        raise ImageError(
            f'array_to_image_msg: {encoding!r} needs a non-empty {expected_shape} array, '
            f'got shape {pixels.shape}')
    if encoding == '32FC1' and np.issubdtype(pixels.dtype, np.floating):
        pixels = pixels.astype(np.float32, copy=False)
    if pixels.dtype != spec.dtype:
        fix = ('use x.astype(np.float32)' if spec.dtype == np.float32 else
               f'scale it first, e.g. fusion_ros.imaging.from_float01(x, np.{np.dtype(spec.dtype).name}) '
               'for a float image in [0, 1]')
        raise ImageError(
            f'array_to_image_msg: {encoding!r} needs dtype {np.dtype(spec.dtype).name}, '
            f'got {pixels.dtype}; {fix}')
    pixels = np.ascontiguousarray(pixels, dtype=np.dtype(spec.dtype).newbyteorder('='))
    msg = Image()
    msg.header = _copy_header(header)
    msg.height, msg.width = int(pixels.shape[0]), int(pixels.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = int(sys.byteorder == 'big')
    msg.step = int(pixels.shape[1] * spec.channels * pixels.itemsize)
    data = array.array('B')
    data.frombytes(pixels.reshape(-1).view(np.uint8))
    msg.data = data
    return msg
