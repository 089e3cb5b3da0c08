"""Synthetic market: a reference price, background makers and Poisson takers. No I/O.

Each `step(dt_ms)`:
- the reference (index) price takes a random-walk step with occasional jumps
  (unless a `freeze_index` fault holds it);
- synthetic makers re-quote a ladder around the index when their refresh is due
  or the index moved past half their spread;
- takers arrive on each side as a Poisson process with intensity
  `A * exp(-k * delta)`, delta being the distance in bps of that side's best quote
  from the index; a share of them is informed and trades in the direction of
  the next index move (which is drawn one step ahead);
- marks are refreshed and under-margined accounts liquidated.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from desk.domain import OrderType, Side
from desk.venue.errors import VenueError
from desk.venue.exchange import Exchange, OrderRequest
from desk.venue.market import MarketState

MAKER = "sim-maker"
TAKER = "sim-taker"


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; fine for the small means of one simulation step."""
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class MarketSimulator:
    def __init__(self, exchange: Exchange, rng: random.Random,
                 index_frozen: Callable[[str], bool] = lambda market_id: False):
        self.ex = exchange
        self.rng = rng
        self.index_frozen = index_frozen
        exchange.open_account(MAKER, unlimited=True)
        exchange.open_account(TAKER, unlimited=True)
        self.next_move: dict[str, float] = {}
        self.quoted_at: dict[str, tuple[int, Decimal]] = {}  # market -> (ms, index quoted)
        self.quote_seq = 0
        self.counters = {"steps": 0, "takers": 0, "informed": 0, "jumps": 0, "requotes": 0}
        self.taker_volume: dict[str, Decimal] = dict.fromkeys(exchange.markets, Decimal(0))

    # --- reference price -----------------------------------------------------------

    def _draw_move(self, m: MarketState, dt_s: float) -> float:
        sim = m.config.sim
        move = sim.volatility_bps / 1e4 * math.sqrt(dt_s) * self.rng.gauss(0.0, 1.0)
        if self.rng.random() < sim.jumps_per_hour * dt_s / 3600:
            move += self.rng.gauss(0.0, sim.jump_bps / 1e4)
            self.counters["jumps"] += 1
        return move

    def _move_index(self, m: MarketState, dt_s: float) -> None:
        move = self.next_move.get(m.market_id)
        if move is None:
            move = self._draw_move(m, dt_s)
        self.next_move[m.market_id] = self._draw_move(m, dt_s)
        if self.index_frozen(m.market_id):
            return
        price = Decimal(repr(float(m.index) * math.exp(move))).quantize(m.tick)
        self.ex.set_index(m.market_id, max(price, m.tick))

    # --- makers ------------------------------------------------------------------

    def _maker_ladder(self, m: MarketState) -> list[OrderRequest]:
        sim = m.config.sim
        index = m.index
        levels = []
        for i in range(sim.maker_levels):
            for side in (Side.BUY, Side.SELL):
                off = sim.maker_half_spread_bps + i * sim.maker_level_spacing_bps
                off *= 1 + 0.2 * (self.rng.random() - 0.5)
                factor = Decimal(repr(off / 1e4))
                if side is Side.BUY:
                    price = (index * (1 - factor) / m.tick).to_integral_value(ROUND_FLOOR)
                else:
                    price = (index * (1 + factor) / m.tick).to_integral_value(ROUND_CEILING)
                size = float(sim.maker_size) * math.exp(0.5 * self.rng.gauss(0.0, 1.0))
                size *= 1 + 0.3 * i
                steps = max(int(Decimal(repr(size)) / m.step), 1)
                quantity = max(steps * m.step, m.config.min_quantity)
                levels.append(OrderRequest(side, quantity, price * m.tick, post_only=True))
        return levels

    def _refresh_makers(self, m: MarketState, now: int) -> None:
        sim = m.config.sim
        last = self.quoted_at.get(m.market_id)
        if last is not None:
            age = now - last[0]
            drift_bps = abs(m.index - last[1]) / m.index * 10_000
            if age < sim.maker_refresh_ms and drift_bps < sim.maker_half_spread_bps / 2:
                return
        self.quote_seq += 1
        self.ex.bulk_quote(MAKER, m.market_id, f"sim-{self.quote_seq}", True,
                           self._maker_ladder(m))
        self.quoted_at[m.market_id] = (now, m.index)
        self.counters["requotes"] += 1

    # --- takers ------------------------------------------------------------------

    def _taker_size(self, m: MarketState) -> Decimal:
        sim = m.config.sim
        size = float(sim.taker_size_median) * math.exp(sim.taker_size_sigma *
                                                       self.rng.gauss(0.0, 1.0))
        steps = int(Decimal(repr(size)) / m.step)
        return max(steps * m.step, m.config.min_quantity)

    def _delta_bps(self, m: MarketState, side: Side) -> float | None:
        """Distance of the best quote a taker on `side` would hit from the index."""
        best = m.book.opposite(side is Side.BUY).best()
        if best is None:
            return None
        distance = (best * m.tick - m.index) if side is Side.BUY else (m.index - best * m.tick)
        return max(float(distance / m.index) * 1e4, 0.0)

    def _takers(self, m: MarketState, dt_s: float) -> None:
        sim = m.config.sim
        for side in (Side.BUY, Side.SELL):
            delta = self._delta_bps(m, side)
            if delta is None:
                continue
            arrivals = poisson(self.rng, sim.taker_a * math.exp(-sim.taker_k * delta) * dt_s)
            for _ in range(arrivals):
                taker_side = side
                if self.rng.random() < sim.informed_share:
                    self.counters["informed"] += 1
                    taker_side = Side.BUY if self.next_move[m.market_id] > 0 else Side.SELL
                quantity = self._taker_size(m)
                try:
                    _, fills = self.ex.place_order(
                        TAKER, m.market_id,
                        OrderRequest(taker_side, quantity, type=OrderType.MARKET))
                except VenueError:
                    continue
                self.counters["takers"] += 1
                self.taker_volume[m.market_id] += sum((f.quantity for f in fills), Decimal(0))

    # --- the step ----------------------------------------------------------------

    def step(self, dt_ms: int) -> None:
        dt_s = dt_ms / 1000
        now = self.ex.clock()
        for m in self.ex.markets.values():
            self._move_index(m, dt_s)
            if m.halted:
                continue
            self._refresh_makers(m, now)
            self._takers(m, dt_s)
        self.ex.refresh_marks()
        self.ex.liquidate_underwater()
        self.counters["steps"] += 1
