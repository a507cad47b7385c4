"""The fusion node's output messages, built from a :class:`fusion_ros.engine.FrameOutput`.

Every output carries the RGB input's header (stamp and frame_id), as image_pipeline nodes do:

=====================  ===============================  ==========================================
topic                  type / encoding                  content
=====================  ===============================  ==========================================
fused/image            Image rgb8                       the fused image
thermal/registered     Image mono16                     the normalised thermal image on the RGB
                                                        grid (0..1 scaled to 0..65535)
segmentation/mask      Image mono8                      class id per pixel
segmentation/overlay   Image rgb8                       class colours over the fused image
detections             vision_msgs/Detection2DArray     boxes (when vision_msgs is installed)
detections/image       Image rgb8                       the fused image with the boxes drawn
fused/camera_info      CameraInfo                       the RGB camera's calibration (from
                                                        rgb/camera_info), for the fused image's grid
=====================  ===============================  ==========================================

Only the topics of what is enabled are advertised (:func:`output_topics`). The heads' topics and messages
are defined per head in :mod:`fusion_ros.ros.heads`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from fusion_ros import heads as head_registry
from fusion_ros.engine import FrameOutput
from fusion_ros.imaging import from_float01
from fusion_ros.frames import scale_intrinsics
from fusion_ros.ros.conversions import _copy_header, array_to_image_msg
from fusion_ros.ros.heads import ros_head

try:  # part of a ROS 2 install; not available as a PyPI wheel
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose
except ImportError:  # the node says so once and still publishes detections/image
    Detection2DArray = None

HAVE_VISION_MSGS = Detection2DArray is not None
NS_PER_S = 1_000_000_000
IMAGE_TOPICS = ('fused/image', 'thermal/registered', 'segmentation/mask', 'segmentation/overlay',
                'detections/image')
CAMERA_INFO_TOPIC = 'fused/camera_info'


def output_topics(*, registered: bool, heads=(), **enabled: bool) -> list[str]:
    """The image topics to advertise: ``fused/image``, ``thermal/registered`` when ``registered``, and the image
    topics of each head in ``heads`` or switched on by keyword (``segmentation=True``), in registry order
    (a head's other topics, such as ``detections``, are added by the node: :mod:`fusion_ros.ros.heads`)."""
    on = set(heads) | {name for name, flag in enabled.items() if flag}
    unknown = on - set(head_registry.names())
    if unknown:
        raise KeyError(f'unknown heads {sorted(unknown)}; valid: {", ".join(head_registry.names())}')
    topics = ['fused/image']
    if registered:
        topics.append('thermal/registered')
    for name in head_registry.names():
        if name in on:
            topics += ros_head(name).image_topics
    return topics


def camera_info_topic(rgb_image_topic: str) -> str:
    """The camera_info topic beside a resolved image topic, as image_transport names it:
    ``/camera/color/image_raw`` -> ``/camera/color/camera_info``."""
    return rgb_image_topic.rsplit('/', 1)[0] + '/camera_info'


def camera_info_msg(info, header, size: tuple[int, int], input_size: tuple[int, int]):
    """``fused/camera_info``: the RGB camera's ``info`` for the fused image (it lies on the RGB grid),
    with ``header`` (the fused image's) copied.

    ``size`` / ``input_size``: ``(width, height)`` of the fused image and of the RGB image as received.
    When they differ (the node resized the pair, see ``max_input_side``), ``K``, ``P`` and the size are
    scaled (:func:`fusion_ros.frames.scale_intrinsics`; binning and ROI are folded in and reset).
    """
    from sensor_msgs.msg import CameraInfo

    out = CameraInfo()
    out.header = _copy_header(header)
    out.distortion_model = info.distortion_model
    out.d = [float(v) for v in info.d]
    out.r = [float(v) for v in info.r]
    if tuple(size) == tuple(input_size):
        out.width, out.height = info.width, info.height
        out.k, out.p = [float(v) for v in info.k], [float(v) for v in info.p]
        out.binning_x, out.binning_y, out.roi = info.binning_x, info.binning_y, info.roi
        return out
    scale = (size[0] / input_size[0], size[1] / input_size[1])
    out.width, out.height = int(size[0]), int(size[1])
    out.k, out.p = scale_intrinsics(info.k, info.p, scale, binning=(info.binning_x, info.binning_y),
                                    offset=(info.roi.x_offset, info.roi.y_offset))
    return out


def stamp_ns(header) -> int:
    """A header's stamp in integer nanoseconds."""
    return int(header.stamp.sec) * NS_PER_S + int(header.stamp.nanosec)


def detections_msg(detections, header):
    """A ``vision_msgs/Detection2DArray`` (vision_msgs 4.x, Humble and later); None without vision_msgs."""
    if not HAVE_VISION_MSGS:
        return None
    array = Detection2DArray()
    array.header = header
    for i, d in enumerate(detections):
        det = Detection2D()
        det.header = header
        det.id = str(i)
        cx, cy = d.center
        det.bbox.center.position.x, det.bbox.center.position.y = float(cx), float(cy)
        det.bbox.size_x, det.bbox.size_y = (float(v) for v in d.size)
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id = d.class_name
        hyp.hypothesis.score = float(d.score)
        det.results.append(hyp)
        array.detections.append(det)
    return array


def output_messages(frame: FrameOutput, header, *, registered: bool = True,
                    wanted: Callable[[str], bool] | None = None) -> dict[str, object]:
    """``{topic: message}`` for everything ``frame`` holds (each head's messages from
    :mod:`fusion_ros.ros.heads`), each stamped with ``header``; only the topics ``wanted(topic)`` accepts
    are built (the node passes "has a subscriber": a 0.9 MB image nobody reads is not copied)."""
    wanted = wanted or (lambda topic: True)
    out = {}
    if wanted('fused/image'):
        out['fused/image'] = array_to_image_msg(from_float01(frame.fused), 'rgb8', header)
    if registered and wanted('thermal/registered'):
        out['thermal/registered'] = array_to_image_msg(from_float01(frame.thermal_registered, np.uint16),
                                                       'mono16', header)
    for name, head_output in frame.heads.items():
        out.update(ros_head(name).messages(head_output, header, wanted))
    return out
