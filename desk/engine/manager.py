"""The control surface: the one API the TUI, `desk run` and the tests drive.

`StrategyManager(venue, ...)`, then `await open()` (markets, saved strategies,
orphaned orders cancelled, positions reloaded, dead-man switch armed), then
create / get / list / update / start / stop / pause / resume /
emergency_stop_all / cancel_all_quotes / get_metrics / get_quote_stats /
subscribe_events / events, and `await shutdown()` at the end (everything
pulled). Errors are the typed ones of `engine.errors`.

One running strategy per market: a bulk quote with `cancelAll` replaces every
resting order of the account on its market, so two strategies quoting one
market would cancel each other's ladders. Several may be configured per
market; starting a second one there is refused with the name of the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from desk.domain.errors import TransportError
from desk.domain.records import Fill, QuoteLevel
from desk.engine import sizing
from desk.engine.clock import SystemClock
from desk.engine.config import EngineConfig, StrategyConfig, describe, errors_by_field
from desk.engine.errors import (
    CircuitBreakerError,
    InsufficientMarginError,
    PositionLimitError,
    StrategyError,
    UnknownStrategyError,
)
from desk.engine.events import Event, EventBus, EventType, Severity, Subscription
from desk.engine.guard import Guard
from desk.engine.ids import Ids, owner
from desk.engine.metrics import Metrics, PnlBook, QuoteStats, restore_day
from desk.engine.ports import Clock, Journal, Puller, StrategyStore, Venue
from desk.engine.pricing import Ladder, Rules, build_ladder
from desk.engine.refusals import RefusalWatch
from desk.engine.strategy import RECENT_FILLS, Context, State, Strategy

log = logging.getLogger(__name__)
SEEN_FILLS = 20_000  # fill ids remembered against replays (the journal dedupes them too)


class StrategyConfigError(StrategyError):
    """Parameters that do not validate; `fields` maps each bad field to its message."""

    def __init__(self, message: str, fields: dict[str, str]):
        super().__init__(message)
        self.fields = fields


@dataclass(frozen=True, slots=True)
class StrategyInfo:
    """A strategy as the outside sees it, at one moment."""
    id: str
    config: StrategyConfig
    state: State
    reason: str | None
    breaker: str | None
    position: Decimal
    quote_id: str | None
    ladder: Ladder | None
    hedging: bool

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def market_id(self) -> str:
        return self.config.market_id


class StrategyManager:
    def __init__(self, venue: Venue, *, clock: Clock | None = None,
                 rng: random.Random | None = None, journal: Journal | None = None,
                 store: StrategyStore | None = None, engine: EngineConfig | None = None,
                 external_venue: Venue | None = None, pullers: Iterable[Puller] = (),
                 carry_over: bool = True):
        self.clock = clock or SystemClock()
        self.journal = journal
        # carry PnL books and today's PnL on from the journal (off for a venue born fresh
        # at each start, the embedded one: its account has none of the journal's fills)
        self.carry_over = carry_over
        self.store = store
        self.engine = engine or EngineConfig()
        self.bus = EventBus(lambda: int(self.clock.time() * 1000), journal)
        # the switch pulls through the venue itself; everyone else's order path is
        # watched, so a refused key trips the switch on its first refusal
        self.guard = Guard(venue, self.clock, self.bus, self.engine, self._watched,
                           self._drain, self._reconcile_inventory, pullers)
        self.guard.on_change.append(self._guard_changed)
        venue = self.venue = RefusalWatch(venue, self.guard.refuse)
        self.ctx = Context(venue, self.clock, self.bus, Ids(rng or random.Random()),
                           self.engine, {}, self.guard, external_venue)
        self.strategies: dict[str, Strategy] = {}
        self.base_equity = Decimal(100_000)
        self._housekeeper: asyncio.Task | None = None
        self._seen_fills: OrderedDict[str, str | None] = OrderedDict()  # fill id -> owner
        self._closing: dict[str, list[Fill]] = {}  # market -> unowned fills while it closes
        self.opened = False
        self.panicked: list[str] | None = None  # stopped by the panic, until re-armed

    # --- lifecycle ----------------------------------------------------------------------

    async def open(self) -> None:
        """Read the venue, load saved strategies, clean up after the last run, arm the
        dead-man switch. The venue must be started (streams snapshotted)."""
        markets = await self.venue.markets()
        self.ctx.rules.update({m.market_id: Rules(m.tick_size, m.step_size, m.min_quantity)
                               for m in markets})
        self.base_equity = (await self.venue.balances()).equity
        self.venue.on_fill(self._on_fill)
        for market_id in self.ctx.rules:
            with contextlib.suppress(KeyError):
                feed = self.venue.reference(market_id)
                feed.on_update(lambda m=market_id: self._on_price(m))
        if self.store is not None:
            for record in self.store.load():
                self._load(record)
        await self._reconcile_on_start()
        self.guard.start()
        self._housekeeper = asyncio.get_running_loop().create_task(self._housekeeping(),
                                                                   name="housekeeping")
        self.opened = True

    def _load(self, record: dict[str, Any]) -> None:
        record = dict(record)
        sid = str(record.pop("id", "") or self.ctx.ids.strategy())
        try:
            config = StrategyConfig.model_validate(record)
        except ValidationError as err:
            name = record.get("name", sid)
            raise StrategyConfigError(f"saved strategy {name!r}: {describe(err)}",
                                      errors_by_field(err)) from None
        self._add(sid, config)

    async def _reconcile_on_start(self) -> None:
        orders = await self.venue.open_orders()
        if orders:  # nothing runs yet, so nothing owns them
            cancelled = await self.venue.cancel_all()
            self.bus.publish(EventType.QUOTE_CANCELLED, None, Severity.WARNING,
                             reason="orphaned", count=len(cancelled),
                             order_ids=[o.order_id for o in orders][:50],
                             client_order_ids=[o.client_order_id for o in orders][:50])
        held = {p.market_id: p for p in await self.venue.positions() if not p.flat}
        rebuilt = self._rebuild_books(held)
        marks: dict[str, Decimal | None] = {}
        for position in held.values():
            marks[position.market_id] = position.mark_price
            holder = next((s for s in self.strategies.values()
                           if s.market_id == position.market_id), None)
            if holder is not None and position.market_id not in rebuilt:
                holder.pnl.seed(position.quantity, position.entry_price)
            self.bus.publish(EventType.POSITION_CHANGED, holder.id if holder else None,
                             market_id=position.market_id, old_position=Decimal(0),
                             new_position=position.quantity, reloaded=True)
        for s in self.strategies.values():
            self._restore_series(s, s.mark() or marks.get(s.market_id),
                                 s.market_id in rebuilt)

    def _rebuild_books(self, held: dict[str, Any]) -> set[str]:
        """Rebuild each market's strategies' PnL books from their journaled fills (realised
        PnL, fees, volume, trades, closes, average entry) and their recent fills. A
        market's books are kept only if their positions add up to what the venue holds
        there (else a fill is missing and the venue's entry price is used); its id then
        is in the returned set."""
        journal = self.journal
        if journal is None or not self.carry_over:
            return set()
        rebuilt = set()
        by_market: dict[str, list[Strategy]] = {}
        for s in self.strategies.values():
            by_market.setdefault(s.market_id, []).append(s)
        for market_id, group in by_market.items():
            books = {}
            for s in group:
                fills = journal.fills(strategy_id=s.id, market_id=market_id)
                s.recent_fills.extend(fills[-RECENT_FILLS:])
                book = books[s.id] = PnlBook()
                for fill in fills:
                    book.on_fill(fill)
            position = held[market_id].quantity if market_id in held else Decimal(0)
            if any(b.trades for b in books.values()) and \
                    sum((b.position for b in books.values()), Decimal(0)) == position:
                for s in group:
                    s.pnl = books[s.id]
                rebuilt.add(market_id)
        return rebuilt

    def _restore_series(self, s: Strategy, mark: Decimal | None, same_book: bool) -> None:
        """Open the strategy's PnL series at its total now, carrying on today's PnL and the
        last hour's from the journal's `pnl_update` records of today: a restart on the
        same UTC day resets neither today's PnL nor the daily and hourly breakers."""
        total = s.pnl.total(mark)
        now = self.clock.time()
        if self.journal is None or not self.carry_over:
            if total:
                s.series.open_at(total)
            return
        day_ms = int(now // 86400) * 86_400_000
        last = self.journal.events(strategy_id=s.id, types=["pnl_update"], since_ms=day_ms,
                                   limit=1)
        if not last:
            s.series.open_at(total)
        else:
            hour = self.journal.events(strategy_id=s.id, types=["pnl_update"],
                                       since_ms=max(day_ms, int((now - 3600) * 1000)))
            restored = restore_day(last[-1], hour, total=total, mark=mark,
                                   same_book=same_book)
            s.series.open_at(total, restored.today, restored.points, now)
        if s.pnl.position == 0 or s.mark() is not None:  # a record at a known mark only
            s.publish_pnl()  # today as it starts: the next restart's hourly loss starts here

    async def start_enabled(self) -> None:
        """Start every saved strategy with `enabled = true` (a refusal is an error event)."""
        for s in list(self.strategies.values()):
            if s.config.enabled and s.state in (State.CREATED, State.STOPPED):
                try:
                    await self.start(s.id)
                except StrategyError as exc:
                    self.bus.publish(EventType.ERROR, s.id, code="START_REFUSED",
                                     message=str(exc))

    async def shutdown(self, reason: str = "shutdown") -> None:
        """Pull every quote (unscoped cancel-all first), then stop every loop."""
        await self.guard.trip(reason, hold=True)
        await self._settle()
        for s in self.strategies.values():
            if s.state is State.RUNNING:
                s.state = State.STOPPED
                s.reason = reason
                s.quote_id = None
                self.bus.publish(EventType.STOPPED, s.id, reason=reason)
            if s.hedge:
                s.hedge.cancel()
            await s.join()
        await self.guard.stop()
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
            self._housekeeper = None

    async def _settle(self, timeout_s: float = 2.0) -> None:
        """After a confirmed cancel-all, wait (up to `timeout_s`) for the fill stream to
        show every order closed: it reports in order, so every fill from before the
        cancel has then been booked and journaled, and an exit loses none."""
        if not self.guard.pulled:
            return
        deadline = self.clock.monotonic() + timeout_s
        while self.clock.monotonic() < deadline:
            account = self.venue.account()
            if not account.trusted or not account.orders:
                return  # caught up (or down: a fresh snapshot would not replay fills)
            await self.clock.sleep(0.02)
        log.warning("exit: the fill stream still shows open orders after %.1f s; fills "
                    "from the last moments may be missing from the journal", timeout_s)

    # --- create / read / update -----------------------------------------------------------

    def _strategy(self, strategy_id: str) -> Strategy:
        try:
            return self.strategies[strategy_id]
        except KeyError:
            raise UnknownStrategyError(f"no strategy with id {strategy_id!r}") from None

    def _validate(self, data: dict[str, Any], sid: str | None) -> StrategyConfig:
        try:
            config = StrategyConfig.model_validate(data)
        except ValidationError as err:
            raise StrategyConfigError(describe(err), errors_by_field(err)) from None
        problems: dict[str, str] = {}
        if any(s.config.name == config.name for s in self.strategies.values() if s.id != sid):
            problems["name"] = f"a strategy named {config.name!r} exists already"
        if self.ctx.rules and config.market_id not in self.ctx.rules:
            problems["market_id"] = (f"{config.market_id!r} is not a market of this venue "
                                     f"({', '.join(sorted(self.ctx.rules))})")
        if config.hedge_venue != "internal" and self.ctx.external is None:
            problems["hedge_venue"] = (f"{config.hedge_venue!r} needs a second venue "
                                       "connection and none is configured; use 'internal'")
        if problems:
            raise StrategyConfigError("; ".join(f"{k}: {v}" for k, v in problems.items()),
                                      problems)
        return config

    def _add(self, sid: str, config: StrategyConfig) -> Strategy:
        s = Strategy(sid, config, self.ctx, self.base_equity)
        self.strategies[sid] = s
        return s

    def _persist(self, configs: dict[str, StrategyConfig]) -> None:
        """Save the strategies' configs as they are about to become. Saved first, applied
        after: a store that fails leaves memory and file as they were."""
        if self.store is None:
            return
        try:
            self.store.save([{"id": sid, **c.to_toml_dict()} for sid, c in configs.items()])
        except Exception as err:  # the store's own error type lives outside the engine
            raise StrategyError(f"not saved, so not applied: {err}") from err

    def _configs(self) -> dict[str, StrategyConfig]:
        return {sid: s.config for sid, s in self.strategies.items()}

    def _exposure(self, config: StrategyConfig, sid: str | None) -> sizing.Verdict | None:
        """The money `config` puts at stake (desk/engine/sizing.py): refused past the
        engine's max_leverage, naming the field; the verdict carries the warnings."""
        verdict = sizing.assess(config, self.venue, self.base_equity, self.engine,
                                [o.config for o in self.strategies.values()
                                 if o.id != sid and o.state is State.RUNNING])
        if verdict is not None and verdict.refusal is not None:
            name, message = verdict.refusal
            raise StrategyConfigError(f"{name}: {message}", {name: message})
        return verdict

    def _warn_exposure(self, s: Strategy, verdict: sizing.Verdict | None) -> None:
        for message in verdict.warnings if verdict is not None else ():
            self.bus.publish(EventType.ERROR, s.id, Severity.WARNING, code="EXPOSURE",
                             message=message, **verdict.details)

    def suggested_sizes(self, market_id: str) -> dict[str, str] | None:
        """A new strategy's size fields on `market_id`, from its price and the account's
        equity (desk/engine/sizing.py); None for a market or price not known."""
        return sizing.for_market(self.venue, self.ctx.rules.get(market_id), market_id,
                                 self.base_equity)

    def create(self, **params: Any) -> StrategyInfo:
        config = self._validate(params, None)
        sid = self.ctx.ids.strategy()
        self._persist({**self._configs(), sid: config})
        return self.info(self._add(sid, config))

    def info(self, s: Strategy) -> StrategyInfo:
        return StrategyInfo(s.id, s.config, s.state, s.reason, s.breaker, s.position,
                            s.quote_id, s.ladder, bool(s.hedge and not s.hedge.done))

    def get(self, strategy_id: str) -> StrategyInfo:
        return self.info(self._strategy(strategy_id))

    def list(self, asset: str | None = None, status: State | str | None = None
             ) -> list[StrategyInfo]:
        out = []
        for s in self.strategies.values():
            if asset is not None and asset.upper() not in (s.config.asset, s.market_id):
                continue
            if status is not None and s.state != State(status):
                continue
            out.append(self.info(s))
        return out

    async def update(self, strategy_id: str, **changes: Any) -> StrategyInfo:
        """Validate and apply new parameters; a running strategy uses them on its next
        cycle. Nothing changes if any value is bad."""
        s = self._strategy(strategy_id)
        merged = {**s.config.model_dump(), **changes}
        if "asset" in changes and "market_id" not in changes:
            del merged["market_id"]  # the new asset names the market
        config = self._validate(merged, s.id)
        verdict = self._exposure(config, s.id)
        if config.market_id != s.market_id and s.state in (State.RUNNING, State.HALTED):
            raise StrategyConfigError("market_id: stop the strategy before moving it to "
                                      "another market", {"market_id": "stop it first"})
        self._persist({**self._configs(), s.id: config})
        before = s.config
        s.update(config)
        if s.state is State.RUNNING and sizing.exposure_changed(before, config):
            self._warn_exposure(s, verdict)
        return self.info(s)

    async def remove(self, strategy_id: str) -> None:
        s = self._strategy(strategy_id)
        if s.state not in (State.CREATED, State.STOPPED):
            raise StrategyError(f"strategy {s.config.name!r} is {s.state}: stop it first")
        self._persist({i: c for i, c in self._configs().items() if i != strategy_id})
        del self.strategies[strategy_id]

    # --- start / pause / resume / stop ---------------------------------------------------

    async def _check_can_run(self, s: Strategy) -> None:
        other = next((o for o in self.strategies.values() if o is not s
                      and o.market_id == s.market_id and o.state is State.RUNNING), None)
        if other is not None:
            raise StrategyError(f"{s.market_id} is quoted by {other.config.name!r}: a bulk "
                                "quote replaces every resting order on its market, so only "
                                "one strategy per market can run")
        if abs(s.net_position) > s.config.max_position:
            raise PositionLimitError(
                f"position {s.net_position} is beyond max_position {s.config.max_position}: "
                "flatten it or raise the limit first", s.net_position, s.config.max_position)
        if s.breaker is not None and (reason := s.check_breakers()) is not None:
            raise CircuitBreakerError(reason)
        if self.engine.preview:
            await self._preview(s)
        self._exposure(s.config, s.id)  # refused past max_leverage

    async def _preview(self, s: Strategy) -> None:
        fair = s.fair()
        if fair is None:
            return
        ladder = build_ladder(s.config, self.ctx.rules[s.market_id], s.situation(fair))
        quotes = [QuoteLevel(lv.side, lv.price, lv.quantity, self.ctx.ids.order(s.id),
                             post_only=s.config.post_only) for lv in ladder.levels]
        if not quotes:
            return
        preview = await self.venue.preview_quotes(s.market_id, quotes, True)
        if not preview.approved:
            raise InsufficientMarginError(
                f"the first ladder needs {preview.margin_required} of margin: "
                f"{preview.reason or 'not approved'}", preview.margin_required, None)

    async def start(self, strategy_id: str) -> StrategyInfo:
        s = self._strategy(strategy_id)
        if s.state is State.RUNNING:
            return self.info(s)
        resuming = s.state in (State.PAUSED, State.HALTED)
        if not s.can_go(State.RUNNING):
            raise StrategyError(f"strategy {s.config.name!r} is {s.state}: cannot start")
        await self._check_can_run(s)
        s.go(State.RUNNING)
        self.bus.publish(EventType.RESUMED if resuming else EventType.STARTED, s.id,
                         market_id=s.market_id)
        self._warn_exposure(s, self._exposure(s.config, s.id))
        return self.info(s)

    async def resume(self, strategy_id: str) -> StrategyInfo:
        s = self._strategy(strategy_id)
        if s.state not in (State.PAUSED, State.HALTED):
            raise StrategyError(f"strategy {s.config.name!r} is {s.state}: nothing to resume")
        return await self.start(strategy_id)

    async def _stand_down(self, s: Strategy, to: State, reason: str | None) -> list[str]:
        """Leave the running state and pull this strategy's quotes."""
        s.go(to, reason)
        if s.hedge:
            s.hedge.cancel()
        async with s.lock:  # a cycle in flight lands first, then is pulled
            await s.join()
            return await s.pull()

    async def pause(self, strategy_id: str) -> StrategyInfo:
        s = self._strategy(strategy_id)
        if s.state is State.PAUSED:
            return self.info(s)
        if not s.can_go(State.PAUSED):
            raise StrategyError(f"strategy {s.config.name!r} is {s.state}: cannot pause")
        await self._stand_down(s, State.PAUSED, "operator")
        self.bus.publish(EventType.PAUSED, s.id, reason="operator")
        return self.info(s)

    async def stop(self, strategy_id: str, flatten_position: bool = False) -> StrategyInfo:
        s = self._strategy(strategy_id)
        was_stopped = s.state is State.STOPPED
        if was_stopped and not (flatten_position and s.position != 0):
            return self.info(s)  # nothing to do, nothing to announce
        if not was_stopped:
            await self._stand_down(s, State.STOPPED, "operator")
        flattened = None
        if flatten_position and s.position != 0:
            flattened = await self._close_position(s)
        self.bus.publish(EventType.STOPPED, s.id, reason="operator", flattened=flattened)
        return self.info(s)

    async def emergency_stop_all(self, kill_switch: int = 0) -> list[str]:
        """Every strategy stops; unscoped cancel-all goes out before anything waits.
        `kill_switch`: how many orders the kill switch's own cancel-all pulled just
        before (the panic), counted in the event with the engine's."""
        running = [s for s in self.strategies.values()
                   if s.state in (State.RUNNING, State.HALTED, State.PAUSED)]
        for s in running:
            s.state = State.STOPPED
            s.reason = "emergency stop"
            if s.hedge:
                s.hedge.cancel()
        cancelled = await self.guard.cancel_everything()
        if await self._drain():
            cancelled += await self.guard.cancel_everything()
        for s in running:
            await s.join()
            s.quote_id = None
            self.bus.publish(EventType.STOPPED, s.id, Severity.WARNING, reason="emergency stop")
        self.bus.publish(EventType.QUOTE_CANCELLED, None, reason="emergency stop",
                         count=len(cancelled) + kill_switch, kill_switch=kill_switch,
                         engine=len(cancelled))
        return cancelled

    async def panic(self, reason: str = "panic", kill_switch: int = 0) -> list[str]:
        """The operator's kill switch, engine side (the switch's own client has already
        fired cancel-all): hold the dead-man switch down and stop every strategy. Down
        until `rearm()`."""
        if self.panicked is None:
            self.panicked = [s.id for s in self.strategies.values()
                             if s.state in (State.RUNNING, State.HALTED)]
        await self.guard.trip(reason, hold=True)
        return await self.emergency_stop_all(kill_switch)

    async def rearm(self) -> list[str]:
        """Leave the panic: the dead-man switch re-arms once feeds and account check out,
        and the strategies the panic stopped start again. Their ids."""
        restart, self.panicked = self.panicked or [], None
        self.guard.release()
        self.bus.publish(EventType.RESUMED, None, reason="re-armed by the operator",
                         strategies=restart)
        started = []
        for sid in restart:
            s = self.strategies.get(sid)
            if s is not None and s.state is State.STOPPED:
                try:
                    await self.start(sid)
                    started.append(sid)
                except StrategyError as exc:
                    self.bus.publish(EventType.ERROR, sid, code="START_REFUSED",
                                     message=str(exc))
        return started

    async def flatten(self, strategy_id: str) -> StrategyInfo:
        """Pause the strategy (its quotes pulled) and close its position at market."""
        s = self._strategy(strategy_id)
        if s.state is State.RUNNING:
            await self.pause(strategy_id)
        if s.position == 0:
            raise StrategyError(f"strategy {s.config.name!r} is flat: nothing to flatten")
        await self._close_position(s)  # its fills are the position_changed events
        return self.info(s)

    async def _close_position(self, s: Strategy) -> str:
        """Close the strategy's market position at market; the quantity closed. The close
        carries no id of ours, so its fills are booked here, as the strategy's flatten;
        the fill stream's copies of them (which may come first) are held back meanwhile
        instead of being reported as fills of no desk order."""
        market_id = s.market_id
        self._closing[market_id] = []
        try:
            result = await self.venue.close_position(market_id)
        except BaseException:
            for fill in self._closing.pop(market_id, []):
                self._book(fill, None)
            raise
        held = self._closing.pop(market_id, [])
        for fill in result.fills:
            self._book(fill, s, flatten=True)
        claimed = {f.fill_id for f in result.fills}
        for fill in held:  # not the close's: no desk order's after all
            if fill.fill_id not in claimed:
                self._book(fill, None)
        return str(result.order.filled_quantity)

    async def cancel_all_quotes(self, asset: str) -> list[str]:
        """Pull every quote on one market (`BTC` or `BTC-PERP`); the strategies quoting it
        are paused so they do not quote it again."""
        market = asset.upper() if "-" in asset else f"{asset.upper()}-PERP"
        if self.ctx.rules and market not in self.ctx.rules:
            raise StrategyError(f"asset: {asset!r} is not a market of this venue")
        cancelled: list[str] = []
        for s in self.strategies.values():
            if s.market_id == market and s.state is State.RUNNING:
                cancelled += await self._stand_down(s, State.PAUSED, "cancel_all_quotes")
                self.bus.publish(EventType.PAUSED, s.id, reason="cancel_all_quotes")
        cancelled += await self.venue.cancel_all(market)
        self.bus.publish(EventType.QUOTE_CANCELLED, None, market_id=market,
                         count=len(cancelled), reason="cancel_all_quotes")
        return cancelled

    # --- metrics and events ----------------------------------------------------------------

    def get_metrics(self, strategy_id: str) -> Metrics:
        return self._strategy(strategy_id).metrics()

    def get_quote_stats(self, strategy_id: str) -> QuoteStats:
        return self._strategy(strategy_id).quotes.stats()

    def subscribe_events(self, callback: Callable[[Event], None],
                         strategy_id: str | None = None) -> Callable[[], None]:
        if strategy_id is not None:
            self._strategy(strategy_id)
        return self.bus.subscribe(callback, strategy_id)

    def events(self, strategy_id: str | None = None) -> Subscription:
        return self.bus.events(strategy_id)

    # --- wiring -----------------------------------------------------------------------------

    def _watched(self) -> Iterator[tuple[str, int]]:
        for s in self.strategies.values():
            if s.state is State.RUNNING:
                yield s.market_id, s.config.stale_feed_ms

    async def _drain(self) -> bool:
        busy = False
        for s in list(self.strategies.values()):
            if s.lock.locked():
                busy = True
                async with s.lock:
                    pass
        return busy

    async def _reconcile_inventory(self) -> None:
        """Before quoting resumes: each market's strategies must hold what the account
        holds. Fills missed while the fill stream was down (no fills endpoint in the
        contract) are booked to the market's strategy at the fair value, and said so."""
        account = self.venue.account()
        if not account.trusted:  # the guard retries on its next pass
            raise TransportError("the fill stream has no fresh snapshot yet", "network")
        by_market: dict[str, list[Strategy]] = {}
        for s in self.strategies.values():
            by_market.setdefault(s.market_id, []).append(s)
        for market_id, group in by_market.items():
            held = account.positions.get(market_id)
            venue_qty = held.quantity if held is not None else Decimal(0)
            diff = venue_qty - sum((s.position for s in group), Decimal(0))
            if diff == 0:
                continue
            holder = next((s for s in group if s.state is State.RUNNING), group[0])
            mark = holder.fair() or (held.mark_price if held is not None else None)
            holder.reconcile(diff, mark)

    def _guard_changed(self, armed: bool) -> None:
        for s in self.strategies.values():
            if not armed:
                s.quote_id = None
                s.ladder = None
                if s.hedge is not None:  # no hedging on an inventory we cannot see
                    s.hedge.cancel()
            elif s.state is State.RUNNING:
                s.pending = "rearmed"
                s.wake.set()

    def _on_price(self, market_id: str) -> None:
        price = self.venue.reference(market_id).price()
        if price is None:
            return
        for s in self.strategies.values():
            if s.market_id == market_id:
                s.on_price(price)

    def _on_fill(self, fill: Fill) -> None:
        sid = owner(fill.client_order_id) or owner(fill.quote_id)
        self._book(fill, self.strategies.get(sid or ""))

    def _book(self, fill: Fill, s: Strategy | None, flatten: bool = False) -> None:
        """Journal a fill once and give it to its strategy. A fill first seen without an
        owner (a flatten's close order) is handed over when its owner claims it."""
        if s is None and fill.market_id in self._closing:
            if fill.fill_id not in self._seen_fills:  # most likely the close's own
                self._closing[fill.market_id].append(fill)
            return
        if fill.fill_id in self._seen_fills:
            if s is None or self._seen_fills[fill.fill_id] is not None:
                return  # a replay of a fill already booked
        elif self.journal is not None and not self.journal.append_fill(
                fill, s.id if s else None):
            return  # recorded by an earlier run
        self._seen_fills[fill.fill_id] = s.id if s else None
        if len(self._seen_fills) > SEEN_FILLS:
            self._seen_fills.popitem(last=False)
        if s is not None:
            s.on_fill(fill, flatten=flatten)
        else:
            self.bus.publish(EventType.QUOTE_FILLED, None, Severity.WARNING,
                             market_id=fill.market_id, side=str(fill.side), price=fill.price,
                             quantity=fill.quantity, fill_id=fill.fill_id,
                             client_order_id=fill.client_order_id, note="not a desk order")

    async def _housekeeping(self) -> None:
        while True:
            await self.clock.sleep(self.engine.housekeeping_s)
            for s in list(self.strategies.values()):
                try:
                    await self._keep(s)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("housekeeping of %s failed", s.id)

    async def _keep(self, s: Strategy) -> None:
        s.housekeeping()
        if s.state is State.RUNNING:
            reason = s.check_breakers()
            if reason is not None:
                async with s.lock:
                    await s.halt(reason)
                return
            if self.guard.quoting_allowed:
                s._maybe_hedge()
        elif (s.state is State.HALTED and s.config.auto_resume_enabled
              and s.halted_at is not None
              and self.clock.monotonic() - s.halted_at >= s.config.resume_delay_minutes * 60):
            try:
                await self._check_can_run(s)
            except StrategyError as exc:
                s.halted_at = self.clock.monotonic()  # try again after another delay
                self.bus.publish(EventType.ERROR, s.id, Severity.WARNING,
                                 code="AUTO_RESUME_REFUSED", message=str(exc))
                return
            s.go(State.RUNNING)
            self.bus.publish(EventType.RESUMED, s.id, reason="auto_resume")

