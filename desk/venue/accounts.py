"""Accounts, positions and cross-margin arithmetic of the embedded venue.

Margin per market (cross margin, one pool per account):
- initial margin  = initialMarginRate x mark x max(|q + B|, |q - S|)
  where q is the signed position and B, S the open buy and sell quantities:
  the position plus the resting orders on its worse side;
- maintenance     = maintenanceMarginRate x mark x |q|.
Equity = wallet balance (deposits + realized PnL - fees) + unrealized PnL.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from desk.domain import ZERO


@dataclass(slots=True)
class Position:
    market_id: str
    qty: int = 0  # signed, in steps
    entry: Decimal = ZERO  # average entry price
    realized: Decimal = ZERO

    def apply_fill(self, signed_steps: int, price: Decimal, step: Decimal) -> Decimal:
        """Fold a fill into the position; returns the PnL it realized."""
        q = self.qty
        new = q + signed_steps
        pnl = ZERO
        if q == 0 or (q > 0) == (signed_steps > 0):
            self.entry = (self.entry * abs(q) + price * abs(signed_steps)) / abs(new)
        else:
            closing = min(abs(q), abs(signed_steps))
            pnl = (price - self.entry) * closing * step * (1 if q > 0 else -1)
            if new == 0:
                self.entry = ZERO
            elif (new > 0) != (q > 0):
                self.entry = price
        self.qty = new
        self.realized += pnl
        return pnl


@dataclass(slots=True)
class MarketRisk:
    """What the margin formulas need of one market."""

    step: Decimal
    mark: Decimal
    imr: Decimal
    mmr: Decimal


@dataclass(slots=True)
class Account:
    account_id: str
    wallet: Decimal
    unlimited: bool = False  # synthetic makers and takers: no margin gate, no liquidation
    positions: dict[str, Position] = field(default_factory=dict)
    open_buy: dict[str, int] = field(default_factory=dict)  # market -> steps resting
    open_sell: dict[str, int] = field(default_factory=dict)
    open_orders: dict[str, Any] = field(default_factory=dict)  # order id -> Order
    client_ids: dict[str, str] = field(default_factory=dict)  # live clientOrderId -> order id
    reduce_only_ids: set[str] = field(default_factory=set)  # live reduce-only orders
    closed_orders: deque = field(default_factory=lambda: deque(maxlen=1000))
    fees_paid: Decimal = ZERO
    volume: deque = field(default_factory=deque)  # [day index, notional] of the last 30 days
    volume_sum: Decimal = ZERO  # the sum of `volume`
    liquidations: int = 0

    @property
    def realized(self) -> Decimal:
        return sum((p.realized for p in self.positions.values()), ZERO)

    def position(self, market_id: str) -> Position:
        pos = self.positions.get(market_id)
        if pos is None:
            pos = self.positions[market_id] = Position(market_id)
        return pos

    def qty(self, market_id: str) -> int:
        pos = self.positions.get(market_id)
        return pos.qty if pos else 0

    # --- margin -----------------------------------------------------------------

    def market_im(self, market_id: str, risk: MarketRisk, buy: int | None = None,
                  sell: int | None = None) -> Decimal:
        q = self.qty(market_id)
        b = self.open_buy.get(market_id, 0) if buy is None else buy
        s = self.open_sell.get(market_id, 0) if sell is None else sell
        worst = max(abs(q + b), abs(q - s))
        if worst == 0:
            return ZERO
        return risk.imr * risk.mark * worst * risk.step

    def initial_margin(self, risks: dict[str, MarketRisk]) -> Decimal:
        total = ZERO
        for market_id in self.open_buy.keys() | self.open_sell.keys() | self.positions.keys():
            total += self.market_im(market_id, risks[market_id])
        return total

    def maintenance_margin(self, risks: dict[str, MarketRisk]) -> Decimal:
        total = ZERO
        for market_id, pos in self.positions.items():
            if pos.qty:
                r = risks[market_id]
                total += r.mmr * r.mark * abs(pos.qty) * r.step
        return total

    def unrealized(self, risks: dict[str, MarketRisk]) -> Decimal:
        total = ZERO
        for market_id, pos in self.positions.items():
            if pos.qty:
                r = risks[market_id]
                total += (r.mark - pos.entry) * pos.qty * r.step
        return total

    def equity(self, risks: dict[str, MarketRisk]) -> Decimal:
        return self.wallet + self.unrealized(risks)

    def liquidation_price(self, market_id: str, risks: dict[str, MarketRisk]) -> Decimal | None:
        """The mark at which this position alone would bring equity down to maintenance.

        Other positions are held at their current marks (cross margin).
        """
        pos = self.positions.get(market_id)
        if pos is None or pos.qty == 0:
            return None
        r = risks[market_id]
        size = abs(pos.qty) * r.step
        equity = self.equity(risks)
        mm_others = self.maintenance_margin(risks) - r.mmr * r.mark * size
        if pos.qty > 0:
            price = (mm_others - equity + size * r.mark) / (size * (1 - r.mmr))
        else:
            price = (equity + size * r.mark - mm_others) / (size * (1 + r.mmr))
        return price if price > 0 else None
