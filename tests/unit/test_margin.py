"""Cross margin: IM, maintenance, equity, available margin, the pre-trade gate, squeeze,
liquidation price.

IM per market = initialMarginRate x mark x max(|q + B|, |q - S|) x step
(q signed position in steps, B / S open buy / sell steps).
BTC-PERP: IMR 0.05, MMR 0.025, step 0.001, mark 64000.
"""

from __future__ import annotations

import pytest

from desk.domain import OrderStatus, Side
from desk.venue.accounts import Account, MarketRisk, Position
from desk.venue.errors import VenueError
from tests.unit.exchange_helpers import BTC, ETH, SOL, D, limit, market, snapshot

# --- Account arithmetic on its own ----------------------------------------------------------


def btc_risk(mark="64000"):
    return MarketRisk(step=D("0.001"), mark=D(mark), imr=D("0.05"), mmr=D("0.025"))


def test_market_im_uses_the_worse_side():
    acct = Account("a", D("100000"))
    risk = btc_risk()
    assert acct.market_im(BTC, risk) == 0
    # flat, B = 1000, S = 500 -> max(1000, 500) = 1000 steps = 1 BTC -> 0.05*64000*1 = 3200
    acct.open_buy[BTC], acct.open_sell[BTC] = 1000, 500
    assert acct.market_im(BTC, risk) == D("3200")
    # long 1 BTC, B = 500, S = 300 -> max(|1000+500|, |1000-300|) = 1500 -> 4800
    acct.positions[BTC] = Position(BTC, qty=1000, entry=D("64000"))
    acct.open_buy[BTC], acct.open_sell[BTC] = 500, 300
    assert acct.market_im(BTC, risk) == D("4800")
    # long 1, sells 2.5 resting: max(1000, |1000-2500|) = 1500 -> 4800 too
    acct.open_buy[BTC], acct.open_sell[BTC] = 0, 2500
    assert acct.market_im(BTC, risk) == D("4800")
    # long 1, sells 2 resting: max(1000, 1000) -> 3200 (a full flip is as risky as the long)
    acct.open_sell[BTC] = 2000
    assert acct.market_im(BTC, risk) == D("3200")
    # hypothetical buy/sell overrides
    assert acct.market_im(BTC, risk, buy=3000, sell=0) == D("12800")  # 4 BTC * 3200


def test_short_position_im_and_maintenance():
    acct = Account("a", D("100000"))
    acct.positions[BTC] = Position(BTC, qty=-2000, entry=D("64000"))
    risks = {BTC: btc_risk("63000")}
    # IM = 0.05 * 63000 * 2 = 6300; MM = 0.025 * 63000 * 2 = 3150
    assert acct.initial_margin(risks) == D("6300")
    assert acct.maintenance_margin(risks) == D("3150")
    # short 2 from 64000, mark 63000: unrealized = (63000 - 64000) * -2 = +2000
    assert acct.unrealized(risks) == D("2000")
    assert acct.equity(risks) == D("102000")


def test_initial_margin_sums_markets():
    acct = Account("a", D("100000"))
    acct.positions[BTC] = Position(BTC, qty=1000, entry=D("64000"))
    acct.open_sell[ETH] = 200  # 2 ETH resting (step 0.01)
    risks = {BTC: btc_risk(), ETH: MarketRisk(D("0.01"), D("3200"), D("0.05"), D("0.025"))}
    # BTC 3200 + ETH 0.05 * 3200 * 2 = 320 -> 3520; maintenance counts positions only
    assert acct.initial_margin(risks) == D("3520")
    assert acct.maintenance_margin(risks) == D("1600")


def test_equity_is_wallet_plus_unrealized():
    acct = Account("a", D("5000"))
    acct.positions[BTC] = Position(BTC, qty=1500, entry=D("64000"))
    # 1.5 BTC long, mark 64100: +150
    assert acct.unrealized({BTC: btc_risk("64100")}) == D("150")
    assert acct.equity({BTC: btc_risk("64100")}) == D("5150")
    # mark 63000: -1500
    assert acct.equity({BTC: btc_risk("63000")}) == D("3500")


# --- through the exchange ------------------------------------------------------------------


def test_balances_of_resting_orders(exchange):
    exchange.place_order("mm", BTC, limit(Side.BUY, "1", "63000"))
    exchange.place_order("mm", BTC, limit(Side.SELL, "0.5", "65000"))
    b = exchange.balances("mm")
    # IM uses the mark (64000), not the order price: 0.05 * 64000 * 1 = 3200
    assert b["initialMargin"] == D("3200")
    assert b["maintenanceMargin"] == 0
    assert b["equity"] == D("100000") and b["walletBalance"] == D("100000")
    assert b["availableMargin"] == D("96800")
    assert b["marginUsage"] == D("0.032")
    assert b["unrealizedPnl"] == 0 and b["realizedPnl"] == 0


def test_balances_with_a_position_and_orders(exchange):
    exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    exchange.place_order("taker", BTC, limit(Side.BUY, "1", "64000"))
    # taker: long 1 @ 64000, paid 64000 * 5 bps = 32 -> wallet 99968
    exchange.place_order("taker", BTC, limit(Side.SELL, "0.3", "64100"))
    exchange.place_order("taker", BTC, limit(Side.BUY, "0.5", "63900"))
    exchange.set_index(BTC, D("65000"))
    # mark = median(63900, 64100, 65000) = 64100
    assert exchange.markets[BTC].mark == D("64100")
    b = exchange.balances("taker")
    # q = 1000, B = 500, S = 300 -> 1500 steps: IM = 0.05 * 64100 * 1.5 = 4807.5
    assert b["initialMargin"] == D("4807.5")
    # MM = 0.025 * 64100 * 1 = 1602.5
    assert b["maintenanceMargin"] == D("1602.5")
    assert b["walletBalance"] == D("99968")
    assert b["unrealizedPnl"] == D("100")
    assert b["equity"] == D("100068")
    assert b["availableMargin"] == D("95260.5")


def test_pre_trade_gate_rejects_with_details(exchange):
    exchange.open_account("small", D("1000"))
    before = snapshot(exchange)
    rejects = exchange.counters["rejects"]
    with pytest.raises(VenueError) as info:
        # 0.5 BTC needs 0.05 * 64000 * 0.5 = 1600 > 1000
        exchange.place_order("small", BTC, limit(Side.BUY, "0.5", "63000"))
    err = info.value
    assert err.code == "INSUFFICIENT_MARGIN" and err.status == 422
    assert err.details == {"requiredIm": "1600", "availableIm": "1000"}
    assert all(isinstance(v, str) for v in err.details.values())
    assert snapshot(exchange) == before
    assert exchange.counters["rejects"] == rejects + 1
    # 0.3 BTC needs 960 <= 1000
    order, _ = exchange.place_order("small", BTC, limit(Side.BUY, "0.3", "63000"))
    assert order.status is OrderStatus.OPEN
    # then 0.1 more needs 320 with 1000 - 960 = 40 free
    with pytest.raises(VenueError) as info:
        exchange.place_order("small", BTC, limit(Side.BUY, "0.1", "63000"))
    assert info.value.details == {"requiredIm": "320", "availableIm": "40"}
    # a sell of 0.3 against the resting buy of 0.3 adds no IM: max(|0+300|, |0-300|) = 300
    order, _ = exchange.place_order("small", BTC, limit(Side.SELL, "0.3", "65000"))
    assert order.status is OrderStatus.OPEN
    assert exchange.balances("small")["initialMargin"] == D("960")


def test_market_order_is_gated_too(exchange):
    exchange.open_account("small", D("1000"))
    exchange.place_order("mm", BTC, limit(Side.SELL, "1", "64000"))
    with pytest.raises(VenueError) as info:
        exchange.place_order("small", BTC, market(Side.BUY, "0.5"))
    assert info.value.code == "INSUFFICIENT_MARGIN"
    assert exchange.accounts["small"].qty(BTC) == 0


def _over_margined(exchange):
    """`small` (1000 USD) buys 0.3 BTC at 64000, then the index drops to 61000.

    fee 64000 * 0.3 * 5 bps = 9.6 -> wallet 990.4; mark 61000 (book empty):
    unrealized (61000 - 64000) * 0.3 = -900 -> equity 90.4;
    IM = 0.05 * 61000 * 0.3 = 915 -> available 90.4 - 915 = -824.6
    """
    exchange.open_account("small", D("1000"))
    exchange.place_order("mm", BTC, limit(Side.SELL, "0.3", "64000"))
    exchange.place_order("small", BTC, limit(Side.BUY, "0.3", "64000"))
    exchange.set_index(BTC, D("61000"))
    b = exchange.balances("small")
    assert b["walletBalance"] == D("990.4")
    assert b["equity"] == D("90.4")
    assert b["initialMargin"] == D("915")
    assert b["availableMargin"] == D("-824.6")


def test_risk_reducing_order_passes_when_over_margined(exchange):
    _over_margined(exchange)
    # band at index 61000: 57950 .. 64050
    order, _ = exchange.place_order("small", BTC, limit(Side.SELL, "0.1", "61500"))
    assert order.status is OrderStatus.OPEN
    # a sell of 0.5 (a flip to -0.2) is still within max(|300|, |300-500|) = 300: passes
    order2, _ = exchange.place_order("small", BTC, limit(Side.SELL, "0.5", "62000"))
    assert order2.status is OrderStatus.OPEN
    # a buy adds exposure: 0.05 * 61000 * 0.001 = 3.05 needed, -824.6 available
    with pytest.raises(VenueError) as info:
        exchange.place_order("small", BTC, limit(Side.BUY, "0.001", "60000"))
    assert info.value.details == {"requiredIm": "3.05", "availableIm": "-824.6"}


def test_reducing_market_order_passes_when_over_margined(exchange):
    _over_margined(exchange)
    exchange.place_order("mm", BTC, limit(Side.BUY, "1", "60950"))
    order, fills = exchange.place_order("small", BTC, market(Side.SELL, "0.3"))
    assert order.status is OrderStatus.FILLED
    assert exchange.accounts["small"].qty(BTC) == 0


def test_sell_that_flips_beyond_the_position_is_gated(exchange):
    _over_margined(exchange)
    # 0.7 sell: max(300, |300-700|) = 400 -> extra 100 steps: 0.05 * 61000 * 0.1 = 305
    with pytest.raises(VenueError) as info:
        exchange.place_order("small", BTC, limit(Side.SELL, "0.7", "62000"))
    assert info.value.details == {"requiredIm": "305", "availableIm": "-824.6"}


def test_margin_factor_raises_im(exchange):
    exchange.place_order("mm", BTC, limit(Side.BUY, "1", "63000"))
    assert exchange.balances("mm")["initialMargin"] == D("3200")
    exchange.set_margin_factor(BTC, D("5"))
    # IMR 0.05 * 5 = 0.25 -> 0.25 * 64000 * 1 = 16000
    assert exchange.markets[BTC].initial_margin_rate == D("0.25")
    assert exchange.balances("mm")["initialMargin"] == D("16000")
    # maintenance is not squeezed
    assert exchange.markets[BTC].risk.mmr == D("0.025")
    # the rate is capped at 1
    exchange.set_margin_factor(BTC, D("100"))
    assert exchange.markets[BTC].initial_margin_rate == D("1")
    assert exchange.balances("mm")["initialMargin"] == D("64000")
    exchange.set_margin_factor(BTC, D("1"))
    assert exchange.balances("mm")["initialMargin"] == D("3200")


def test_margin_factor_tightens_the_gate(exchange):
    exchange.open_account("small", D("1000"))
    exchange.set_margin_factor(BTC, D("5"))
    with pytest.raises(VenueError) as info:
        # 0.25 * 64000 * 0.1 = 1600 > 1000
        exchange.place_order("small", BTC, limit(Side.BUY, "0.1", "63000"))
    assert info.value.details == {"requiredIm": "1600", "availableIm": "1000"}
    exchange.set_margin_factor(BTC, D("1"))
    order, _ = exchange.place_order("small", BTC, limit(Side.BUY, "0.1", "63000"))  # 320
    assert order.status is OrderStatus.OPEN


def test_sol_has_its_own_rates(exchange):
    # SOL-PERP: IMR 0.1, step 0.1, mark 150: 10 SOL bid -> 0.1 * 150 * 10 = 150
    exchange.place_order("mm", SOL, limit(Side.BUY, "10", "149"))
    assert exchange.balances("mm")["initialMargin"] == D("150")


def test_unlimited_account_skips_the_gate(exchange):
    exchange.open_account("whale", D("0"), unlimited=True)
    order, _ = exchange.place_order("whale", BTC, limit(Side.BUY, "100", "63000"))
    assert order.status is OrderStatus.OPEN


# --- liquidation price ---------------------------------------------------------------------


def test_liquidation_price_long():
    # long 1 BTC @ 64000, wallet 5500, mark 64000:
    # p = (mm_others - equity + size*mark) / (size * (1 - mmr)) = (0 - 5500 + 64000) / 0.975
    #   = 58500 / 0.975 = 60000
    # check: at 60000 equity = 5500 - 4000 = 1500 = 0.025 * 60000 * 1
    acct = Account("a", D("5500"))
    acct.positions[BTC] = Position(BTC, qty=1000, entry=D("64000"))
    assert acct.liquidation_price(BTC, {BTC: btc_risk()}) == D("60000")
    # the answer does not depend on where the mark is now
    assert acct.liquidation_price(BTC, {BTC: btc_risk("62000")}) == D("60000")


def test_liquidation_price_short():
    # short 1 BTC @ 64000, wallet 3650: p = (equity + size*mark - mm_others) / (size*1.025)
    #   = (3650 + 64000) / 1.025 = 66000; at 66000 equity = 3650 - 2000 = 1650 = 0.025*66000
    acct = Account("a", D("3650"))
    acct.positions[BTC] = Position(BTC, qty=-1000, entry=D("64000"))
    assert acct.liquidation_price(BTC, {BTC: btc_risk()}) == D("66000")


def test_liquidation_price_cross_margin_counts_other_maintenance():
    # plus long 10 ETH @ 3200 at mark 3200: mm_others = 0.025 * 3200 * 10 = 800
    # p = (800 - 6300 + 64000) / 0.975 = 58500 / 0.975 = 60000
    acct = Account("a", D("6300"))
    acct.positions[BTC] = Position(BTC, qty=1000, entry=D("64000"))
    acct.positions[ETH] = Position(ETH, qty=1000, entry=D("3200"))
    risks = {BTC: btc_risk(), ETH: MarketRisk(D("0.01"), D("3200"), D("0.05"), D("0.025"))}
    assert acct.liquidation_price(BTC, risks) == D("60000")


def test_liquidation_price_none_when_flat_or_unreachable():
    acct = Account("a", D("100000"))
    assert acct.liquidation_price(BTC, {BTC: btc_risk()}) is None
    acct.positions[BTC] = Position(BTC, qty=0)
    assert acct.liquidation_price(BTC, {BTC: btc_risk()}) is None
    # long 1 with 100000: (0 - 100000 + 64000) / 0.975 < 0 -> no liquidation price
    acct.positions[BTC] = Position(BTC, qty=1000, entry=D("64000"))
    assert acct.liquidation_price(BTC, {BTC: btc_risk()}) is None


# --- mark and funding ---------------------------------------------------------------------


def test_mark_is_the_median_of_bid_ask_and_index(exchange):
    m = exchange.markets[BTC]
    exchange.place_order("mm", BTC, limit(Side.BUY, "0.1", "63990"))
    exchange.refresh_marks()
    assert m.mark == D("64000")  # one-sided book: the index
    exchange.place_order("mm", BTC, limit(Side.SELL, "0.1", "64010"))
    exchange.refresh_marks()
    assert m.mark == D("64000")  # median(63990, 64010, 64000)
    exchange.set_index(BTC, D("65000"))
    assert m.mark == D("64010")  # median(63990, 64010, 65000)
    exchange.set_index(BTC, D("63000"))
    assert m.mark == D("63990")
    assert m.risk.mark == m.mark  # what the margin formulas use
    # an index between ticks is rounded half-even to the tick: 64000.05 -> 64000.0
    exchange.cancel_all("mm")
    exchange.set_index(BTC, D("64000.05"))
    assert m.mark == D("64000.0")
    exchange.set_index(BTC, D("64000.15"))
    assert m.mark == D("64000.2")


def test_funding_rate_is_the_capped_premium(exchange):
    m = exchange.markets[BTC]
    exchange.place_order("mm", BTC, limit(Side.BUY, "0.1", "63990"))
    exchange.place_order("mm", BTC, limit(Side.SELL, "0.1", "64010"))
    exchange.set_index(BTC, D("64000"))
    assert m.funding_rate() == 0
    exchange.set_index(BTC, D("63900"))
    # mark 63990: (63990 - 63900) / 63900 = 0.00140845... -> 0.00140845
    assert m.funding_rate() == D("0.00140845")
    exchange.set_index(BTC, D("61000"))
    # mark 63990: premium 4.9% -> capped at 0.75%
    assert m.funding_rate() == D("0.0075")
    exchange.set_index(BTC, D("67000"))
    assert m.funding_rate() == D("-0.0075")
