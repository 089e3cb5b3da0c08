"""Auto-hedging: above `hedge_threshold`, bring |position| back to `hedge_target`.

- `market`: one reduce-only IOC market order for the whole amount.
- `twap`: child orders of equal size spread evenly over `hedge_duration_minutes`
  (at most `twap_max_children` of them, never smaller than a step).
- `vwap`: the same schedule, but each child after the first (an even share:
  no volume has been seen yet) follows the volume the market traded since the
  previous child: child = remaining · v / (v + r·t_left), where r is the
  volume rate seen so far; the last child takes what is left.

On the quoting venue hedge orders are reduce-only. `hedge_venue: external`
sends them to a second venue (where they open an offsetting position, tracked
as the strategy's external position); `both` splits each child in half. A
hedge stops early once the position is back within the target.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from desk.domain import ZERO, OrderType, Side, TimeInForce, floor_to
from desk.domain import errors as venue_errors
from desk.domain.records import OrderRequest
from desk.engine.config import StrategyConfig
from desk.engine.events import EventType
from desk.engine.pricing import Rules

if TYPE_CHECKING:
    from desk.engine.strategy import Strategy


@dataclass(frozen=True, slots=True)
class HedgePlan:
    side: Side
    quantity: Decimal


UNBOOKED_WAIT_S = 5.0  # how long a hedge's answered fills may wait for the fill stream


def hedge_plan(cfg: StrategyConfig, net_position: Decimal, rules: Rules) -> HedgePlan | None:
    if not cfg.auto_hedge_enabled or abs(net_position) <= cfg.hedge_threshold:
        return None
    quantity = floor_to(abs(net_position) - cfg.hedge_target, rules.step)
    if quantity < rules.min_quantity:
        return None
    return HedgePlan(Side.SELL if net_position > 0 else Side.BUY, quantity)


def twap_children(quantity: Decimal, step: Decimal, max_children: int) -> int:
    return max(1, min(max_children, int(quantity / step)))


class Hedge:
    def __init__(self, strategy: Strategy, plan: HedgePlan):
        self.strategy = strategy
        self.plan = plan
        self.cfg = strategy.config
        self.filled = ZERO
        # filled on the quoting venue by the orders' answers but not yet booked from the
        # fill stream (which may come after the answer): no new hedge while it is not
        self.unbooked = ZERO
        self.done_at: float | None = None
        self.task: asyncio.Task | None = None
        self.done = False

    def start(self) -> None:
        s = self.strategy
        s._publish(EventType.HEDGE_TRIGGERED, side=str(self.plan.side),
                   hedge_quantity=self.plan.quantity, hedge_algo=self.cfg.hedge_algo,
                   hedge_venue=self.cfg.hedge_venue, position=s.net_position)
        self.task = asyncio.get_running_loop().create_task(self.run(),
                                                           name=f"hedge:{s.id}")

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.done = True

    def settled(self, now: float, wait_s: float = UNBOOKED_WAIT_S) -> bool:
        """Done, and its fills booked (or given up waiting for: a fill the stream lost
        is reconciled elsewhere)."""
        if not self.done:
            return False
        return self.unbooked <= 0 or (self.done_at is not None
                                      and now - self.done_at >= wait_s)

    async def run(self) -> None:
        s = self.strategy
        ctx = s.ctx
        rules = ctx.rules[s.market_id]
        algo = self.cfg.hedge_algo
        started = ctx.clock.monotonic()
        n = 1 if algo == "market" else twap_children(self.plan.quantity, rules.step,
                                                     ctx.engine.twap_max_children)
        duration = self.cfg.hedge_duration_minutes * 60
        interval = duration / n
        vol0 = vol_prev = await self._volume() if algo == "vwap" else ZERO
        outcome = "completed"
        try:
            for i in range(n):
                if i:
                    await ctx.clock.sleep(interval)
                if abs(s.net_position) <= self.cfg.hedge_target:
                    break
                remaining = self.plan.quantity - self.filled
                left = n - i
                if left == 1:
                    child = remaining
                elif algo == "vwap" and i > 0:  # the first child: no volume seen yet
                    vol = await self._volume()
                    traded, vol_prev = vol - vol_prev, vol
                    elapsed = max(ctx.clock.monotonic() - started, 1e-9)
                    rate = (vol - vol0) / Decimal(repr(elapsed))
                    rest = rate * Decimal(repr(interval * (left - 1)))
                    child = remaining * traded / (traded + rest) if traded + rest > 0 \
                        else remaining / left
                else:
                    child = remaining / left
                child = floor_to(child, rules.step)
                if child < rules.min_quantity:
                    continue
                if not await self._send(child):
                    outcome = "failed"
                    break
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            self.done = True
            self.done_at = ctx.clock.monotonic()
            s._publish(EventType.HEDGE_COMPLETED, hedge_algo=algo, outcome=outcome,
                       filled=self.filled, target=self.plan.quantity,
                       elapsed_ms=int((ctx.clock.monotonic() - started) * 1000),
                       position=s.net_position)

    async def _volume(self) -> Decimal:
        with contextlib.suppress(venue_errors.VenueCallError):
            return await self.strategy.ctx.venue.traded_volume(self.strategy.market_id)
        return ZERO

    async def _send(self, quantity: Decimal) -> bool:
        s = self.strategy
        ctx = s.ctx
        where = self.cfg.hedge_venue
        parts: list[tuple[str, Decimal]]
        if where == "both":
            half = floor_to(quantity / 2, ctx.rules[s.market_id].step)
            parts = [("internal", quantity - half), ("external", half)]
        else:
            parts = [(where, quantity)]
        for venue_name, qty in parts:
            if qty <= 0:
                continue
            external = venue_name == "external"
            venue = ctx.external if external else ctx.venue
            if venue is None:
                s._publish(EventType.ERROR, code="NO_EXTERNAL_VENUE",
                           message="hedge_venue needs an external venue; none is configured")
                return False
            req = OrderRequest(s.market_id, self.plan.side, qty, type=OrderType.MARKET,
                               client_order_id=ctx.ids.hedge(s.id),
                               time_in_force=TimeInForce.IOC, reduce_only=not external)
            try:
                order = await venue.place_order(req)
            except venue_errors.VenueCallError as exc:
                s._publish(EventType.ERROR, code=getattr(exc, "code", None) or "HEDGE_FAILED",
                           message=f"hedge order: {exc}"[:300])
                return False
            self.filled += order.filled_quantity
            if external:
                s.external_position += order.filled_quantity * self.plan.side.sign
            else:
                self.unbooked += order.filled_quantity
        return True
