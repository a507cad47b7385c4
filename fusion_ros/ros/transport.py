"""Which DDS transports carry the node's images, and advice when they are Fast DDS's stock ones.

A 640x480 ``rgb8`` image is about 0.9 MB. Over Fast DDS's stock transports (UDP + shared memory, small
messages) the node's output arrived with a p99 latency of about 160 ms at 30 Hz on a 2-core machine; with
``FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA?max_msg_size=1MB`` in every process, under 50 ms (BENCHMARKS.md,
issue 9). The transport is a setting of the whole ROS graph, not of one node: participants whose builtin
transports differ did not discover each other in that benchmark, so the node never changes it on its own;
it says which one it runs with (``/diagnostics``) and, with the stock one, logs the advice once.
"""
from __future__ import annotations

from collections.abc import Mapping

FASTDDS_TRANSPORTS_ENV = 'FASTDDS_BUILTIN_TRANSPORTS'
FASTDDS_PROFILES_ENVS = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
LARGE_IMAGES_TRANSPORTS = 'LARGE_DATA?max_msg_size=1MB'


def describe_transport(rmw: str, environ: Mapping[str, str]) -> tuple[str, str | None]:
    """``(summary, advice)`` for the RMW implementation ``rmw`` (e.g. ``'rmw_fastrtps_cpp'``) and an
    environment; ``advice`` is None unless images would go over Fast DDS's stock transports."""
    if 'fastrtps' not in rmw and 'fastdds' not in rmw:
        return f'{rmw} (its own transport settings)', None
    value = environ.get(FASTDDS_TRANSPORTS_ENV, '').strip()
    if value:
        return f'{rmw}, {FASTDDS_TRANSPORTS_ENV}={value}', None
    for name in FASTDDS_PROFILES_ENVS:
        if environ.get(name, '').strip():
            return f'{rmw}, profiles from {name}={environ[name].strip()}', None
    advice = (f"images go over Fast DDS's stock transports, which add about 100 ms of latency to 0.9 MB "
              f"frames at 30 Hz (README, DDS transport for images). For camera-rate images export "
              f"{FASTDDS_TRANSPORTS_ENV}='{LARGE_IMAGES_TRANSPORTS}' in every ROS process on this robot, "
              f"the camera drivers included: processes with different transports do not see each other")
    return f'{rmw}, stock transports', advice


def node_transport() -> tuple[str, str | None]:
    """:func:`describe_transport` for this process (its RMW and ``os.environ``)."""
    import os

    from rclpy.utilities import get_rmw_implementation_identifier
    return describe_transport(get_rmw_implementation_identifier(), os.environ)


__all__ = ['FASTDDS_TRANSPORTS_ENV', 'LARGE_IMAGES_TRANSPORTS', 'describe_transport', 'node_transport']
