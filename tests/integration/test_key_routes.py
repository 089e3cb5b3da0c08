"""API keys: list, create and revoke with a session; never with a key; secrets shown once.

Secrets stay out of assertion expressions and messages: each check computes a
boolean first.
"""

from __future__ import annotations

from tests.integration.conftest import (
    BTC,
    assert_error,
    field_errors,
    is_iso,
    limit_order,
    ok,
)

KEY_FIELDS = {"id", "name", "scope", "allowedIps", "expiresAt", "createdAt", "revokedAt",
              "lastUsedAt", "lastUsedIp", "status"}


def _create(client, trader, **body):
    r = client.post("/perps/me/api-keys", headers=trader.bearer,
                    json={"name": "k", "scope": "trade", **body})
    status = r.status_code
    assert status == 200, f"key creation failed with {status}"
    return r.json()


def _list(client, trader):
    r = client.get("/perps/me/api-keys", headers=trader.bearer)
    return ok(r)["keys"]


def test_list_keys_shows_metadata_and_never_a_secret(client, trader):
    r = client.get("/perps/me/api-keys", headers=trader.bearer)
    assert r.status_code == 200
    leaked = trader.trade_secret in r.text or trader.read_secret in r.text
    assert not leaked, "a key secret appears in the key list"
    assert "ocx_sk_" not in r.text
    keys = r.json()["keys"]
    assert {k["id"] for k in keys} == {trader.trade_key_id, trader.read_key_id}
    for k in keys:
        assert set(k) == KEY_FIELDS, sorted(k)
        assert k["id"].startswith("ocx_kid_")
        assert k["status"] == "active" and k["revokedAt"] is None and k["expiresAt"] is None
        assert k["allowedIps"] == [] and is_iso(k["createdAt"])
    scopes = {k["id"]: k["scope"] for k in keys}
    assert scopes == {trader.trade_key_id: "trade", trader.read_key_id: "read"}


def test_create_key_returns_the_secret_once_and_it_works(client, trader):
    created = _create(client, trader, name="bot", scope="trade", allowedIps=["127.0.0.1"],
                      expiresInDays=7)
    assert set(created) == {"id", "secret", "message"}
    assert created["id"].startswith("ocx_kid_")
    well_formed = created["secret"].startswith("ocx_sk_") and len(created["secret"]) > 20
    assert well_formed, "the secret is not an ocx_sk_ token"
    assert isinstance(created["message"], str) and created["message"]

    headers = {"x-api-key": created["secret"]}
    r = client.post("/perps/orders", json=limit_order("buy", "63000", "0.1"), headers=headers)
    assert r.status_code == 200, r.text

    r = client.get("/perps/me/api-keys", headers=trader.bearer)
    leaked = created["secret"] in r.text
    assert not leaked, "the new secret appears in the key list"
    (key,) = [k for k in r.json()["keys"] if k["id"] == created["id"]]
    assert (key["name"], key["scope"], key["allowedIps"], key["status"]) == (
        "bot", "trade", ["127.0.0.1"], "active")
    assert is_iso(key["expiresAt"]) and key["expiresAt"] > key["createdAt"]
    assert is_iso(key["lastUsedAt"]) and key["lastUsedIp"] == "127.0.0.1"


def test_revoke_returns_204_and_the_key_fails_at_once(client, trader):
    created = _create(client, trader, scope="trade")
    headers = {"x-api-key": created["secret"]}
    r = client.get("/perps/balances", headers=headers)
    assert r.status_code == 200

    r = client.delete(f"/perps/me/api-keys/{created['id']}", headers=trader.bearer)
    assert r.status_code == 204 and r.content == b""

    r = client.get("/perps/balances", headers=headers)
    assert_error(r, 409, "KEY_REVOKED")
    r = client.post("/perps/orders", json=limit_order("buy", "63000", "0.1"), headers=headers)
    assert_error(r, 409, "KEY_REVOKED")

    (key,) = [k for k in _list(client, trader) if k["id"] == created["id"]]
    assert key["status"] == "revoked" and is_iso(key["revokedAt"])
    # the trader's other keys still work
    r = trader.get("/perps/balances")
    assert r.status_code == 200


def test_revoke_unknown_or_foreign_key_is_not_found(client, trader, counterparty):
    r = client.delete("/perps/me/api-keys/ocx_kid_nope", headers=trader.bearer)
    assert_error(r, 404, "NOT_FOUND")
    r = client.delete(f"/perps/me/api-keys/{counterparty.trade_key_id}", headers=trader.bearer)
    assert_error(r, 404, "NOT_FOUND")
    r = counterparty.get("/perps/balances", headers=counterparty.trade)
    assert r.status_code == 200  # still active


def test_key_management_needs_a_session_never_a_key(client, trader):
    for headers in ({}, trader.trade, trader.read, {"Authorization": "Bearer nope"},
                    {"Authorization": trader.trade_secret}):
        r = client.get("/perps/me/api-keys", headers=headers)
        assert_error(r, 401, "UNAUTHENTICATED")
        r = client.post("/perps/me/api-keys", headers=headers,
                        json={"name": "sneaky", "scope": "trade"})
        assert_error(r, 401, "UNAUTHENTICATED")
        r = client.delete(f"/perps/me/api-keys/{trader.read_key_id}", headers=headers)
        assert_error(r, 401, "UNAUTHENTICATED")
    assert len(_list(client, trader)) == 2
    r = trader.get("/perps/balances")
    assert r.status_code == 200  # the read key was not revoked


def test_sessions_see_only_their_own_keys(client, trader, counterparty):
    mine = {k["id"] for k in _list(client, trader)}
    theirs = {k["id"] for k in _list(client, counterparty)}
    assert mine == {trader.trade_key_id, trader.read_key_id}
    assert theirs == {counterparty.trade_key_id, counterparty.read_key_id}


def test_create_key_validation(client, trader):
    def post(body):
        return client.post("/perps/me/api-keys", headers=trader.bearer, json=body)

    assert "scope" in field_errors(post({"name": "x", "scope": "admin"}))
    assert "name" in field_errors(post({"scope": "read"}))
    assert "name" in field_errors(post({"name": "", "scope": "read"}))
    assert "expiresInDays" in field_errors(post({"name": "x", "scope": "read",
                                                 "expiresInDays": 0}))
    fields = field_errors(post({"name": "x", "scope": "read", "allowedIps": ["not-an-ip"]}))
    assert any(k.startswith("allowedIps") for k in fields), fields
    assert len(_list(client, trader)) == 2


def test_read_and_trade_scopes(client, trader):
    r = trader.post("/perps/orders", limit_order("buy", "63000", "0.1"), headers=trader.read)
    assert_error(r, 403, "FORBIDDEN_SCOPE")
    r = client.get(f"/perps/orderbook/{BTC}")
    assert ok(r)["bids"] == []
    r = trader.post("/perps/orders", limit_order("buy", "63000", "0.1"))
    assert r.status_code == 200
