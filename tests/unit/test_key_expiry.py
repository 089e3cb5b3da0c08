"""A key desk knows will expire: warned about ahead, and the desk stands down (its
cancel-all sent while the key still works) before the moment, not after."""

from __future__ import annotations

from desk.engine.config import EngineConfig
from desk.engine.events import EventBus, EventType
from desk.engine.expiry import KeyExpiry, parse_expiry
from desk.engine.guard import Guard
from tests.helpers import StepClock
from tests.unit.test_guard import Venue


def test_parse_expiry_reads_z_and_offsets_and_refuses_junk():
    assert parse_expiry("2026-01-01T00:00:00Z") == 1_767_225_600
    assert parse_expiry("2026-01-01T01:00:00+01:00") == 1_767_225_600
    assert parse_expiry("2026-01-01T00:00:00") == 1_767_225_600  # naive: UTC
    assert parse_expiry(None) is None and parse_expiry("soon") is None


def test_warnings_come_once_each_and_only_the_nearest():
    at = 200_000.0
    e = KeyExpiry(at)
    assert e.warnings(0.0) == []
    [day] = e.warnings(at - 86_000)
    assert "in 23.9 h" in day
    assert e.warnings(at - 80_000) == []                     # once
    [ten] = e.warnings(at - 500)                             # hour and 10 min at once
    assert "in 8 min" in ten
    assert e.warnings(at - 100) == []
    e.reset(None)
    assert e.warnings(at) == [] and e.due(at) is None


async def test_the_switch_stands_down_a_minute_before_the_key_expires():
    clock = StepClock(start_s=1_000.0)
    bus = EventBus(lambda: int(clock.t * 1000))
    seen: list = []
    bus.subscribe(seen.append)
    venue = Venue(resting=["a", "b"])
    guard = Guard(venue, clock, bus, EngineConfig(), watched=lambda: [("BTC-PERP", 5_000)])
    guard.key_replaced("the engine's key bot (ocx_kid_1)", expires_at=1_000.0 + 3_000)
    await guard.check()
    assert guard.quoting_allowed and venue.resting == ["a", "b"]
    warned = [e for e in seen if e.type is EventType.ERROR]
    assert warned and warned[0].data["code"] == "KEY_EXPIRING"
    assert "the engine's key bot (ocx_kid_1) expires at" in warned[0].data["message"]
    clock.t = 1_000.0 + 3_000 - 61
    await guard.check()
    assert guard.quoting_allowed
    clock.t += 2                               # 59 s before: stand down while it works
    await guard.check()
    assert not guard.quoting_allowed and venue.resting == [] and guard.pulled
    assert "stood down before it does" in guard.tripped
    guard.key_replaced("the engine's key new (ocx_kid_2)", expires_at=None)
    await guard.check()
    assert guard.quoting_allowed
