"""The exchange core: matching, margin, fees and liquidation. No I/O.

Time comes from an injected `clock` (unix milliseconds) and randomness from an
injected `random.Random`, so the same code runs in real time behind HTTP and in
virtual time in a backtest. Everything is synchronous: one call is one atomic
step, so no taker can ever trade against half of a replaced ladder.

State changes are reported through `sink(account_id, kind, obj)` with kinds
`order` (a live order changed), `removed` (an order left the book), `fill`
and `position`; the HTTP layer turns them into private stream deltas.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from desk.domain import (
    BPS,
    ZERO,
    Liquidity,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    fmt,
    is_multiple,
)
from desk.venue.accounts import Account, MarketRisk
from desk.venue.config import FeeTier, VenueConfig
from desk.venue.errors import VenueError, field_error
from desk.venue.ids import UlidGen
from desk.venue.market import MarketState

Sink = Callable[[str, str, object], None]
DAY_MS = 86_400_000


@dataclass(slots=True)
class Order:
    order_id: str
    account_id: str
    market_id: str
    side: Side
    type: OrderType
    price_ticks: int  # 0 for a market order
    qty: int  # steps
    tif: TimeInForce
    post_only: bool
    reduce_only: bool
    client_order_id: str | None
    quote_id: str | None
    created_at: int
    updated_at: int
    filled: int = 0
    status: OrderStatus = OrderStatus.OPEN

    @property
    def remaining(self) -> int:
        return self.qty - self.filled

    @property
    def is_buy(self) -> bool:
        return self.side is Side.BUY


@dataclass(slots=True, frozen=True)
class Fill:
    fill_id: str
    order_id: str
    client_order_id: str | None
    quote_id: str | None
    market_id: str
    account_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    liquidity: Liquidity
    fee: Decimal
    created_at: int


@dataclass(slots=True)
class OrderRequest:
    """One order or quote level, already parsed to decimals (not yet validated)."""

    side: Side
    quantity: Decimal
    price: Decimal | None = None
    type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    client_order_id: str | None = None


@dataclass(slots=True)
class BulkResult:
    quote_id: str
    accepted: list[Order]
    rejected: list[tuple[str | None, VenueError]]
    cancelled: list[str]


def _check_increment(value: Decimal, increment: Decimal, code: str, field: str,
                     unit: str) -> None:
    """Refuse a price off the tick (INVALID_TICK) or a size off the step (INVALID_STEP)."""
    if not is_multiple(value, increment):
        raise VenueError(code, f"{field} {fmt(value)} is not a multiple of the {unit} "
                               f"{fmt(increment)}",
                         {field: fmt(value), f"{unit}Size": fmt(increment)})


class Exchange:
    def __init__(self, config: VenueConfig, clock: Callable[[], int], rng: random.Random):
        self.config = config
        self.clock = clock
        self.rng = rng
        self.new_id = UlidGen(clock, rng)
        self.markets: dict[str, MarketState] = {
            m.market_id: MarketState(m, clock()) for m in config.markets
        }
        self.risks: dict[str, MarketRisk] = {mid: m.risk for mid, m in self.markets.items()}
        self.fee_tiers: list[FeeTier] = sorted(config.fee_tiers, key=lambda t: t.min_volume_30d)
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}  # live orders by id
        self.sink: Sink | None = None
        self.on_book: Callable[[str], None] | None = None  # a market's book changed
        self.counters = {"orders": 0, "fills": 0, "cancels": 0, "rejects": 0, "liquidations": 0}

    # --- lookups ------------------------------------------------------------------

    def market(self, market_id: str) -> MarketState:
        m = self.markets.get(market_id)
        if m is None:
            raise VenueError("NOT_FOUND", f"unknown market {market_id!r}", {"marketId": market_id})
        return m

    def account(self, account_id: str) -> Account:
        acct = self.accounts.get(account_id)
        if acct is None:
            raise VenueError("NOT_FOUND", f"unknown account {account_id!r}")
        return acct

    def open_account(self, account_id: str, balance: Decimal | None = None,
                     unlimited: bool = False) -> Account:
        acct = self.accounts.get(account_id)
        if acct is None:
            wallet = self.config.starting_balance if balance is None else balance
            acct = Account(account_id, wallet, unlimited=unlimited)
            acct.closed_orders = type(acct.closed_orders)(maxlen=self.config.max_closed_orders)
            self.accounts[account_id] = acct
        return acct

    # --- prices -------------------------------------------------------------------

    def set_index(self, market_id: str, price: Decimal) -> None:
        m = self.market(market_id)
        m.set_index(price, self.clock())
        m.update_mark()

    def refresh_marks(self) -> None:
        for m in self.markets.values():
            m.update_mark()

    def set_margin_factor(self, market_id: str, factor: Decimal) -> None:
        self.market(market_id).set_margin_factor(factor)

    def set_halted(self, market_id: str, halted: bool) -> None:
        self.market(market_id).halted = halted

    # --- fees ---------------------------------------------------------------------

    def volume_30d(self, acct: Account) -> Decimal:
        today = self.clock() // DAY_MS
        while acct.volume and acct.volume[0][0] <= today - 30:
            acct.volume_sum -= acct.volume.popleft()[1]
        return acct.volume_sum

    def fee_tier(self, acct: Account) -> FeeTier:
        volume = self.volume_30d(acct)
        tier = self.fee_tiers[0]
        for t in self.fee_tiers:
            if volume >= t.min_volume_30d:
                tier = t
        return tier

    def _add_volume(self, acct: Account, notional: Decimal) -> None:
        today = self.clock() // DAY_MS
        acct.volume_sum += notional
        if acct.volume and acct.volume[-1][0] == today:
            acct.volume[-1][1] += notional
        else:
            acct.volume.append([today, notional])

    # --- validation ---------------------------------------------------------------

    def _check_tradable(self, m: MarketState) -> None:
        if m.halted:
            raise VenueError("MARKET_HALTED", f"{m.market_id} is halted",
                             {"marketId": m.market_id})

    def _new_order(self, acct: Account, m: MarketState, req: OrderRequest,
                   quote_id: str | None, live_coids: set[str] | None = None,
                   mint: bool = True) -> Order:
        """Validate a request against the market's rules; no state changes.

        `mint=False` (previews) leaves the id generator alone, so a preview never
        changes the ids later orders get.
        """
        if req.quantity <= 0:
            raise field_error("quantity", "must be greater than 0")
        _check_increment(req.quantity, m.step, "INVALID_STEP", "quantity", "step")
        if req.quantity < m.config.min_quantity:
            raise field_error("quantity", f"below the minimum quantity "
                                          f"{fmt(m.config.min_quantity)}")
        if req.type is OrderType.LIMIT:
            if req.price is None:
                raise field_error("price", "is required for a limit order")
            if req.price <= 0:
                raise field_error("price", "must be greater than 0")
            _check_increment(req.price, m.tick, "INVALID_TICK", "price", "tick")
            ticks = int(req.price / m.tick)
            if not m.band_low <= ticks <= m.band_high:
                raise VenueError("PRICE_OUT_OF_BAND",
                                 f"price {fmt(req.price)} is outside the band "
                                 f"{fmt(m.band_low * m.tick)}..{fmt(m.band_high * m.tick)}",
                                 {"price": fmt(req.price),
                                  "priceBandLow": fmt(m.band_low * m.tick),
                                  "priceBandHigh": fmt(m.band_high * m.tick)})
            tif = req.tif
        else:
            if req.price is not None:
                raise field_error("price", "must be omitted for a market order")
            if req.post_only:
                raise field_error("postOnly", "a market order cannot be post-only")
            ticks = 0
            tif = TimeInForce.FOK if req.tif is TimeInForce.FOK else TimeInForce.IOC
        coid = req.client_order_id
        if coid is not None:
            taken = coid in acct.client_ids if live_coids is None else coid in live_coids
            if taken:
                raise VenueError("DUPLICATE_CLIENT_ORDER_ID",
                                 f"clientOrderId {coid!r} belongs to a live order",
                                 {"clientOrderId": coid})
        steps = int(req.quantity / m.step)
        if req.reduce_only:
            self._check_reduce_only(acct, m, req.side, steps)
        now = self.clock()
        return Order(self.new_id() if mint else "", acct.account_id, m.market_id, req.side,
                     req.type, ticks,
                     steps, tif, req.post_only, req.reduce_only, coid, quote_id, now, now)

    @staticmethod
    def _reducible(acct: Account, market_id: str, side: Side) -> int:
        q = acct.qty(market_id)
        return max(-q, 0) if side is Side.BUY else max(q, 0)

    def _check_reduce_only(self, acct: Account, m: MarketState, side: Side, steps: int) -> None:
        if steps > self._reducible(acct, m.market_id, side):
            pos = acct.qty(m.market_id) * m.step
            raise VenueError("REDUCE_ONLY_WOULD_INCREASE",
                             f"reduce-only {side} of {fmt(steps * m.step)} would increase or "
                             f"flip the position {fmt(pos)}",
                             {"position": fmt(pos), "quantity": fmt(steps * m.step)})

    @staticmethod
    def _live_coids(acct: Account, market_id: str, replacing: bool) -> set[str]:
        """clientOrderIds taken by live orders, less those a cancelAll replace will free."""
        live = set(acct.client_ids)
        if replacing:
            live -= {o.client_order_id for o in acct.open_orders.values()
                     if o.market_id == market_id and o.client_order_id is not None}
        return live

    def _crosses(self, m: MarketState, order: Order, ignore_own: bool = False) -> bool:
        """Would `order` trade on arrival (with `ignore_own`, against another account)?"""
        limit = self._limit_ticks(m, order)
        if ignore_own:
            return self._fillable(m, order, limit) > 0
        return m.book.opposite(order.is_buy).crosses(limit)

    def _check_post_only(self, m: MarketState, order: Order, ignore_own: bool = False) -> None:
        if order.post_only and self._crosses(m, order, ignore_own):
            raise VenueError("POST_ONLY_WOULD_CROSS",
                             f"post-only {order.side} at {fmt(order.price_ticks * m.tick)} "
                             f"would take liquidity", {"price": fmt(order.price_ticks * m.tick)})

    def _margin_need(self, acct: Account, m: MarketState, add_buy: int, add_sell: int,
                     replace: bool = False) -> tuple[Decimal, Decimal]:
        """(required, available) initial margin for adding this exposure to the market.

        `replace`: the account's resting orders on the market go first (cancelAll).
        """
        mid = m.market_id
        base_b = 0 if replace else acct.open_buy.get(mid, 0)
        base_s = 0 if replace else acct.open_sell.get(mid, 0)
        required = (acct.market_im(mid, m.risk, base_b + add_buy, base_s + add_sell)
                    - acct.market_im(mid, m.risk))
        available = acct.equity(self.risks) - acct.initial_margin(self.risks)
        return required, available

    def _margin_gate(self, acct: Account, m: MarketState, add_buy: int, add_sell: int,
                     replace: bool = False) -> None:
        """Refuse (INSUFFICIENT_MARGIN) added exposure that needs more IM than is free."""
        if acct.unlimited:
            return
        required, available = self._margin_need(acct, m, add_buy, add_sell, replace)
        if required > 0 and required > available:
            raise VenueError("INSUFFICIENT_MARGIN",
                             f"needs {fmt(required)} initial margin, {fmt(available)} available",
                             {"requiredIm": fmt(required), "availableIm": fmt(available)})

    # --- book bookkeeping -----------------------------------------------------------

    def _emit(self, account_id: str, kind: str, obj: object) -> None:
        if self.sink is not None:
            self.sink(account_id, kind, obj)

    def _touch(self, m: MarketState) -> None:
        m.book.touch()
        if self.on_book is not None:
            self.on_book(m.market_id)

    def _rest(self, m: MarketState, acct: Account, order: Order) -> None:
        m.book.side(order.is_buy).add(order)
        self._touch(m)
        book = acct.open_buy if order.is_buy else acct.open_sell
        book[m.market_id] = book.get(m.market_id, 0) + order.remaining
        self.orders[order.order_id] = order
        acct.open_orders[order.order_id] = order
        if order.client_order_id is not None:
            acct.client_ids[order.client_order_id] = order.order_id
        if order.reduce_only:
            acct.reduce_only_ids.add(order.order_id)
        self._emit(acct.account_id, "order", order)

    def _unrest(self, m: MarketState, acct: Account, order: Order) -> None:
        m.book.side(order.is_buy).remove(order)
        self._touch(m)
        book = acct.open_buy if order.is_buy else acct.open_sell
        book[m.market_id] -= order.remaining
        del self.orders[order.order_id]
        del acct.open_orders[order.order_id]
        if order.client_order_id is not None:
            acct.client_ids.pop(order.client_order_id, None)
        acct.reduce_only_ids.discard(order.order_id)
        acct.closed_orders.append(order)
        self._emit(acct.account_id, "removed", order)

    def _cancel(self, m: MarketState, order: Order) -> None:
        acct = self.accounts[order.account_id]
        order.status = OrderStatus.CANCELLED
        order.updated_at = self.clock()
        self._unrest(m, acct, order)
        self.counters["cancels"] += 1

    # --- matching -----------------------------------------------------------------

    def _fill(self, m: MarketState, acct: Account, order: Order, steps: int, price_ticks: int,
              liquidity: Liquidity, resting: bool) -> Fill:
        price = price_ticks * m.tick
        quantity = steps * m.step
        notional = price * quantity
        now = self.clock()
        if liquidity is Liquidity.MAKER:
            bps = self.fee_tier(acct).maker_fee_bps
        else:
            bps = self.fee_tier(acct).taker_fee_bps
        fee = notional * bps / BPS
        signed = steps if order.is_buy else -steps
        pnl = acct.position(m.market_id).apply_fill(signed, price, m.step)
        acct.wallet += pnl - fee
        acct.fees_paid += fee
        self._add_volume(acct, notional)
        if resting:
            m.book.side(order.is_buy).reduce(order, steps)
            book = acct.open_buy if order.is_buy else acct.open_sell
            book[m.market_id] -= steps
        order.filled += steps
        order.updated_at = now
        order.status = (OrderStatus.FILLED if order.remaining == 0
                        else OrderStatus.PARTIALLY_FILLED)
        fill = Fill(self.new_id(), order.order_id, order.client_order_id, order.quote_id,
                    m.market_id, acct.account_id, order.side, price, quantity, liquidity, fee, now)
        self.counters["fills"] += 1
        self._emit(acct.account_id, "fill", fill)
        self._emit(acct.account_id, "position", m.market_id)
        if resting:
            if order.remaining == 0:
                self._unrest(m, acct, order)
            else:
                self._emit(acct.account_id, "order", order)
        if acct.reduce_only_ids:
            self._trim_reduce_only(m, acct)
        return fill

    def _trim_reduce_only(self, m: MarketState, acct: Account) -> None:
        """Shrink or cancel resting reduce-only orders that the position no longer covers.

        Oldest first (ULIDs sort by time): each side's orders may add up to at most
        the quantity they can reduce.
        """
        orders = sorted((o for oid in acct.reduce_only_ids
                         if (o := acct.open_orders[oid]).market_id == m.market_id),
                        key=lambda o: o.order_id)
        budget = {side: self._reducible(acct, m.market_id, side) for side in Side}
        for order in orders:
            allowed = budget[order.side]
            if order.remaining <= allowed:
                budget[order.side] = allowed - order.remaining
            elif allowed == 0:
                self._cancel(m, order)
            else:
                cut = order.remaining - allowed
                m.book.side(order.is_buy).reduce(order, cut)
                book = acct.open_buy if order.is_buy else acct.open_sell
                book[m.market_id] -= cut
                order.qty -= cut
                order.updated_at = self.clock()
                budget[order.side] = 0
                self._touch(m)
                self._emit(acct.account_id, "order", order)

    def _limit_ticks(self, m: MarketState, order: Order) -> int:
        if order.type is OrderType.LIMIT:
            return order.price_ticks
        return m.band_high if order.is_buy else m.band_low

    def _fillable(self, m: MarketState, order: Order, limit: int) -> int:
        """Steps an order could take from other accounts' resting orders up to `limit`."""
        side = m.book.opposite(order.is_buy)
        total = 0
        for price in side.prices_best_first():
            if (price > limit) if order.is_buy else (price < limit):
                break
            for maker in side.levels[price].values():
                if maker.account_id != order.account_id:
                    total += maker.remaining
                    if total >= order.qty:
                        return total
        return total

    def _match(self, m: MarketState, acct: Account, order: Order) -> list[Fill]:
        limit = self._limit_ticks(m, order)
        opposite = m.book.opposite(order.is_buy)
        fills: list[Fill] = []
        while order.remaining > 0:
            best = opposite.best()
            if best is None or ((best > limit) if order.is_buy else (best < limit)):
                break
            maker = opposite.first_at(best)
            if maker.account_id == order.account_id:
                self._cancel(m, maker)  # self-trade prevention: the resting order goes
                continue
            maker_acct = self.accounts[maker.account_id]
            steps = min(order.remaining, maker.remaining)
            if order.reduce_only:
                steps = min(steps, self._reducible(acct, m.market_id, order.side))
                if steps == 0:
                    break
            if maker.reduce_only:
                cap = self._reducible(maker_acct, m.market_id, maker.side)
                if cap == 0:
                    self._cancel(m, maker)
                    continue
                steps = min(steps, cap)
            self._fill(m, maker_acct, maker, steps, best, Liquidity.MAKER, resting=True)
            fill = self._fill(m, acct, order, steps, best, Liquidity.TAKER, resting=False)
            m.record_trade(fill.price, fill.quantity, fill.created_at)  # once per trade
            fills.append(fill)
        if fills:
            self._touch(m)
        return fills

    def _submit(self, m: MarketState, acct: Account, order: Order) -> list[Fill]:
        """Match a validated order, then rest or cancel what is left."""
        self.counters["orders"] += 1
        if order.tif is TimeInForce.FOK and (
            self._fillable(m, order, self._limit_ticks(m, order)) < order.qty
        ):
            order.status = OrderStatus.CANCELLED
            acct.closed_orders.append(order)
            return []
        fills = self._match(m, acct, order)
        if order.remaining == 0:
            acct.closed_orders.append(order)
        elif order.type is OrderType.LIMIT and order.tif is TimeInForce.GTC:
            self._rest(m, acct, order)
        else:
            order.status = OrderStatus.CANCELLED
            order.updated_at = self.clock()
            acct.closed_orders.append(order)
        return fills

    # --- the order API --------------------------------------------------------------

    def place_order(self, account_id: str, market_id: str, req: OrderRequest,
                    quote_id: str | None = None) -> tuple[Order, list[Fill]]:
        acct = self.account(account_id)
        m = self.market(market_id)
        self._check_tradable(m)
        try:
            order = self._new_order(acct, m, req, quote_id)
            self._check_post_only(m, order)
            if not order.reduce_only:  # it can only shrink the position: never gated
                self._margin_gate(acct, m, order.qty if order.is_buy else 0,
                                  0 if order.is_buy else order.qty)
        except VenueError:
            self.counters["rejects"] += 1
            raise
        return order, self._submit(m, acct, order)

    def bulk_quote(self, account_id: str, market_id: str, quote_id: str, cancel_all: bool,
                   levels: list[OrderRequest]) -> BulkResult:
        """Place a ladder; with `cancel_all` replace the account's orders on the market.

        Per-level problems (tick, step, band, duplicate id, post-only cross, reduce-only)
        reject that level only; the margin gate judges the whole batch and an
        INSUFFICIENT_MARGIN refusal changes nothing at all.
        """
        acct = self.account(account_id)
        m = self.market(market_id)
        self._check_tradable(m)
        live_coids = self._live_coids(acct, market_id, cancel_all)
        candidates: list[Order] = []
        rejected: list[tuple[str | None, VenueError]] = []
        for req in levels:
            try:
                order = self._new_order(acct, m, req, quote_id, live_coids)
            except VenueError as err:
                rejected.append((req.client_order_id, err))
                continue
            if order.client_order_id is not None:
                live_coids.add(order.client_order_id)
            candidates.append(order)
        add_buy = sum(o.qty for o in candidates if o.is_buy)
        add_sell = sum(o.qty for o in candidates if not o.is_buy)
        try:
            self._margin_gate(acct, m, add_buy, add_sell, replace=cancel_all)
        except VenueError:
            self.counters["rejects"] += 1
            raise
        cancelled: list[str] = []
        if cancel_all:
            for order in [o for o in acct.open_orders.values() if o.market_id == market_id]:
                self._cancel(m, order)
                cancelled.append(order.order_id)
        accepted: list[Order] = []
        for order in candidates:
            try:
                self._check_post_only(m, order)
                if order.reduce_only:
                    self._check_reduce_only(acct, m, order.side, order.qty)
            except VenueError as err:
                rejected.append((order.client_order_id, err))
                continue
            self._submit(m, acct, order)
            accepted.append(order)
        self.counters["rejects"] += len(rejected)
        return BulkResult(quote_id, accepted, rejected, cancelled)

    def cancel_order(self, account_id: str, order_id: str) -> Order:
        """Cancel a live order; cancelling a finished one returns it unchanged."""
        acct = self.account(account_id)
        order = acct.open_orders.get(order_id)
        if order is not None:
            self._cancel(self.markets[order.market_id], order)
            return order
        for closed in acct.closed_orders:
            if closed.order_id == order_id:
                return closed
        raise VenueError("NOT_FOUND", f"no order {order_id!r} on this account",
                         {"orderId": order_id})

    def cancel_all(self, account_id: str, market_id: str | None = None,
                   quote_id: str | None = None) -> list[str]:
        acct = self.account(account_id)
        if market_id is not None:
            self.market(market_id)
        doomed = [o for o in acct.open_orders.values()
                  if (market_id is None or o.market_id == market_id)
                  and (quote_id is None or o.quote_id == quote_id)]
        for order in doomed:
            self._cancel(self.markets[order.market_id], order)
        return [o.order_id for o in doomed]

    def close_position(self, account_id: str, market_id: str,
                       quantity: Decimal | None = None) -> tuple[Order, list[Fill]]:
        acct = self.account(account_id)
        m = self.market(market_id)
        self._check_tradable(m)
        q = acct.qty(market_id)
        if q == 0:
            raise VenueError("NOT_FOUND", f"no open position on {market_id}",
                             {"marketId": market_id})
        size = abs(q) * m.step if quantity is None else quantity
        side = Side.SELL if q > 0 else Side.BUY
        req = OrderRequest(side=side, quantity=size, type=OrderType.MARKET, reduce_only=True)
        return self.place_order(account_id, market_id, req)

    # --- preview ------------------------------------------------------------------

    def preview(self, account_id: str, market_id: str,
                levels: list[OrderRequest], cancel_all: bool = False) -> dict[str, object]:
        """What placing these orders would cost, without placing them."""
        acct = self.account(account_id)
        m = self.market(market_id)
        notional = fee = ZERO
        taker = False
        reason: VenueError | None = None
        add_buy = add_sell = 0
        tier = self.fee_tier(acct)
        live = self._live_coids(acct, market_id, cancel_all)
        ignore = cancel_all  # a replace cancels the account's own quotes first
        try:
            self._check_tradable(m)
        except VenueError as err:
            reason = err
        for i, req in enumerate(levels):
            try:
                order = self._new_order(acct, m, req, None, live, mint=False)
                self._check_post_only(m, order, ignore)
            except VenueError as err:
                if reason is None:  # the first refusal, naming its level in a ladder
                    where = f"quotes[{i}]: " if len(levels) > 1 else ""
                    reason = VenueError(err.code, where + err.message, err.details)
                continue
            if order.client_order_id is not None:
                live.add(order.client_order_id)
            crosses = self._crosses(m, order, ignore)
            price = m.mark if order.type is OrderType.MARKET else order.price_ticks * m.tick
            value = price * order.qty * m.step
            bps = tier.taker_fee_bps if crosses else tier.maker_fee_bps
            taker = taker or crosses
            notional += value
            fee += value * bps / BPS
            if order.is_buy:
                add_buy += order.qty
            else:
                add_sell += order.qty
        required, available = self._margin_need(acct, m, add_buy, add_sell, cancel_all)
        if reason is None and not acct.unlimited and required > 0 and required > available:
            reason = VenueError("INSUFFICIENT_MARGIN",
                                f"needs {fmt(required)} initial margin, {fmt(available)} "
                                f"available")
        out: dict[str, object] = {
            "notional": notional, "marginRequired": max(required, ZERO), "estFee": fee,
            "feeBps": (fee / notional * BPS) if notional else tier.maker_fee_bps,
            "feeRole": "taker" if taker else "maker", "approved": reason is None,
        }
        if reason is not None:
            out["reason"] = f"{reason.code}: {reason.message}"
        return out

    # --- risk ---------------------------------------------------------------------

    def liquidate_underwater(self) -> list[str]:
        """Close at mark every position of an account whose equity fell below maintenance."""
        liquidated = []
        for acct in self.accounts.values():
            if acct.unlimited or not any(p.qty for p in acct.positions.values()):
                continue
            if acct.equity(self.risks) >= acct.maintenance_margin(self.risks):
                continue
            for order in list(acct.open_orders.values()):
                self._cancel(self.markets[order.market_id], order)
            for market_id, pos in acct.positions.items():
                if pos.qty:
                    self._liquidate_position(acct, self.markets[market_id], pos.qty)
            acct.liquidations += 1
            self.counters["liquidations"] += 1
            liquidated.append(acct.account_id)
        return liquidated

    def _liquidate_position(self, acct: Account, m: MarketState, qty: int) -> None:
        now = self.clock()
        side = Side.SELL if qty > 0 else Side.BUY
        order = Order(self.new_id(), acct.account_id, m.market_id, side, OrderType.MARKET, 0,
                      abs(qty), TimeInForce.IOC, False, True, None, "liquidation", now, now)
        mark_ticks = int(m.mark / m.tick)
        # the venue takes the other side at mark; a liquidation pays no fee
        price = mark_ticks * m.tick
        pnl = acct.position(m.market_id).apply_fill(-qty, price, m.step)
        acct.wallet += pnl
        order.filled = order.qty
        order.status = OrderStatus.FILLED
        acct.closed_orders.append(order)
        fill = Fill(self.new_id(), order.order_id, None, order.quote_id, m.market_id,
                    acct.account_id, side, price, abs(qty) * m.step, Liquidity.TAKER, ZERO, now)
        self._emit(acct.account_id, "fill", fill)
        self._emit(acct.account_id, "position", m.market_id)

    # --- views --------------------------------------------------------------------

    def balances(self, account_id: str) -> dict[str, Decimal]:
        acct = self.account(account_id)
        equity = acct.equity(self.risks)
        im = acct.initial_margin(self.risks)
        return {
            "equity": equity,
            "walletBalance": acct.wallet,
            "availableMargin": equity - im,
            "initialMargin": im,
            "maintenanceMargin": acct.maintenance_margin(self.risks),
            "marginUsage": (im / equity) if equity > 0 else ZERO,
            "unrealizedPnl": acct.unrealized(self.risks),
            "realizedPnl": acct.realized,
        }

    def open_interest(self, market_id: str) -> Decimal:
        m = self.market(market_id)
        longs = sum(a.qty(market_id) for a in self.accounts.values() if a.qty(market_id) > 0)
        return longs * m.step

    def orders_of(self, account_id: str, market_id: str | None,
                  status: str | None) -> Iterable[Order]:
        acct = self.account(account_id)
        if status in (None, "open"):
            pool: Iterable = acct.open_orders.values()
        elif status == "partially_filled":
            pool = [o for o in acct.open_orders.values()
                    if o.status is OrderStatus.PARTIALLY_FILLED]
        else:
            pool = [o for o in acct.closed_orders if o.status == status]
        return [o for o in pool if market_id is None or o.market_id == market_id]
