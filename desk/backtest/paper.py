"""The market of the optimal-quoting papers (Avellaneda–Stoikov 2008, Guéant–Lehalle–
Fernandez-Tapia 2013), on the exchange core.

Each step of dt seconds, per market:
1. each side of the book is hit at most once, with probability
   min(1, A·exp(−k·δ)·dt), δ being the distance in price units of the best quote on
   that side from the reference price (a bid above the reference has δ < 0 and is hit
   more often, as in the papers); a hit is a market order of `taker_size` from a
   synthetic taker, matched by the exchange against our resting quote;
2. the reference moves as an arithmetic random walk, s += σ·√dt·Z, rounded to the
   tick (never below one tick).

There is no background book: the only quotes are the strategy's. The price path and
the hits draw from two separate random sources, so two strategies run with the same
seed see the same path and the same uniform draws for their hits.
"""

from __future__ import annotations

import math
import random

from desk.backtest.config import Steps
from desk.domain import OrderType, Side
from desk.venue.errors import VenueError
from desk.venue.exchange import Exchange, OrderRequest
from desk.venue.market_sim import TAKER


class PaperMarket:
    def __init__(self, exchange: Exchange, seed: int, steps: Steps):
        self.ex = exchange
        self.s = steps
        exchange.open_account(TAKER, unlimited=True)
        base = random.Random(seed)
        self.path_rng = random.Random(base.getrandbits(64))
        self.hit_rng = random.Random(base.getrandbits(64))
        self.counters = {"steps": 0, "takers": 0}
        self._size = {mid: max(steps.taker_size, m.config.min_quantity)
                      for mid, m in exchange.markets.items()}

    def step(self, dt_ms: int) -> None:
        dt = dt_ms / 1000
        a, k, sigma = self.s.intensity_a, self.s.intensity_k, self.s.sigma
        root_dt = math.sqrt(dt)
        for mid, m in self.ex.markets.items():
            index = m.index
            for side in (Side.BUY, Side.SELL):
                u = self.hit_rng.random()  # drawn every step: the draws stay aligned
                best = m.book.opposite(side is Side.BUY).best()
                if best is None:
                    continue
                price = best * m.tick
                delta = float(price - index) if side is Side.BUY else float(index - price)
                if u < min(1.0, a * math.exp(-k * delta) * dt):
                    try:
                        self.ex.place_order(TAKER, mid, OrderRequest(side, self._size[mid],
                                                                     type=OrderType.MARKET))
                    except VenueError:
                        continue
                    self.counters["takers"] += 1
            z = self.path_rng.gauss(0.0, 1.0)
            moved = float(index) + sigma * root_dt * z
            ticks = max(round(moved / float(m.tick)), 1)
            self.ex.set_index(mid, ticks * m.tick)
        self.ex.refresh_marks()
        self.ex.liquidate_underwater()
        self.counters["steps"] += 1
