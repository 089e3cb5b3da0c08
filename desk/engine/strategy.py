"""One strategy: its state machine, its quoting loop, its inventory and metrics.

States: created → running ⇄ paused, running → halted (a breaker or repeated
errors) → running (resume), and any → stopped; stopped → running restarts.

The loop re-quotes when a fill arrived, when fair value moved beyond
`requote_threshold_bps` from the last quote, when the ladder is
`quote_refresh_seconds` old, or when its parameters changed; never while the
dead-man switch holds the desk down, never faster than `min_requote_s`, and it
waits out a spent rate-limit window. A cycle is: fair value → ladder →
(preview) → `quotes/bulk` with `cancelAll` under a fresh quoteId, each level
with its own clientOrderId.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from desk.domain import BPS, ZERO, Liquidity, Side
from desk.domain import errors as venue_errors
from desk.domain.records import Fill, QuoteLevel, resting_sizes, touch_without
from desk.engine.config import EngineConfig, StrategyConfig
from desk.engine.events import EventBus, EventType, Severity
from desk.engine.hedging import Hedge, hedge_plan
from desk.engine.ids import Ids, owner
from desk.engine.metrics import Metrics, PnlBook, PnlSeries, QuoteBook
from desk.engine.ports import BookView, Clock, Venue
from desk.engine.pricing import Ladder, Rules, Situation, build_ladder
from desk.engine.risk import MarginGuard, breaker
from desk.engine.volatility import RealisedVol
from desk.engine.wake import Wake

log = logging.getLogger(__name__)
MONEY = Decimal("1e-8")
RECENT_FILLS = 12  # kept for the detail screen (restored from the journal at open)


class State(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    HALTED = "halted"


LEGAL: dict[State, frozenset[State]] = {
    State.CREATED: frozenset({State.RUNNING, State.STOPPED}),
    State.RUNNING: frozenset({State.PAUSED, State.HALTED, State.STOPPED}),
    State.PAUSED: frozenset({State.RUNNING, State.STOPPED}),
    State.HALTED: frozenset({State.RUNNING, State.PAUSED, State.STOPPED}),
    State.STOPPED: frozenset({State.RUNNING}),
}


class Gate(Protocol):
    """The dead-man switch as a strategy sees it."""

    @property
    def quoting_allowed(self) -> bool: ...

    def order_ok(self) -> None: ...

    def order_error(self) -> None: ...


@dataclass
class Context:
    venue: Venue
    clock: Clock
    bus: EventBus
    ids: Ids
    engine: EngineConfig
    rules: dict[str, Rules]
    gate: Gate
    external: Venue | None = None  # a second venue for external hedges

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)


def _cents(value: Decimal) -> Decimal:
    """Money for people: 8 decimal places (average prices divide without end)."""
    return value.quantize(MONEY)


def _pairs(levels: tuple) -> list[list[str]]:
    return [[str(lv.price), str(lv.quantity)] for lv in levels]


class Strategy:
    def __init__(self, sid: str, config: StrategyConfig, ctx: Context,
                 base_equity: Decimal = Decimal(100_000)):
        self.id = sid
        self.config = config
        self.ctx = ctx
        self.state = State.CREATED
        self.reason: str | None = None       # why paused / halted
        self.halted_at: float | None = None  # monotonic
        self.breaker: str | None = None      # the breaker that tripped, while halted
        self.pnl = PnlBook()
        self.series = PnlSeries(base_equity)
        self.quotes = QuoteBook()
        self.recent_fills: deque[Fill] = deque(maxlen=RECENT_FILLS)  # oldest first
        self.vol = RealisedVol(config.volatility_window_minutes * 60, ctx.engine.vol_sample_s)
        self.margin = MarginGuard(ctx.engine.margin_recover_cycles)
        self.errors = 0                       # consecutive order-path errors
        self.quote_id: str | None = None      # of the ladder resting now
        self.ladder: Ladder | None = None
        self.last_fair: Decimal | None = None
        self.last_quote_at: float | None = None
        self.started_at = 0.0
        self.pending: str | None = None       # a re-quote reason not yet served
        self.hedge: Hedge | None = None
        self.external_position = ZERO         # hedged on the external venue
        self.wake = Wake(ctx.clock)
        self.lock = asyncio.Lock()
        self.task: asyncio.Task | None = None
        self._last_pnl_event = 0.0

    # --- views ------------------------------------------------------------------------

    @property
    def market_id(self) -> str:
        return self.config.market_id

    @property
    def position(self) -> Decimal:
        """Inventory on the quoting venue, from fills."""
        return self.pnl.position

    @property
    def net_position(self) -> Decimal:
        return self.pnl.position + self.external_position

    def fair(self) -> Decimal | None:
        return self.ctx.venue.reference(self.market_id).price()

    def mark(self) -> Decimal | None:
        """What the position is marked at: the fair value, or the last one quoted."""
        return self.fair() or self.last_fair

    def total_pnl(self) -> Decimal:
        return self.pnl.total(self.mark())

    def metrics(self) -> Metrics:
        """Total and today's PnL from the same live mark, so they differ by exactly the PnL
        from before today (or before this strategy's first start today)."""
        mark = self.mark()
        book = self.pnl
        total = book.total(mark)
        return Metrics(
            total_pnl=_cents(total), daily_pnl=_cents(self.series.daily(total)),
            realized_pnl=_cents(book.realized),
            unrealized_pnl=_cents(book.unrealized(mark)),
            fees=book.fees, total_volume=book.volume, trade_count=book.trades,
            win_rate=book.wins / book.closes * 100 if book.closes else None,
            sharpe_ratio=self.series.sharpe(), max_drawdown=_cents(self.series.max_drawdown),
            position=book.position, average_price=book.average,
            max_drawdown_pct=self.series.max_drawdown_pct, wins=book.wins, closes=book.closes)

    def _publish(self, type: EventType, severity: Severity | None = None, **data: object) -> None:
        self.ctx.bus.publish(type, self.id, severity, **data)

    # --- state --------------------------------------------------------------------------

    def can_go(self, to: State) -> bool:
        return to in LEGAL[self.state]

    def go(self, to: State, reason: str | None = None) -> None:
        if not self.can_go(to):
            from desk.engine.errors import IllegalTransitionError
            raise IllegalTransitionError(
                f"strategy {self.config.name!r} is {self.state}: cannot become {to}")
        self.state = to
        self.reason = reason
        if to is State.RUNNING:
            self.started_at = self.ctx.clock.monotonic()
            self.breaker = None
            self.halted_at = None
            self.errors = 0
            self.pending = "start"
            if self.task is None or self.task.done():
                self.task = asyncio.get_running_loop().create_task(
                    self._run(), name=f"strategy:{self.id}")
        self.wake.set()

    async def join(self) -> None:
        """Wait for the loop to notice it should end (it ends when not running)."""
        task, self.task = self.task, None
        if task is not None and task is not asyncio.current_task():
            self.wake.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- inputs -------------------------------------------------------------------------

    def on_price(self, price: Decimal) -> None:
        """A new reference price (called by the feed, must stay cheap)."""
        self.vol.add(self.ctx.clock.monotonic(), price)
        last = self.last_fair
        if self.state is State.RUNNING and _moved(last, price, self.config):
            self.wake.set()

    def on_fill(self, fill: Fill, flatten: bool = False) -> None:
        """Book one fill: a quote's, a hedge's, or (`flatten`) the operator's close at
        market. A quote or a close is one `quote_filled` (`kind` quote or flatten), and
        every fill one `position_changed`; then today's PnL is sampled (the breakers and
        the `pnl_update` see the fill at once)."""
        if self._last_pnl_event == 0.0:  # none yet in this run: record where it starts, for
            self.publish_pnl()           # the hourly loss a restart carries on from
        old = self.pnl.position
        realised = self.pnl.on_fill(fill)
        captured = self.quotes.on_fill(fill)
        self.recent_fills.append(fill)
        is_hedge = not flatten and (fill.client_order_id or "").startswith(f"{self.id}.h")
        if is_hedge and self.hedge is not None:
            self.hedge.unbooked -= fill.quantity
        # a flatten says so where the log shows it (its reason) as well as in its kind
        why = {"reason": "flatten"} if flatten else {}
        if not is_hedge:
            self._publish(EventType.QUOTE_FILLED, kind="flatten" if flatten else "quote",
                          **why, side=str(fill.side), price=fill.price,
                          quantity=fill.quantity, fee=fill.fee, liquidity=str(fill.liquidity),
                          order_id=fill.order_id, client_order_id=fill.client_order_id,
                          fill_id=fill.fill_id, realized=realised,
                          spread_captured_bps=round(captured, 4) if captured is not None
                          else None)
        extra = {"flattened": fill.quantity} if flatten else {}
        self._publish(EventType.POSITION_CHANGED, old_position=old,
                      new_position=self.pnl.position, market_id=self.market_id,
                      hedge=is_hedge, **why, **extra)
        self.series.sample(self.ctx.clock.time(), self.total_pnl())
        self.publish_pnl()
        if self.state is State.RUNNING:
            self.pending = "fill"
            self.wake.set()

    def reconcile(self, diff: Decimal, mark: Decimal | None) -> None:
        """Book a position change the fill stream never showed (fills during an outage),
        at `mark`: the position is exact, its PnL an estimate."""
        old = self.pnl.position
        if mark is not None:
            self.pnl.on_fill(Fill(f"reconciled:{self.ctx.now_ms()}", "", None, None,
                                  self.market_id, Side.BUY if diff > 0 else Side.SELL, mark,
                                  abs(diff), Liquidity.MAKER, ZERO, self.ctx.now_ms()))
            self.pnl.trades -= 1  # not a trade we saw
        else:
            self.pnl.position += diff
        self._publish(EventType.POSITION_CHANGED, Severity.WARNING, old_position=old,
                      new_position=self.pnl.position, market_id=self.market_id,
                      reconciled=True)
        self._publish(EventType.ERROR, Severity.WARNING, code="FILLS_MISSED",
                      message=f"the account holds {diff:+} more than the fills showed (fills "
                              f"during a stream outage); booked at {mark}")

    def publish_pnl(self) -> None:
        m = self.metrics()
        self._last_pnl_event = self.ctx.clock.monotonic()
        # position and mark let a restart carry today's PnL on (metrics.restore_day)
        self._publish(EventType.PNL_UPDATE, total_pnl=m.total_pnl, daily_pnl=m.daily_pnl,
                      realized_pnl=m.realized_pnl, unrealized_pnl=m.unrealized_pnl,
                      position=m.position, mark=self.mark())

    def housekeeping(self) -> None:
        """Sample PnL; a pnl_update now and then while it moves."""
        total = self.total_pnl()
        changed = total != self.series.last
        self.series.sample(self.ctx.clock.time(), total)
        if changed and (self.ctx.clock.monotonic() - self._last_pnl_event
                        >= self.ctx.engine.pnl_event_s):
            self.publish_pnl()

    def update(self, config: StrategyConfig) -> None:
        """New parameters, used from the next cycle on."""
        self.config = config
        self.vol.window_s = config.volatility_window_minutes * 60
        if self.state is State.RUNNING:
            self.pending = "update"
            self.wake.set()

    # --- the loop -----------------------------------------------------------------------

    def _due(self, now: float) -> str | None:
        if self.last_quote_at is not None and now - self.last_quote_at < \
                self.ctx.engine.min_requote_s:
            return None
        if self.pending:
            return self.pending
        fair = self.fair()
        last = self.last_fair
        if _moved(last, fair, self.config):
            return "move"
        if self.last_quote_at is None or now - self.last_quote_at >= \
                self.config.quote_refresh_seconds:
            return "refresh"
        return None

    def _wait_s(self, now: float) -> float:
        last = self.last_quote_at
        if last is not None and now - last < self.ctx.engine.min_requote_s:
            return max(last + self.ctx.engine.min_requote_s - now, 0.001)  # then look again
        wait = self.ctx.engine.housekeeping_s
        if last is not None:
            wait = min(wait, last + self.config.quote_refresh_seconds - now)
        return max(wait, 0.001)

    async def _run(self) -> None:
        while self.state is State.RUNNING:
            try:
                now = self.ctx.clock.monotonic()
                reason = self._due(now) if self.ctx.gate.quoting_allowed else None
                if reason is None:
                    await self.wake.wait(self._wait_s(now))
                    continue
                wait = self.ctx.venue.rate_limit_wait_s()
                if wait > 0:
                    await self.ctx.clock.sleep(wait)
                    continue
                async with self.lock:
                    if self.state is State.RUNNING and self.ctx.gate.quoting_allowed:
                        await self.cycle(reason)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not leave quotes behind unattended
                log.exception("strategy %s: cycle failed", self.id)
                self._publish(EventType.ERROR, kind="internal", message=repr(exc)[:300])
                await self.halt(f"internal error: {exc!r}"[:200], breaker=False)

    def situation(self, fair: Decimal) -> Situation:
        book = self.ctx.venue.book(self.market_id)
        bid, ask = self._touch(book)
        return Situation(
            fair=fair, position=self.net_position, sigma=self.vol.sigma(),
            window_vol_pct=self.vol.window_pct(), best_bid=bid, best_ask=ask,
            elapsed_s=self.ctx.clock.monotonic() - self.started_at,
            size_scale=self.margin.scale, max_layers=self.margin.max_layers)

    def _touch(self, book: BookView) -> tuple[Decimal | None, Decimal | None]:
        """Best bid and ask of everyone else: our own resting sizes taken out."""
        if not book.trusted:
            return None, None
        own = resting_sizes(self.ctx.venue.account().orders.values(), self.market_id)
        # the top few levels first (built on every cycle, before the send): ten only when
        # ours fill all of them on a side
        near = min(len(own) + 1, 10)
        bid, ask = touch_without(book.levels(True, near), book.levels(False, near), own)
        if (bid is None or ask is None) and near < 10:
            bid, ask = touch_without(book.levels(True, 10), book.levels(False, 10), own)
        return (bid.price if bid else None), (ask.price if ask else None)

    async def cycle(self, reason: str) -> None:
        ctx = self.ctx
        cfg = self.config
        fair = self.fair()
        self.last_quote_at = ctx.clock.monotonic()  # also paces retries without a price
        if fair is None:
            return  # the guard stands the desk down if the feed stays priceless
        self.pending = None
        self.last_fair = fair
        ladder = build_ladder(cfg, ctx.rules[self.market_id], self.situation(fair))
        levels = [QuoteLevel(lv.side, lv.price, lv.quantity, ctx.ids.order(self.id),
                             post_only=cfg.post_only) for lv in ladder.levels]
        quote_id = ctx.ids.quote(self.id)
        venue = ctx.venue
        try:
            if not levels:
                await self.pull(scoped=False)
                self.ladder = ladder
                return
            if ctx.engine.preview:
                preview = await venue.preview_quotes(self.market_id, levels, True)
                if not preview.approved:
                    raise venue_errors.InsufficientMarginError(
                        "INSUFFICIENT_MARGIN", preview.reason or "the preview was not approved",
                        422, {"requiredIm": str(preview.margin_required)})
            sent_ms = ctx.now_ms()
            result = await venue.bulk_quote(self.market_id, quote_id, levels, cancel_all=True)
        except venue_errors.InsufficientMarginError as exc:
            await self._margin_reject(exc)
            return
        except venue_errors.RateLimitedError as exc:
            self._publish(EventType.ERROR, Severity.WARNING, code=exc.code, message=str(exc),
                          retry_after_s=exc.retry_after_s)
            self.pending = "rate_limited"
            return
        except venue_errors.VenueCallError as exc:
            await self._order_error(exc)
            return
        previous = self.quote_id
        self.quote_id = quote_id
        self.ladder = ladder
        self.errors = 0
        ctx.gate.order_ok()
        self.margin.on_clean(cfg)
        for order in result.accepted:
            if order.client_order_id:
                self.quotes.on_sent(order.client_order_id, order.side, fair, sent_ms)
        if result.cancelled:
            self._publish(EventType.QUOTE_CANCELLED, quote_id=previous,
                          count=len(result.cancelled), reason="replaced")
        self._publish(EventType.QUOTE_SENT, quote_id=quote_id, reason=reason, fair=fair,
                      spread_bps=ladder.spread_bps, skew_bps=ladder.skew_bps,
                      bids=_pairs(ladder.bids), asks=_pairs(ladder.asks),
                      accepted=len(result.accepted), rejected=len(result.rejected))
        for rej in result.rejected:
            self._publish(EventType.ERROR, Severity.WARNING, code=rej.code, message=rej.message,
                          client_order_id=rej.client_order_id)
        self._maybe_hedge()

    async def _margin_reject(self, exc: venue_errors.InsufficientMarginError) -> None:
        action = self.margin.on_reject(self.config)
        self._publish(EventType.ERROR, Severity.WARNING, code="INSUFFICIENT_MARGIN",
                      message=str(exc), required=getattr(exc, "required_margin", None),
                      available=getattr(exc, "available_margin", None), action=action)
        # the whole batch was refused, so the old ladder still rests at old prices
        with contextlib.suppress(venue_errors.VenueCallError):
            await self.pull(scoped=False)
        self.pending = "margin"

    async def _order_error(self, exc: venue_errors.VenueCallError) -> None:
        self.errors += 1
        transport = isinstance(exc, venue_errors.TransportError)
        if transport:
            self.ctx.gate.order_error()
        self._publish(EventType.ERROR, code=getattr(exc, "code", None) or
                      getattr(exc, "kind", "error"), message=str(exc)[:300],
                      consecutive=self.errors)
        self.pending = "retry"
        cfg = self.config
        if cfg.pause_on_error and self.errors >= cfg.max_consecutive_errors:
            await self.halt(f"{self.errors} consecutive order errors (last: {exc})"[:200],
                            breaker=False)

    # --- actions ------------------------------------------------------------------------

    async def pull(self, scoped: bool = True) -> list[str]:
        """Cancel this strategy's quotes: by market and quoteId, then anything of ours
        the account still shows on the market."""
        venue = self.ctx.venue
        m = self.market_id
        cancelled: list[str] = []
        if scoped and self.quote_id:
            cancelled += await venue.cancel_all(m, self.quote_id)
        left = [o for o in venue.account().orders.values()
                if o.market_id == m and owner(o.client_order_id) == self.id
                and o.order_id not in cancelled]
        if left or not scoped:  # never the market's other quotes on a mere pause of ours
            cancelled += await venue.cancel_all(m)
        if cancelled:
            self._publish(EventType.QUOTE_CANCELLED, quote_id=self.quote_id,
                          count=len(cancelled), reason="pulled")
        self.quote_id = None
        self.ladder = None
        return cancelled

    async def halt(self, reason: str, breaker: bool = True) -> None:
        """Stop quoting on our own (a breaker or errors); the position stays."""
        if not self.can_go(State.HALTED):
            return
        self.go(State.HALTED, reason)
        self.breaker = reason if breaker else None
        self.halted_at = self.ctx.clock.monotonic()
        if breaker:
            self._publish(EventType.CIRCUIT_BREAKER, reason=reason)
        else:
            self._publish(EventType.PAUSED, reason=reason)
        if self.hedge:
            self.hedge.cancel()
        try:
            await self.pull()
        except venue_errors.VenueCallError as exc:
            self._publish(EventType.ERROR, code="PULL_FAILED", message=str(exc)[:300])

    def check_breakers(self) -> str | None:
        return breaker(self.config, self.series, self.vol.window_pct())

    def _maybe_hedge(self) -> None:
        plan = hedge_plan(self.config, self.net_position, self.ctx.rules[self.market_id])
        # not while a hedge runs, nor while its answered fills wait for the stream (the
        # position would still show what it already hedged: a second, double hedge)
        if plan is None or (self.hedge is not None
                            and not self.hedge.settled(self.ctx.clock.monotonic())):
            return
        self.hedge = Hedge(self, plan)
        self.hedge.start()


def _moved(last: Decimal | None, fair: Decimal | None, cfg: StrategyConfig) -> bool:
    """A fair-value move worth a re-quote: any change at all when the threshold is 0."""
    if fair is None or not last or fair == last:
        return False
    return abs(fair - last) / last * BPS >= cfg.requote_threshold_bps
