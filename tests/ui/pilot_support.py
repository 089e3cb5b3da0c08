"""Helpers for the desk's Pilot tests: a real `EngineHost` (embedded venue child process on
127.0.0.1), an independent read of the venue, polling, and screen text.

Care with secrets: the reader's key secret stays in a private attribute, never in a
repr, an assertion or a message; responses are asserted on after assignment.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import re
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input
from textual.widgets._toast import Toast

from desk.host import EngineHost
from desk.settings import DeskSettings, load_settings

DEFAULT_NAMES = ("BTC MM", "ETH MM", "SOL MM")
SIZE = (160, 50)


# --- building the real thing --------------------------------------------------------------

def desk_settings(tmp: Path) -> DeskSettings:
    return load_settings(None).model_copy(update={
        "journal_path": tmp / "j.sqlite", "strategies_path": tmp / "s.toml"})


def start_host(settings: DeskSettings, seed: int = 3) -> EngineHost:
    host = EngineHost(settings, seed=seed)
    host.start()
    return host


# --- waiting --------------------------------------------------------------------------------

async def eventually(predicate: Callable[[], Any], timeout: float = 10.0,
                     interval: float = 0.1, pilot: Pilot | None = None,
                     what: str = "condition") -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy; that value.
    Between polls the app gets `pilot.pause(interval)` (plain sleep without a pilot)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        if pilot is not None:
            await pilot.pause(interval)
        else:
            await asyncio.sleep(interval)


async def holds(predicate: Callable[[], Any], seconds: float, pilot: Pilot | None = None,
                interval: float = 0.1, what: str = "condition") -> None:
    """`predicate` stays truthy for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        assert value, f"{what} stopped holding"
        if pilot is not None:
            await pilot.pause(interval)
        else:
            await asyncio.sleep(interval)


# --- the screen -----------------------------------------------------------------------------

def screen_text(app: Any) -> str:
    """The visible screen as plain text (from the SVG export: tags stripped)."""
    svg = app.export_screenshot()
    svg = svg[svg.find("</style>"):]
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def toasts(app: Any) -> list[str]:
    """The notifications on screen now (their text, on one line each)."""
    return [one_line(str(t.render())) for t in app.screen.query(Toast)]


def one_line(text: str) -> str:
    """Whitespace (and line breaks of wrapped text) collapsed to single spaces."""
    return " ".join(text.split())


def raw_screenshot(app: Any) -> str:
    return app.export_screenshot()


async def type_into(pilot: Pilot, widget: Input, text: str, paste: bool = False) -> None:
    """Focus an input, select all its text (ctrl+shift+a), and replace it with `text`:
    typed key by key, or as one terminal paste (one Changed event: the editor
    re-validates its whole form on each, which costs a few hundred ms)."""
    widget.focus()
    await pilot.pause()
    await pilot.press("ctrl+shift+a")
    if not text:
        await pilot.press("backspace")
    elif paste:
        pilot.app.post_message(events.Paste(text))
    else:
        await pilot.press(*text)
    await pilot.pause()
    assert widget.value == text, f"the input holds {widget.value!r}, not {text!r}"


async def select_strategy(pilot: Pilot, app: Any, sid: str) -> None:
    """Move the main screen's selection with the down key until `sid` is selected."""
    for _ in range(20):
        if app.main.selected == sid:
            return
        await pilot.press("down")
    raise AssertionError(f"could not select strategy {sid}")


async def press_for_choice(pilot: Pilot, app: Any, key: str, what: str) -> None:
    """Press `key` and wait for the question it asks (a `Choice` dialog)."""
    from desk.ui.screens.modals import Choice

    await pilot.press(key)
    await eventually(lambda: isinstance(app.screen, Choice), 3, pilot=pilot, what=what)


# --- the engine -----------------------------------------------------------------------------

def by_name(host: EngineHost, name: str) -> Any:
    view = host.view()
    assert view is not None
    return next(s for s in view.strategies if s.name == name)


async def ensure_defaults_running(host: EngineHost, reader: VenueReader,
                                  timeout: float = 15.0) -> None:
    """Undo what an earlier test left: re-arm, start the default strategies, and wait
    until each rests orders on its market at the venue."""
    await host.control(lambda m: m.rearm() if m.panicked is not None else _noop())
    view = host.view()
    assert view is not None
    for s in view.strategies:
        if s.name in DEFAULT_NAMES and s.state != "running":
            sid = s.id
            await host.control(lambda m, sid=sid: m.start(sid))
    markets = [by_name(host, n).market_id for n in DEFAULT_NAMES]

    def all_quoting() -> bool:
        v = host.view()
        if v is None or v.panicked:
            return False
        if any(by_name(host, n).state != "running" for n in DEFAULT_NAMES):
            return False
        counts = reader.open_counts()
        return all(counts.get(m, 0) > 0 for m in markets)

    await eventually(all_quoting, timeout, interval=0.1,
                     what="every default strategy running and resting orders")


async def _noop() -> None:
    return None


# --- an independent read of the venue -------------------------------------------------------

class VenueReader:
    """A read-scoped key made through the embedded venue's dev session, used with a plain
    httpx client: what the venue holds, not what the engine believes."""

    def __init__(self, url: str, account: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)
        r = self.http.post("/auth/dev-session", json={"account": account})
        assert r.status_code == 200, f"dev-session: {r.status_code}"
        self._session = r.json()["token"]
        r = self.http.post("/perps/me/api-keys", headers=self._session_headers(),
                           json={"name": "pilot-reader", "scope": "read"})
        assert r.status_code in (200, 201), f"creating the reader key: {r.status_code}"
        body = r.json()
        self.key_id: str = body["id"]
        self._secret: str = body["secret"]
        del body

    def __repr__(self) -> str:
        return f"VenueReader({self.url!r}, key {self.key_id})"

    def _session_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._session}"}

    def _key_headers(self) -> dict[str, str]:
        return {"x-api-key": self._secret}

    def orders(self, market_id: str | None = None) -> list[dict[str, Any]]:
        params = {"marketId": market_id} if market_id else None
        r = self.http.get("/perps/orders", params=params, headers=self._key_headers())
        assert r.status_code == 200, f"GET /perps/orders: {r.status_code}"
        return r.json()

    def open_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for o in self.orders():
            counts[o["marketId"]] = counts.get(o["marketId"], 0) + 1
        return counts

    def positions(self) -> dict[str, Decimal]:
        r = self.http.get("/perps/positions", headers=self._key_headers())
        assert r.status_code == 200, f"GET /perps/positions: {r.status_code}"
        out = {}
        for p in r.json():
            q = Decimal(p["quantity"])
            out[p["marketId"]] = -abs(q) if p["side"] == "short" else q
        return out

    def keys(self) -> dict[str, dict[str, Any]]:
        r = self.http.get("/perps/me/api-keys", headers=self._session_headers())
        assert r.status_code == 200, f"GET /perps/me/api-keys: {r.status_code}"
        return {k["id"]: k for k in r.json()["keys"]}

    def status_with(self, secret: str) -> int:
        """The status of a read with another key (its secret is used, never shown)."""
        r = self.http.get("/perps/balances", headers={"x-api-key": secret})
        return r.status_code

    def close(self) -> None:
        self.http.close()


async def press_button(app, pilot, selector: str) -> None:  # noqa: ANN001
    """Press a button of the screen on top as a click would, but without aiming at its
    place on the screen: under load a click can land before a new modal is laid out,
    and miss."""
    from textual.widgets import Button

    await pilot.pause()
    app.screen.query_one(selector, Button).press()
