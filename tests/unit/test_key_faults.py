"""The key faults of the venue runtime (`expire_key`, `fence_key`) on an injected clock:
what a key refuses while one is in force, and that the key is as it was afterwards."""

from __future__ import annotations

import random

import pytest

from desk.venue.config import VenueConfig
from desk.venue.errors import VenueError
from desk.venue.runtime import VenueRuntime
from desk.venue.schemas import FaultIn
from tests.helpers import ManualClock

LOOPBACK = "127.0.0.1"


def runtime() -> tuple[VenueRuntime, ManualClock]:
    clock = ManualClock()
    rt = VenueRuntime(VenueConfig(sim_enabled=False), clock=clock, rng=random.Random(3))
    rt.dev_session("desk")
    rt.dev_session("other")
    return rt, clock


def refusal(rt: VenueRuntime, secret: str, ip: str = LOOPBACK, trade: bool = True) -> str | None:
    """The code the venue refuses this key with, or None if it is accepted."""
    try:
        rt.keys.authenticate(secret, ip, trade=trade)
    except VenueError as err:
        return err.code
    return None


def test_expire_key_refuses_the_key_at_once_and_until_undone():
    rt, clock = runtime()
    key, secret = rt.keys.create("desk", "engine", "trade", [], None)
    _, other = rt.keys.create("desk", "spare", "trade", [], None)
    out = rt.inject(FaultIn(kind="expire_key", keyId=key.key_id), "desk")
    assert out == {"kind": "expire_key", "keyId": key.key_id, "until": None,
                   "status": "expired", "allowedIps": []}
    assert refusal(rt, secret) == "KEY_EXPIRED"
    assert refusal(rt, secret, trade=False) == "KEY_EXPIRED"  # reads too
    assert refusal(rt, other) is None  # one key, not the account
    clock.advance(10 ** 9)
    rt.expire_faults()
    assert refusal(rt, secret) == "KEY_EXPIRED"  # no seconds: until undone
    assert rt.state()["faults"]["expiredKeys"] == [key.key_id]
    out = rt.inject(FaultIn(kind="expire_key", keyId=key.key_id, undo=True), "desk")
    assert (out["undone"], out["status"]) == (True, "active")
    assert refusal(rt, secret) is None and key.expires_at is None
    assert rt.state()["faults"]["expiredKeys"] == []
    assert rt.faults.injected["expire_key"] == 1  # an undo is not an injection
    again = rt.inject(FaultIn(kind="expire_key", keyId=key.key_id, undo=True), "desk")
    assert again["undone"] is False  # nothing in force: nothing done


def test_expire_key_for_some_seconds_puts_the_real_expiry_back():
    rt, clock = runtime()
    key, secret = rt.keys.create("desk", "engine", "trade", [], 7)
    real_expiry = key.expires_at
    rt.inject(FaultIn(kind="expire_key", keyId=key.key_id, seconds=2), "desk")
    clock.advance(1_000)
    rt.inject(FaultIn(kind="expire_key", keyId=key.key_id, seconds=2), "desk")  # extended
    clock.advance(1_999)
    rt.expire_faults()
    assert refusal(rt, secret) == "KEY_EXPIRED"
    clock.advance(1)
    rt.expire_faults()
    # the second injection did not take "expired now" for the key's own expiry
    assert key.expires_at == real_expiry and refusal(rt, secret) is None


def test_fence_key_refuses_other_addresses_for_its_time():
    rt, clock = runtime()
    key, secret = rt.keys.create("desk", "engine", "trade", ["127.0.0.1", "10.1.0.0/16"], None)
    out = rt.inject(FaultIn(kind="fence_key", keyId=key.key_id,
                            allowedIps=["192.0.2.7", "198.51.100.0/24"], seconds=3), "desk")
    assert out["allowedIps"] == ["192.0.2.7", "198.51.100.0/24"]
    assert out["status"] == "active" and out["until"] is not None
    assert refusal(rt, secret) == "IP_NOT_ALLOWED"
    assert refusal(rt, secret, trade=False) == "IP_NOT_ALLOWED"
    assert refusal(rt, secret, ip="198.51.100.9") is None  # inside the fence
    assert rt.state()["faults"]["fencedKeys"] == [key.key_id]
    clock.advance(3_000)
    rt.step(1)  # the simulation's step ends faults that ran out
    assert key.allowed_ips == ["127.0.0.1", "10.1.0.0/16"]
    assert refusal(rt, secret) is None and refusal(rt, secret, ip="10.1.2.3") is None
    assert refusal(rt, secret, ip="198.51.100.9") == "IP_NOT_ALLOWED"
    assert rt.state()["faults"]["fencedKeys"] == []


def test_fence_key_undo_restores_an_open_key():
    rt, _ = runtime()
    key, secret = rt.keys.create("desk", "engine", "trade", [], None)
    rt.inject(FaultIn(kind="fence_key", keyId=key.key_id, allowedIps=["192.0.2.7"]), "desk")
    rt.inject(FaultIn(kind="fence_key", keyId=key.key_id, allowedIps=["192.0.2.8"]), "desk")
    assert refusal(rt, secret) == "IP_NOT_ALLOWED"
    out = rt.inject(FaultIn(kind="fence_key", keyId=key.key_id, undo=True), "desk")
    assert out["undone"] is True and out["allowedIps"] == []
    assert key.allowed_ips == [] and key.networks == [] and refusal(rt, secret) is None


def test_key_faults_are_refused_when_malformed_or_not_the_accounts_key():
    rt, _ = runtime()
    key, secret = rt.keys.create("desk", "engine", "trade", [], None)

    def code(**body) -> tuple[str, dict]:
        with pytest.raises(VenueError) as err:
            rt.inject(FaultIn(**body), "desk")
        return err.value.code, err.value.details

    assert code(kind="expire_key")[0] == "VALIDATION"
    assert code(kind="fence_key", keyId=key.key_id)[0] == "VALIDATION"  # no allowedIps
    bad, details = code(kind="fence_key", keyId=key.key_id, allowedIps=["10.0.0.1", "nope"])
    assert bad == "VALIDATION" and "allowedIps.1" in details["fieldErrors"]
    assert code(kind="expire_key", keyId="ocx_kid_nope")[0] == "NOT_FOUND"
    theirs, _ = rt.keys.create("other", "theirs", "trade", [], None)
    assert code(kind="expire_key", keyId=theirs.key_id)[0] == "NOT_FOUND"
    assert theirs.status(rt.clock()) == "active"
    # nothing was changed by a refused fault
    assert refusal(rt, secret) is None and key.allowed_ips == []
    assert rt.faults.injected["expire_key"] == rt.faults.injected["fence_key"] == 0
