"""The order-path rate limit: a fixed one-minute window per account."""

from __future__ import annotations

import pytest

from desk.venue.ratelimit import WINDOW_MS, RateLimiter, RateState
from tests.helpers import T0, ManualClock

# T0 (2026-01-01T00:00:00Z) is a whole minute, so windows start at T0 + k * 60 s.


def test_t0_is_on_a_window_boundary():
    assert T0 % WINDOW_MS == 0


def test_remaining_counts_down_and_refuses_at_the_limit(clock):
    rl = RateLimiter(3, clock)
    clock.advance(15_000)  # 45 s left in the window
    states = [rl.hit("a") for _ in range(3)]
    assert [s.allowed for s in states] == [True, True, True]
    assert [s.remaining for s in states] == [2, 1, 0]
    assert all(s.limit == 3 and s.reset_ms == 45_000 for s in states)
    refused = rl.hit("a")
    assert refused == RateState(False, 3, 0, 45_000)
    # a refusal is not counted: still refused, still 0 left
    assert rl.hit("a").allowed is False
    assert rl.peek("a") == RateState(False, 3, 0, 45_000)


def test_headers(clock):
    rl = RateLimiter(1200, clock)
    clock.advance(59_001)  # 999 ms left -> rounds up to 1 s
    state = rl.hit("a")
    assert state.headers() == {"X-RateLimit-Limit": "1200", "X-RateLimit-Remaining": "1199",
                               "X-RateLimit-Reset": "1"}
    clock2 = ManualClock()
    rl2 = RateLimiter(10, clock2)
    assert rl2.hit("a").headers()["X-RateLimit-Reset"] == "60"  # at the window start
    clock2.advance(30_500)  # 29.5 s left -> 30
    assert rl2.hit("a").headers() == {"X-RateLimit-Limit": "10",
                                      "X-RateLimit-Remaining": "8",
                                      "X-RateLimit-Reset": "30"}


def test_accounts_are_counted_separately(clock):
    rl = RateLimiter(2, clock)
    rl.hit("a")
    rl.hit("a")
    assert rl.hit("a").allowed is False
    assert rl.hit("b").allowed is True
    assert rl.hit("b").remaining == 0


def test_not_refusable_is_counted_but_never_refused(clock):
    rl = RateLimiter(2, clock)
    s1 = rl.hit("a", refusable=False)
    assert s1.allowed and s1.remaining == 1
    rl.hit("a")
    assert rl.hit("a").allowed is False
    for _ in range(5):
        s = rl.hit("a", refusable=False)
        assert s.allowed is True and s.remaining == 0
    assert rl.hit("a").allowed is False


def test_cancel_all_counts_toward_the_limit(clock):
    rl = RateLimiter(2, clock)
    rl.hit("a", refusable=False)
    rl.hit("a", refusable=False)
    assert rl.hit("a").allowed is False


def test_new_window_resets(clock):
    rl = RateLimiter(2, clock)
    clock.advance(59_999)
    rl.hit("a")
    rl.hit("a")
    assert rl.hit("a").allowed is False
    assert rl.peek("a").reset_ms == 1
    clock.advance(1)  # the next minute starts: a fixed window, not a sliding one
    s = rl.hit("a")
    assert s.allowed and s.remaining == 1 and s.reset_ms == 60_000


def test_fixed_window_allows_a_burst_across_the_boundary(clock):
    rl = RateLimiter(3, clock)
    clock.advance(59_000)
    assert all(rl.hit("a").allowed for _ in range(3))
    clock.advance(1_000)
    assert all(rl.hit("a").allowed for _ in range(3))
    assert rl.hit("a").allowed is False


def test_peek_does_not_count(clock):
    rl = RateLimiter(2, clock)
    assert rl.peek("a") == RateState(True, 2, 2, 60_000)
    assert rl.peek("a").remaining == 2
    rl.hit("a")
    assert rl.peek("a").remaining == 1
    clock.advance(WINDOW_MS)
    assert rl.peek("a") == RateState(True, 2, 2, 60_000)


@pytest.mark.parametrize("limit", [1, 5])
def test_limit_exactly(clock, limit):
    rl = RateLimiter(limit, clock)
    results = [rl.hit("x").allowed for _ in range(limit + 2)]
    assert results == [True] * limit + [False, False]
