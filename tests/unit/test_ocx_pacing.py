"""desk.ocx.pacing: full-jitter backoff and the X-RateLimit-* budget."""

from __future__ import annotations

import random
import statistics

import httpx
import pytest

from desk.ocx.pacing import RateLimitState, full_jitter

# --- full_jitter ---------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [0, 1, 2, 3, 5, 8])
def test_jitter_stays_within_the_ceiling(attempt):
    base, cap = 0.1, 2.0
    ceiling = min(cap, base * 2 ** attempt)
    rng = random.Random(attempt)
    draws = [full_jitter(attempt, base, cap, rng) for _ in range(2000)]
    assert all(0.0 <= d <= ceiling for d in draws)
    # the draws spread over the whole range, not just one corner of it
    assert min(draws) < ceiling * 0.05
    assert max(draws) > ceiling * 0.95


@pytest.mark.parametrize("attempt", [31, 64, 1000, 10**6])
def test_cap_holds_for_huge_attempts(attempt):
    rng = random.Random(7)
    draws = [full_jitter(attempt, 0.5, 30.0, rng) for _ in range(500)]
    assert all(0.0 <= d <= 30.0 for d in draws)
    assert max(draws) > 25.0  # the cap is the ceiling, not something smaller


def test_small_attempts_are_bounded_by_the_exponential_not_the_cap():
    rng = random.Random(3)
    draws = [full_jitter(1, 0.25, 60.0, rng) for _ in range(2000)]
    assert max(draws) <= 0.5


def test_same_seed_same_sequence():
    a, b = random.Random(42), random.Random(42)
    seq_a = [full_jitter(n % 7, 0.2, 5.0, a) for n in range(50)]
    seq_b = [full_jitter(n % 7, 0.2, 5.0, b) for n in range(50)]
    assert seq_a == seq_b
    other = random.Random(43)
    assert seq_a != [full_jitter(n % 7, 0.2, 5.0, other) for n in range(50)]


def test_jitter_draws_only_from_the_injected_rng():
    random.seed(1)
    expected_global = random.random()
    random.seed(1)
    full_jitter(3, 0.1, 1.0, random.Random(9))
    assert random.random() == expected_global


@pytest.mark.parametrize(("attempt", "base", "cap"), [(2, 0.1, 10.0), (10, 0.1, 4.0)])
def test_mean_is_about_half_the_ceiling(attempt, base, cap):
    ceiling = min(cap, base * 2 ** attempt)
    rng = random.Random(2024)
    mean = statistics.fmean(full_jitter(attempt, base, cap, rng) for _ in range(20_000))
    assert mean == pytest.approx(ceiling / 2, rel=0.03)


# --- RateLimitState ------------------------------------------------------------------


def headers(limit="1200", remaining="1199", reset="42") -> httpx.Headers:
    raw = {}
    if limit is not None:
        raw["X-RateLimit-Limit"] = limit
    if remaining is not None:
        raw["X-RateLimit-Remaining"] = remaining
    if reset is not None:
        raw["X-RateLimit-Reset"] = reset
    return httpx.Headers(raw)


def test_fresh_state_is_unknown_and_never_waits():
    s = RateLimitState()
    assert (s.limit, s.remaining, s.reset_at, s.limited) == (None, None, None, 0)
    assert s.wait_s(now=100.0) == 0.0


def test_update_reads_the_headers_case_insensitively():
    s = RateLimitState()
    s.update(httpx.Headers({"x-ratelimit-limit": "600", "X-RATELIMIT-REMAINING": "17",
                            "X-RateLimit-Reset": "12.5"}), now=100.0)
    assert s.limit == 600
    assert s.remaining == 17
    assert s.reset_at == pytest.approx(112.5)


def test_missing_headers_leave_their_fields_alone():
    s = RateLimitState()
    s.update(headers(), now=0.0)
    s.update(headers(limit=None, reset=None, remaining="5"), now=1.0)
    assert (s.limit, s.remaining, s.reset_at) == (1200, 5, pytest.approx(42.0))


def test_wait_is_zero_while_budget_remains():
    s = RateLimitState()
    s.update(headers(remaining="1", reset="30"), now=10.0)
    assert s.wait_s(now=10.0) == 0.0


def test_wait_until_reset_when_the_window_is_spent():
    s = RateLimitState()
    s.update(headers(remaining="0", reset="30"), now=10.0)
    assert s.wait_s(now=10.0) == pytest.approx(30.0)
    assert s.wait_s(now=25.0) == pytest.approx(15.0)
    assert s.wait_s(now=40.0) == 0.0
    assert s.wait_s(now=99.0) == 0.0


def test_spend_counts_down_locally():
    s = RateLimitState()
    s.update(headers(remaining="2", reset="60"), now=0.0)
    s.spend(now=1.0)
    assert s.remaining == 1
    assert s.wait_s(now=1.0) == 0.0
    s.spend(now=2.0)
    assert s.remaining == 0
    assert s.wait_s(now=2.0) == pytest.approx(58.0)
    s.spend(now=3.0)  # never below zero
    assert s.remaining == 0


def test_spend_with_nothing_known_stays_unknown():
    s = RateLimitState()
    s.spend(now=5.0)
    assert s.remaining is None
    assert s.wait_s(now=5.0) == 0.0


def test_spend_after_the_window_passed_resets_to_unknown():
    s = RateLimitState()
    s.update(headers(remaining="0", reset="10"), now=0.0)
    s.spend(now=10.0)
    assert s.remaining is None
    assert s.reset_at is None
    assert s.wait_s(now=10.0) == 0.0


def test_headers_overwrite_the_local_count():
    s = RateLimitState()
    s.update(headers(remaining="3", reset="60"), now=0.0)
    s.spend(now=1.0)
    s.spend(now=1.0)
    s.update(headers(remaining="100", reset="59"), now=1.0)
    assert s.remaining == 100


def test_limited_for_spends_the_window_and_counts():
    s = RateLimitState()
    s.update(headers(remaining="50", reset="60"), now=0.0)
    s.limited_for(2.5, now=10.0)
    assert s.remaining == 0
    assert s.limited == 1
    assert s.wait_s(now=10.0) == pytest.approx(2.5)
    assert s.wait_s(now=13.0) == 0.0
    s.limited_for(1.0, now=20.0)
    assert s.limited == 2


def test_limited_for_a_negative_time_never_waits_negative():
    s = RateLimitState()
    s.limited_for(-4.0, now=10.0)
    assert s.wait_s(now=10.0) == 0.0


@pytest.mark.parametrize("field", ["limit", "remaining", "reset"])
@pytest.mark.parametrize("garbage", ["", "lots", "1,200", "0x10", "nan", "inf"])
def test_garbage_header_values_are_ignored(field, garbage):
    s = RateLimitState()
    s.update(headers(limit="1200", remaining="0", reset="30"), now=0.0)
    before = (s.limit, s.remaining, s.reset_at)
    s.update(headers(**{"limit": None, "remaining": None, "reset": None, field: garbage}),
             now=5.0)  # must not raise
    assert (s.limit, s.remaining, s.reset_at) == before
    assert s.wait_s(now=5.0) == pytest.approx(25.0)
