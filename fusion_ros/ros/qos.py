"""Input QoS for the image subscriptions, chosen by a parameter, and hints when nothing arrives.

Names (the ``qos`` parameter):

``'reliable'`` (default)
    reliable, volatile, keep last ``depth``. What most camera drivers and rclpy/rclcpp publishers
    use, and what gets full-size images across processes with Fast DDS defaults (best-effort loses
    fragments of large messages: 12 of 50 640x480 bgr8 images arrived, against 44 of 50 reliable).
``'best_effort'``
    the sensor-data profile with ``depth``: matches every publisher, never waits for
    retransmissions; for drivers that publish best-effort, or small images.
``'match'``
    copy the publishers' reliability and durability, as image_pipeline does
    (``get_publishers_info_by_topic``): best-effort if any publisher is best-effort, transient-local
    only if all are. With no publisher yet, ``'reliable'``. Decided once, when the subscription
    is created.

A subscription and a publisher with incompatible QoS never connect and nothing says so by
default: :func:`qos_mismatch_hint` and :func:`no_data_hint` turn that into a message.
"""
from __future__ import annotations

from rclpy.qos import (DurabilityPolicy, HistoryPolicy, LivelinessPolicy, QoSCompatibility, QoSProfile,
                       ReliabilityPolicy, qos_check_compatible)

QOS_NAMES = ('reliable', 'best_effort', 'match')


def _check_depth(depth: int) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f'QoS depth must be an integer >= 1, got {depth!r}; use the queue size, e.g. 10')
    return depth


def _profile(reliability: ReliabilityPolicy, depth: int,
             durability: DurabilityPolicy = DurabilityPolicy.VOLATILE) -> QoSProfile:
    # Liveliness spelled out (what the RMW default is anyway) so compatibility checks are definite.
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=_check_depth(depth),
                      reliability=reliability, durability=durability,
                      liveliness=LivelinessPolicy.AUTOMATIC)


def normalize_qos_name(name: str) -> str:
    """``'Best-Effort'`` -> ``'best_effort'``; raises ValueError listing the valid names."""
    key = str(name).strip().lower().replace('-', '_')
    if key not in QOS_NAMES:
        raise ValueError(f"unknown input QoS {name!r}; valid names: {', '.join(QOS_NAMES)}")
    return key


def qos_from_name(name: str, depth: int = 10, *, node=None, topic: str | None = None) -> QoSProfile:
    """The subscription QoS for a ``qos`` parameter value (see the module docstring).

    Args:
        name: ``'reliable'``, ``'best_effort'`` or ``'match'`` (case and ``-``/``_`` ignored).
        depth: history depth, the queue size (>= 1).
        node, topic: needed for ``'match'`` only: the node that will subscribe and the topic name
            (relative names are resolved with the node's namespace and remappings).

    Raises:
        ValueError: an unknown name (the message lists the valid ones), a bad depth, or
            ``'match'`` without ``node`` and ``topic``.
    """
    key = normalize_qos_name(name)
    if key == 'reliable':
        return _profile(ReliabilityPolicy.RELIABLE, depth)
    if key == 'best_effort':
        return _profile(ReliabilityPolicy.BEST_EFFORT, depth)
    if node is None or topic is None:
        raise ValueError("input QoS 'match' needs the node and topic: qos_from_name('match', depth, "
                         'node=node, topic=topic), or call matching_qos(node, topic, depth)')
    return matching_qos(node, topic, depth)


def matching_qos(node, topic: str, depth: int = 10) -> QoSProfile:
    """A subscription QoS compatible with every current publisher of ``topic``.

    Reliability: best-effort if any publisher is not reliable, else reliable. Durability:
    transient-local if every publisher is, else volatile. History: keep last ``depth``.
    No publisher yet: ``'reliable'``.
    """
    infos = node.get_publishers_info_by_topic(topic)
    if not infos:
        return _profile(ReliabilityPolicy.RELIABLE, depth)
    profiles = [info.qos_profile for info in infos]
    all_reliable = all(p.reliability == ReliabilityPolicy.RELIABLE for p in profiles)
    all_transient = all(p.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in profiles)
    return _profile(ReliabilityPolicy.RELIABLE if all_reliable else ReliabilityPolicy.BEST_EFFORT, depth,
                    DurabilityPolicy.TRANSIENT_LOCAL if all_transient else DurabilityPolicy.VOLATILE)


def describe_qos(profile: QoSProfile) -> str:
    """``'reliable, volatile, depth 10'``: the policies that decide matching, for logs."""
    text = f'{profile.reliability.name.lower()}, {profile.durability.name.lower()}'
    if profile.history == HistoryPolicy.KEEP_LAST and profile.depth:
        text += f', depth {profile.depth}'
    return text


def _publisher_name(info) -> str:
    namespace = info.node_namespace.rstrip('/')
    return f'{namespace}/{info.node_name}' if info.node_name else '<unknown node>'


def _fix_for(publisher: QoSProfile, subscription: QoSProfile) -> str:
    if (publisher.reliability == ReliabilityPolicy.BEST_EFFORT
            and subscription.reliability == ReliabilityPolicy.RELIABLE):
        return ("set the input QoS parameter to 'best_effort' or 'match', or make the publisher reliable "
                '(best-effort loses large images across processes)')
    if (publisher.durability == DurabilityPolicy.VOLATILE
            and subscription.durability == DurabilityPolicy.TRANSIENT_LOCAL):
        return "subscribe volatile ('reliable' or 'best_effort'), or use 'match'"
    return "use the input QoS 'match', or align the publisher's deadline/liveliness with the subscription"


def qos_mismatch_hint(node, topic: str, subscription_qos: QoSProfile) -> str | None:
    """Why the publishers of ``topic`` cannot deliver to a subscription with ``subscription_qos``.

    Returns:
        None when there is no publisher or none is known to be incompatible (a ``WARNING`` from
        ``qos_check_compatible``, i.e. a system-default policy, is not reported); else one message naming
        the topic, each incompatible publisher with its QoS, the reason and the fix, e.g.
        ``"/cam/image: 1 of 1 publisher(s) cannot deliver to this subscription (reliable,
        volatile, depth 10): /camera_driver publishes best_effort, volatile (Best effort publisher
        and reliable subscription). Fix: set the input QoS parameter to 'best_effort' ..."``.
    """
    infos = node.get_publishers_info_by_topic(topic)
    problems, fixes = [], []
    for info in infos:
        compatibility, reason = qos_check_compatible(info.qos_profile, subscription_qos)
        # WARNING only means "system default, cannot tell": not a reason for nothing to arrive.
        if compatibility != QoSCompatibility.ERROR:
            continue
        reason = '; '.join(r.replace('ERROR: ', '').strip() for r in reason.split(';')
                           if r.strip().startswith('ERROR'))
        problems.append(f'{_publisher_name(info)} publishes {describe_qos(info.qos_profile)} ({reason})')
        fix = _fix_for(info.qos_profile, subscription_qos)
        if fix not in fixes:
            fixes.append(fix)
    if not problems:
        return None
    return (f'{_resolve(node, topic)}: {len(problems)} of {len(infos)} publisher(s) cannot deliver to this '
            f'subscription ({describe_qos(subscription_qos)}): {"; ".join(problems)}. '
            f'Fix: {"; or ".join(fixes)}')


def no_data_hint(node, topic: str, subscription_qos: QoSProfile) -> str:
    """A message for "subscribed, but nothing arrives on ``topic``": no publisher, incompatible
    QoS (see :func:`qos_mismatch_hint`), or compatible publishers that deliver nothing."""
    resolved = _resolve(node, topic)
    infos = node.get_publishers_info_by_topic(topic)
    if not infos:
        return (f'{resolved}: no publisher. Check the remapping and namespace (topic names are relative), '
                'the ROS_DOMAIN_ID and that the camera driver runs')
    mismatch = qos_mismatch_hint(node, topic, subscription_qos)
    if mismatch:
        return mismatch
    text = (f'{resolved}: {len(infos)} publisher(s) with compatible QoS, but nothing arrived. Check that '
            'they publish (and use_sim_time with a bag)')
    if subscription_qos.reliability == ReliabilityPolicy.BEST_EFFORT:
        text += ("; large images over best-effort are often lost across processes: try the input QoS "
                 "'reliable'")
    return text


def _resolve(node, topic: str) -> str:
    resolve = getattr(node, 'resolve_topic_name', None)  # missing in rclpy before Iron
    return resolve(topic) if resolve else topic
