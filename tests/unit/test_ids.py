"""ULID ids from the injected clock and random source, checked against python-ulid."""

from __future__ import annotations

import random

from ulid import ULID

from desk.venue.ids import UlidGen
from tests.helpers import T0, ManualClock

CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_output_is_a_valid_ulid_with_the_clock_time(clock):
    gen = UlidGen(clock, random.Random(42))
    for i in range(5):
        text = gen()
        assert len(text) == 26
        assert set(text) <= CROCKFORD
        parsed = ULID.from_str(text)
        assert parsed.milliseconds == clock() == T0 + 7 * i
        assert str(parsed) == text
        clock.advance(7)


def test_extreme_times():
    for ms in (0, 1, 2**48 - 1):
        gen = UlidGen(ManualClock(ms), random.Random(1))
        text = gen()
        assert ULID.from_str(text).milliseconds == ms
    assert UlidGen(ManualClock(0), random.Random(1))()[:10] == "0" * 10
    assert UlidGen(ManualClock(2**48 - 1), random.Random(1))()[:10] == "7ZZZZZZZZZ"


def test_monotonic_within_one_millisecond(clock):
    gen = UlidGen(clock, random.Random(3))
    ids = [gen() for _ in range(1000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000
    assert {ULID.from_str(i).milliseconds for i in ids} == {T0}


def test_monotonic_across_milliseconds(clock):
    gen = UlidGen(clock, random.Random(4))
    ids = []
    for i in range(300):
        ids.append(gen())
        if i % 3 == 0:
            clock.advance(1)
    assert ids == sorted(ids) and len(set(ids)) == 300


def test_monotonic_when_the_clock_steps_back(clock):
    gen = UlidGen(clock, random.Random(5))
    a = gen()
    clock.advance(-10)
    b = gen()
    assert b > a
    assert ULID.from_str(b).milliseconds == T0  # keeps the latest time seen


def test_counter_increments_by_one(clock):
    gen = UlidGen(clock, random.Random(6))
    a, b = ULID.from_str(gen()), ULID.from_str(gen())
    assert int.from_bytes(b.bytes[6:], "big") - int.from_bytes(a.bytes[6:], "big") == 1


def test_deterministic_for_a_seed():
    def run(seed):
        clock = ManualClock()
        gen = UlidGen(clock, random.Random(seed))
        out = []
        for _ in range(50):
            out.append(gen())
            clock.advance(3)
        return out

    assert run(11) == run(11)
    assert run(11) != run(12)
