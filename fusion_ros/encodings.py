"""Image message pixels <-> numpy, ROS-free: the encodings of sensor_msgs/Image and CompressedImage.

The functions here read and build the *fields* of the two message types, not the ROS classes, so the
same code serves the node (rclpy messages, through :mod:`fusion_ros.ros.conversions`) and the bag
tools (rosbags messages, through :mod:`fusion_ros.bags`): anything with the message's attributes
works (``height``, ``width``, ``encoding``, ``is_bigendian``, ``step``, ``data`` for an Image;
``format``, ``data`` for a CompressedImage; ``data`` may be bytes, ``array.array`` or a uint8 array).

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

import sys
from typing import Any, NamedTuple

import cv2
import numpy as np

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
MONO_ENCODINGS = ('mono8', '8UC1', 'mono16', '16UC1', '32FC1')
COMPRESSED_FORMATS = ('jpeg', 'png')
# compressed_depth_image_transport prefixes the PNG with a ConfigHeader: int32 format + float32[2].
_COMPRESSED_DEPTH_HEADER_BYTES = 12


def canonical_encoding(pixels: np.ndarray) -> str:
    """The encoding naming an array as returned here: rgb8, rgba8, rgb16, rgba16, mono8, mono16, 32FC1."""
    if pixels.ndim == 2:
        return {np.dtype(np.uint8): 'mono8', np.dtype(np.uint16): 'mono16'}.get(pixels.dtype, '32FC1')
    bits = 8 if pixels.dtype == np.uint8 else 16
    return f"{'rgb' if pixels.shape[2] == 3 else 'rgba'}{bits}"


def _to_rgb_order(pixels: np.ndarray, order: str) -> np.ndarray:
    if order == 'bgr':
        return pixels[..., ::-1]
    if order == 'bgra':
        return pixels[..., [2, 1, 0, 3]]
    return pixels


# --------------------------------------------------------------------------- Image -> numpy


def image_msg_to_array(msg: Any, *, name: str = 'image') -> tuple[np.ndarray, str]:
    """Decode a ``sensor_msgs/Image`` (rclpy or rosbags, or any object with its fields) into numpy.

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
    data = np.frombuffer(msg.data, np.uint8)
    if data.size != height * step:
        raise ImageError(
            f'{name}: got {data.size} data bytes, expected height x step = {height} x {step} = '
            f'{height * step} for a {width}x{height} {msg.encoding!r} image; the message is truncated '
            'or its height/width/step/encoding do not describe its data: fix the publisher')
    rows = data.reshape(height, step)[:, :row_bytes]
    dtype = np.dtype(spec.dtype).newbyteorder('>' if msg.is_bigendian else '<')
    pixels = np.ascontiguousarray(rows).view(dtype).reshape(height, width, spec.channels)
    pixels = _to_rgb_order(pixels, spec.order)
    if spec.channels == 1:
        pixels = pixels[..., 0]
    out = np.array(pixels, dtype=np.dtype(spec.dtype), order='C', copy=True)  # native order, own memory
    return out, canonical_encoding(out)


# --------------------------------------------------------------------------- CompressedImage -> numpy


def compressed_msg_to_array(msg: Any, *, name: str = 'image') -> tuple[np.ndarray, str]:
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
            f'{name}: could not decode {data.size} bytes of CompressedImage data with format {fmt!r} '
            f'(first bytes {bytes(data[:8])!r}); the data is corrupt, truncated or not JPEG/PNG: check '
            "the publisher's image_transport plugin, and that the whole message arrived")
    if decoded.ndim == 3 and decoded.shape[2] == 1:
        decoded = decoded[..., 0]
    if decoded.ndim == 3:
        if source_encoding in MONO_ENCODINGS:
            decoded = cv2.cvtColor(np.ascontiguousarray(decoded[..., :3]), cv2.COLOR_BGR2GRAY)
        else:
            decoded = _to_rgb_order(decoded, 'bgr' if decoded.shape[2] == 3 else 'bgra')
    out = np.ascontiguousarray(decoded)
    return out, canonical_encoding(out)


def msg_to_array(msg: Any, *, name: str = 'image') -> tuple[np.ndarray, str]:
    """:func:`image_msg_to_array` or :func:`compressed_msg_to_array`, by the message's fields."""
    if hasattr(msg, 'encoding') and hasattr(msg, 'step'):
        return image_msg_to_array(msg, name=name)
    if hasattr(msg, 'format') and hasattr(msg, 'data'):
        return compressed_msg_to_array(msg, name=name)
    raise ImageError(
        f'{name}: expected a sensor_msgs/Image or sensor_msgs/CompressedImage, got {type(msg).__name__}')


# --------------------------------------------------------------------------- arrays -> fusion inputs


def rgb_array_to_float(pixels: np.ndarray, *, name: str = 'rgb') -> np.ndarray:
    """The visible input: a decoded array to ``(H, W, 3)`` float32 RGB in [0, 1].

    8-bit images are divided by 255, 16-bit by 65535, float is taken as already in [0, 1]
    (clipped; NaN -> 0). A mono (visible or NIR) image is repeated to 3 channels; alpha is dropped.
    """
    out = to_float01(pixels, name=name)
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    return np.ascontiguousarray(out[..., :3])


def thermal_array_to_float(pixels: np.ndarray, config: ThermalNormConfig | None = None) -> np.ndarray:
    """The thermal/NIR input: a decoded array to ``(H, W)`` float32 in [0, 1].

    mono uint8, uint16 and float32 (NaN/inf allowed, they become 0) are normalised by
    :func:`fusion_ros.imaging.normalize_thermal` with ``config`` (default: 0.5-99.5 percentiles;
    ``ThermalNormConfig('range', low, high)`` for raw units such as centi-kelvin). A colour image
    is reduced to its BT.601 luma first (same dtype, so the same raw units); a false-colour palette
    is not undone, so publish the camera's raw mono16 where you can.
    """
    if pixels.ndim == 3:  # uint8 or uint16 colour: luma keeps the dtype (and so the raw units)
        pixels = cv2.cvtColor(np.ascontiguousarray(pixels[..., :3]), cv2.COLOR_RGB2GRAY)
    return normalize_thermal(pixels, config)


# --------------------------------------------------------------------------- numpy -> Image fields


class ImageFields(NamedTuple):
    """The pixel fields of a ``sensor_msgs/Image`` (everything but the header)."""
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: bytes


def infer_encoding(pixels: np.ndarray) -> str:
    """The write encoding of an array: ``(H, W, 3)`` uint8 -> rgb8, ``(H, W)`` uint8 -> mono8,
    uint16 -> mono16, float -> 32FC1.

    Raises:
        ImageError: any other shape or dtype (with what to convert it to).
    """
    pixels = np.asarray(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8:
        return 'rgb8'
    if pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 1):
        if pixels.dtype == np.uint8:
            return 'mono8'
        if pixels.dtype == np.uint16:
            return 'mono16'
        if np.issubdtype(pixels.dtype, np.floating):
            return '32FC1'
    raise ImageError(
        f'cannot choose an Image encoding for an array of shape {pixels.shape} and dtype {pixels.dtype}; '
        'give (H, W, 3) uint8 (rgb8), (H, W) uint8 (mono8), uint16 (mono16) or float32 (32FC1), e.g. '
        'fusion_ros.imaging.from_float01(x) for a float image in [0, 1]')


def array_to_image_fields(pixels: np.ndarray, encoding: str | None = None, *,
                          where: str = 'array_to_image_fields') -> ImageFields:
    """The pixel fields of an Image holding ``pixels``.

    Args:
        pixels: ``(H, W, 3)`` uint8 for ``'rgb8'``; ``(H, W)`` (or ``(H, W, 1)``) uint8 for
            ``'mono8'``, uint16 for ``'mono16'``, float32 for ``'32FC1'`` (float64 is cast).
        encoding: ``'rgb8'``, ``'mono8'``, ``'mono16'``, ``'32FC1'``, or None to infer it
            (:func:`infer_encoding`).
        where: the caller's name in error messages.

    Returns:
        :class:`ImageFields`, rows unpadded (``step = width * bytes per pixel``), host byte order.

    Raises:
        ImageError: unknown encoding, or an array whose shape or dtype does not fit it.
    """
    if encoding is None:
        encoding = infer_encoding(pixels)
    spec = WRITE_ENCODINGS.get(encoding)
    if spec is None:
        raise ImageError(
            f"{where}: unsupported encoding {encoding!r}; supported: {', '.join(WRITE_ENCODINGS)}")
    pixels = np.asarray(pixels)
    if spec.channels == 1 and pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    expected_shape = '(H, W, 3)' if spec.channels == 3 else '(H, W)'
    if (pixels.ndim != (3 if spec.channels == 3 else 2) or (spec.channels == 3 and pixels.shape[2] != 3)
            or pixels.size == 0):
        raise ImageError(
            f'{where}: {encoding!r} needs a non-empty {expected_shape} array, got shape {pixels.shape}')
    if encoding == '32FC1' and np.issubdtype(pixels.dtype, np.floating):
        pixels = pixels.astype(np.float32, copy=False)
    if pixels.dtype != spec.dtype:
        fix = ('use x.astype(np.float32)' if spec.dtype == np.float32 else
               f'scale it first, e.g. fusion_ros.imaging.from_float01(x, np.{np.dtype(spec.dtype).name}) '
               'for a float image in [0, 1]')
        raise ImageError(
            f'{where}: {encoding!r} needs dtype {np.dtype(spec.dtype).name}, got {pixels.dtype}; {fix}')
    pixels = np.ascontiguousarray(pixels, dtype=np.dtype(spec.dtype).newbyteorder('='))
    return ImageFields(height=int(pixels.shape[0]), width=int(pixels.shape[1]), encoding=encoding,
                       is_bigendian=int(sys.byteorder == 'big'),
                       step=int(pixels.shape[1] * spec.channels * pixels.itemsize),
                       data=pixels.reshape(-1).view(np.uint8).tobytes())


def array_to_compressed(pixels: np.ndarray, fmt: str = 'jpeg', encoding: str | None = None, *,
                        jpeg_quality: int = 90) -> tuple[str, bytes]:
    """Compress an array as image_transport's ``compressed`` plugin does.

    Args:
        pixels: as :func:`array_to_image_fields` (``rgb8``, ``mono8``, ``mono16``; not ``32FC1``).
        fmt: ``'jpeg'`` (8-bit only, lossy) or ``'png'`` (lossless, also 16-bit).
        encoding: the source encoding, or None to infer it.
        jpeg_quality: 1..100.

    Returns:
        ``(format, data)``: e.g. ``('rgb8; jpeg compressed bgr8', b'...')`` or
        ``('mono16; png compressed mono16', b'...')``, ready for a CompressedImage.

    Raises:
        ImageError: unknown format, ``32FC1``, or 16-bit data for JPEG.
    """
    if fmt not in COMPRESSED_FORMATS:
        raise ImageError(f"array_to_compressed: format must be one of {COMPRESSED_FORMATS}, got {fmt!r}")
    fields = array_to_image_fields(pixels, encoding, where='array_to_compressed')  # validates
    if fields.encoding == '32FC1' or (fmt == 'jpeg' and fields.encoding == 'mono16'):
        raise ImageError(
            f'array_to_compressed: {fields.encoding} cannot be stored as {fmt}; use png for mono16, and a '
            'raw Image for 32FC1')
    pixels = np.asarray(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    colour = pixels.ndim == 3
    ext, params = ('.jpg', [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]) if fmt == 'jpeg' else ('.png', [])
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(pixels[..., ::-1]) if colour else pixels, params)
    if not ok:
        raise ImageError(f'array_to_compressed: OpenCV could not encode a {pixels.shape} image as {fmt}')
    target = 'bgr8' if colour else fields.encoding
    return f'{fields.encoding}; {fmt} compressed {target}', buf.tobytes()


__all__ = ['COMPRESSED_FORMATS', 'ImageFields', 'MONO_ENCODINGS', 'READ_ENCODINGS', 'WRITE_ENCODINGS',
           'array_to_compressed', 'array_to_image_fields', 'canonical_encoding', 'compressed_msg_to_array',
           'image_msg_to_array', 'infer_encoding', 'msg_to_array', 'rgb_array_to_float',
           'thermal_array_to_float']
