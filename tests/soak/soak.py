"""Fault soak: `desk run` with three strategies against `desk venue`, while faults fire.

    python -m tests.soak.soak [--minutes 30] [--seed 1] [--gap-s 8]

Every `--gap-s` (± half) one fault is chosen at random: each fault kind of the venue's
contract (`/sim/faults`), the engine's key killed mid-run (revoked, expired, or fenced
by `allowedIps` to an address desk is not on), a restart of the venue process, SIGKILL
of desk (the watchdog must pull its quotes; desk is restarted), or SIGTERM of desk
(restarted). desk holds two stored trade keys, the engine's and the kill switch's (the
watchdog's too). After each fault the soak checks, through its own read key:

- stood down → nothing rests: once desk reports the dead-man switch tripped (or is
  killed), the venue's open orders reach zero, and nothing rests again until desk says
  it re-armed; the time to zero is kept per fault kind;
- a dead engine key: desk reports the dead-man switch tripped, naming the key; the
  venue's open orders reach zero (its cancel-all falls back to a key that still
  works) and none rests while the key is dead; then the soak makes a new engine key
  and, since desk cannot take it up by itself, restarts desk with it;
- recovery: desk quotes again (a `quote_sent` after the fault ended);
- nothing lost or doubled: per market, the position desk reloaded at start plus the
  fills and reconciliations it journaled add up to the position the venue holds, and
  every journaled fill is one the venue made (`/sim/fills`, the embedded venue's test
  surface); a SIGKILLed desk is excused only the fills its stream could not have
  delivered before it died (from one batch before the kill to the watchdog's cancel);
- no leak: desk's open file descriptors and RSS at the end of each desk lifetime
  against its first minute.

It prints a table: fault kind, times injected, times handled, worst time to zero resting
orders, anomalies; then every anomaly. A venue restart starts a new account (the venue
keeps accounts and keys in memory), so the soak provisions new keys and restarts desk.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from desk.store.keys import KeyStore

ROOT = Path(__file__).resolve().parents[2]
VENUE_FAULTS = ("freeze_index", "drop_streams", "seq_gap", "stop_heartbeats", "rate_limit",
                "error_burst", "latency", "halt_market", "margin_squeeze")
# the engine's key dies mid-run: DELETE /perps/me/api-keys/{id}, and the embedded
# venue's `expire_key` and `fence_key` faults (until undone: they never are)
KEY_FAULTS = ("key_revoked", "key_expired", "key_fenced")
FENCE = "192.0.2.1"  # TEST-NET-1: an address desk (on the loopback) is never on
KEY_ZERO_S = 10.0  # a dead key: how long the venue may take to show nothing resting
KEY_HOLD_S = 2.0  # ...and then must keep showing nothing while the key stays dead
KEY_RECOVER_S = 1.0  # with a new key stored: how long desk gets to take it up itself
PROCESS_FAULTS = ("venue_restart", "desk_sigkill", "desk_sigterm")
ALL_FAULTS = VENUE_FAULTS + KEY_FAULTS + PROCESS_FAULTS
MARKETS = ("BTC-PERP", "ETH-PERP", "SOL-PERP")
KILL_GRACE_MS = 1000  # a private-stream batch (250 ms) and its way to desk, with margin


# --- the venue -------------------------------------------------------------------------------

class Venue:
    def __init__(self, home: Path, seed: int):
        self.home = home
        self.seed = seed
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.started_ms = 0
        self.session = ""
        self.trade_id = ""
        self.trade = ""
        self.kill_id = ""
        self.kill = ""
        self.read = ""

    def start(self) -> None:
        cmd = [sys.executable, "-m", "desk", "venue", "--port", str(self.port),
               "--seed", str(self.seed)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("venue listening on "):
            raise RuntimeError(f"the venue did not start: {line!r}")
        self.url = line.removeprefix("venue listening on ")
        self.port = int(self.url.rsplit(":", 1)[1])
        self.started_ms = int(time.time() * 1000)
        with httpx.Client(base_url=self.url, timeout=10) as http:
            self.session = http.post("/auth/dev-session",
                                     json={"account": "desk"}).json()["token"]
            auth = {"Authorization": f"Bearer {self.session}"}
            kill = http.post("/perps/me/api-keys", headers=auth,
                             json={"name": "kill-switch", "scope": "trade"}).json()
            read = http.post("/perps/me/api-keys", headers=auth,
                             json={"name": "soak", "scope": "read"}).json()
        self.kill_id, self.kill, self.read = kill["id"], kill["secret"], read["secret"]
        self.new_engine_key()

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session}"}

    def new_engine_key(self) -> None:
        """A new trade key for desk's engine (the one in use once desk restarts)."""
        r = httpx.post(f"{self.url}/perps/me/api-keys", headers=self.bearer, timeout=5,
                       json={"name": "engine", "scope": "trade"})
        r.raise_for_status()
        self.trade_id, self.trade = r.json()["id"], r.json()["secret"]

    def revoke(self, key_id: str) -> None:
        r = httpx.delete(f"{self.url}/perps/me/api-keys/{key_id}", headers=self.bearer,
                         timeout=5)
        r.raise_for_status()

    def cancel_all(self) -> None:
        """The soak's own clean-up (with the kill switch's key), after an anomaly."""
        httpx.post(f"{self.url}/perps/orders/cancel-all", json={}, timeout=5,
                   headers={"X-API-Key": self.kill}).raise_for_status()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def get(self, path: str) -> Any:
        r = httpx.get(f"{self.url}{path}", headers={"X-API-Key": self.read}, timeout=5)
        r.raise_for_status()
        return r.json()

    def resting(self) -> int:
        return len(self.get("/perps/orders"))

    def fills(self, since_ms: int) -> list[dict[str, Any]]:
        """The account's fills since then (the embedded venue's `/sim/fills`)."""
        r = httpx.get(f"{self.url}/sim/fills", params={"sinceMs": since_ms}, timeout=5,
                      headers=self.bearer)
        r.raise_for_status()
        return r.json()

    def fault(self, **body: Any) -> None:
        r = httpx.post(f"{self.url}/sim/faults", json=body, timeout=5, headers=self.bearer)
        r.raise_for_status()


# --- desk --------------------------------------------------------------------------------------

class Desk:
    """`desk run --venue-url` with the three default strategies and two stored trade keys
    (the engine's, in use, and the kill switch's); events read in a thread."""

    def __init__(self, home: Path):
        self.home = home
        self.proc: subprocess.Popen[str] | None = None
        self.events: list[tuple[float, int, dict[str, Any]]] = []  # (at, lifetime, event)
        self.lifetime = 0
        self.lock = threading.Lock()
        self.first_fds: int | None = None
        self.first_rss: int | None = None
        self.started_ms = 0

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
        env.update(HOME=str(self.home), XDG_CONFIG_HOME=str(self.home / "config"),
                   XDG_DATA_HOME=str(self.home / "data"), PYTHONUNBUFFERED="1",
                   DESK_KEY_DIR=str(self.home / "keys"),
                   DESK_JOURNAL_PATH=str(self.home / "journal.sqlite3"),
                   DESK_STRATEGIES_PATH=str(self.home / "strategies.toml"),
                   DESK_REFERENCE="index")  # so a frozen index is a stale feed
        return env

    def store_keys(self, venue: Venue) -> None:
        """The venue's engine key (in use) and kill-switch key in desk's key store."""
        store = KeyStore(self.home / "keys")
        for key in store.list(venue.url):  # dead engine keys of earlier lifetimes go
            if key.id not in (venue.trade_id, venue.kill_id):
                store.remove(key.id)
        stored = {k.id for k in store.list(venue.url)}
        for key_id, name, secret in ((venue.trade_id, "engine", venue.trade),
                                     (venue.kill_id, "kill-switch", venue.kill)):
            if key_id not in stored:
                store.add(venue.url, key_id, name, "trade", secret)
        store.use(venue.url, venue.trade_id)
        store.use_for_kill_switch(venue.url, venue.kill_id)

    def start(self, venue: Venue) -> None:
        self.store_keys(venue)
        self.proc = subprocess.Popen([sys.executable, "-m", "desk", "run", "--venue-url",
                                      venue.url], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
                                     env=self.env)
        self.first_fds = self.first_rss = None
        self.started_ms = int(time.time() * 1000)
        self.lifetime += 1
        threading.Thread(target=self._read, args=(self.proc, self.lifetime),
                         daemon=True).start()

    def _read(self, proc: subprocess.Popen[str], lifetime: int) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.events.append((time.monotonic(), lifetime, event))

    def since(self, t: float, predicate: Callable[[dict[str, Any]], bool]) -> float | None:
        """When the running desk (not a stopped one whose last lines are still being
        read) first said something `predicate` likes at or after `t`."""
        found = self.first(t, predicate)
        return found[0] if found is not None else None

    def first(self, t: float, predicate: Callable[[dict[str, Any]], bool]
              ) -> tuple[float, dict[str, Any]] | None:
        """The first such event of the running desk at or after `t`, and when."""
        with self.lock:
            return next(((at, e) for at, life, e in self.events
                         if life == self.lifetime and at >= t and predicate(e)), None)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout)

    def usage(self) -> tuple[int, int] | None:
        """(open file descriptors, RSS kB) of the desk process."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        pid = self.proc.pid
        try:
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            rss = next(int(line.split()[1]) for line in
                       Path(f"/proc/{pid}/status").read_text().splitlines()
                       if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            return None
        return fds, rss

    def journaled_fill_ids(self) -> set[str]:
        path = self.home / "journal.sqlite3"
        if not path.exists():
            return set()
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return {fid for (fid,) in db.execute(
                "SELECT fill_id FROM fills WHERE recorded_at >= ?", (self.started_ms,))}

    def booked_positions(self) -> dict[str, Decimal]:
        """Per market, what this desk lifetime's journal accounts for: the position it
        reloaded at start, plus every fill it journaled, plus every reconciliation it
        journaled (fills the stream never showed: the contract has no fills endpoint)."""
        path = self.home / "journal.sqlite3"
        out: dict[str, Decimal] = defaultdict(Decimal)
        if not path.exists():
            return out
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            for (body,) in db.execute("SELECT body FROM events WHERE type = "
                                      "'position_changed' AND ts_ms >= ?", (self.started_ms,)):
                e = json.loads(body)
                if e.get("reloaded") or e.get("reconciled"):
                    out[e["market_id"]] += Decimal(e["new_position"]) - \
                        Decimal(e["old_position"])
            for market, side, qty in db.execute(
                    "SELECT market_id, side, quantity FROM fills WHERE recorded_at >= ?",
                    (self.started_ms,)):
                out[market] += Decimal(qty) if side == "buy" else -Decimal(qty)
        return out


# --- the soak ----------------------------------------------------------------------------------

def _rearmed(e: dict[str, Any]) -> bool:
    """desk's dead-man switch re-armed (not one strategy resuming)."""
    return e["type"] == "resumed" and e.get("scope") == "desk"


def _desk_tripped(e: dict[str, Any]) -> bool:
    """desk's dead-man switch tripped (not one strategy's breaker)."""
    return e["type"] == "circuit_breaker" and e.get("scope") == "desk"


@dataclass
class Row:
    injected: int = 0
    handled: int = 0
    worst_zero_ms: float = 0.0
    anomalies: int = 0


@dataclass
class Soak:
    venue: Venue
    desk: Desk
    rng: random.Random
    fault_s: tuple[float, float] = (2.0, 6.0)  # how long a timed venue fault lasts
    trip_grace_s: float = 3.0  # a venue fault's trip counts up to this long after its end
    rows: dict[str, Row] = field(default_factory=lambda: defaultdict(Row))
    notes: list[str] = field(default_factory=list)

    def anomaly(self, kind: str, what: str) -> None:
        self.rows[kind].anomalies += 1
        self.notes.append(f"{kind}: {what}")

    def wait_quoting(self, since: float, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.desk.since(since, lambda e: e["type"] == "quote_sent") is not None:
                return True
            time.sleep(0.1)
        return False

    def wait_zero(self, timeout: float) -> float | None:
        """ms until the venue shows no open orders, or None."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            try:
                if self.venue.resting() == 0:
                    return (time.monotonic() - began) * 1000
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        return None

    def wait_zero_or_rearm(self, trip: float, timeout: float) -> float | str | None:
        """ms until no order rests, "rearmed" if desk re-armed first, or None."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if self.venue.resting() == 0:
                return (time.monotonic() - began) * 1000
            if self.desk.since(trip, _rearmed) is not None:
                return "rearmed"
            time.sleep(0.02)
        return None

    def check_books(self, kind: str, settle_s: float = 10.0,
                    killed_ms: int | None = None) -> None:
        """What desk's journal accounts for == the positions the venue holds, once desk
        has caught up (fills in flight, or a stream outage not yet reconciled: desk
        reconciles when its switch re-arms); an anomaly only if it never does. Every
        journaled fill is one the venue made (`/sim/fills`: nothing invented).

        A desk killed with SIGKILL (at `killed_ms`) cannot journal the fills its stream
        had not delivered yet: fills the venue made from one stream batch before the
        kill (KILL_GRACE_MS) until the watchdog's cancel are counted in, and only those."""
        journaled = self.desk.journaled_fill_ids()  # read first: the venue's is a superset
        invented = journaled - {f["fillId"] for f in self.venue.fills(self.desk.started_ms)}
        if invented:
            self.anomaly(kind, f"{len(invented)} journaled fill(s) the venue never made")
        deadline = time.monotonic() + settle_s
        while True:
            held = {p["marketId"]: Decimal(p["quantity"]) * (1 if p["side"] == "long" else -1)
                    for p in self.venue.get("/perps/positions")}
            booked = self.desk.booked_positions()
            journaled = self.desk.journaled_fill_ids()
            made = self.venue.fills(self.desk.started_ms)
            if killed_ms is not None:
                for f in made:
                    if f["fillId"] not in journaled and \
                            f["createdAt"] >= killed_ms - KILL_GRACE_MS:
                        q = Decimal(f["quantity"])
                        booked[f["marketId"]] += q if f["side"] == "buy" else -q
            off = [m for m in MARKETS if held.get(m, Decimal(0)) != booked.get(m, Decimal(0))]
            if not off:
                return
            if time.monotonic() > deadline:
                for market in off:
                    self.anomaly(kind, f"{market}: the venue holds {held.get(market, 0)}, "
                                       f"the journal accounts for {booked.get(market, 0)}")
                return
            time.sleep(0.5)

    def check_usage(self, kind: str) -> None:
        usage = self.desk.usage()
        if usage is None or self.desk.first_fds is None or self.desk.first_rss is None:
            return
        fds, rss = usage
        if fds > self.desk.first_fds + 20:
            self.anomaly(kind, f"desk's open fds grew {self.desk.first_fds} → {fds}")
        if rss > self.desk.first_rss * 1.5:
            self.anomaly(kind, f"desk's RSS grew {self.desk.first_rss} → {rss} kB")

    def stood_down_check(self, kind: str, injected: float, seconds: float) -> None:
        """If desk trips, the venue empties and stays empty until desk re-arms."""
        trip = None
        deadline = injected + seconds + self.trip_grace_s
        while time.monotonic() < deadline and trip is None:
            trip = self.desk.since(injected, _desk_tripped)
            time.sleep(0.05)
        if trip is None:
            return  # this fault did not stand desk down
        zero = self.wait_zero_or_rearm(trip, 5.0)
        if zero is None:
            self.anomaly(kind, "desk stood down but orders stayed resting for 5 s")
            return
        if zero == "rearmed":
            return  # re-armed faster than a poll could see the empty book
        row = self.rows[kind]
        row.worst_zero_ms = max(row.worst_zero_ms, (time.monotonic() - injected) * 1000)
        while time.monotonic() < deadline:  # stays empty until desk re-arms
            if self.desk.since(trip, _rearmed) is not None:
                return
            if self.venue.resting():
                time.sleep(0.3)  # a re-arm event may be on its way
                if self.desk.since(trip, _rearmed) is None and self.venue.resting():
                    self.anomaly(kind, "an order rested while desk was stood down")
                    return
            time.sleep(0.1)

    def venue_fault(self, kind: str) -> None:
        # a frozen index must outlast stale_feed_ms (2 s) to stand desk down
        low, high = self.fault_s
        low = max(low, 3.5) if kind == "freeze_index" else low
        seconds = self.rng.uniform(low, max(low, high))
        body: dict[str, Any] = {"kind": kind}
        if kind in ("freeze_index", "halt_market"):
            body["marketId"] = self.rng.choice(MARKETS)
        if kind in ("freeze_index", "halt_market", "stop_heartbeats", "latency",
                    "margin_squeeze"):
            body["seconds"] = seconds
        if kind in ("rate_limit", "error_burst"):
            body["count"] = self.rng.randint(1, 6)
        if kind == "latency":
            body["ms"] = self.rng.randint(50, 400)
        if kind == "margin_squeeze":
            body["factor"] = "20"
        injected = time.monotonic()
        self.venue.fault(**body)
        self.stood_down_check(kind, injected, seconds)
        if not self.wait_quoting(injected + seconds, seconds + 30):
            self.anomaly(kind, "desk did not quote again within 30 s of the fault's end")
            return
        self.rows[kind].handled += 1

    def key_fault(self, kind: str) -> None:
        """Kill the engine's key under a running desk; desk must pull everything (with
        a key that still works) and say which key failed; nothing may rest while the
        key stays dead. Then a new engine key, and desk (restarted with it unless it
        took the key up by itself) quotes again."""
        self.check_usage(kind)
        key_id = self.venue.trade_id
        injected = time.monotonic()
        died_ms = int(time.time() * 1000)
        if kind == "key_revoked":
            self.venue.revoke(key_id)
        elif kind == "key_expired":
            self.venue.fault(kind="expire_key", keyId=key_id)
        else:
            self.venue.fault(kind="fence_key", keyId=key_id, allowedIps=[FENCE])
        zero = self.wait_zero(KEY_ZERO_S)
        if zero is None:
            self.anomaly(kind, f"orders still rested {KEY_ZERO_S:g} s after the engine's "
                               "key died")
            self.venue.cancel_all()  # the soak's own clean-up, so the next fault starts clean
        else:
            row = self.rows[kind]
            row.worst_zero_ms = max(row.worst_zero_ms, (time.monotonic() - injected) * 1000)
        trip = self.desk.first(injected, _desk_tripped)
        if trip is None:
            self.anomaly(kind, "desk never reported the dead-man switch tripped")
        elif self.desk.first(injected, lambda e: _desk_tripped(e)
                             and key_id in json.dumps(e)) is None:
            self.anomaly(kind, f"the trip does not name the key: {trip[1].get('reason')!r}")
        held_until = time.monotonic() + KEY_HOLD_S
        while zero is not None and time.monotonic() < held_until:
            if self.venue.resting():
                self.anomaly(kind, "an order rested while the engine's key was dead")
                break
            time.sleep(0.1)
        self.venue.new_engine_key()
        self.desk.store_keys(self.venue)
        recovering = time.monotonic()
        if self.wait_quoting(recovering, KEY_RECOVER_S):
            self.rows[kind].handled += 1  # desk took the new key up by itself
            return
        alive = self.desk.proc is not None and self.desk.proc.poll() is None
        code = self.desk.stop(signal.SIGTERM)
        if alive and code != 0:  # it could not confirm its exit's cancel-all
            self.anomaly(kind, f"desk exited {code} on SIGTERM with its engine key dead")
        # a revoked or expired key ends desk's fill stream: the fills from one stream
        # batch before the death to the cancel-all can never reach its journal
        self.check_books(kind, killed_ms=None if kind == "key_fenced" else died_ms)
        restarted = time.monotonic()
        self.desk.start(self.venue)
        if not self.wait_quoting(restarted, 45):
            self.anomaly(kind, "desk restarted with a new key did not quote within 45 s")
            return
        self.rows[kind].handled += 1

    def desk_kill(self, kind: str) -> None:
        sig = signal.SIGKILL if kind == "desk_sigkill" else signal.SIGTERM
        self.check_usage(kind)
        injected = time.monotonic()
        killed_ms = int(time.time() * 1000) if sig is signal.SIGKILL else None
        code = self.desk.stop(sig)
        if sig is signal.SIGTERM and code != 0:
            self.anomaly(kind, f"desk exited {code} on SIGTERM")
        zero = self.wait_zero(5.0)
        if zero is None:
            self.anomaly(kind, "orders still rested 5 s after desk went")
        else:
            row = self.rows[kind]
            row.worst_zero_ms = max(row.worst_zero_ms, (time.monotonic() - injected) * 1000)
        self.check_books(kind, killed_ms=killed_ms)
        restarted = time.monotonic()
        self.desk.start(self.venue)
        if not self.wait_quoting(restarted, 45):
            self.anomaly(kind, "the restarted desk did not quote within 45 s")
            return
        self.rows[kind].handled += 1

    def venue_restart(self, kind: str) -> None:
        self.check_books(kind)
        self.check_usage(kind)
        injected = time.monotonic()
        self.venue.stop()
        self.desk.stop(signal.SIGTERM)  # its key died with the venue's memory
        self.venue.start()
        self.desk.start(self.venue)
        if not self.wait_quoting(injected, 45):
            self.anomaly(kind, "desk did not quote on the restarted venue within 45 s")
            return
        self.rows[kind].handled += 1

    def run(self, seconds: float, gap_s: float, kinds: tuple[str, ...] = ALL_FAULTS) -> None:
        end = time.monotonic() + seconds
        order = list(kinds)  # every kind once first (however short the soak), then at random
        self.rng.shuffle(order)
        while order or time.monotonic() < end:
            kind = order.pop() if order else self.rng.choice(kinds)
            self.rows[kind].injected += 1
            if kind in VENUE_FAULTS:
                self.venue_fault(kind)
            elif kind in KEY_FAULTS:
                self.key_fault(kind)
            elif kind == "venue_restart":
                self.venue_restart(kind)
            else:
                self.desk_kill(kind)
            self.sample_first()
            time.sleep(self.rng.uniform(gap_s / 2, gap_s * 1.5))
        self.check_books("end")
        self.check_usage("end")

    def sample_first(self) -> None:
        usage = self.desk.usage()
        if usage is not None and self.desk.first_fds is None:
            self.desk.first_fds, self.desk.first_rss = usage

    def table(self) -> str:
        lines = [f"{'fault':<16}{'injected':>9}{'handled':>9}{'worst to zero':>15}"
                 f"{'anomalies':>11}"]
        for kind in (*VENUE_FAULTS, *KEY_FAULTS, *PROCESS_FAULTS, "end"):
            row = self.rows.get(kind)
            if row is None:
                continue
            worst = f"{row.worst_zero_ms:,.0f} ms" if row.worst_zero_ms else "–"
            lines.append(f"{kind:<16}{row.injected:>9}{row.handled:>9}{worst:>15}"
                         f"{row.anomalies:>11}")
        total = sum(r.anomalies for r in self.rows.values())
        lines.append(f"anomalies: {total}")
        lines += [f"  - {note}" for note in self.notes]
        return "\n".join(lines)


def soak(seconds: float, seed: int = 1, gap_s: float = 8.0,
         kinds: tuple[str, ...] = ALL_FAULTS, fault_s: tuple[float, float] = (2.0, 6.0),
         warmup_s: float = 5.0, trip_grace_s: float = 3.0) -> Soak:
    """`fault_s`: the range a timed venue fault lasts (a frozen index at least 3.5 s);
    `warmup_s`: quoting this long before the first fault (and desk's first fd/RSS sample);
    `trip_grace_s`: how long after a venue fault's end a trip is still its doing."""
    with tempfile.TemporaryDirectory(prefix="desk-soak-") as tmp:
        home = Path(tmp)
        venue, desk = Venue(home, seed), Desk(home)
        venue.start()
        desk.start(venue)
        run = Soak(venue, desk, random.Random(seed), fault_s, trip_grace_s)
        try:
            if not run.wait_quoting(0.0, 45):
                raise RuntimeError("desk never started quoting")
            time.sleep(warmup_s)
            run.sample_first()
            run.run(seconds, gap_s, kinds)
        finally:
            desk.stop(signal.SIGTERM)
            venue.stop()
        return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gap-s", type=float, default=8.0)
    parser.add_argument("--kinds", type=lambda text: tuple(text.split(",")),
                        default=ALL_FAULTS, help="only these fault kinds, comma-separated")
    args = parser.parse_args()
    started = time.monotonic()
    unknown = set(args.kinds) - set(ALL_FAULTS)
    if unknown:
        parser.error(f"unknown fault kinds: {', '.join(sorted(unknown))}")
    result = soak(args.minutes * 60, args.seed, args.gap_s, args.kinds)
    print(result.table())
    print(f"soak: {args.minutes:g} min, seed {args.seed}, "
          f"{(time.monotonic() - started) / 60:.1f} min wall")


if __name__ == "__main__":
    main()
