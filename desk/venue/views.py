"""Wire views: exchange state as the JSON bodies of the contract (decimal strings)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from desk.domain import fmt
from desk.venue.exchange import Exchange, Fill, Order
from desk.venue.keys import ApiKey
from desk.venue.market import MarketState

EIGHT_DP = Decimal("0.00000001")


def money(value: Decimal) -> str:
    """Money and ratios on the wire: exact inside, rounded to 8 decimals (half-even) out."""
    try:
        return fmt(value.quantize(EIGHT_DP))
    except InvalidOperation:  # too many digits to round (a ratio over a vanishing equity)
        return fmt(value)


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def dec(value: Decimal | None) -> str | None:
    return None if value is None else fmt(value)


def order_view(o: Order, m: MarketState) -> dict[str, Any]:
    return {
        "orderId": o.order_id,
        "clientOrderId": o.client_order_id,
        "quoteId": o.quote_id,
        "marketId": o.market_id,
        "side": o.side.value,
        "type": o.type.value,
        "price": fmt(o.price_ticks * m.tick) if o.price_ticks else None,
        "quantity": fmt(o.qty * m.step),
        "filledQuantity": fmt(o.filled * m.step),
        "remainingQuantity": fmt(o.remaining * m.step) if o.status.live else "0",
        "status": o.status.value,
        "timeInForce": o.tif.value,
        "postOnly": o.post_only,
        "reduceOnly": o.reduce_only,
        "createdAt": iso(o.created_at),
        "updatedAt": iso(o.updated_at),
    }


def fill_view(f: Fill) -> dict[str, Any]:
    return {
        "fillId": f.fill_id,
        "orderId": f.order_id,
        "clientOrderId": f.client_order_id,
        "quoteId": f.quote_id,
        "marketId": f.market_id,
        "side": f.side.value,
        "price": fmt(f.price),
        "quantity": fmt(f.quantity),
        "liquidity": f.liquidity.value,
        "fee": fmt(f.fee),
        "createdAt": f.created_at,
    }


def market_view(m: MarketState, fee_maker: Decimal, fee_taker: Decimal) -> dict[str, Any]:
    c = m.config
    return {
        "marketId": m.market_id,
        "base": c.base,
        "quote": c.quote,
        "type": "perp",
        "tradingStatus": m.trading_status,
        "tickSize": fmt(m.tick),
        "stepSize": fmt(m.step),
        "minQuantity": fmt(c.min_quantity),
        "priceBandLow": fmt(m.band_low * m.tick),
        "priceBandHigh": fmt(m.band_high * m.tick),
        "makerFeeBps": fmt(fee_maker),
        "takerFeeBps": fmt(fee_taker),
        "markPrice": fmt(m.mark),
        "indexPrice": fmt(m.index),
        "initialMarginRate": fmt(m.risk.imr),
        "maintenanceMarginRate": fmt(m.risk.mmr),
    }


def levels(m: MarketState, is_bid: bool, depth: int, totals: bool = False) -> list:
    side = m.book.bids if is_bid else m.book.asks
    out: list = []
    running = Decimal(0)
    for price, size in side.depth(depth):
        p, s = fmt(price * m.tick), size * m.step
        if totals:
            running += s
            out.append({"price": p, "size": fmt(s), "total": fmt(running)})
        else:
            out.append([p, fmt(s)])
    return out


def position_views(ex: Exchange, account_id: str, market_ids: set[str] | None = None,
                   include_flat: bool = False) -> list[dict[str, Any]]:
    acct = ex.account(account_id)
    out = []
    for market_id, pos in acct.positions.items():
        if market_ids is not None and market_id not in market_ids:
            continue
        if pos.qty == 0 and not include_flat:
            continue
        m = ex.markets[market_id]
        liq = acct.liquidation_price(market_id, ex.risks)
        out.append({
            "marketId": market_id,
            "side": "long" if pos.qty >= 0 else "short",
            "quantity": fmt(abs(pos.qty) * m.step),
            "entryPrice": fmt(pos.entry.quantize(m.tick / 1000)) if pos.qty else "0",
            "markPrice": fmt(m.mark),
            "unrealizedPnl": money((m.mark - pos.entry) * pos.qty * m.step),
            "realizedPnl": money(pos.realized),
            "liquidationPrice": None if liq is None else fmt(liq.quantize(m.tick)),
        })
    return out


def balances_view(ex: Exchange, account_id: str) -> dict[str, str]:
    b = ex.balances(account_id)
    return {k: money(v) for k, v in b.items()}


def key_view(k: ApiKey, now_ms: int) -> dict[str, Any]:
    return {
        "id": k.key_id,
        "name": k.name,
        "scope": k.scope,
        "allowedIps": list(k.allowed_ips),
        "expiresAt": iso(k.expires_at),
        "createdAt": iso(k.created_at),
        "revokedAt": iso(k.revoked_at),
        "lastUsedAt": iso(k.last_used_at),
        "lastUsedIp": k.last_used_ip,
        "status": k.status(now_ms),
    }


def preview_view(p: dict[str, Any]) -> dict[str, Any]:
    return {k: money(v) if isinstance(v, Decimal) else v for k, v in p.items()}
