"""Security checks: secrets, key files, scopes, dead keys, IP fences, loopback binding and
the embedded venue's dev session, each as behaviour against real processes and servers.

Where each item of the issue is tested (this file unless a path is given):

(a) No secret in logs, the journal, snapshots, screenshots, the watchdog's log or crash
    reports:
    - test_a_debug_embedded_run_leaks_no_secret: a real `desk run` on the embedded
      venue with every process logging at DEBUG; stdout, stderr, the journal (raw bytes,
      with its -wal/-shm), watchdog.log, the config dirs and the command lines and
      environments of desk and its children are scanned for the engine's secret and for
      anything secret-shaped.
    - test_snapshots_screenshots_and_report_hold_no_secret.
    - crash reports: test_a_logged_crash_masks_secrets_in_causes_notes_and_groups,
      test_dead_stored_key_stops_desk_run_at_once (its traceback carries no secret),
      test_a_malformed_session_token_is_not_echoed_on_the_error_line,
      test_desk_run_masks_secrets_in_the_events_it_prints.
    - elsewhere: tests/ui/test_crash_report.py (the app's crash report: no locals,
      redacted); tests/unit/test_logs.py (the log writer redacts before queueing;
      uvicorn's own loggers are covered); tests/integration/test_ocx_secrets.py::
      test_no_secret_in_debug_logs_of_a_busy_and_failing_client; tests/unit/test_redact.py
      (message, %-args, traceback, headers); tests/integration/test_cli_run.py::
      test_the_watchdog_pulls_the_quotes_of_a_killed_desk (watchdog.log).
(b) Key file 0600, looser refused:
    - test_desk_run_refuses_a_loose_secrets_file (end to end, nothing reaches the venue);
      the embedded run's temporary key store is 0600 in a 0700 directory and gone at exit
      (test_a_debug_embedded_run_leaks_no_secret).
    - elsewhere: tests/unit/test_keystore.py::test_secrets_file_is_0600_and_the_new_
      directory_0700, ::test_secrets_file_is_0600_even_with_a_permissive_umask,
      ::test_loose_secrets_file_is_refused_with_its_path_and_mode,
      ::test_group_readable_secrets_file_is_refused; tests/integration/test_cli_keys.py::
      test_create_shows_the_secret_once_and_stores_it_0600.
(c) A read-scoped key cannot trade, and desk refuses one it knows is read-scoped:
    - test_desk_run_refuses_a_read_key_before_it_calls_the_venue;
    - test_refused_read_key_calls_spend_no_rate_budget_and_no_use;
      test_desk_run_with_a_read_key_places_nothing_and_mints_no_session.
    - elsewhere: tests/integration/test_errors.py::
      test_forbidden_scope_for_every_trading_route; tests/integration/test_ocx_rest.py::
      test_read_key_reads_but_cannot_trade; tests/integration/test_rate_limit.py::
      test_the_key_is_checked_and_counted_before_the_body_is_read.
(d) A revoked or expired key fails at once:
    - test_dead_stored_key_stops_desk_run_at_once (revoked and expired).
    - elsewhere: tests/integration/test_errors.py::test_key_revoked, ::test_key_expired;
      tests/integration/test_key_routes.py::
      test_revoke_returns_204_and_the_key_fails_at_once; tests/integration/
      test_ocx_rest.py::test_auth_errors_fail_at_once, ::test_expired_key_is_refused;
      tests/integration/test_private_streams.py::
      test_revoking_the_key_ends_the_private_stream_with_an_error,
      ::test_an_expiring_key_ends_the_private_stream; tests/integration/
      test_ocx_streams.py::test_a_revoked_key_stops_the_private_stream_for_good;
      tests/unit/test_keys.py::test_revoke, ::test_expiry_via_clock.
(e) allowedIps enforced:
    - test_allowed_ips_from_non_loopback_clients (exact, CIDR, IPv4-mapped IPv6; REST,
      order path, private stream).
    - test_forwarded_for_header_cannot_pass_an_ip_fence.
    - elsewhere: tests/integration/test_errors.py::test_ip_not_allowed;
      tests/integration/test_ocx_rest.py::test_auth_errors_fail_at_once;
      tests/integration/test_stream_lifecycle.py::
      test_a_stranger_ip_learns_nothing_of_a_revoked_key; tests/unit/test_keys.py::
      test_allowed_ips_exact_and_cidr.
(f) No non-loopback bind without --allow-remote:
    - test_the_venue_refuses_non_loopback_hosts, test_loopback_hosts_are_accepted,
      test_desk_venue_refuses_ipv6_any_and_a_lan_address,
      test_allow_remote_binds_the_wildcard_address; the venue `desk run` spawns is started
      with neither --host nor --allow-remote (test_a_debug_embedded_run_leaks_no_secret).
    - elsewhere: tests/integration/test_cli_venue.py::test_remote_host_needs_allow_remote.
(g) The embedded venue's dev session only against the embedded venue:
    - test_desk_keys_never_asks_a_remote_venue_for_a_dev_session (the remote venue is
      reached through a recording HTTP proxy that would grant one);
      test_a_loopback_venue_that_is_not_embedded_gets_no_credential;
      test_desk_run_with_a_read_key_places_nothing_and_mints_no_session (`--venue-url`
      never opens a session); test_a_dev_session_is_refused_by_another_venue;
      test_the_dev_session_route_is_refused_to_remote_clients.
    - elsewhere: tests/integration/test_cli_keys.py::
      test_a_remote_venue_needs_a_session_token_and_is_not_contacted,
      ::test_a_pasted_session_is_used_instead_of_a_dev_session.

Care with secrets: failures never print one (assertions go through booleans and counts).
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from desk.cli import main
from desk.store.keys import KeyStore
from desk.store.redact import RedactingFilter
from desk.venue.config import VenueConfig
from desk.venue.http import create_app
from desk.venue.runtime import VenueRuntime
from desk.venue.server import RemoteBindError, VenueServer
from tests.helpers import Trader, new_key, new_session
from tests.integration.conftest import assert_error, limit_order
from tests.integration.test_cli_run import (
    ONE_BTC,
    Run,
    book_for,
    desk_run,
    resting,
    write_config,
)

ROOT = Path(__file__).resolve().parents[2]
# anything shaped like a key secret or a session token; the masked forms
# (`ocx_sk_***`) do not match
SECRET_SHAPED = re.compile(rb"ocx_(?:sk|sess)_[A-Za-z0-9_-]{8,}")

DEBUG_EVERYWHERE = """\
import logging
logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
"""


def leaks(data: bytes, *exact: str) -> bool:
    return SECRET_SHAPED.search(data) is not None or any(s.encode() in data for s in exact)


def store_key(env: dict[str, str], url: str, key_id: str, scope: str, secret: str) -> KeyStore:
    store = KeyStore(Path(env["DESK_KEY_DIR"]))
    store.add(url, key_id, "engine", scope, secret)
    store.use(url, key_id)
    return store


def key_uses(venue: VenueServer, key_id: str) -> int:
    return venue.call(lambda: venue.runtime.keys.keys[key_id].uses)  # type: ignore[return-value]


def session_count(venue: VenueServer) -> int:
    return venue.call(lambda: len(venue.runtime.keys.sessions))  # type: ignore[return-value]


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def process_text(pid: int) -> tuple[list[str], bytes]:
    """A process's command line (as arguments) and its command line and environment raw."""
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    return cmdline.decode().split("\0"), cmdline + b"\n" + environ


# --- (a) secrets never reach logs, the journal, the watchdog log, snapshots ------------

@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_a_debug_embedded_run_leaks_no_secret(env, tmp_path):
    site = tmp_path / "site"  # every Python process of the run logs at DEBUG
    site.mkdir()
    (site / "sitecustomize.py").write_text(DEBUG_EVERYWHERE)
    temp = tmp_path / "tmp"  # the run's temporary key store lands here
    temp.mkdir()
    env = {**env, "TMPDIR": str(temp),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))}
    stderr_path = tmp_path / "stderr.log"  # a file: DEBUG output would fill a pipe
    with stderr_path.open("wb") as stderr_file:
        proc = subprocess.Popen([sys.executable, "-m", "desk", "run", "--seed", "7"],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr_file,
                                text=True)
        try:
            run = Run(proc)
            run.read_until(lambda e: e["type"] == "quote_sent")
            # while it trades: the engine's key is in a 0600 file in a 0700 directory
            [key_dir] = temp.glob("desk-keys-*")
            secrets_file = key_dir / "secrets.json"
            assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
            assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
            engine_secrets = list(json.loads(secrets_file.read_text()).values())
            assert len(engine_secrets) == 1
            # no secret on a command line or in an environment (the watchdog's key goes
            # over its stdin); the venue desk starts binds loopback only
            kids = children(proc.pid)
            texts = [process_text(pid) for pid in (proc.pid, *kids)]
            code, _ = run.stop(signal.SIGTERM)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
    assert code == 0
    argvs = [argv for argv, _ in texts]
    venue_argv = next(a for a in argvs if a[1:4] == ["-m", "desk", "venue"])
    assert "--allow-remote" not in venue_argv and "--host" not in venue_argv
    assert any(a[1:3] == ["-m", "desk.watchdog"] for a in argvs)
    exposed = [i for i, (_, raw) in enumerate(texts) if leaks(raw, *engine_secrets)]
    assert not exposed, f"a secret is on the command line or in the environment of #{exposed}"

    stderr = stderr_path.read_bytes()
    assert b"DEBUG " in stderr and b"HTTP Request: POST" in stderr  # DEBUG did reach it
    assert b"trading on http://127.0.0.1:" in stderr
    assert not key_dir.exists(), "the temporary key store outlived the run"
    assert not Path(env["DESK_KEY_DIR"]).exists(), "an embedded run wrote the user key store"
    data = Path(env["XDG_DATA_HOME"]) / "desk"
    journal, dog_log = data / "journal.sqlite3", data / "watchdog.log"
    assert journal.stat().st_size > 0 and b"quote_sent" in journal.read_bytes() + b"".join(
        p.read_bytes() for p in data.glob("journal.sqlite3-*"))
    assert "desk stopped cleanly" in dog_log.read_text()
    stdout = "\n".join(json.dumps(e) for e in run.events).encode()
    scanned = {"stdout": stdout}
    for path in tmp_path.rglob("*"):
        if path.is_file() and site not in path.parents:
            scanned[str(path.relative_to(tmp_path))] = path.read_bytes()
    assert {"stderr.log", "data/desk/journal.sqlite3", "data/desk/watchdog.log"} <= set(scanned)
    leaked = sorted(name for name, raw in scanned.items() if leaks(raw, *engine_secrets))
    assert not leaked, f"secret-shaped text in {leaked}"


def test_snapshots_screenshots_and_report_hold_no_secret():
    files = [p for p in (ROOT / "tests" / "ui" / "__snapshots__").rglob("*") if p.is_file()]
    files += [p for p in (ROOT / "screenshots").rglob("*") if p.is_file()]
    files += [p for p in ROOT.glob("*.html")]  # pytest-textual-snapshot's report
    assert len(files) >= 20, "the snapshots and screenshots were not found"
    # the secret modal is among them, showing the fixture's placeholder: the scan would
    # see a secret there if a real-shaped one were ever used
    secret_svgs = [p for p in files if "secret" in p.name]
    assert secret_svgs and all(b"SECRET-SHOWN-ONCE" in p.read_bytes() for p in secret_svgs)
    leaked = [str(p.relative_to(ROOT)) for p in files
              if leaks(p.read_bytes().replace(b"&#160;", b" "))]
    assert not leaked, f"secret-shaped text in {leaked}"


def test_a_logged_crash_masks_secrets_in_causes_notes_and_groups():
    secret = "ocx_sk_" + "C" * 43  # built at runtime: no secret-shaped literal in the repo
    logger = logging.getLogger("test.security.crash")
    logger.propagate = False
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        try:
            try:
                raise KeyError(f"venue said {secret}")
            except KeyError as inner:
                outer = RuntimeError("order path failed")
                outer.add_note(f"while sending x-api-key: {secret}")
                raise outer from inner
        except RuntimeError:
            logger.exception("crash")
        try:
            raise ExceptionGroup("streams", [ValueError(f"user stream: {secret}")])
        except ExceptionGroup:
            logger.exception("crash")
    finally:
        logger.removeHandler(handler)
    text = "\n".join(records)
    assert "direct cause" in text and "ExceptionGroup" in text and "user stream:" in text
    leaked = secret[8:20] in text
    assert not leaked, "a secret in a cause, note or exception group reached the log"


def test_a_malformed_session_token_is_not_echoed_on_the_error_line(venue, trader, tmp_path,
                                                                   capsys, monkeypatch):
    config = tmp_path / "desk.toml"
    config.write_text(f'key_dir = "{tmp_path / "keys"}"\n[client]\nmax_attempts = 1\n')
    head, tail = trader.session[:20], trader.session[20:]
    monkeypatch.setenv("DESK_SESSION", f"{head}\n{tail}")  # a wrapped paste
    code = main(["--config", str(config), "keys", "--venue-url", venue.url, "list"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot reach the venue" in err
    leaked = tail in err
    assert not leaked, "the session token was printed on the error line"


# --- (b) the key file ----------------------------------------------------------------------

@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_desk_run_refuses_a_loose_secrets_file(env, venue, trader: Trader, mode):
    store = store_key(env, venue.url, trader.trade_key_id, "trade", trader.trade_secret)
    store.secrets_path.chmod(mode)
    sessions = session_count(venue)
    proc = subprocess.run([sys.executable, "-m", "desk", "run", "--venue-url", venue.url],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert f"mode {mode:04o}" in proc.stderr and "chmod 600" in proc.stderr
    assert "Traceback" not in proc.stderr
    leaked = leaks((proc.stdout + proc.stderr).encode(), trader.trade_secret)
    assert not leaked, "the refusal printed a secret"
    assert stat.S_IMODE(store.secrets_path.stat().st_mode) == mode  # reported, not "fixed"
    assert key_uses(venue, trader.trade_key_id) == 0  # the key never reached the venue
    assert session_count(venue) == sessions
    assert resting(venue.url, trader) == []


# --- (c) a read-scoped key cannot trade ------------------------------------------------------

def test_refused_read_key_calls_spend_no_rate_budget_and_no_use(venue, trader: Trader):
    order = limit_order("buy", "63000", "0.01")
    first = trader.post("/perps/orders", order)
    assert first.status_code == 200
    remaining = int(first.headers["x-ratelimit-remaining"])
    uses = key_uses(venue, trader.read_key_id)
    for path, body in (("/perps/orders", order), ("/perps/orders/cancel-all", {}),
                       ("/perps/quotes/bulk", {"marketId": "BTC-PERP", "quoteId": "q",
                                               "cancelAll": True, "quotes": []})):
        r = trader.post(path, body, headers=trader.read)
        assert_error(r, 403, "FORBIDDEN_SCOPE")
        assert "x-ratelimit-remaining" not in r.headers
    after = trader.post("/perps/orders", order)
    assert int(after.headers["x-ratelimit-remaining"]) == remaining - 1
    assert key_uses(venue, trader.read_key_id) == uses
    assert len(resting(venue.url, trader)) == 2  # the trade key's two orders, nothing more


def test_desk_run_refuses_a_read_key_before_it_calls_the_venue(env, venue, trader, tmp_path):
    store_key(env, venue.url, trader.read_key_id, "read", trader.read_secret)
    uses = key_uses(venue, trader.read_key_id)
    with desk_run(env, "run", "--venue-url", venue.url, "--config",
                  str(write_config(tmp_path, ONE_BTC))) as run:
        out, err = run.proc.communicate(timeout=30)
    assert run.proc.returncode == 2, err
    assert "is read-scoped and desk trades: pick a trade key with `desk keys use`" in err
    assert trader.read_key_id in err and "Traceback" not in err and out == ""
    assert key_uses(venue, trader.read_key_id) == uses
    leaked = leaks((out + err).encode(), trader.read_secret)
    assert not leaked, "a secret reached stdout or stderr"


def test_desk_run_with_a_read_key_places_nothing_and_mints_no_session(env, venue, trader,
                                                                       counterparty, tmp_path):
    # stored as a trade key by mistake: the venue's refusal is the backstop
    store_key(env, venue.url, trader.read_key_id, "trade", trader.read_secret)
    book_for(counterparty)  # a book to quote against
    sessions = session_count(venue)
    config = write_config(tmp_path, ONE_BTC)
    with desk_run(env, "run", "--venue-url", venue.url, "--config", str(config)) as run:
        run.read_until(lambda e: e["type"] == "error" and e.get("code") == "FORBIDDEN_SCOPE")
        assert resting(venue.url, trader) == []
        code, err = run.stop()
    # the read key cannot cancel either: desk says it could not confirm, never "pulled"
    assert code == 1, err
    assert "never confirmed the cancel-all" in err and "every quote pulled" not in err
    assert resting(venue.url, trader) == []
    # a venue given by URL gets the stored key only, even a loopback one that would
    # hand out dev sessions
    assert session_count(venue) == sessions
    leaked = leaks((json.dumps(run.events) + err).encode(), trader.read_secret)
    assert not leaked, "a secret reached stdout or stderr"


# --- (d) a revoked or expired key fails at once ---------------------------------------------

@pytest.mark.parametrize(("how", "code_name"), [("revoked", "KEY_REVOKED"),
                                                ("expired", "KEY_EXPIRED")])
def test_dead_stored_key_stops_desk_run_at_once(env, venue, client, trader, how, code_name):
    store_key(env, venue.url, trader.trade_key_id, "trade", trader.trade_secret)
    if how == "revoked":
        r = client.delete(f"/perps/me/api-keys/{trader.trade_key_id}", headers=trader.bearer)
        assert r.status_code == 204
    else:
        venue.call(lambda: setattr(venue.runtime.keys.keys[trader.trade_key_id],
                                   "expires_at", 1))
    began = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "desk", "run", "--venue-url", venue.url],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    took = time.monotonic() - began
    assert proc.returncode == 1 and took < 8, (proc.returncode, took)
    assert code_name in proc.stderr and "desk run: the venue refused: " in proc.stderr
    assert "Traceback" not in proc.stderr  # one line, not a crash
    # whatever form the report takes (today a traceback), it carries no secret
    leaked = leaks((proc.stdout + proc.stderr).encode(), trader.trade_secret)
    assert not leaked, "the failure report printed a secret"
    assert key_uses(venue, trader.trade_key_id) == 0
    assert resting(venue.url, trader) == []


# --- (e) allowedIps --------------------------------------------------------------------------

def _asgi(app: Any, ip: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 40000)),
                             base_url="http://venue", timeout=10)


async def test_allowed_ips_from_non_loopback_clients():
    runtime = VenueRuntime(VenueConfig(sim_enabled=False))
    app = create_app(runtime, manage_runtime=False)
    async with _asgi(app, "127.0.0.1") as local:
        token = (await local.post("/auth/dev-session", json={"account": "desk"})).json()["token"]
        r = await local.post("/perps/me/api-keys", headers={"Authorization": f"Bearer {token}"},
                             json={"name": "office", "scope": "trade",
                                   "allowedIps": ["203.0.113.7", "198.51.100.0/24"]})
    created = r.json()
    key = {"x-api-key": created["secret"]}
    order = limit_order("buy", "63000", "0.01")
    for ip in ("203.0.113.7", "198.51.100.200", "::ffff:203.0.113.7"):
        async with _asgi(app, ip) as c:
            assert (await c.get("/perps/balances", headers=key)).status_code == 200, ip
            assert (await c.post("/perps/orders", json=order, headers=key)).status_code == 200
    uses = runtime.keys.keys[created["id"]].uses
    for ip in ("203.0.113.8", "198.51.101.1", "127.0.0.1", "::1", "::ffff:203.0.113.8"):
        async with _asgi(app, ip) as c:
            for r in (await c.get("/perps/balances", headers=key),
                      await c.post("/perps/orders", json=order, headers=key),
                      await c.get("/perps/stream/user", headers=key)):
                assert_error(r, 403, "IP_NOT_ALLOWED")
                assert r.json()["details"]["ip"] == ip
    assert runtime.keys.keys[created["id"]].uses == uses  # refusals are not uses
    assert len(runtime.exchange.orders_of("desk", None, "open")) == 3


def test_forwarded_for_header_cannot_pass_an_ip_fence(venue, client, trader):
    fenced = new_key(client, trader.session, "trade", allowedIps=["10.1.2.3"])
    headers = {"x-api-key": fenced["secret"], "X-Forwarded-For": "10.1.2.3"}
    r = client.post("/perps/orders", json=limit_order("buy", "63000", "0.01"), headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "IP_NOT_ALLOWED"
    r = client.get("/perps/balances", headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "IP_NOT_ALLOWED"


# --- (f) loopback unless --allow-remote -------------------------------------------------------

@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "10.0.0.1", "fe80::1",
                                  "venue.example.test", "", "127.0.0.1.nip.io"])
def test_the_venue_refuses_non_loopback_hosts(host):
    with pytest.raises(RemoteBindError, match="--allow-remote"):
        VenueServer(VenueRuntime(VenueConfig(sim_enabled=False)), host=host, port=0)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_are_accepted(host):
    server = VenueServer(VenueRuntime(VenueConfig(sim_enabled=False)), host=host, port=0)
    assert server.host == host


@pytest.mark.parametrize("host", ["::", "192.0.2.10"])
def test_desk_venue_refuses_ipv6_any_and_a_lan_address(host, tmp_path, capsys, monkeypatch):
    for name in [k for k in os.environ if k.startswith("DESK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    code = main(["venue", "--host", host, "--port", "0"])
    out = capsys.readouterr()
    assert code == 2 and "listening" not in out.out
    assert "--allow-remote" in out.err and repr(host) in out.err


def test_allow_remote_binds_the_wildcard_address():
    with VenueServer(VenueRuntime(VenueConfig(sim_enabled=False)), host="0.0.0.0", port=0,
                     allow_remote=True) as server:
        assert server.server.servers[0].sockets[0].getsockname()[0] == "0.0.0.0"
        r = httpx.get(f"http://127.0.0.1:{server.port}/perps/markets", timeout=5)
        assert r.status_code == 200


# --- (g) the dev session belongs to the embedded venue ---------------------------------------

class Recorder(BaseHTTPRequestHandler):
    """A venue (or a forwarding proxy to one) that records every request and would grant
    anything it is asked: a dev session, an empty key list."""

    seen: list[dict[str, Any]]
    dev_status = 200

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append({"method": self.command, "url": self.path,
                          "headers": {k.lower(): v for k, v in self.headers.items()},
                          "body": body})
        path = urlsplit(self.path).path
        if path == "/auth/dev-session":
            status = self.dev_status
            reply: dict[str, Any] = (
                {"token": "ocx_sess_" + "g" * 43} if status == 200 else
                {"error": "NotFound", "code": "NOT_FOUND", "message": "no route", "details": {}})
        else:
            status, reply = 200, {"keys": []}
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, Any]], type[Recorder]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Recording", (Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen, handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def keys_cli(tmp_path: Path, capsys, monkeypatch):
    for name in ("DESK_SESSION", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
                 "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "desk.toml"
    config.write_text(f'key_dir = "{tmp_path / "keys"}"\n[client]\nmax_attempts = 1\n')

    def run(url: str, *args: str) -> tuple[int, str, str]:
        code = main(["--config", str(config), "keys", "--venue-url", url, *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_desk_keys_never_asks_a_remote_venue_for_a_dev_session(keys_cli, recorder,
                                                               monkeypatch):
    proxy, seen, _ = recorder
    for name in ("HTTP_PROXY", "http_proxy"):  # the "remote" venue is reached through it
        monkeypatch.setenv(name, proxy)
    remote = "http://venue.example.test"
    code, _, err = keys_cli(remote, "list")
    assert code == 2 and "DESK_SESSION" in err
    assert seen == []  # not even a request without credentials

    pasted = "ocx_sess_" + "p" * 43
    monkeypatch.setenv("DESK_SESSION", pasted)
    code, out, _ = keys_cli(remote, "list")
    assert code == 0 and "ID" in out
    assert [(r["method"], r["url"]) for r in seen] == [
        ("GET", "http://venue.example.test/perps/me/api-keys")]
    assert seen[0]["headers"].get("authorization") == f"Bearer {pasted}"
    assert "x-api-key" not in seen[0]["headers"]


def test_a_loopback_venue_that_is_not_embedded_gets_no_credential(keys_cli, recorder):
    # desk takes any loopback venue for the embedded one and asks it for a dev session
    # (desk/cli_keys.py:104-108); that request carries no credential, and a refusal
    # sends desk back to asking for a pasted token
    url, seen, handler = recorder
    handler.dev_status = 404
    code, _, err = keys_cli(url, "list")
    assert code == 2 and "DESK_SESSION" in err
    assert [(r["method"], urlsplit(r["url"]).path) for r in seen] == [
        ("POST", "/auth/dev-session")]
    headers = seen[0]["headers"]
    assert "authorization" not in headers and "x-api-key" not in headers
    assert json.loads(seen[0]["body"]) == {"account": "desk"}


def test_a_dev_session_is_refused_by_another_venue(make_venue):
    first, second = make_venue(), make_venue()
    with httpx.Client(base_url=first.url, timeout=10) as a, \
            httpx.Client(base_url=second.url, timeout=10) as b:
        token = new_session(a, "desk")
        bearer = {"Authorization": f"Bearer {token}"}
        assert a.get("/perps/me/api-keys", headers=bearer).status_code == 200
        assert_error(b.get("/perps/me/api-keys", headers=bearer), 401, "UNAUTHENTICATED")
        assert_error(b.post("/perps/me/api-keys", headers=bearer,
                            json={"name": "x", "scope": "trade"}), 401, "UNAUTHENTICATED")
        # nor is a session a key, on either venue
        for c in (a, b):
            assert_error(c.get("/perps/balances", headers={"x-api-key": token}), 401,
                         "UNAUTHENTICATED")


async def test_the_dev_session_route_is_refused_to_remote_clients():
    app = create_app(VenueRuntime(VenueConfig(sim_enabled=False)), manage_runtime=False)
    async with _asgi(app, "203.0.113.50") as stranger:
        r = await stranger.post("/auth/dev-session", json={"account": "desk"})
    assert r.status_code in (401, 403, 404)


def test_desk_run_masks_secrets_in_the_events_it_prints(capsys):
    from desk.cli_run import _print
    from desk.engine.events import Event, EventType, Severity

    secret = "ocx_sk_" + "Ev3nt" * 8
    _print(Event(EventType.ERROR, "s1", 1, {"code": "VALIDATION",
                                            "message": f"bad x-api-key: {secret}"},
                 Severity.ERROR))
    out = capsys.readouterr().out
    leaked = secret[7:] in out
    assert not leaked, "a secret reached desk run's stdout"
    event = json.loads(out)
    assert event["message"] == "bad x-api-key: ***" and event["code"] == "VALIDATION"
    # a mask must not swallow the backslash of an escaped quote (the line stays JSON)
    _print(Event(EventType.ERROR, "s1", 2, {"message": 'x-api-key=abc"def'}, Severity.ERROR))
    event = json.loads(capsys.readouterr().out)
    assert event["message"].startswith("x-api-key=***")
