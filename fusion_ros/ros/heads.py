"""The ROS side of the heads (:mod:`fusion_ros.heads`): per head, the topics it publishes and its messages.

Each head has one :class:`RosHead` entry: its image topics, its other topics (message classes resolved
when the node advertises them; ``vision_msgs`` is looked up in :mod:`fusion_ros.ros.outputs`) and
``messages(output, header, wanted) -> {topic: message}`` (the topics ``wanted(topic)`` accepts) for one :class:`fusion_ros.heads.HeadOutput`. The node
advertises the topics of the heads it loaded and publishes what ``messages`` returns; nothing else in the
node knows a head by name.

=====================  ===============================  ==========================================
topic                  type / encoding                  content
=====================  ===============================  ==========================================
segmentation/mask      Image mono8                      class id per pixel
segmentation/overlay   Image rgb8                       class colours over the fused image
detections             vision_msgs/Detection2DArray     boxes (when vision_msgs is installed)
detections/image       Image rgb8                       the fused image with the boxes drawn
=====================  ===============================  ==========================================
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class RosHead:
    """How one head appears on ROS.

    image_topics: its ``sensor_msgs/Image`` topics, in advertising order.
    extra_topics: ``() -> {topic: message class}`` of its other topics that can be advertised here (e.g.
        ``detections`` only where vision_msgs is installed).
    messages: ``(HeadOutput, header, wanted) -> {topic: message}``, building only the topics for which
        ``wanted(topic)`` is true.
    missing: a line for the log when an extra topic cannot be published here (None: nothing missing).
    """
    name: str
    image_topics: tuple[str, ...]
    messages: Callable[..., dict]
    extra_topics: Callable[[], dict] = dict
    missing: Callable[[], str | None] = lambda: None


def _detection_extra_topics() -> dict:
    from fusion_ros.ros import outputs
    return {'detections': outputs.Detection2DArray} if outputs.HAVE_VISION_MSGS else {}


def _detection_missing() -> str | None:
    from fusion_ros.ros import outputs
    return None if outputs.HAVE_VISION_MSGS else ('vision_msgs is not installed: publishing detections/image only, '
                                                  'not detections (install ros-<distro>-vision-msgs)')


def _segmentation_messages(output, header, wanted) -> dict:
    from fusion_ros.ros.conversions import array_to_image_msg
    out = {}
    if wanted('segmentation/mask'):
        out['segmentation/mask'] = array_to_image_msg(output.result, 'mono8', header)
    if wanted('segmentation/overlay'):
        out['segmentation/overlay'] = array_to_image_msg(output.image, 'rgb8', header)
    return out


def _detection_messages(output, header, wanted) -> dict:
    from fusion_ros.ros import outputs
    from fusion_ros.ros.conversions import array_to_image_msg
    out = {}
    if wanted('detections/image'):
        out['detections/image'] = array_to_image_msg(output.image, 'rgb8', header)
    msg = outputs.detections_msg(output.result, header) if wanted('detections') else None
    if msg is not None:
        out['detections'] = msg
    return out


ROS_HEADS: dict[str, RosHead] = {
    'segmentation': RosHead('segmentation', ('segmentation/mask', 'segmentation/overlay'), _segmentation_messages),
    'detection': RosHead('detection', ('detections/image',), _detection_messages,
                         extra_topics=_detection_extra_topics, missing=_detection_missing),
}


def ros_head(name: str) -> RosHead:
    """The ROS entry of head ``name``; ``KeyError`` when a head was registered without one."""
    try:
        return ROS_HEADS[name]
    except KeyError:
        raise KeyError(f'head {name!r} has no ROS topics; add a RosHead to fusion_ros.ros.heads.ROS_HEADS') from None
