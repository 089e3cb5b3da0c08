"""Realised volatility: Σr²/Σdt over a rolling window, sampled at most once per sample_s."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desk.engine.volatility import RealisedVol

D = Decimal


def feed(vol: RealisedVol, points: list[tuple[float, str | Decimal]]) -> RealisedVol:
    for t, p in points:
        vol.add(t, D(p))
    return vol


def expected_rate(points: list[tuple[float, str]]) -> float:
    """Σ(ln p_i/p_{i-1})² / Σ(t_i - t_{i-1}) computed independently."""
    r2 = sum(math.log(float(p1) / float(p0)) ** 2
             for (_, p0), (_, p1) in zip(points, points[1:], strict=False))
    dt = points[-1][0] - points[0][0]
    return r2 / dt


def test_constant_price_is_zero_vol_not_none():
    vol = feed(RealisedVol(window_s=60, min_returns=5), [(t, "100") for t in range(10)])
    assert vol.variance_rate() == 0.0
    assert vol.sigma() == 0.0
    assert vol.window_pct() == 0.0


def test_known_returns_give_sqrt_sum_r2_over_sum_dt():
    # irregular spacing: dt = 1, 2, 1, 3, 2
    points = [(0, "100"), (1, "101"), (3, "99.5"), (4, "100.2"), (7, "98"), (9, "98.7")]
    vol = feed(RealisedVol(window_s=100, min_returns=5), points)
    rate = expected_rate(points)
    assert vol.variance_rate() == pytest.approx(rate, rel=1e-12)
    assert vol.sigma() == pytest.approx(math.sqrt(rate), rel=1e-12)
    # hand check of the first terms: ln(1.01)^2 + ln(99.5/101)^2 + ... over 9 s
    assert vol.sigma() == pytest.approx(0.01008615, rel=1e-6)


def test_alternating_returns_hand_computed():
    # ±ln(1.01) every 2 s: rate = ln(1.01)^2 / 2
    points = [(2 * i, "100" if i % 2 == 0 else "101") for i in range(7)]
    vol = feed(RealisedVol(window_s=1000, min_returns=6), points)
    assert vol.variance_rate() == pytest.approx(math.log(1.01) ** 2 / 2, rel=1e-12)


def test_window_pct_is_sqrt_rate_times_window_in_percent():
    points = [(0, "100"), (1, "101"), (3, "99.5"), (4, "100.2"), (7, "98"), (9, "98.7")]
    vol = feed(RealisedVol(window_s=1800, min_returns=5), points)
    rate = expected_rate(points)
    assert vol.window_pct() == pytest.approx(math.sqrt(rate * 1800) * 100, rel=1e-12)
    assert vol.window_pct() == pytest.approx(vol.sigma() * math.sqrt(1800) * 100, rel=1e-12)


def test_none_before_min_returns():
    vol = RealisedVol(window_s=100, min_returns=5)
    assert vol.sigma() is None and vol.window_pct() is None and vol.variance_rate() is None
    vol.add(0, D(100))  # the first price gives no return
    for t in range(1, 5):
        vol.add(t, D(100 + t))
        assert vol.sigma() is None, f"{t} returns"
        assert vol.window_pct() is None
        assert vol.variance_rate() is None
    vol.add(5, D(106))
    assert vol.sigma() is not None and vol.sigma() > 0
    assert vol.window_pct() is not None


def test_samples_closer_than_sample_s_are_ignored():
    base = [(0, "100"), (1, "101"), (2, "100"), (3, "101"), (4, "100"), (5, "101")]
    plain = feed(RealisedVol(window_s=100, sample_s=1.0, min_returns=5), base)
    noisy = RealisedVol(window_s=100, sample_s=1.0, min_returns=5)
    for t, p in base:
        noisy.add(t, D(p))
        noisy.add(t + 0.5, D("150"))  # ignored: 0.5 s after the last kept sample
        noisy.add(t + 0.999, D("50"))  # ignored as well
    assert noisy.variance_rate() == plain.variance_rate()
    assert noisy.variance_rate() == pytest.approx(5 * math.log(1.01) ** 2 / 5, rel=1e-12)


def test_dt_is_measured_from_the_last_kept_sample():
    vol = RealisedVol(window_s=100, sample_s=2.0, min_returns=1)
    vol.add(0, D(100))
    vol.add(1.5, D(200))  # too soon: dropped, and t0 stays 0
    vol.add(2.5, D(101))  # dt = 2.5 from t=0
    assert vol.variance_rate() == pytest.approx(math.log(1.01) ** 2 / 2.5, rel=1e-12)


def test_a_sample_exactly_sample_s_later_counts():
    vol = feed(RealisedVol(window_s=100, sample_s=1.0, min_returns=1), [(0, "100"), (1, "101")])
    assert vol.variance_rate() == pytest.approx(math.log(1.01) ** 2, rel=1e-12)


def test_old_returns_are_evicted_from_the_window():
    vol = RealisedVol(window_s=10, sample_s=1.0, min_returns=1)
    vol.add(0, D(100))
    vol.add(1, D(110))  # the only move, a return stamped t=1
    for t in range(2, 12):
        vol.add(t, D(110))
    # at t=11 the window is [1, 11]: the move is still in it, over 11 s
    assert vol.variance_rate() == pytest.approx(math.log(1.1) ** 2 / 11, rel=1e-12)
    vol.add(12, D(110))  # window [2, 12]: the move falls out
    assert vol.variance_rate() == 0.0
    assert vol.sigma() == 0.0


def test_eviction_keeps_sum_dt_of_the_remaining_returns():
    vol = RealisedVol(window_s=5, sample_s=1.0, min_returns=1)
    feed(vol, [(0, "100"), (1, "101"), (2, "100"), (10, "101"), (12, "102")])
    # window [7, 12]: returns at t=10 (dt 8) and t=12 (dt 2)
    expected = (math.log(101 / 100) ** 2 + math.log(102 / 101) ** 2) / (8 + 2)
    assert vol.variance_rate() == pytest.approx(expected, rel=1e-12)


def test_a_gap_longer_than_the_window_drops_back_below_min_returns():
    vol = RealisedVol(window_s=10, sample_s=1.0, min_returns=3)
    feed(vol, [(t, str(100 + t)) for t in range(6)])
    assert vol.sigma() is not None
    vol.add(100, D(100))  # everything older than t=90 is evicted: one return left
    assert vol.sigma() is None
    assert vol.window_pct() is None


def test_non_positive_prices_are_ignored():
    points = [(0, "100"), (1, "101"), (2, "100"), (3, "101"), (4, "100"), (5, "101")]
    plain = feed(RealisedVol(window_s=100, min_returns=5), points)
    dirty = RealisedVol(window_s=100, min_returns=5)
    for t, p in points:
        dirty.add(t, D(p))
        dirty.add(t + 0.5, D(0))
        dirty.add(t + 0.7, D(-5))
    assert dirty.variance_rate() == plain.variance_rate()


def test_sigma_is_relative_so_price_scale_does_not_matter():
    points = [(0, "100"), (1, "101"), (3, "99.5"), (4, "100.2"), (7, "98"), (9, "98.7")]
    small = feed(RealisedVol(window_s=100), points)
    big = feed(RealisedVol(window_s=100), [(t, D(p) * 1000) for t, p in points])
    assert big.sigma() == pytest.approx(small.sigma(), rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.01, 5), st.floats(-0.05, 0.05)), min_size=1, max_size=40),
    st.floats(5, 60),
)
def test_matches_a_direct_computation_over_the_window(steps, window):
    vol = RealisedVol(window_s=window, sample_s=0.0, min_returns=1)
    t, logp = 0.0, math.log(100.0)
    vol.add(t, D(repr(math.exp(logp))))
    kept: list[tuple[float, float, float]] = []
    last_logp = math.log(float(D(repr(math.exp(logp)))))
    for dt, r in steps:
        t += dt
        logp += r
        price = D(repr(math.exp(logp)))
        vol.add(t, price)
        lp = math.log(float(price))
        kept.append((t, (lp - last_logp) ** 2, dt))
        last_logp = lp
    live = [(ts, r2, dt) for ts, r2, dt in kept if ts >= t - window]
    rate = vol.variance_rate()
    if not live:
        assert rate is None
        return
    expected = sum(r2 for _, r2, _ in live) / sum(dt for _, _, dt in live)
    assert rate == pytest.approx(expected, rel=1e-6, abs=1e-15)
    assert vol.window_pct() == pytest.approx(math.sqrt(expected * window) * 100,
                                             rel=1e-6, abs=1e-6)
