"""Injected faults: countdowns and clock-based expiry."""

from __future__ import annotations

from desk.venue.faults import KINDS, Faults, KeyFault
from tests.helpers import T0

BTC = "BTC-PERP"
ETH = "ETH-PERP"


def test_defaults(clock):
    f = Faults(clock)
    assert not f.index_frozen(BTC)
    assert not f.heartbeats_stopped()
    assert f.take_rate_limit() is False and f.take_error() is False
    assert f.extra_latency_ms() == 0
    assert f.expired() == ([], [])
    assert f.keys_over() == ({}, {})
    assert f.injected == dict.fromkeys(KINDS, 0)
    assert f.describe() == {
        "frozenIndex": [], "heartbeatsStopped": False, "rateLimitLeft": 0,
        "errorBurstLeft": 0, "latencyMs": 0, "halted": [], "squeezed": [],
        "expiredKeys": [], "fencedKeys": [], "injected": dict.fromkeys(KINDS, 0)}


def test_kinds_match_the_contract():
    assert set(KINDS) == {"freeze_index", "drop_streams", "seq_gap", "stop_heartbeats",
                          "rate_limit", "error_burst", "latency", "halt_market",
                          "margin_squeeze", "expire_key", "fence_key"}


def test_freeze_index_expires_on_the_clock(clock):
    f = Faults(clock)
    f.frozen_index[BTC] = T0 + 5_000
    assert f.index_frozen(BTC) and not f.index_frozen(ETH)
    clock.advance(4_999)
    assert f.index_frozen(BTC)
    assert f.describe()["frozenIndex"] == [BTC]
    clock.advance(1)
    assert not f.index_frozen(BTC)
    assert f.describe()["frozenIndex"] == []


def test_rate_limit_counts_down(clock):
    f = Faults(clock)
    f.rate_limit_left = 3
    assert [f.take_rate_limit() for _ in range(5)] == [True, True, True, False, False]
    assert f.rate_limit_left == 0
    assert f.take_error() is False  # independent counters


def test_error_burst_counts_down(clock):
    f = Faults(clock)
    f.error_burst_left = 2
    assert f.describe()["errorBurstLeft"] == 2
    assert [f.take_error() for _ in range(3)] == [True, True, False]
    assert f.describe()["errorBurstLeft"] == 0


def test_latency_lasts_until_its_time(clock):
    f = Faults(clock)
    f.latency_ms, f.latency_until = 250, T0 + 2_000
    assert f.extra_latency_ms() == 250
    assert f.describe()["latencyMs"] == 250
    clock.advance(2_000)
    assert f.extra_latency_ms() == 0


def test_heartbeats_stop_for_a_while(clock):
    f = Faults(clock)
    f.heartbeats_off_until = T0 + 1_000
    assert f.heartbeats_stopped()
    clock.advance(1_000)
    assert not f.heartbeats_stopped()


def test_halt_and_squeeze_expire_and_are_forgotten(clock):
    f = Faults(clock)
    f.halted[BTC] = T0 + 1_000
    f.halted[ETH] = T0 + 3_000
    f.squeezed[BTC] = T0 + 2_000
    assert f.describe()["halted"] == [BTC, ETH]
    assert f.describe()["squeezed"] == [BTC]
    assert f.expired() == ([], [])
    clock.advance(1_000)
    assert f.expired() == ([BTC], [])
    assert f.expired() == ([], [])  # reported once
    assert f.halted == {ETH: T0 + 3_000}
    clock.advance(1_000)
    assert f.expired() == ([], [BTC])
    assert f.squeezed == {}
    clock.advance(5_000)
    assert f.expired() == ([ETH], [])
    assert f.describe()["halted"] == [] and f.describe()["squeezed"] == []


def test_injected_counters_are_per_instance(clock):
    a, b = Faults(clock), Faults(clock)
    a.injected["latency"] += 1
    assert b.injected["latency"] == 0
    assert a.describe()["injected"]["latency"] == 1


def test_key_faults_end_on_the_clock_or_never_and_are_forgotten(clock):
    f = Faults(clock)
    f.expired_keys["k1"] = KeyFault(T0 + 1_000, None)
    f.expired_keys["k2"] = KeyFault(None, T0 + 9)  # until undone
    f.fenced_keys["k1"] = KeyFault(T0 + 2_000, ["10.0.0.0/8"])
    assert f.describe()["expiredKeys"] == ["k1", "k2"]
    assert f.describe()["fencedKeys"] == ["k1"]
    clock.advance(999)
    assert f.keys_over() == ({}, {})
    clock.advance(1)
    assert f.keys_over() == ({"k1": KeyFault(T0 + 1_000, None)}, {})
    assert f.keys_over() == ({}, {})  # reported once
    clock.advance(1_000)
    assert f.keys_over() == ({}, {"k1": KeyFault(T0 + 2_000, ["10.0.0.0/8"])})
    clock.advance(10 ** 9)
    assert f.keys_over() == ({}, {})  # the one without an end stays
    assert f.describe()["expiredKeys"] == ["k2"] and f.describe()["fencedKeys"] == []
