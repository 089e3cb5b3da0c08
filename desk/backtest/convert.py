"""The exchange core's objects as the engine's records, and its refusals as the
engine's errors: what the HTTP layer and the client do between them, without the wire.

Money and sizes stay `Decimal` (ticks and steps times their increments), exactly as
the client would parse them from the venue's decimal strings.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from desk.domain import ZERO
from desk.domain import errors as de
from desk.domain import records as r
from desk.venue import exchange as ex
from desk.venue.errors import VenueError
from desk.venue.market import MarketState
from desk.venue.views import iso

# every order of a step carries the same millisecond: format it once
_iso = lru_cache(maxsize=256)(iso)


def order(o: ex.Order, m: MarketState) -> r.Order:
    return r.Order(o.order_id, o.client_order_id, o.quote_id, o.market_id, o.side, o.type,
                   o.price_ticks * m.tick if o.price_ticks else None, o.qty * m.step,
                   o.filled * m.step, o.remaining * m.step if o.status.live else ZERO,
                   o.status, o.tif, o.post_only, o.reduce_only, _iso(o.created_at) or "",
                   _iso(o.updated_at) or "")


def fill(f: ex.Fill) -> r.Fill:
    return r.Fill(f.fill_id, f.order_id, f.client_order_id, f.quote_id, f.market_id, f.side,
                  f.price, f.quantity, f.liquidity, f.fee, f.created_at)


def market(m: MarketState, maker_bps: Decimal, taker_bps: Decimal) -> r.Market:
    c = m.config
    return r.Market(m.market_id, m.tick, m.step, c.min_quantity, not m.halted, maker_bps,
                    taker_bps, m.mark, m.index, m.risk.imr, m.risk.mmr, m.band_low * m.tick,
                    m.band_high * m.tick)


def request(level: r.QuoteLevel | r.OrderRequest) -> ex.OrderRequest:
    if isinstance(level, r.QuoteLevel):
        return ex.OrderRequest(level.side, level.quantity, level.price, tif=level.time_in_force,
                               post_only=level.post_only, reduce_only=level.reduce_only,
                               client_order_id=level.client_order_id)
    return ex.OrderRequest(level.side, level.quantity, level.price, level.type,
                           level.time_in_force, level.post_only, level.reduce_only,
                           level.client_order_id)


def error(err: VenueError) -> de.VenueReject:
    """The typed error the client would raise for this refusal."""
    cls = de.REJECTS.get(err.code) or de.BY_STATUS.get(err.status, de.VenueReject)
    if cls is de.RateLimitedError:
        retry_ms = err.details.get("retryAfterMs", 1000)
        return de.RateLimitedError(err.code, err.message, err.status, err.details,
                                   retry_after_s=retry_ms / 1000)
    return cls(err.code, err.message, err.status, err.details)


def reject(client_order_id: str | None, err: VenueError) -> r.LevelReject:
    return r.LevelReject(client_order_id, err.code, err.message)
