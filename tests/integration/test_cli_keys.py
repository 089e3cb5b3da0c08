"""`desk keys` against a real embedded venue, with the key store in a temp dir.

Secrets appear on stdout exactly once (at creation); assertions about them go
through booleans so a failure never prints one.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from desk.cli import main
from desk.store.keys import KeyStore

SECRET = re.compile(r"ocx_sk_[A-Za-z0-9_-]{20,}")


@pytest.fixture
def desk_keys(venue, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("DESK_SESSION", raising=False)
    config = tmp_path / "desk.toml"
    config.write_text(f'venue_url = "{venue.url}"\nkey_dir = "{tmp_path / "keys"}"\n')

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--config", str(config), "keys", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    run.store = KeyStore(tmp_path / "keys")
    run.url = venue.url
    return run


def test_create_shows_the_secret_once_and_stores_it_0600(desk_keys):
    code, out, _ = desk_keys("create", "quoting", "--scope", "trade")
    assert code == 0
    shown = SECRET.findall(out)
    assert len(shown) == 1, "the secret must be printed exactly once"
    store = desk_keys.store
    [key] = store.list(desk_keys.url)
    assert key.scope == "trade" and key.in_use and key.name == "quoting"
    same = store.secret(key.id) == shown[0]
    assert same, "the stored secret differs from the one shown"
    assert stat.S_IMODE(store.secrets_path.stat().st_mode) == 0o600
    leaked = shown[0] in store.meta_path.read_text()
    assert not leaked, "the secret leaked into the metadata file"

    code, listing, _ = desk_keys("list")
    assert code == 0
    assert SECRET.search(listing) is None, "list must never show a secret"
    row = next(line for line in listing.splitlines() if key.id in line)
    assert row.startswith("*") and "trade" in row and "active" in row and "yes" in row


def test_use_switches_the_trading_key_and_revoke_forgets_it(desk_keys):
    assert desk_keys("create", "quoting")[0] == 0
    code, out, _ = desk_keys("create", "watch", "--scope", "read", "--expires-in-days", "7",
                             "--allowed-ip", "127.0.0.1")
    assert code == 0 and "desk keys use" in out
    store = desk_keys.store
    trade, read = sorted(store.list(desk_keys.url), key=lambda k: k.scope, reverse=True)
    assert read.scope == "read" and not read.in_use and read.expires_at is not None

    code, out, _ = desk_keys("use", read.id)
    assert code == 0 and read.id in out
    assert store.in_use(desk_keys.url).id == read.id

    code, out, _ = desk_keys("revoke", read.id)
    assert code == 0 and "removed from the key store" in out
    assert [k.id for k in store.list()] == [trade.id]
    assert store.in_use(desk_keys.url) is None
    _, listing, _ = desk_keys("list")
    row = next(line for line in listing.splitlines() if read.id in line)
    assert "revoked" in row and row.rstrip().endswith("no") and "127.0.0.1" in row


def test_a_pasted_session_is_used_instead_of_a_dev_session(desk_keys, trader, monkeypatch):
    monkeypatch.setenv("DESK_SESSION", trader.session)
    code, listing, _ = desk_keys("list")
    assert code == 0
    assert trader.trade_key_id in listing and trader.read_key_id in listing


def test_bad_input_gets_one_clear_line(desk_keys, monkeypatch):
    code, _, err = desk_keys("use", "ocx_kid_nosuchkey")
    assert code == 2 and "ocx_kid_nosuchkey" in err and "Traceback" not in err
    code, _, err = desk_keys("create", "x", "--expires-in-days", "0")
    assert code == 2 and "--expires-in-days" in err
    code, _, err = desk_keys("revoke", "ocx_kid_nosuchkey")
    assert code == 1 and "NOT_FOUND" in err


def test_a_remote_venue_needs_a_session_token_and_is_not_contacted(desk_keys):
    # no DESK_SESSION and no terminal: refused before any request leaves
    code, _, err = desk_keys("--venue-url", "https://venue.example.invalid", "list")
    assert code == 2 and "DESK_SESSION" in err


def test_an_unreachable_venue_is_reported(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("DESK_SESSION", raising=False)
    config = tmp_path / "desk.toml"
    config.write_text(f'key_dir = "{tmp_path}"\n[client]\nmax_attempts = 1\n')
    code = main(["--config", str(config), "keys", "--venue-url", "http://127.0.0.1:9", "list"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot reach the venue at http://127.0.0.1:9" in err


def test_use_kill_switch_sets_the_second_trade_key_and_refuses_a_read_key(desk_keys):
    assert desk_keys("create", "engine")[0] == 0
    assert desk_keys("create", "kill")[0] == 0
    assert desk_keys("create", "watch", "--scope", "read")[0] == 0
    store = desk_keys.store
    keys = {k.name: k for k in store.list(desk_keys.url)}
    code, out, _ = desk_keys("use", keys["kill"].id, "--kill-switch")
    assert code == 0 and keys["kill"].id in out and "kill switch" in out
    assert store.kill_switch(desk_keys.url).id == keys["kill"].id
    assert store.in_use(desk_keys.url).id == keys["engine"].id  # the engine's is unchanged
    code, _, err = desk_keys("use", keys["watch"].id, "--kill-switch")
    assert code == 2 and "read-scoped" in err and "trade key" in err
    assert store.kill_switch(desk_keys.url).id == keys["kill"].id
    code, _, _ = desk_keys("revoke", keys["kill"].id)
    assert code == 0 and store.kill_switch(desk_keys.url) is None
