"""The engine on its own event loop in a worker thread, for the screen.

A slow frame cannot delay a quote: the strategies, streams and dead-man switch run
on the host's loop, and the screen only (a) reads the latest `DeskView`, which the
host rebuilds `view_hz` times a second, and (b) submits actions to the engine's loop.
The panic key does not go through the engine at all, nor through the screen's loop:
the kill switch runs on a thread and loop of its own (`SwitchThread`), fired from the
thread that reads the key; then the engine is told to stand down.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from desk.control import (
    ControlError,
    FlattenReport,
    KeyRow,
    NewKey,
    PanicReport,
    QuickBacktest,
    key_role,
    revoke_refusal,
)
from desk.domain.errors import (
    AuthError,
    ForbiddenError,
    RateLimitedError,
    VenueCallError,
    VenueReject,
)
from desk.domain.records import Market, QuoteLevel, Side
from desk.engine.errors import StrategyError
from desk.engine.events import EventType
from desk.engine.expiry import parse_expiry
from desk.engine.manager import StrategyManager
from desk.engine.view import DeskView, Monitor
from desk.launch import Desk, LaunchError, key_label, open_desk
from desk.ocx.ids import new_client_order_id
from desk.ocx.rest import OcxClient
from desk.settings import DeskSettings
from desk.store.keys import KeyStoreError
from desk.switch_thread import SwitchThread

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from desk.venue.config import MarketConfig

T = TypeVar("T")
FIRED_FRESH_S = 2.0  # a key's cancel-all older than this is not the next panic's
TRIM_EVERY_S = 60.0


def _malloc_trim() -> Callable[[], object] | None:
    """glibc's `malloc_trim(0)`, or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return lambda: trim(0)


def _trim_memory(stop: threading.Event, every_s: float = TRIM_EVERY_S) -> None:
    """Hand freed heap back to the system now and then. A busy desk frees much of what
    it allocates (parsed stream messages, frames), but glibc keeps the freed pages of a
    fragmented heap: measured, RSS then climbs ~3 MiB a minute under a heavy book
    stream although the live Python memory stays flat. The call runs without the GIL."""
    trim = _malloc_trim()
    if trim is None:
        return
    while not stop.wait(every_s):
        trim()


class EngineHost:
    def __init__(self, settings: DeskSettings, *, venue_url: str | None = None,
                 config_path: Path | None = None, seed: int | None = None,
                 view_hz: float = 10.0, engine_stall_s: float = 3.0):
        self.settings = settings
        self.venue_url = venue_url
        self.config_path = config_path
        self.seed = seed
        self.view_hz = view_hz
        self.engine_stall_s = engine_stall_s   # the panic stops waiting on the engine
        self.desk: Desk | None = None
        self.label = ""
        self._view: DeskView | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._closed = threading.Event()
        self._trimmer: threading.Thread | None = None
        self._switch: SwitchThread | None = None   # the kill switch's own thread
        self._fired: tuple[float, concurrent.futures.Future[PanicReport]] | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Start the thread and wait until the desk is open (venue, streams, engine)."""
        self._thread = threading.Thread(target=self._main, name="desk-engine", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise LaunchError(f"the engine did not start within {timeout:.0f} s")
        if self._error is not None:
            raise self._error
        if self._closed.is_set():
            raise LaunchError("the engine stopped while starting (see the log above)")
        self._trimmer = threading.Thread(target=_trim_memory, args=(self._closed,),
                                         name="desk-malloc-trim", daemon=True)
        self._trimmer.start()

    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        except Exception:
            log.exception("the engine thread failed")
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._closed.set()
            self._ready.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            desk = self.desk = await open_desk(
                self.settings, venue_url=self.venue_url, config_path=self.config_path,
                seed=self.seed)
        except BaseException as exc:  # reported to start()'s caller
            self._error = exc
            self._ready.set()
            return
        self.label = ("embedded venue " if desk.embedded else "venue ") + \
            desk.url.removeprefix("http://").removeprefix("https://")
        monitor = Monitor(desk.manager, self.label)
        self._view = monitor.snapshot()
        self._ready.set()
        period = 1.0 / self.view_hz
        try:
            while not self._stop.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), period)
                try:
                    self._view = monitor.snapshot()
                except Exception:  # a frame's data must never stop the engine
                    log.exception("building the desk view failed")
        finally:
            await desk.close("exit")

    def stop(self, timeout: float = 20.0) -> None:
        """Pull every quote, stop the engine and the embedded venue, end the thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not self._closed.is_set():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._switch is not None:
            self._switch.stop()

    # --- what the screen uses (desk.control.Backend) --------------------------------------

    def view(self) -> DeskView | None:
        return self._view

    def submit(self, action: Callable[[StrategyManager], Awaitable[T]]
               ) -> concurrent.futures.Future[T]:
        desk, loop = self._require()

        async def run() -> T:
            return await action(desk.manager)

        return asyncio.run_coroutine_threadsafe(run(), loop)

    async def control(self, action: Callable[[StrategyManager], Awaitable[T]]) -> T:
        return await asyncio.wrap_future(self.submit(action))

    def kill_switch(self) -> SwitchThread:
        """The kill switch on its own thread and loop (started on first use)."""
        desk, _ = self._require()
        if self._switch is None:
            self._switch = SwitchThread(desk.kill_switch)
        self._switch.start()
        return self._switch

    def fire(self) -> None:
        """The panic key's first cancel-all, now, from any thread (the screen calls this
        from the thread that reads the terminal, before the key reaches its loop). The
        `panic()` that the key's action runs next takes it as its first cancel-all."""
        self._fired = (time.monotonic(), self.kill_switch().fire())

    async def panic(self) -> PanicReport:
        """Cancel-all through the kill switch (on its own thread: the one `fire()` just
        started, or a new one), then stand the engine down (waiting at most
        `engine_stall_s` for it), then read back and pull again."""
        self._require()
        switch = self.kill_switch()
        fired, self._fired = self._fired, None
        if fired is not None and time.monotonic() - fired[0] < FIRED_FRESH_S:
            first = await asyncio.wrap_future(fired[1])
        else:
            first = await asyncio.wrap_future(switch.fire())
        count = first.cancelled
        engine = asyncio.wrap_future(self.submit(lambda m: m.panic(kill_switch=count)))
        engine.add_done_callback(_consume)
        try:  # shielded: giving up waiting must not cancel the engine's stand-down
            await asyncio.wait_for(asyncio.shield(engine), self.engine_stall_s)
        except (TimeoutError, Exception) as exc:  # noqa: BLE001 - reported, not raised
            log.error("the engine did not confirm the panic: %r", exc)
        second = await asyncio.wrap_future(switch.fire())
        if second.cancelled:  # a cycle in flight landed after the first: journal it too
            more = second.cancelled
            with contextlib.suppress(ControlError, RuntimeError):
                self.submit(lambda m: _journal_read_back(m, more))
        return PanicReport(first.cancelled + second.cancelled, second.resting_after,
                           first.attempts + second.attempts,
                           first.elapsed_ms + second.elapsed_ms, second.error or first.error)

    async def warm(self) -> None:
        """Start the kill switch's thread, which opens its connection and keeps it open."""
        await asyncio.to_thread(self.kill_switch)

    async def close_kill_switch(self) -> None:
        switch, self._switch = self._switch, None
        if switch is not None:
            await asyncio.to_thread(switch.stop)

    async def rearm(self) -> list[str]:
        return await self.control(lambda m: m.rearm())

    # --- API keys (run on the engine's loop: the venue client lives there) -----------------

    def _admin(self) -> OcxClient:
        desk, _ = self._require()
        if desk.session is None:
            raise ControlError(f"managing keys on {desk.url} needs a session token: set "
                               "DESK_SESSION and restart desk")
        client = OcxClient(desk.url, session=desk.session, config=self.settings.client)
        return client

    @staticmethod
    def _role(desk: Desk, key_id: str, in_use: bool) -> str:
        """What desk uses this key for: the engine's (in use), the kill switch's and the
        watchdog's own keys."""
        return key_role(in_use, key_id == desk.kill_key_id,
                        key_id == desk.watchdog_key_id)

    async def keys(self) -> list[KeyRow]:
        desk, _ = self._require()

        async def run(_: StrategyManager) -> list[KeyRow]:
            async with self._admin() as client:
                remote = await client.api_keys()
            local = {k.id: k for k in desk.keys.list(desk.url)}
            rows = []
            for k in remote:
                in_use = bool(local.get(k.id) and local[k.id].in_use)
                rows.append(KeyRow(k.id, k.name, k.scope, tuple(k.allowed_ips),
                                   k.expires_at, k.status, k.last_used_at, k.id in local,
                                   in_use, self._role(desk, k.id, in_use)))
            return rows

        return await self._keys_call(run)

    async def create_key(self, name: str, scope: str, allowed_ips: list[str],
                         expires_in_days: int | None) -> NewKey:
        desk, _ = self._require()

        async def run(_: StrategyManager) -> NewKey:
            async with self._admin() as client:
                created = await client.create_api_key(name, scope, allowed_ips,
                                                      expires_in_days)
                row = next(k for k in await client.api_keys() if k.id == created.id)
            desk.keys.add(desk.url, created.id, name, scope, created.secret,
                          expires_at=row.expires_at)
            return NewKey(KeyRow(row.id, row.name, row.scope, tuple(row.allowed_ips),
                                 row.expires_at, row.status, row.last_used_at, True, False),
                          created.secret)

        return await self._keys_call(run)

    async def revoke_key(self, key_id: str) -> None:
        desk, _ = self._require()

        async def run(_: StrategyManager) -> None:
            current = desk.keys.in_use(desk.url)
            in_use = current is not None and current.id == key_id
            refusal = revoke_refusal(KeyRow(key_id, "", "", (), None, "active", None, False,
                                            in_use, self._role(desk, key_id, in_use)))
            if refusal is not None:
                raise ControlError(refusal)
            async with self._admin() as client:
                await client.revoke_api_key(key_id)
            with contextlib.suppress(KeyStoreError):
                desk.keys.remove(key_id)

        await self._keys_call(run)

    async def use_key(self, key_id: str) -> None:
        desk, _ = self._require()

        async def run(_: StrategyManager) -> None:
            key = next((k for k in desk.keys.list(desk.url) if k.id == key_id), None)
            if key is None:
                raise ControlError(f"{key_id}: desk does not hold its secret (only keys "
                                   "created here or with `desk keys create` can trade)")
            if key.scope != "trade":  # refused before any call to the venue
                raise ControlError(f"{key_id} is a {key.scope} key: the engine needs a "
                                   "trade key")
            current = desk.keys.in_use(desk.url)
            if current is not None and current.id == key_id:
                return
            secret = desk.keys.secret(key_id)
            await _try_key(desk.url, self.settings, f"{key.name} ({key_id})", secret)
            desk.keys.use(desk.url, key_id)
            desk.venue.use_key(secret)
            # the old key's refusal no longer holds; the new one's expiry is watched
            desk.manager.guard.key_replaced(key_label(key, "the engine's key"),
                                            parse_expiry(key.expires_at))
            del secret

        await self._keys_call(run)

    async def flatten_all(self) -> FlattenReport:
        try:
            return await self.control(_flatten_everything)
        except VenueCallError as exc:
            raise ControlError(f"the venue: {exc}") from None

    async def backtest(self, params: dict[str, Any]) -> QuickBacktest:
        desk, _ = self._require()
        market_id = str(params.get("market_id", ""))
        market = None
        if desk.embedded is None or all(m.market_id != market_id
                                        for m in self.settings.venue.markets):
            market = await self.control(lambda m: _live_market(m, market_id))
        from desk import quick_backtest  # the backtest package: loaded when first used

        config = quick_backtest.build(params, self.settings.venue, self.settings.engine,
                                      market)
        return await quick_backtest.run(config)

    async def _keys_call(self, run: Callable[[StrategyManager], Awaitable[T]]) -> T:
        try:
            return await self.control(run)
        except VenueReject as exc:
            raise ControlError(f"the venue refused: {exc.code}: {exc.message}") from None
        except VenueCallError as exc:
            raise ControlError(f"cannot reach the venue: {exc}") from None
        except KeyStoreError as exc:
            raise ControlError(str(exc)) from None

    def _require(self) -> tuple[Desk, asyncio.AbstractEventLoop]:
        if self.desk is None or self._loop is None or self._closed.is_set():
            raise ControlError("the engine is not running")
        return self.desk, self._loop


async def _live_market(manager: StrategyManager, market_id: str) -> MarketConfig | None:
    """A simulated market shaped like a live one the settings do not describe."""
    from desk import quick_backtest

    rules = manager.ctx.rules.get(market_id)
    if rules is None:
        return None
    try:
        price = manager.venue.reference(market_id).price() or \
            manager.venue.book(market_id).mid()
    except KeyError:
        price = None
    if price is None:
        return None
    return quick_backtest.market_like(market_id, rules.tick, rules.step, rules.min_quantity,
                                      price)


async def _try_key(url: str, settings: DeskSettings, who: str, secret: str) -> None:
    """Before the engine trades with a key: a read and a zero-risk preview (a tiny bid
    far from the market, which places nothing) with it, on a client of its own. A key
    the venue refuses (revoked, expired, fenced by allowedIps, wrong scope) is a
    `ControlError` naming it and the venue's reason; the engine keeps its key."""
    keeps = "the engine keeps its current key"
    async with OcxClient(url, api_key=secret, config=settings.client) as client:
        try:
            await client.orders()
            markets = [m for m in await client.markets() if m.trading]
        except VenueReject as exc:
            raise ControlError(f"{who} was refused by the venue: {exc.code}: {exc.message}; "
                               f"{keeps}") from None
        except VenueCallError as exc:
            raise ControlError(f"could not test {who} at the venue ({exc}); {keeps}") from None
        if not markets:
            return
        try:
            await client.preview_quotes(markets[0].market_id, [_probe(markets[0])],
                                        cancel_all=False)
        except (AuthError, ForbiddenError, RateLimitedError) as exc:
            raise ControlError(f"{who} was refused by the venue: {exc.code}: {exc.message}; "
                               f"{keeps}") from None
        except VenueReject as exc:  # the key got through: the venue priced the probe out
            log.info("the probe preview with %s was refused as an order: %s", who, exc.code)
        except VenueCallError as exc:
            raise ControlError(f"could not test {who} at the venue ({exc}); {keeps}") from None


def _probe(market: Market) -> QuoteLevel:
    """One bid of the least size, 10 % under the mark (inside the band), on the tick."""
    price = max(market.mark_price * Decimal("0.9"), market.price_band_low, market.tick_size)
    price = (price / market.tick_size).to_integral_value(ROUND_CEILING) * market.tick_size
    size = max(market.min_quantity, market.step_size)
    return QuoteLevel(Side.BUY, price, size, new_client_order_id(), post_only=True)


async def _flatten_everything(m: StrategyManager) -> FlattenReport:
    """Stop every strategy (its quotes pulled, so nothing refills), then close each open
    position at market: through its strategy when one strategy holds it (its fills are
    booked to it), else directly. Then read the venue's positions back."""
    errors: list[str] = []
    for info in m.list():
        if info.state in ("running", "paused", "halted"):
            try:
                await m.stop(info.id)
            except (StrategyError, VenueCallError) as exc:
                errors.append(f"stopping {info.name}: {exc}")
    closed: list[tuple[str, Decimal]] = []
    for p in await m.venue.positions():
        if p.quantity == 0:
            continue
        owners = [i for i in m.list() if i.market_id == p.market_id and i.position != 0]
        try:
            if len(owners) == 1:
                await m.stop(owners[0].id, flatten_position=True)
            else:
                await m.venue.close_position(p.market_id)
            closed.append((p.market_id, p.quantity))
        except (StrategyError, VenueCallError) as exc:
            errors.append(f"closing {p.market_id}: {exc}")
    remaining = tuple((p.market_id, p.quantity) for p in await m.venue.positions()
                      if p.quantity != 0)
    return FlattenReport(tuple(closed), remaining, tuple(errors))


async def _journal_read_back(m: StrategyManager, count: int) -> None:
    """The kill switch's read-back pulled more after the stand-down: journal it."""
    m.bus.publish(EventType.QUOTE_CANCELLED, None, reason="emergency stop: read-back",
                  count=count, kill_switch=count)


def _consume(future: asyncio.Future) -> None:
    """A stand-down that finishes after the panic stopped waiting: log its failure."""
    if not future.cancelled() and future.exception() is not None:
        log.error("the engine's stand-down failed: %r", future.exception())
