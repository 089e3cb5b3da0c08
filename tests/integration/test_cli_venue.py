"""`desk venue` as a real subprocess: the ready line, serving, clean exits, refusals."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"venue listening on (http://127\.0\.0\.1:(\d+))")
BASE_CMD = [sys.executable, "-m", "desk", "venue"]


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """No user settings file and no DESK_* overrides leak into the subprocess."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    out["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    out["HOME"] = str(tmp_path)
    out["PYTHONUNBUFFERED"] = "1"
    return out


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no output within {timeout} s"
    return proc.stdout.readline()


@contextmanager
def running(env: dict[str, str], *extra: str) -> Iterator[tuple[subprocess.Popen, str]]:
    cmd = [*BASE_CMD, "--port", "0", "--heartbeat-s", "1", *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = _readline(proc, 15)
        m = READY.fullmatch(line.rstrip("\n"))
        assert m, f"unexpected first line {line!r}"
        yield proc, m.group(1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def _stop(proc: subprocess.Popen, sig: int, timeout: float = 5.0) -> tuple[int, float, str, str]:
    start = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, time.monotonic() - start, out, err


def test_prints_one_ready_line_serves_and_exits_0_on_sigterm(env):
    with running(env) as (proc, url):
        r = httpx.get(f"{url}/perps/markets", timeout=5)
        assert r.status_code == 200
        assert {m["marketId"] for m in r.json()} == {"BTC-PERP", "ETH-PERP", "SOL-PERP"}
        code, elapsed, out, err = _stop(proc, signal.SIGTERM)
    assert out == "", "only the ready line goes to stdout"
    assert "Traceback" not in err, err
    assert elapsed < 5
    assert code == 0, f"exit status {code} after SIGTERM"


def test_sigterm_with_an_open_sse_stream(env):
    with running(env) as (proc, url), httpx.Client(base_url=url, timeout=5) as c, \
            c.stream("GET", "/perps/book-stream", params={"marketId": "BTC-PERP"}) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        assert next(lines).startswith(("id:", "event:"))  # the snapshot is on its way
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        # the server ends the stream cleanly (last chunk sent) instead of waiting for the
        # client or cutting the connection
        for _ in lines:
            assert time.monotonic() - start < 5, "the stream was not ended"
        proc.wait(5)
        elapsed = time.monotonic() - start
        assert elapsed < 5
        err = proc.stderr.read()
        assert "Traceback" not in err, err
        assert "without completing response" not in err, err
        assert proc.returncode == 0, f"exit status {proc.returncode} after SIGTERM"


def test_exits_0_on_sigint(env):
    with running(env) as (proc, url):
        assert httpx.get(f"{url}/perps/fees", timeout=5).status_code == 200
        code, elapsed, out, err = _stop(proc, signal.SIGINT)
    assert code == 0 and elapsed < 5
    assert out == "" and "Traceback" not in err, err


def test_remote_host_needs_allow_remote(env):
    proc = subprocess.run([*BASE_CMD, "--host", "0.0.0.0", "--port", "0"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode != 0
    assert "listening" not in proc.stdout
    assert "0.0.0.0" in proc.stderr and "--allow-remote" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["--port", "abc"], "'abc' is not a port number"),
    (["--port", "70000"], "0-65535"),
    (["--port", "-1"], "--port"),
    (["--heartbeat-s", "0"], "must be greater than 0"),
])
def test_bad_arguments_are_argparse_errors(env, args, needle):
    proc = subprocess.run([*BASE_CMD, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=20)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "usage:" in proc.stderr and needle in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_busy_port_is_a_clear_error(env):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([*BASE_CMD, "--port", str(port)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=20)
    assert proc.returncode == 1
    assert "listening" not in proc.stdout
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_settings_file_and_environment_reach_the_venue(env, tmp_path):
    config = tmp_path / "desk.toml"
    config.write_text("[venue]\nrate_limit_per_minute = 77\n")
    env = {**env, "DESK_VENUE__HEARTBEAT_S": "0.2"}
    cmd = [*BASE_CMD[:3], "--config", str(config), "venue", "--port", "0", "--no-sim"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = READY.fullmatch(_readline(proc, 15).rstrip("\n")).group(1)
        with httpx.Client(base_url=url, timeout=5) as c:
            token = c.post("/auth/dev-session", json={"account": "desk"}).json()["token"]
            r = c.post("/perps/me/api-keys", headers={"Authorization": f"Bearer {token}"},
                       json={"name": "k", "scope": "trade"})
            key = r.json()["secret"]
            r = c.post("/perps/orders/cancel-all", headers={"x-api-key": key})
            assert r.headers["x-ratelimit-limit"] == "77"
            with c.stream("GET", "/perps/book-stream", params={"marketId": "BTC-PERP"}) as s:
                lines = s.iter_lines()
                start = time.monotonic()
                while next(lines) != ":heartbeat":
                    pass
                assert time.monotonic() - start < 2
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_a_bad_settings_file_is_a_clear_error(env, tmp_path):
    config = tmp_path / "desk.toml"
    config.write_text("[venue]\nheartbeat_s = -1\n")
    proc = subprocess.run([*BASE_CMD[:3], "--config", str(config), "venue", "--port", "0"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=20)
    assert proc.returncode == 2
    assert "venue.heartbeat_s" in proc.stderr and "Traceback" not in proc.stderr
