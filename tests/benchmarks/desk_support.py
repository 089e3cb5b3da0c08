"""Helpers for `bench_desk`: temporary settings, an independent order poller, ladder
driver processes, and CPU/RSS readings from /proc (Linux). Loopback only.

Care with secrets: key secrets live in private attributes or local variables only;
nothing here prints, logs or returns one (errors report status codes, never bodies).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import httpx

from desk.settings import DeskSettings, load_settings

CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- figures --------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def summary(name: str, ms: list[float]) -> str:
    if not ms:
        return f"{name}: no samples"
    return (f"{name}: n={len(ms)} p50 {statistics.median(ms):.1f} ms, "
            f"p90 {pct(ms, 0.9):.1f} ms, p99 {pct(ms, 0.99):.1f} ms, max {max(ms):.1f} ms")


# --- settings -------------------------------------------------------------------------------

def desk_settings(tmp: Path, venue: dict[str, Any] | None = None,
                  client: dict[str, Any] | None = None) -> tuple[DeskSettings, Path]:
    """A config file with a `[venue]` table (passed to the embedded venue as --config)
    and settings loaded from it, with journal, strategies and keys in `tmp`."""
    lines = ["[venue]"] + [f"{k} = {_toml(v)}" for k, v in (venue or {}).items()]
    path = tmp / "desk.toml"
    path.write_text("\n".join(lines) + "\n")
    settings = load_settings(path)
    update: dict[str, Any] = {"journal_path": tmp / "journal.sqlite3",
                              "strategies_path": tmp / "strategies.toml",
                              "key_dir": tmp / "keys"}
    if client:
        update["client"] = settings.client.model_copy(update=client)
    return settings.model_copy(update=update), path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- keys -----------------------------------------------------------------------------------

def _new_key(http: httpx.Client, account: str, name: str, scope: str) -> str:
    """A key of `scope` for `account` through the venue's dev session; its secret."""
    r = http.post("/auth/dev-session", json={"account": account})
    if r.status_code != 200:
        raise RuntimeError(f"dev-session for {account!r}: HTTP {r.status_code}")
    token = r.json()["token"]
    r = http.post("/perps/me/api-keys", headers={"Authorization": f"Bearer {token}"},
                  json={"name": name, "scope": scope})
    if r.status_code not in (200, 201):
        raise RuntimeError(f"creating a {scope} key for {account!r}: HTTP {r.status_code}")
    return r.json()["secret"]


# --- the independent poller -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Seen:
    sent: float      # perf_counter when the request left
    received: float  # perf_counter when the answer was parsed


class OrderPoller:
    """GET /perps/orders over its own read key and sync `httpx.Client`, in its own
    thread, back to back (or `gap_s` apart). `watch(t)` arms it: the first answer
    with zero open orders to a request sent at or after `t` is kept in `zero`; an
    answer with orders after that counts in `relapses` until `unwatch()`."""

    def __init__(self, url: str, account: str, gap_s: float = 0.0) -> None:
        self.url = url
        self.gap_s = gap_s  # a pause between polls (0: back to back)
        self._http = httpx.Client(base_url=url, timeout=5)
        self._secret = _new_key(self._http, account, "bench-desk-poller", "read")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._watch: float | None = None
        self.zero: Seen | None = None
        self.counts: dict[str, int] = {}   # the latest answer, per market
        self.counts_sent = 0.0             # perf_counter when its request left
        self.round_trips: deque[float] = deque(maxlen=100_000)  # seconds
        self.polls = 0
        self.errors = 0
        self.relapses = 0                  # answers with orders after a watched zero
        self._thread = threading.Thread(target=self._run, name="bench-poller", daemon=True)

    def __repr__(self) -> str:
        return f"OrderPoller({self.url!r})"

    def start(self) -> OrderPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._http.close()

    def watch(self, since: float) -> None:
        with self._lock:
            self._watch, self.zero = since, None

    def unwatch(self) -> None:
        with self._lock:
            self._watch = None

    def _run(self) -> None:
        headers = {"x-api-key": self._secret}
        while not self._stop.is_set():
            sent = time.perf_counter()
            try:
                r = self._http.get("/perps/orders", headers=headers)
            except httpx.HTTPError:
                self.errors += 1
                time.sleep(0.01)
                continue
            if r.status_code != 200:
                self.errors += 1
                time.sleep(0.01)
                continue
            orders = r.json()
            received = time.perf_counter()
            counts: dict[str, int] = {}
            for o in orders:
                counts[o["marketId"]] = counts.get(o["marketId"], 0) + 1
            self.counts, self.counts_sent = counts, sent
            self.round_trips.append(received - sent)
            self.polls += 1
            with self._lock:
                if self._watch is not None and sent >= self._watch:
                    if not orders and self.zero is None:
                        self.zero = Seen(sent, received)
                    elif orders and self.zero is not None:
                        self.relapses += 1  # orders again after zero, before unwatch()
            if self.gap_s:
                time.sleep(self.gap_s)

    def fresh_counts(self, timeout: float = 5.0) -> dict[str, int]:
        """Counts from an answer to a request sent after this call (blocking)."""
        asked = time.perf_counter()
        deadline = asked + timeout
        while time.perf_counter() < deadline:
            if self.counts_sent >= asked:
                return dict(self.counts)
            time.sleep(0.002)
        raise TimeoutError("the poller got no fresh answer")


# --- ladder drivers (separate processes) -------------------------------------------------------

def _ladder(index: Decimal, tick: Decimal, qty: str, step: int, name: str,
            levels: int) -> list[dict[str, Any]]:
    """`levels` bids and asks 30 bps and more away from the index (outside the synthetic
    makers, so rarely filled), shifted by `step` % 5 ticks, so that replacing a
    ladder with the next step changes the book."""
    shift = (step % 5) * tick
    quotes = []
    for i in range(levels):
        off = index * Decimal(30 + 3 * i) / 10_000
        bid = (index - off).quantize(tick, ROUND_HALF_EVEN) - shift
        ask = (index + off).quantize(tick, ROUND_HALF_EVEN) + shift
        quotes.append({"side": "buy", "price": str(bid), "quantity": qty,
                       "clientOrderId": f"{name}-b{i}", "postOnly": True})
        quotes.append({"side": "sell", "price": str(ask), "quantity": qty,
                       "clientOrderId": f"{name}-a{i}", "postOnly": True})
    return quotes


def drive(url: str, name: str, accounts: int, levels: int, nice: int, ready: Any,
          stop: Any, out: Any) -> None:
    """Replace a ladder with `quotes/bulk` + cancelAll as fast as one sync client can,
    cycling the venue's markets and `accounts` accounts of its own (the venue limits
    the order path per account), at `nice` (a load generator should not take the CPU
    the desk needs). Puts (name, replaces, non-200 answers) on `out`."""
    if nice:
        os.nice(nice)
    with httpx.Client(base_url=url, timeout=10) as http:
        keys = [{"x-api-key": _new_key(http, f"{name}-{i}", "bench-driver", "trade")}
                for i in range(accounts)]
        markets = http.get("/perps/markets").json()
        rules = {m["marketId"]: (Decimal(m["tickSize"]), m["minQuantity"]) for m in markets}
        ids = list(rules)
        index = {m["marketId"]: Decimal(m["indexPrice"]) for m in markets}
        ready.set()
        n = errors = 0
        moves: dict[tuple[int, str], int] = {}
        refresh = time.monotonic() + 2
        while not stop.is_set():
            if time.monotonic() >= refresh:
                refresh = time.monotonic() + 2
                r = http.get("/perps/markets")
                if r.status_code == 200:
                    index = {m["marketId"]: Decimal(m["indexPrice"]) for m in r.json()}
            market = ids[n % len(ids)]
            tick, qty = rules[market]
            # this account's ladder on this market moves a tick from where it was
            # (a shift by the global count could land on the very same prices)
            k = n % len(keys)
            moves[k, market] = step = moves.get((k, market), -1) + 1
            body = {"marketId": market, "quoteId": f"{name}-{n}", "cancelAll": True,
                    "quotes": _ladder(index[market], tick, qty, step, f"{name}.{n}", levels)}
            try:
                r = http.post("/perps/quotes/bulk", headers=keys[k], json=body)
                errors += r.status_code != 200
            except httpx.HTTPError:
                errors += 1
            n += 1
        with contextlib.suppress(httpx.HTTPError):
            for headers in keys:
                http.post("/perps/orders/cancel-all", headers=headers, json={})
        out.put((name, n, errors))


# --- /proc readings ----------------------------------------------------------------------------

def rss_kib(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def runqueue_wait_s(tid: int, pid: int | str = "self") -> float:
    """How long thread `tid` of `pid` has waited for a CPU while runnable (schedstat),
    in seconds; 0 if it is gone or the kernel does not keep schedstats."""
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0
