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
=====================  ===============================  ==========================================
"""
from __future__ import annotations

import numpy as np

from fusion_ros.engine import FrameOutput
from fusion_ros.imaging import from_float01
from fusion_ros.ros.conversions import array_to_image_msg

try:  # part of a ROS 2 install; not available as a PyPI wheel
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose
except ImportError:  # the node says so once and still publishes detections/image
    Detection2DArray = None

HAVE_VISION_MSGS = Detection2DArray is not None
NS_PER_S = 1_000_000_000
IMAGE_TOPICS = ('fused/image', 'thermal/registered', 'segmentation/mask', 'segmentation/overlay',
                'detections/image')


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


def output_messages(frame: FrameOutput, header, *, registered: bool = True) -> dict[str, object]:
    """``{topic: message}`` for everything ``frame`` holds, each stamped with ``header``."""
    out = {'fused/image': array_to_image_msg(from_float01(frame.fused), 'rgb8', header)}
    if registered:
        out['thermal/registered'] = array_to_image_msg(from_float01(frame.thermal_registered, np.uint16),
                                                       'mono16', header)
    if frame.labels is not None:
        out['segmentation/mask'] = array_to_image_msg(frame.labels, 'mono8', header)
        out['segmentation/overlay'] = array_to_image_msg(frame.overlay, 'rgb8', header)
    if frame.detections is not None:
        out['detections/image'] = array_to_image_msg(frame.annotated, 'rgb8', header)
        msg = detections_msg(frame.detections, header)
        if msg is not None:
            out['detections'] = msg
    return out
