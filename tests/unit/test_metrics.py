"""PnL (average cost), the PnL series (daily/hourly/drawdown/Sharpe) and quote statistics."""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from desk.domain import ZERO, Liquidity, Side
from desk.domain.records import Fill
from desk.engine.metrics import (
    MINUTES_PER_YEAR,
    SHARPE_MIN_RETURNS,
    SHARPE_MIN_SPAN_S,
    Metrics,
    PnlBook,
    PnlSeries,
    QuoteBook,
    QuoteStats,
)

D = Decimal
_ids = itertools.count(1)

DAY = 86_400
T_DAY = 19_000 * DAY  # a UTC midnight (2022-01-08 00:00:00Z), in seconds


def fill(side: Side, price: str | Decimal, qty: str | Decimal, fee: str | Decimal = "0",
         client_order_id: str | None = None, created_at: int = 0) -> Fill:
    n = next(_ids)
    return Fill(fill_id=f"f{n}", order_id=f"o{n}", client_order_id=client_order_id,
                quote_id=None, market_id="BTC-PERP", side=side, price=D(price),
                quantity=D(qty), liquidity=Liquidity.MAKER, fee=D(fee), created_at=created_at)


def buy(price, qty, fee="0", **kw) -> Fill:
    return fill(Side.BUY, price, qty, fee, **kw)


def sell(price, qty, fee="0", **kw) -> Fill:
    return fill(Side.SELL, price, qty, fee, **kw)


# --- PnlBook ---------------------------------------------------------------------------------


def test_fresh_book_is_flat_and_empty():
    book = PnlBook()
    assert book.position == 0 and book.average is None
    assert book.realized == 0 and book.fees == 0 and book.volume == 0
    assert (book.trades, book.closes, book.wins) == (0, 0, 0)
    assert book.unrealized(D(100)) == 0 and book.total(D(100)) == 0


def test_adding_averages_the_entry_price():
    book = PnlBook()
    assert book.on_fill(buy("100", "1")) == 0
    assert book.average == D(100)
    assert book.on_fill(buy("110", "1")) == 0
    assert book.position == D(2)
    assert book.average == D(105)
    assert book.realized == 0 and book.closes == 0


def test_weighted_average_with_unequal_sizes():
    book = PnlBook()
    book.on_fill(buy("100", "3"))
    book.on_fill(buy("120", "1"))
    assert book.average == D(105)  # (300 + 120) / 4


def test_reducing_realises_against_the_average_and_counts_a_win():
    book = PnlBook()
    book.on_fill(buy("100", "1"))
    book.on_fill(buy("110", "1"))
    realised = book.on_fill(sell("120", "1"))
    assert realised == D(15)
    assert book.realized == D(15)
    assert book.position == D(1)
    assert book.average == D(105)  # reducing leaves the average alone
    assert (book.closes, book.wins, book.trades) == (1, 1, 3)


def test_fees_reduce_realized_but_not_the_returned_pnl():
    book = PnlBook()
    book.on_fill(buy("100", "1", fee="0.5"))
    book.on_fill(buy("110", "1", fee="0.25"))
    realised = book.on_fill(sell("120", "1", fee="0.75"))
    assert realised == D(15)  # before fees
    assert book.fees == D("1.5")
    assert book.realized == D("13.5")  # 15 - 1.5
    assert book.wins == 1


def test_fees_alone_make_realized_negative_while_opening():
    book = PnlBook()
    book.on_fill(buy("100", "1", fee="0.02"))
    assert book.realized == D("-0.02") and book.fees == D("0.02")


def test_a_losing_close_is_not_a_win():
    book = PnlBook()
    book.on_fill(buy("100", "2"))
    assert book.on_fill(sell("95", "1")) == D(-5)
    assert book.on_fill(sell("100", "1")) == 0  # break-even is not a win either
    assert (book.closes, book.wins) == (2, 0)
    assert book.realized == D(-5)
    assert book.position == 0 and book.average is None


def test_going_through_zero_closes_then_opens_at_the_fill_price():
    book = PnlBook()
    book.on_fill(buy("100", "1"))
    book.on_fill(buy("110", "1"))
    book.on_fill(sell("120", "1"))  # +15, long 1 @105
    realised = book.on_fill(sell("90", "2"))
    assert realised == D(90) - D(105)  # only the closed unit
    assert book.realized == D(15) + D(-15)
    assert book.position == D(-1)
    assert book.average == D(90)
    assert (book.closes, book.wins) == (2, 1)


def test_short_side_realises_when_bought_back_lower():
    book = PnlBook()
    book.on_fill(sell("100", "2"))
    assert book.position == D(-2) and book.average == D(100)
    book.on_fill(sell("130", "1"))
    assert book.average == D(110)
    assert book.on_fill(buy("100", "1")) == D(10)
    assert book.position == D(-2) and book.average == D(110)
    assert book.on_fill(buy("90", "3")) == D(40)  # closes 2 @110 -> +40, opens long 1 @90
    assert book.position == D(1) and book.average == D(90)
    assert book.realized == D(50)
    assert (book.closes, book.wins) == (2, 2)


def test_exact_close_leaves_the_book_flat_without_an_average():
    book = PnlBook()
    book.on_fill(sell("100", "1.5"))
    book.on_fill(buy("101", "1.5"))
    assert book.position == 0 and book.average is None
    assert book.realized == D("-1.5")
    assert book.unrealized(D(200)) == 0


def test_volume_is_the_notional_sum_and_trades_count_every_fill():
    book = PnlBook()
    book.on_fill(buy("100", "1"))
    book.on_fill(sell("120.5", "0.5"))
    book.on_fill(sell("90", "2"))
    assert book.volume == D(100) + D("60.25") + D(180)
    assert book.trades == 3


def test_unrealized_and_total_at_a_mark():
    book = PnlBook()
    book.on_fill(buy("100", "2", fee="1"))
    assert book.unrealized(D(103)) == D(6)
    assert book.total(D(103)) == D(5)  # -1 fee + 6
    assert book.unrealized(D(97)) == D(-6)
    assert book.unrealized(None) == 0
    assert book.total(None) == D(-1)
    book.on_fill(sell("110", "3"))  # short 1 @110
    assert book.unrealized(D(100)) == D(10)
    assert book.unrealized(D(115)) == D(-5)


def test_seed_from_a_venue_position():
    book = PnlBook()
    book.seed(D("2"), D("100"))
    assert book.position == D(2) and book.average == D(100)
    assert book.unrealized(D(101)) == D(2)
    assert book.realized == 0 and book.trades == 0 and book.volume == 0
    assert book.on_fill(sell("110", "1")) == D(10)
    assert book.position == D(1) and book.realized == D(10)


def test_seed_short_then_add():
    book = PnlBook()
    book.seed(D("-1"), D("200"))
    book.on_fill(sell("230", "2"))
    assert book.position == D(-3) and book.average == D(220)


def test_seed_flat_drops_the_entry_price():
    book = PnlBook()
    book.seed(D(0), D("100"))
    assert book.position == 0 and book.average is None
    book.on_fill(buy("50", "1"))
    assert book.average == D(50)


# Integer-scaled decimals keep every product exact within the 28-digit context.
prices = st.integers(1, 10_000_000).map(lambda n: D(n).scaleb(-2))        # 0.01 .. 100000
sizes = st.integers(1, 100_000).map(lambda n: D(n).scaleb(-3))            # 0.001 .. 100
fees = st.integers(0, 10_000).map(lambda n: D(n).scaleb(-4))              # 0 .. 1
fill_specs = st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), prices, sizes, fees),
                      max_size=25)


def _play(specs, close_price=None, close_fee=ZERO):
    """Apply the fills, optionally closing what is left; returns (book, fills)."""
    book = PnlBook()
    fills = [fill(side, p, q, fee) for side, p, q, fee in specs]
    for f in fills:
        book.on_fill(f)
    if close_price is not None and book.position != 0:
        side = Side.SELL if book.position > 0 else Side.BUY
        last = fill(side, close_price, abs(book.position), close_fee)
        book.on_fill(last)
        fills.append(last)
    return book, fills


def _cash_flow(fills) -> Decimal:
    return sum((f.price * f.quantity * (1 if f.side is Side.SELL else -1) - f.fee
                for f in fills), D(0))


@settings(max_examples=200, deadline=None)
@given(fill_specs)
def test_position_is_the_sum_of_signed_quantities(specs):
    book, fills = _play(specs)
    assert book.position == sum((f.signed_quantity for f in fills), D(0))
    assert book.volume == sum((f.price * f.quantity for f in fills), D(0))
    assert book.fees == sum((f.fee for f in fills), D(0))
    assert book.trades == len(fills)
    assert 0 <= book.wins <= book.closes <= book.trades
    assert (book.average is None) == (book.position == 0)


@settings(max_examples=200, deadline=None)
@given(fill_specs, prices, fees)
def test_flat_pnl_equals_the_cash_flow_up_to_rounding(specs, close_price, close_fee):
    book, fills = _play(specs, close_price, close_fee)
    assert book.position == 0
    assert book.unrealized(close_price) == 0
    assert abs(book.total(close_price) - _cash_flow(fills)) < D("1e-12")


@settings(max_examples=200, deadline=None)
@example(specs=[(Side.BUY, D(1), D(1), D(0)), (Side.BUY, D(2), D(2), D(0))],
         close_price=D(2), close_fee=D(0))
@given(fill_specs, prices, fees)
def test_flat_pnl_equals_the_cash_flow_exactly(specs, close_price, close_fee):
    book, fills = _play(specs, close_price, close_fee)
    assert book.position == 0
    assert book.total(close_price) == _cash_flow(fills)


def test_flat_pnl_is_exact_when_the_average_is_exact():
    book, fills = _play([(Side.BUY, D(100), D(1), D("0.1")), (Side.BUY, D(110), D(1), D("0.1")),
                         (Side.SELL, D(120), D(1), D("0.2")), (Side.SELL, D(90), D(2), D("0.3"))],
                        close_price=D(95), close_fee=D("0.05"))
    assert book.position == 0
    assert book.total(None) == _cash_flow(fills) == D("-5.75")


# --- PnlSeries -------------------------------------------------------------------------------


def test_fresh_series_is_all_zero():
    s = PnlSeries(D(10_000))
    assert s.daily() == 0 and s.hourly() == 0
    assert s.drawdown_pct() == 0.0 and s.max_drawdown == 0 and s.max_drawdown_pct == 0.0
    assert s.sharpe() is None


def test_daily_pnl_resets_at_the_utc_day_boundary():
    s = PnlSeries(D(10_000))
    s.sample(T_DAY - 3600, D(100))
    s.sample(T_DAY - 10, D(120))
    assert s.daily() == D(120)      # the series starts flat: from zero, not the first sample
    s.sample(T_DAY - 0.5, D(125))   # still yesterday
    assert s.daily() == D(125)
    s.sample(T_DAY, D(130))         # midnight exactly: a new day, starting here
    assert s.daily() == 0
    s.sample(T_DAY + 100, D(90))
    assert s.daily() == D(-40)
    s.sample(T_DAY + DAY + 5, D(50))  # the next midnight
    assert s.daily() == 0
    s.sample(T_DAY + DAY + 60, D(75))
    assert s.daily() == D(25)


def test_a_loss_before_the_first_sample_counts_today_and_this_hour():
    s = PnlSeries(D(10_000))
    s.sample(T_DAY + 5000, D(-300))
    assert s.daily() == D(-300) and s.hourly() == D(-300)
    assert list(s.recent) == [(T_DAY + 5000, 0)]
    s.sample(T_DAY + 5001, D(-350))
    assert s.daily() == D(-350) and s.hourly() == D(-350)


def test_a_series_opened_at_a_reloaded_pnl_counts_only_what_follows():
    s = PnlSeries(D(10_000))
    s.open_at(D(-400))                # a position reloaded 400 under water
    assert s.daily() == 0 and s.hourly() == 0 and s.drawdown_pct() == 0.0
    s.sample(T_DAY + 10, D(-450))
    assert s.daily() == D(-50) and s.hourly() == D(-50)
    assert s.drawdown_pct() == pytest.approx(50 / 9_600 * 100)


def test_throttled_samples_still_move_daily_and_the_day():
    s = PnlSeries(D(10_000), sample_s=10)
    s.sample(T_DAY - 2, D(10))
    s.sample(T_DAY + 1, D(30))   # within sample_s of the last kept sample, but a new day
    assert s.daily() == 0
    s.sample(T_DAY + 2, D(35))
    assert s.daily() == D(5)
    assert [t for t, _ in s.recent] == [T_DAY - 2]


def test_hourly_is_the_change_from_the_oldest_sample_within_the_hour():
    s = PnlSeries(D(100_000))
    t0 = T_DAY + 1000
    s.sample(t0, D(0))
    s.sample(t0 + 600, D(-100))
    s.sample(t0 + 1800, D(-300))
    assert s.hourly() == D(-300)     # from t0
    s.sample(t0 + 3600, D(-400))     # t0 is exactly an hour old: still inside
    assert s.hourly() == D(-400)
    s.sample(t0 + 3700, D(-500))     # t0 is now out; oldest inside is t0+600
    assert s.hourly() == D(-400)
    assert s.recent[0] == (t0 + 600, D(-100))
    s.sample(t0 + 9000, D(-450))     # everything else is older than an hour
    assert s.hourly() == 0
    assert list(s.recent) == [(t0 + 9000, D(-450))]


def test_hourly_includes_a_throttled_latest_value():
    s = PnlSeries(D(100_000), sample_s=5)
    s.sample(100.0, D(0))
    s.sample(102.0, D(-10))
    assert s.hourly() == D(-10)
    assert list(s.recent) == [(100.0, D(0))]


def test_samples_closer_than_sample_s_are_not_added_to_recent():
    s = PnlSeries(D(10_000), sample_s=5)
    for t, v in [(0, 1), (2, 2), (4.9, 3), (5, 4), (9, 5), (10, 6), (16, 7)]:
        s.sample(float(t), D(v))
    assert [t for t, _ in s.recent] == [0, 5, 10, 16]
    assert s.last == D(7)


def test_drawdown_against_base_equity_plus_pnl():
    s = PnlSeries(D(10_000))
    s.sample(0, D(0))
    assert s.drawdown_pct() == 0.0
    s.sample(10, D(1000))            # peak 11000
    assert s.peak == D(11_000) and s.drawdown_pct() == 0.0
    s.sample(20, D(-100))            # equity 9900
    assert s.drawdown_pct() == pytest.approx(1100 / 11_000 * 100)
    assert s.max_drawdown_pct == pytest.approx(10.0) and s.max_drawdown == D(1100)
    s.sample(30, D(500))             # equity 10500: recovered partly
    assert s.drawdown_pct() == pytest.approx(500 / 11_000 * 100)
    assert s.max_drawdown_pct == pytest.approx(10.0)   # the worst stays
    assert s.max_drawdown == D(1100)
    s.sample(40, D(2000))            # new peak
    assert s.drawdown_pct() == 0.0 and s.peak == D(12_000)
    assert s.max_drawdown_pct == pytest.approx(10.0) and s.max_drawdown == D(1100)


def test_drawdown_from_the_base_equity_when_pnl_starts_negative():
    s = PnlSeries(D(1000))
    s.sample(0, D(-50))
    assert s.peak == D(1000)
    assert s.drawdown_pct() == pytest.approx(5.0)
    assert s.max_drawdown_pct == pytest.approx(5.0) and s.max_drawdown == D(50)


def test_throttled_samples_count_for_the_peak_and_max_drawdown():
    s = PnlSeries(D(1000), sample_s=60)
    s.sample(0, D(0))
    s.sample(1, D(-200))
    assert s.max_drawdown_pct == pytest.approx(20.0) and s.max_drawdown == D(200)
    assert len(s.recent) == 1


def test_drawdown_without_positive_equity_is_zero():
    s = PnlSeries(D(0))
    s.sample(0, D(-10))
    assert s.drawdown_pct() == 0.0 and s.max_drawdown_pct == 0.0
    assert s.max_drawdown == D(10)   # the currency figure needs no positive equity


def test_minutes_are_kept_at_least_a_minute_apart():
    s = PnlSeries(D(10_000))
    for t in range(0, 200, 10):
        s.sample(float(t), D(t))
    assert [t for t, _ in s.minutes] == [0, 60, 120, 180]


def test_sharpe_is_none_before_its_minimum_sample():
    """13 minutes of a steady gain gave 1201 on a real desk: no Sharpe before an hour of
    one-minute changes (SHARPE_MIN_RETURNS over SHARPE_MIN_SPAN_S)."""
    assert SHARPE_MIN_RETURNS == 60 and SHARPE_MIN_SPAN_S == 3600
    s = PnlSeries(D(10_000))
    totals = [0, 1, 3, 4, 4, 7, 6, 9, 10, 12, 11, 14, 15, 17]   # 13 minutes
    for i, v in enumerate(totals):
        s.sample(60.0 * i, D(v))
    assert s.sharpe() is None
    for i in range(len(totals), SHARPE_MIN_RETURNS):
        s.sample(60.0 * i, D(17 + i % 3))
    assert len(s.minutes) == SHARPE_MIN_RETURNS and s.sharpe() is None  # 59 changes
    s.sample(60.0 * SHARPE_MIN_RETURNS, D(20))
    assert s.sharpe() is not None                                        # 60, one hour


def test_sharpe_needs_the_hour_as_well_as_the_count():
    s = PnlSeries(D(10_000))
    s.minutes.extend((30.0 * i, D(i % 4)) for i in range(SHARPE_MIN_RETURNS + 1))  # 30 min
    assert s.sharpe() is None


def test_sharpe_is_none_when_changes_do_not_vary():
    s = PnlSeries(D(10_000))
    for i in range(SHARPE_MIN_RETURNS + 5):
        s.sample(60.0 * i, D(3 * i))
    assert s.sharpe() is None


def _hour(pattern: list[int]) -> list[int]:
    """Totals whose one-minute changes repeat `pattern`, SHARPE_MIN_RETURNS of them."""
    totals = [0]
    for i in range(SHARPE_MIN_RETURNS):
        totals.append(totals[-1] + pattern[i % len(pattern)])
    return totals


def test_sharpe_of_a_hand_built_series():
    totals = _hour([1, 2, 1, 0, 3])
    s = PnlSeries(D(10_000))
    for i, v in enumerate(totals):
        s.sample(60.0 * i, D(v))
    changes = [b - a for a, b in itertools.pairwise(totals)]  # 1, 2, 1, 0, 3, ... x12
    expected = statistics.mean(changes) / statistics.stdev(changes) * math.sqrt(525_600)
    assert MINUTES_PER_YEAR == 525_600
    assert s.sharpe() == pytest.approx(expected)
    # by hand: mean 1.4, sample variance (12 x (0.16+0.36+0.16+1.96+2.56))/59 = 62.4/59
    assert s.sharpe() == pytest.approx(1.4 / math.sqrt(62.4 / 59) * math.sqrt(525_600))


def test_sharpe_of_a_loss_is_negative():
    totals = _hour([-2, -1])
    s = PnlSeries(D(10_000))
    for i, v in enumerate(totals):
        s.sample(60.0 * i, D(v))
    changes = [b - a for a, b in itertools.pairwise(totals)]
    expected = -1.5 / statistics.stdev(changes) * math.sqrt(525_600)
    assert s.sharpe() == pytest.approx(expected)
    assert s.sharpe() < 0


# --- QuoteBook -------------------------------------------------------------------------------


def test_quotes_sent_counts_every_on_sent():
    qb = QuoteBook()
    for i in range(4):
        qb.on_sent(f"s1.{i}", Side.BUY, D(100), 1000 + i)
    stats = qb.stats()
    assert stats.quotes_sent == 4 and stats.quotes_filled == 0
    assert stats.fill_rate == 0.0 and stats.avg_fill_time_ms == 0.0
    assert stats.avg_spread_captured_bps == 0.0


def test_empty_stats():
    assert QuoteBook().stats() == QuoteStats(0, 0, 0.0, 0.0, 0.0)


def test_a_level_counts_as_filled_once():
    qb = QuoteBook()
    qb.on_sent("s1.a", Side.BUY, D(100), 1_000)
    qb.on_sent("s1.b", Side.SELL, D(100), 1_000)
    qb.on_fill(buy("99.9", "0.4", client_order_id="s1.a", created_at=1_250))
    qb.on_fill(buy("99.9", "0.6", client_order_id="s1.a", created_at=1_900))  # the rest
    stats = qb.stats()
    assert stats.quotes_sent == 2 and stats.quotes_filled == 1
    assert stats.fill_rate == pytest.approx(50.0)
    assert stats.avg_fill_time_ms == pytest.approx(250.0)  # the first fill's time only


def test_average_time_to_fill():
    qb = QuoteBook()
    qb.on_sent("s1.a", Side.BUY, D(100), 1_000)
    qb.on_sent("s1.b", Side.SELL, D(100), 2_000)
    qb.on_sent("s1.c", Side.SELL, D(100), 3_000)
    qb.on_fill(buy("100", "1", client_order_id="s1.a", created_at=1_100))
    qb.on_fill(sell("100", "1", client_order_id="s1.b", created_at=2_300))
    stats = qb.stats()
    assert stats.quotes_filled == 2
    assert stats.avg_fill_time_ms == pytest.approx(200.0)
    assert stats.fill_rate == pytest.approx(200 / 3)


def test_fill_time_is_never_negative():
    qb = QuoteBook()
    qb.on_sent("s1.a", Side.BUY, D(100), 5_000)
    qb.on_fill(buy("100", "1", client_order_id="s1.a", created_at=4_000))  # clock skew
    assert qb.stats().avg_fill_time_ms == 0.0


def test_spread_captured_in_bps_from_fair():
    qb = QuoteBook()
    qb.on_sent("s1.bid", Side.BUY, D(100), 0)
    qb.on_sent("s1.ask", Side.SELL, D(100), 0)
    qb.on_sent("s1.bad", Side.BUY, D(200), 0)
    assert qb.on_fill(buy("99.9", "1", client_order_id="s1.bid")) == pytest.approx(10.0)
    assert qb.on_fill(sell("100.2", "1", client_order_id="s1.ask")) == pytest.approx(20.0)
    # bought above fair: negative
    assert qb.on_fill(buy("200.6", "1", client_order_id="s1.bad")) == pytest.approx(-30.0)
    assert qb.stats().avg_spread_captured_bps == pytest.approx(0.0)


def test_selling_below_fair_is_negative_capture():
    qb = QuoteBook()
    qb.on_sent("s1.ask", Side.SELL, D(50_000), 0)
    assert qb.on_fill(sell("49975", "1", client_order_id="s1.ask")) == pytest.approx(-5.0)


def test_every_fill_counts_for_the_average_capture():
    qb = QuoteBook()
    qb.on_sent("s1.a", Side.BUY, D(100), 0)
    qb.on_fill(buy("99.9", "0.5", client_order_id="s1.a"))   # 10 bps
    qb.on_fill(buy("99.8", "0.5", client_order_id="s1.a"))   # 20 bps
    assert qb.stats().avg_spread_captured_bps == pytest.approx(15.0)


def test_unknown_client_ids_are_ignored():
    qb = QuoteBook()
    qb.on_sent("s1.a", Side.BUY, D(100), 0)
    assert qb.on_fill(buy("90", "1", client_order_id="s2.zzz", created_at=50)) is None
    assert qb.on_fill(buy("90", "1", client_order_id=None, created_at=50)) is None
    stats = qb.stats()
    assert stats.quotes_filled == 0 and stats.avg_spread_captured_bps == 0.0
    assert stats.avg_fill_time_ms == 0.0


def test_keep_bound_evicts_the_oldest():
    qb = QuoteBook(keep=3)
    for cid in "abcd":
        qb.on_sent(f"s1.{cid}", Side.BUY, D(100), 0)
    assert list(qb.sent) == ["s1.b", "s1.c", "s1.d"]
    assert qb.on_fill(buy("99", "1", client_order_id="s1.a")) is None   # forgotten
    assert qb.on_fill(buy("99", "1", client_order_id="s1.b")) is not None
    stats = qb.stats()
    assert stats.quotes_sent == 4 and stats.quotes_filled == 1
    assert stats.fill_rate == pytest.approx(25.0)


# --- the records -----------------------------------------------------------------------------


def test_metrics_and_quote_stats_are_frozen_records():
    m = Metrics(total_pnl=D(1), daily_pnl=D(2), realized_pnl=D(3), unrealized_pnl=D(-2),
                fees=D("0.1"), total_volume=D(1000), trade_count=4, win_rate=50.0,
                sharpe_ratio=1.2, max_drawdown=D("340"), position=D("0.5"), average_price=None,
                max_drawdown_pct=3.4, wins=1, closes=2)
    assert m.trade_count == 4 and m.average_price is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.total_pnl = D(0)  # type: ignore[misc]
    q = QuoteStats(quotes_sent=10, quotes_filled=3, fill_rate=30.0, avg_fill_time_ms=12.5,
                   avg_spread_captured_bps=4.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.quotes_sent = 0  # type: ignore[misc]
    assert {f.name for f in dataclasses.fields(Metrics)} >= {
        "total_pnl", "daily_pnl", "realized_pnl", "unrealized_pnl", "total_volume",
        "trade_count", "win_rate", "sharpe_ratio", "max_drawdown", "max_drawdown_pct",
        "wins", "closes"}
    assert {f.name for f in dataclasses.fields(QuoteStats)} == {
        "quotes_sent", "quotes_filled", "fill_rate", "avg_fill_time_ms",
        "avg_spread_captured_bps"}
