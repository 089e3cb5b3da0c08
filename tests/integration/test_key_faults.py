"""Killing a key mid-run over HTTP ([embedded only] `POST /sim/faults` `expire_key` and
`fence_key`; a revoke is the contract's `DELETE /perps/me/api-keys/{id}`): the refusals
desk meets when its engine key dies, on the order path, on reads and on the streams."""

from __future__ import annotations

from tests.helpers import new_key
from tests.integration.conftest import (
    BTC,
    assert_error,
    envelope,
    field_errors,
    inject,
    limit_order,
    ok,
    sse,
    wait_until,
)

ELSEWHERE = "192.0.2.7"  # TEST-NET-1: never the loopback tests call from


def _status(client, trader, key_id):
    keys = ok(client.get("/perps/me/api-keys", headers=trader.bearer))["keys"]
    return next(k for k in keys if k["id"] == key_id)


def _faults(client, trader):
    return ok(client.get("/sim/state", headers=trader.bearer))["faults"]


def test_expire_key_refuses_every_call_and_ends_its_streams(venue, client, trader):
    ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1")))
    with sse(venue.url, "/perps/stream/user", headers=trader.trade) as user:
        envelope(user.next())
        out = inject(client, trader.session, kind="expire_key", keyId=trader.trade_key_id)
        assert (out["keyId"], out["status"], out["until"]) == (trader.trade_key_id,
                                                                "expired", None)
        err = envelope(user.next(timeout=3))  # told at once, not at its next tick
        assert err["eventType"] == "error" and err["payload"]["code"] == "KEY_EXPIRED"
        assert err["payload"]["retryable"] is False
        assert user.rest(timeout=3) == []
    # the order path (refused before the body is read), cancel-all, and reads
    assert_error(trader.post("/perps/quotes/bulk", {"marketId": BTC}), 401, "KEY_EXPIRED")
    assert_error(trader.post("/perps/orders/cancel-all", {}), 401, "KEY_EXPIRED")
    assert_error(trader.get("/perps/orders", headers=trader.trade), 401, "KEY_EXPIRED")
    assert_error(client.get("/perps/stream/user", headers=trader.trade), 401, "KEY_EXPIRED")
    key = _status(client, trader, trader.trade_key_id)
    assert key["status"] == "expired" and key["expiresAt"] is not None
    # the account is untouched: its orders still rest, another key still works
    assert len(ok(trader.get("/perps/orders"))) == 1
    assert _faults(client, trader)["expiredKeys"] == [trader.trade_key_id]

    out = inject(client, trader.session, kind="expire_key", keyId=trader.trade_key_id,
                 undo=True)
    assert (out["undone"], out["status"]) == (True, "active")
    assert _status(client, trader, trader.trade_key_id)["expiresAt"] is None
    assert ok(trader.post("/perps/orders/cancel-all", {}))["count"] == 1


def test_expire_key_for_a_while_then_the_key_works_again(client, trader):
    inject(client, trader.session, kind="expire_key", keyId=trader.trade_key_id, seconds=0.4)
    assert_error(trader.post("/perps/orders", limit_order("buy", "63000", "0.1")), 401,
                 "KEY_EXPIRED")
    # the venue's own loop ends it on its clock
    assert wait_until(lambda: trader.get("/perps/orders",
                                         headers=trader.trade).status_code == 200, 3)
    ok(trader.post("/perps/orders", limit_order("buy", "63000", "0.1")))
    assert _faults(client, trader)["expiredKeys"] == []


def test_fence_key_refuses_loopback_but_leaves_open_streams_open(venue, client, trader):
    spare = new_key(client, trader.session, "trade")
    with sse(venue.url, "/perps/stream/user", {"intervalMs": 0},
             headers=trader.trade) as user:
        envelope(user.next())
        out = inject(client, trader.session, kind="fence_key", keyId=trader.trade_key_id,
                     allowedIps=[ELSEWHERE], seconds=30)
        assert out["allowedIps"] == [ELSEWHERE] and out["status"] == "active"
        order = limit_order("buy", "63000", "0.1")
        r = trader.post("/perps/orders", order)
        body = assert_error(r, 403, "IP_NOT_ALLOWED")
        assert body["details"]["ip"] == "127.0.0.1"
        assert_error(trader.post("/perps/orders/cancel-all", {}), 403, "IP_NOT_ALLOWED")
        assert_error(trader.get("/perps/balances", headers=trader.trade), 403,
                     "IP_NOT_ALLOWED")
        assert_error(client.get("/perps/stream/user", headers=trader.trade), 403,
                     "IP_NOT_ALLOWED")  # a reconnect meets the fence
        assert _status(client, trader, trader.trade_key_id)["allowedIps"] == [ELSEWHERE]
        # a stream already open was admitted: it still carries the account's news
        ok(trader.post("/perps/orders", order, headers={"x-api-key": spare["secret"]}))
        delta = envelope(user.next(timeout=3))
        assert delta["eventType"] == "delta" and delta["payload"]["orders"]
    assert _faults(client, trader)["fencedKeys"] == [trader.trade_key_id]
    out = inject(client, trader.session, kind="fence_key", keyId=trader.trade_key_id,
                 undo=True)
    assert out["undone"] is True and out["allowedIps"] == []
    assert ok(trader.post("/perps/orders/cancel-all", {}))["count"] == 1


def test_fence_key_for_a_while_then_the_old_fence_is_back(client, trader):
    key = new_key(client, trader.session, "trade", allowedIps=["127.0.0.1"])
    headers = {"x-api-key": key["secret"]}
    inject(client, trader.session, kind="fence_key", keyId=key["id"],
           allowedIps=[ELSEWHERE, "198.51.100.0/24"], seconds=0.4)
    assert_error(client.get("/perps/orders", headers=headers), 403, "IP_NOT_ALLOWED")
    assert wait_until(lambda: client.get("/perps/orders", headers=headers).status_code == 200,
                      3)
    assert _status(client, trader, key["id"])["allowedIps"] == ["127.0.0.1"]


def test_key_faults_take_a_session_and_a_key_of_its_account(client, trader, counterparty):
    fault = {"kind": "expire_key", "keyId": trader.trade_key_id}
    assert_error(client.post("/sim/faults", json=fault), 401, "UNAUTHENTICATED")
    assert_error(client.post("/sim/faults", json=fault, headers=trader.trade), 401,
                 "UNAUTHENTICATED")
    # another account's session cannot kill this account's key
    assert_error(client.post("/sim/faults", json=fault, headers=counterparty.bearer), 404,
                 "NOT_FOUND")

    def post(body):
        return client.post("/sim/faults", json=body, headers=trader.bearer)

    assert "keyId" in field_errors(post({"kind": "expire_key"}))
    assert "keyId" in field_errors(post({"kind": "fence_key", "allowedIps": [ELSEWHERE]}))
    assert "allowedIps" in field_errors(post({"kind": "fence_key",
                                              "keyId": trader.trade_key_id}))
    assert "allowedIps" in field_errors(post({"kind": "fence_key",
                                              "keyId": trader.trade_key_id,
                                              "allowedIps": []}))
    assert "allowedIps.0" in field_errors(post({"kind": "fence_key",
                                                "keyId": trader.trade_key_id,
                                                "allowedIps": ["not-an-ip"]}))
    assert "undo" in field_errors(post({**fault, "undo": "yes"}))
    assert_error(post({"kind": "expire_key", "keyId": "ocx_kid_nope"}), 404, "NOT_FOUND")
    # nothing was injected, every key still works
    assert set(_faults(client, trader)["injected"].values()) == {0}
    assert ok(trader.get("/perps/orders", headers=trader.trade)) == []
    assert ok(counterparty.get("/perps/orders", headers=counterparty.trade)) == []
