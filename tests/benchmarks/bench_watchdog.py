"""The crash-proof kill switch: `desk run` killed (SIGKILL) or hung (SIGSTOP) while it
quotes; time until a read key sees zero open orders at the venue.

    python -m tests.benchmarks.bench_watchdog [--repeat 5] [--timeout-s 2]

A `desk venue` process on loopback, a trade key stored for `desk run --venue-url`, one
BTC strategy quoting; the venue's own makers give the book depth. Killed: the watchdog
sees its pipe close at once. Hung: it waits out `watchdog_timeout_s`.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from desk.store.keys import KeyStore
from tests.benchmarks.venue_process import venue_process

STRATEGY = """
watchdog_timeout_s = {timeout}
[[strategies]]
name = "BTC bench"
market_id = "BTC-PERP"
quote_size = "0.01"
min_quote_size = "0.001"
quote_refresh_seconds = 0.5
"""


def _keys(http: httpx.Client) -> tuple[str, str, str]:
    token = http.post("/auth/dev-session", json={"account": "dog"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    trade = http.post("/perps/me/api-keys", headers=auth,
                      json={"name": "engine", "scope": "trade"}).json()
    read = http.post("/perps/me/api-keys", headers=auth,
                     json={"name": "poll", "scope": "read"}).json()
    return trade["id"], trade["secret"], read["secret"]


def one(url: str, home: Path, sig: signal.Signals, timeout_s: float) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"), DESK_KEY_DIR=str(home / "keys"),
               PYTHONUNBUFFERED="1")
    config = home / "run.toml"
    config.write_text(STRATEGY.format(timeout=timeout_s))
    with httpx.Client(base_url=url, timeout=10) as http:
        key_id, secret, read = _keys(http)
        store = KeyStore(home / "keys")
        store.add(url, key_id, "engine", "trade", secret)
        store.use(url, key_id)
        proc = subprocess.Popen([sys.executable, "-m", "desk", "run", "--venue-url", url,
                                 "--config", str(config)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # until it quotes
                ready, _, _ = select.select([proc.stdout], [], [], 0.5)
                if ready and json.loads(proc.stdout.readline())["type"] == "quote_sent":
                    break
            time.sleep(0.5)

            def resting() -> int:
                return len(http.get("/perps/orders", headers={"X-API-Key": read}).json())

            assert resting() > 0
            began = time.perf_counter()
            proc.send_signal(sig)
            while resting() > 0:
                if time.perf_counter() - began > timeout_s + 10:
                    raise RuntimeError("the quotes were never pulled")
            return (time.perf_counter() - began) * 1000
        finally:
            if sig is signal.SIGSTOP:
                proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--timeout-s", type=float, default=2.0)
    args = parser.parse_args()
    with venue_process() as url:
        for sig in (signal.SIGKILL, signal.SIGSTOP):
            times = []
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory(prefix="bench-dog-") as tmp:
                    times.append(one(url, Path(tmp), sig, args.timeout_s))
            print(f"{sig.name}: signal → zero open orders at the venue: median "
                  f"{statistics.median(times):.0f} ms, max {max(times):.0f} ms "
                  f"(watchdog_timeout_s {args.timeout_s:g}, n={args.repeat}): "
                  + ", ".join(f"{t:.0f}" for t in times))


if __name__ == "__main__":
    main()
