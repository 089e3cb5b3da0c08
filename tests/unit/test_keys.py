"""API keys and sessions: only hashes kept, revoke, expiry, IP allow-lists, scope."""

from __future__ import annotations

import hashlib
import itertools
import secrets

import pytest

from desk.venue.errors import VenueError
from desk.venue.keys import DAY_MS, ApiKey, KeyStore, parse_networks


def counting_token():
    counter = itertools.count(1)
    return lambda n: f"T{next(counter):04d}x{n}"


@pytest.fixture
def store(clock):
    return KeyStore(clock, counting_token())


def _walk(obj, seen=None):
    """Every string and bytes reachable from `obj` (dicts, lists, dataclasses with slots)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (str, bytes)):
        yield obj if isinstance(obj, str) else obj.decode(errors="replace")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(k, seen)
            yield from _walk(v, seen)
        return
    if isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            yield from _walk(v, seen)
        return
    names = list(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        names += list(getattr(cls, "__slots__", ()))
    for name in names:
        if hasattr(obj, name) and not callable(getattr(obj, name)):
            yield from _walk(getattr(obj, name), seen)
    if not names:
        yield str(obj)


def test_create_returns_secret_once_and_keeps_only_its_hash(clock):
    store = KeyStore(clock)  # real random tokens
    key, secret = store.create("desk", "bot", "trade", [], None)
    assert secret.startswith("ocx_sk_") and len(secret) > 30
    assert key.key_id.startswith("ocx_kid_")
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert (key.account_id, key.name, key.scope) == ("desk", "bot", "trade")
    assert key.created_at == clock() and key.expires_at is None and key.revoked_at is None
    assert key.status(clock()) == "active"
    strings = list(_walk(store))
    assert key.secret_hash in strings  # the walker does see the stored attributes
    assert not any(secret in s for s in strings)
    assert not any(secret[len("ocx_sk_"):] in s for s in strings)


def test_session_token_is_stored_hashed(clock):
    store = KeyStore(clock)
    token = store.new_session("desk")
    assert token.startswith("ocx_sess_")
    assert not any(token in s for s in _walk(store))
    assert store.session_account(token) == "desk"


def test_two_keys_differ(clock):
    store = KeyStore(clock, secrets.token_urlsafe)
    a, sa = store.create("desk", "a", "trade", [], None)
    b, sb = store.create("desk", "b", "read", [], None)
    assert sa != sb and a.key_id != b.key_id


def test_list_keys_per_account(store):
    a, _ = store.create("desk", "a", "trade", [], None)
    b, _ = store.create("desk", "b", "read", [], None)
    c, _ = store.create("other", "c", "trade", [], None)
    assert store.list("desk") == [a, b]
    assert store.list("other") == [c]
    assert store.list("nobody") == []


def test_authenticate_with_secret(store, clock):
    key, secret = store.create("desk", "bot", "trade", [], None)
    assert key.last_used_at is None and key.last_used_ip is None
    clock.advance(1500)
    got = store.authenticate(secret, "203.0.113.9", trade=True)
    assert got is key
    assert key.last_used_at == clock()
    assert key.last_used_ip == "203.0.113.9"
    assert key.uses == 1
    store.authenticate(secret, "203.0.113.10", trade=False)
    assert key.last_used_ip == "203.0.113.10" and key.uses == 2


@pytest.mark.parametrize("secret", [None, "", "ocx_sk_wrong"])
def test_unknown_secret_is_unauthenticated(store, secret):
    store.create("desk", "bot", "trade", [], None)
    with pytest.raises(VenueError) as info:
        store.authenticate(secret, "1.2.3.4", trade=False)
    assert info.value.code == "UNAUTHENTICATED" and info.value.status == 401


def test_revoke(store, clock):
    key, secret = store.create("desk", "bot", "trade", [], None)
    clock.advance(10)
    assert store.revoke("desk", key.key_id) is key
    assert key.revoked_at == clock()
    assert key.status(clock()) == "revoked"
    with pytest.raises(VenueError) as info:
        store.authenticate(secret, None, trade=False)
    assert info.value.code == "KEY_REVOKED" and info.value.status == 409
    assert key.uses == 0
    with pytest.raises(VenueError) as info:
        store.check(key)
    assert info.value.code == "KEY_REVOKED"
    # revoking again keeps the first timestamp
    clock.advance(10)
    store.revoke("desk", key.key_id)
    assert key.revoked_at == clock() - 10


def test_revoke_unknown_or_foreign_key_is_not_found(store):
    key, secret = store.create("desk", "bot", "trade", [], None)
    for account, key_id in (("desk", "ocx_kid_nope"), ("other", key.key_id)):
        with pytest.raises(VenueError) as info:
            store.revoke(account, key_id)
        assert info.value.code == "NOT_FOUND" and info.value.status == 404
    assert key.revoked_at is None
    assert store.authenticate(secret, None, trade=True) is key


def test_expiry_via_clock(store, clock):
    key, secret = store.create("desk", "bot", "read", [], 2)
    assert key.expires_at == clock() + 2 * DAY_MS
    clock.advance(2 * DAY_MS - 1)
    assert store.authenticate(secret, None, trade=False) is key
    assert key.status(clock()) == "active"
    clock.advance(1)
    assert key.status(clock()) == "expired"
    with pytest.raises(VenueError) as info:
        store.authenticate(secret, None, trade=False)
    assert info.value.code == "KEY_EXPIRED" and info.value.status == 401
    with pytest.raises(VenueError) as info:
        store.check(key)
    assert info.value.code == "KEY_EXPIRED"


def test_revoked_wins_over_expired(store, clock):
    key, _ = store.create("desk", "bot", "read", [], 1)
    store.revoke("desk", key.key_id)
    clock.advance(2 * DAY_MS)
    assert key.status(clock()) == "revoked"


def test_allowed_ips_exact_and_cidr(store):
    key, secret = store.create("desk", "bot", "trade", ["203.0.113.7", "10.1.2.3/8",
                                                       " 2001:db8::/32 "], None)
    # stored normalised: a single address stays plain, a block is its network
    assert key.allowed_ips == ["203.0.113.7", "10.0.0.0/8", "2001:db8::/32"]
    for ip in ("203.0.113.7", "10.0.0.1", "10.255.255.255", "2001:db8::1"):
        assert store.authenticate(secret, ip, trade=True) is key
    for ip in ("203.0.113.8", "11.0.0.1", "2001:db9::1", None, "not-an-ip"):
        with pytest.raises(VenueError) as info:
            store.authenticate(secret, ip, trade=True)
        assert info.value.code == "IP_NOT_ALLOWED" and info.value.status == 403
    assert key.last_used_ip == "2001:db8::1"


def test_empty_allowed_ips_allows_any_address(store):
    key, secret = store.create("desk", "bot", "read", [], None)
    assert key.allows(None) and key.allows("8.8.8.8")
    assert store.authenticate(secret, None, trade=False) is key


def test_bad_ip_is_validation_naming_the_index(store):
    with pytest.raises(VenueError) as info:
        store.create("desk", "bot", "trade", ["1.2.3.4", "999.1.1.1"], None)
    err = info.value
    assert err.code == "VALIDATION" and err.status == 400
    assert err.details == {"fieldErrors": {"allowedIps.1": ["not an IP address"]}}
    assert store.keys == {} and store.by_hash == {}
    with pytest.raises(VenueError) as info:
        parse_networks(["nonsense"])
    assert "allowedIps.0" in info.value.details["fieldErrors"]


def test_scope(store):
    key, secret = store.create("desk", "ro", "read", [], None)
    assert store.authenticate(secret, None, trade=False) is key
    with pytest.raises(VenueError) as info:
        store.authenticate(secret, None, trade=True)
    assert info.value.code == "FORBIDDEN_SCOPE" and info.value.status == 403
    assert info.value.details["scope"] == "read"
    assert key.uses == 1  # the refused call did not count as a use


def test_sessions(store):
    t1 = store.new_session("desk")
    t2 = store.new_session("desk")
    t3 = store.new_session("other")
    assert len({t1, t2, t3}) == 3
    assert store.session_account(t1) == "desk" == store.session_account(t2)
    assert store.session_account(t3) == "other"
    for bad in (None, "", "ocx_sess_nope", t1 + "x"):
        with pytest.raises(VenueError) as info:
            store.session_account(bad)
        assert info.value.code == "UNAUTHENTICATED"


def test_a_session_token_is_not_a_key(store):
    token = store.new_session("desk")
    with pytest.raises(VenueError) as info:
        store.authenticate(token, None, trade=False)
    assert info.value.code == "UNAUTHENTICATED"


def test_api_key_dataclass_has_no_secret_field():
    assert "secret" not in ApiKey.__slots__
