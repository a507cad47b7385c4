"""Tests of fusion_ros.pairing: approximate-time pairing of RGB and thermal stamps (no ROS needed)."""
import numpy as np
import pytest

from fusion_ros.pairing import (COUNTER_KEYS, RGB, THERMAL, Pair, PairingConfig, StampPairer,
                                pair_streams)

MS = 1_000_000  # nanoseconds per millisecond
T0 = 1_700_000_000 * 1_000_000_000  # a realistic epoch stamp, in ns


def stamps(rate_hz, n, offset_ms=0.0, jitter_ms=0.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * (1000.0 / rate_hz) + offset_ms + rng.uniform(-jitter_ms, jitter_ms, n)
    return [T0 + int(round(x * MS)) for x in t]


def feed_in_time_order(pairer, rgb_stamps, thermal_stamps):
    """Feed both streams as they would arrive with equal latency; returns all pairs incl. flush."""
    events = sorted([(s, RGB) for s in rgb_stamps] + [(s, THERMAL) for s in thermal_stamps])
    pairs = []
    for s, stream in events:
        pairs += pairer.add(stream, s, ('rgb' if stream == RGB else 'th', s))
    return pairs + pairer.flush()


def reference_pairs(rgb_stamps, thermal_stamps, tol_ns):
    """The semantics written out statically: neighbours on the common time line from different
    streams within the tolerance are candidates; closest first (ties: earlier), each frame once."""
    line = sorted([(s, RGB) for s in rgb_stamps] + [(s, THERMAL) for s in thermal_stamps])
    edges = [(line[i + 1][0] - line[i][0], i) for i in range(len(line) - 1)
             if line[i][1] != line[i + 1][1] and line[i + 1][0] - line[i][0] <= tol_ns]
    used, out = set(), []
    for _, i in sorted(edges):
        if i in used or i + 1 in used:
            continue
        used |= {i, i + 1}
        a, b = line[i], line[i + 1]
        out.append((a[0], b[0]) if a[1] == RGB else (b[0], a[0]))
    return sorted(out)


def as_stamps(pairs):
    return [(p.rgb_stamp_ns, p.thermal_stamp_ns) for p in pairs]


def check_accounting(pairer, n_rgb, n_thermal):
    """Every frame is paired, dropped for a counted reason, or still waiting."""
    c = pairer.counters
    rgb_dropped = sum(v for k, v in c.items() if k.startswith('rgb_'))
    th_dropped = sum(v for k, v in c.items() if k.startswith('thermal_'))
    assert c['pairs'] + rgb_dropped + pairer.pending[RGB] == n_rgb
    assert c['pairs'] + th_dropped + pairer.pending[THERMAL] == n_thermal


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize('kwargs, match', [
    ({'queue_size': 0}, 'queue_size must be an integer >= 1'),
    ({'queue_size': 2.5}, 'queue_size'),
    ({'queue_size': True}, 'queue_size'),
    ({'tolerance_s': 0.0}, 'tolerance_s must be'),
    ({'tolerance_s': -0.1}, 'tolerance_s must be'),
    ({'tolerance_s': float('inf')}, 'tolerance_s must be'),
    ({'tolerance_s': float('nan')}, 'tolerance_s must be'),
])
def test_config_is_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PairingConfig(**kwargs)


def test_counters_have_fixed_keys():
    p = StampPairer()
    assert set(p.counters) == set(COUNTER_KEYS)
    assert all(v == 0 for v in p.counters.values())
    with pytest.raises(ValueError, match='stream must be'):
        p.add(2, T0, None)


# --------------------------------------------------------------------------- semantics


def test_equal_rates_with_jitter_pair_one_to_one():
    rgb = stamps(30, 60, jitter_ms=3, seed=1)
    th = stamps(30, 60, offset_ms=5, jitter_ms=3, seed=2)
    p = StampPairer(PairingConfig(queue_size=10, tolerance_s=0.02))
    pairs = feed_in_time_order(p, rgb, th)
    assert as_stamps(pairs) == list(zip(rgb, th))
    assert all(isinstance(x, Pair) for x in pairs)
    assert pairs[0].rgb == ('rgb', rgb[0]) and pairs[0].thermal == ('th', th[0])
    assert pairs[0].skew_s == pytest.approx((th[0] - rgb[0]) / 1e9)
    assert p.dropped == 0 and p.pending == (0, 0)


def test_equal_rates_pairs_are_emitted_without_waiting_for_the_end():
    rgb = stamps(30, 20)
    th = stamps(30, 20, offset_ms=4)
    p = StampPairer(PairingConfig(tolerance_s=0.02))
    events = sorted([(s, RGB) for s in rgb] + [(s, THERMAL) for s in th])
    online = []
    for s, stream in events:
        online += p.add(stream, s, None)
    assert len(online) == 19  # the last pair needs a later frame (or flush) to be settled
    assert len(p.flush()) == 1


def test_different_rates_each_thermal_frame_takes_its_nearest_rgb():
    rgb = stamps(30, 90, jitter_ms=2, seed=3)
    th = stamps(9, 27, offset_ms=7, jitter_ms=2, seed=4)
    p = StampPairer(PairingConfig(queue_size=10, tolerance_s=0.05))
    pairs = feed_in_time_order(p, rgb, th)
    nearest = [min(rgb, key=lambda r: abs(r - t)) for t in th]
    assert as_stamps(pairs) == list(zip(nearest, th))
    c = p.counters
    assert c['pairs'] == 27 and c['thermal_no_match'] == c['thermal_not_nearest'] == 0
    # The excess RGB frames are dropped and counted, mostly as superseded by a newer RGB frame.
    assert c['rgb_superseded'] + c['rgb_not_nearest'] + c['rgb_no_match'] == 90 - 27
    assert c['rgb_superseded'] > 0
    check_accounting(p, 90, 27)


def test_pairs_too_far_apart_are_not_paired_and_are_counted():
    p = StampPairer(PairingConfig(tolerance_s=0.05))
    assert p.add_rgb(T0, 'r') == []
    assert p.add_thermal(T0 + 60 * MS, 't') == []  # passed the RGB frame by more than 50 ms
    assert p.counters['rgb_no_match'] == 1 and p.pending == (0, 1)
    # 10 Hz streams half a period (50 ms) apart, tolerance 40 ms: nothing pairs, all counted.
    p = StampPairer(PairingConfig(tolerance_s=0.04))
    pairs = feed_in_time_order(p, stamps(10, 10), stamps(10, 10, offset_ms=50))
    assert pairs == []
    assert p.counters['rgb_no_match'] == 10 and p.counters['thermal_no_match'] == 10


def test_unmatched_is_declared_only_once_the_other_stream_moved_past_by_more_than_tolerance():
    p = StampPairer(PairingConfig(tolerance_s=0.05))
    p.add_rgb(T0, 'r')
    p.add_thermal(T0 + 40 * MS, 't')  # within tolerance: a candidate, not yet settled
    assert p.pending == (1, 1) and p.dropped == 0
    p2 = StampPairer(PairingConfig(tolerance_s=0.05))
    p2.add_rgb(T0, 'r')
    p2.add_thermal(T0 - 100 * MS, 't')  # thermal behind the RGB frame: it cannot be decided
    assert p2.counters['thermal_no_match'] == 1 and p2.pending == (1, 0)
    assert p2.dropped == 1


def test_nearest_wins_and_pairs_never_cross():
    # rgb 0, thermal 6, rgb 10, thermal 11 (ms): (10, 11) is the closest pair, then (0, 6).
    p = StampPairer(PairingConfig(tolerance_s=0.05))
    pairs = feed_in_time_order(p, [T0, T0 + 10 * MS], [T0 + 6 * MS, T0 + 11 * MS])
    assert as_stamps(pairs) == [(T0, T0 + 6 * MS), (T0 + 10 * MS, T0 + 11 * MS)]
    # rgb 0, thermal 6, rgb 8: thermal 6 takes rgb 8; rgb 0 lost the competition.
    p = StampPairer(PairingConfig(tolerance_s=0.05))
    pairs = feed_in_time_order(p, [T0, T0 + 8 * MS], [T0 + 6 * MS])
    assert as_stamps(pairs) == [(T0 + 8 * MS, T0 + 6 * MS)]
    assert p.counters['rgb_not_nearest'] == 1


def test_queue_overflow_drops_the_oldest():
    p = StampPairer(PairingConfig(queue_size=10, tolerance_s=0.02))
    rgb = stamps(30, 15)
    for s in rgb:  # thermal camera not started yet
        assert p.add_rgb(s, s) == []
    assert p.counters['rgb_queue_overflow'] == 5 and p.pending == (10, 0)
    pairs = p.add_thermal(rgb[-1] + 2 * MS, 'late thermal') + p.flush()
    assert [(x.rgb, x.thermal) for x in pairs] == [(rgb[-1], 'late thermal')]
    check_accounting(p, 15, 1)


def test_time_going_back_resets_and_pairing_resumes():
    p = StampPairer(PairingConfig(tolerance_s=0.02))
    rgb, th = stamps(30, 10), stamps(30, 10, offset_ms=3)
    first = feed_in_time_order(p, rgb, th)
    assert len(first) == 10
    # Bag loop: both streams start again 10 s earlier, RGB first (one thermal frame from before
    # the loop arrives after it: a second reset, bounded loss).
    looped = []
    looped += p.add_rgb(rgb[0] - 10_000_000_000, 'r-loop')
    looped += p.add_thermal(th[-1] + 33 * MS, 'old thermal in flight')
    back_rgb = [s - 10_000_000_000 for s in rgb]
    back_th = [s - 10_000_000_000 for s in th]
    looped += feed_in_time_order(p, back_rgb[1:], back_th)
    assert p.counters['stamp_went_back'] >= 1
    assert as_stamps(looped)[-8:] == list(zip(back_rgb, back_th))[-8:]
    assert all(b[0] > a[0] and b[1] > a[1] for a, b in zip(as_stamps(looped), as_stamps(looped)[1:]))


def test_duplicate_stamp_is_dropped_not_reset():
    p = StampPairer()
    p.add_rgb(T0, 'a')
    assert p.add_rgb(T0, 'again') == []
    assert p.counters['rgb_out_of_order'] == 1 and p.counters['stamp_went_back'] == 0
    assert p.pending == (1, 0)


@pytest.mark.parametrize('seed', range(6))
def test_online_equals_offline_and_the_reference_for_any_arrival_order(seed):
    rng = np.random.default_rng(seed)
    rate_rgb, rate_th = rng.choice([9.0, 15.0, 30.0], 2)
    rgb = sorted(set(stamps(rate_rgb, 40, jitter_ms=8, seed=seed)))
    th = sorted(set(stamps(rate_th, 40, offset_ms=rng.uniform(-20, 20), jitter_ms=8, seed=seed + 100)))
    config = PairingConfig(queue_size=64, tolerance_s=float(rng.uniform(0.01, 0.06)))

    offline_pairer = StampPairer(config)
    offline = list(pair_streams(((s, s) for s in rgb), ((s, s) for s in th), pairer=offline_pairer))

    # Online: thermal arrives with its own random transport delay, so the interleaving differs.
    arrival = [(s + rng.uniform(0, 5) * MS, s, RGB) for s in rgb]
    arrival += [(s + rng.uniform(20, 90) * MS, s, THERMAL) for s in th]
    delays = sorted(arrival)
    # keep each stream in its own order (DDS delivers one publisher's messages in order)
    per_stream = {RGB: iter(rgb), THERMAL: iter(th)}
    online_pairer = StampPairer(config)
    online = []
    for _, _, stream in delays:
        s = next(per_stream[stream])
        online += online_pairer.add(stream, s, s)
    online += online_pairer.flush()

    assert as_stamps(online) == as_stamps(offline)
    assert online_pairer.counters == offline_pairer.counters
    assert as_stamps(offline) == reference_pairs(rgb, th, config.tolerance_ns)
    assert all(abs(p.skew_s) <= config.tolerance_s + 1e-9 for p in offline)
    check_accounting(offline_pairer, len(rgb), len(th))


def test_pair_streams_is_lazy_and_takes_a_config():
    def rgb_gen():
        for s in stamps(30, 1000):
            yield s, None

    it = pair_streams(rgb_gen(), ((s, None) for s in stamps(30, 1000, offset_ms=2)),
                      PairingConfig(tolerance_s=0.01))
    first = next(it)
    assert first.rgb_stamp_ns == T0 and first.thermal_stamp_ns == T0 + 2 * MS
