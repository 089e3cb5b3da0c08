"""Today's PnL, the win count, the drawdown in currency, and carrying the day over a
restart (`PnlSeries.open_at` with `restore_day`): issue 14's "numbers on screen that
are wrong"."""

from __future__ import annotations

from decimal import Decimal

import pytest

from desk.domain import Liquidity, Side
from desk.domain.records import Fill
from desk.engine.config import StrategyConfig
from desk.engine.metrics import PnlBook, PnlSeries, restore_day
from desk.engine.risk import breaker

D = Decimal
DAY = 86_400
T_DAY = 19_000 * DAY  # a UTC midnight


def fill(side: Side, price: str, qty: str, fee: str = "0", n: int = 0) -> Fill:
    return Fill(f"f{n}-{side}-{price}-{qty}-{fee}", "o", None, None, "BTC-PERP", side,
                D(price), D(qty), Liquidity.MAKER, D(fee), 0)


# --- closes won ----------------------------------------------------------------------------

def test_a_close_that_does_not_pay_its_fee_is_not_a_win():
    book = PnlBook()
    book.on_fill(fill(Side.BUY, "100", "1", fee="0.1"))
    assert book.on_fill(fill(Side.SELL, "100.05", "0.5", fee="0.05")) == D("0.025")
    assert (book.closes, book.wins) == (1, 0)      # +0.025 before a 0.05 fee: a loss
    book.on_fill(fill(Side.SELL, "101", "0.5", fee="0.05"))
    assert (book.closes, book.wins) == (2, 1)      # +0.5 against 0.05: a win


def test_a_rebate_makes_a_break_even_close_a_win():
    book = PnlBook()
    book.on_fill(fill(Side.BUY, "100", "1"))
    book.on_fill(fill(Side.SELL, "100", "1", fee="-0.01"))   # a maker rebate
    assert (book.closes, book.wins) == (1, 1)


# --- today and total ----------------------------------------------------------------------

def test_today_at_the_live_total_agrees_with_the_total():
    """The screen showed "today +6.80" beside "total +6.32": today was the last sample's,
    the total the live one. At one total, today − total is exactly the opening."""
    s = PnlSeries(D(100_000))
    s.open_at(D("-0.48"))               # a reloaded position, under water before this run
    s.sample(T_DAY + 10, D("5.00"))
    live = D("6.32")                    # the mark moved since the sample
    assert s.daily(live) == live - D("-0.48") == D("6.80")
    assert s.daily() == D("5.48")       # the sample's: the breakers' view


# --- the max drawdown, in currency ----------------------------------------------------------

def test_max_drawdown_is_kept_in_currency_and_percent_of_the_equity():
    """On a large account the percentage of equity is tiny (the screen always read 0.00 %):
    the currency figure is the one that tells."""
    s = PnlSeries(D(1_000_000))
    s.sample(T_DAY, D(0))
    s.sample(T_DAY + 1, D(12))
    s.sample(T_DAY + 2, D(-19))         # 31 below the peak
    s.sample(T_DAY + 3, D(-5))
    assert s.max_drawdown == D(31)
    assert s.max_drawdown_pct == pytest.approx(31 / 1_000_012 * 100)
    assert f"{s.max_drawdown_pct:.2f}" == "0.00"


# --- a restart on the same UTC day ------------------------------------------------------------

def test_open_at_carries_today_and_the_hour_on():
    s = PnlSeries(D(100_000))
    now = T_DAY + 5 * 3600
    s.open_at(D(40), today=D(-300), points=[(now - 1800, D(-100)), (now - 60, D(-290))],
              t=now)
    assert s.daily() == D(-300)
    s.sample(now + 1, D(20))            # 20 more lost after the restart
    assert s.daily() == D(-320)
    assert s.hourly() == D(-220)        # from −100 half an hour ago
    s.sample(now + 1900, D(10))         # that point has left the hour
    assert s.hourly() == D(-40)         # from −290 (day basis) to −330


def test_a_restore_for_a_day_that_has_ended_counts_nothing():
    s = PnlSeries(D(100_000))
    s.open_at(D(0), today=D(-300), points=[(T_DAY - 60, D(-290))], t=T_DAY - 1)
    s.sample(T_DAY + 1, D(-10))          # the first sample is on the next day
    assert s.daily() == D(-10) and s.hourly() == D(-10)


def test_the_daily_breaker_trips_at_the_same_cumulative_loss_after_a_restore():
    cfg = StrategyConfig(name="b", market_id="BTC-PERP", max_daily_loss=D(500),
                         max_hourly_loss=D(100_000), max_drawdown_percent=100.0)
    now = T_DAY + 3600
    straight = PnlSeries(D(100_000))
    straight.sample(T_DAY + 60, D(0))
    straight.sample(now, D(-300))
    restarted = PnlSeries(D(100_000))   # the restart: a new book, total 0 again
    restarted.open_at(D(0), today=D(-300), t=now)
    for loss in (100, 150, 199):
        straight.sample(now + loss, D(-300 - loss))
        restarted.sample(now + loss, D(-loss))
        assert breaker(cfg, straight, None) is None and breaker(cfg, restarted, None) is None
    straight.sample(now + 300, D(-500))
    restarted.sample(now + 300, D(-200))
    assert breaker(cfg, straight, None) == breaker(cfg, restarted, None) == \
        "daily loss 500.00 reached max_daily_loss 500"


def _update(ts_ms: int, daily: str, total: str | None = None, position: str | None = None,
            mark: str | None = None) -> dict:
    out = {"type": "pnl_update", "ts_ms": ts_ms, "daily_pnl": daily}
    if total is not None:
        out["total_pnl"] = total
    if position is not None:
        out["position"], out["mark"] = position, mark
    return out


def test_restore_day_on_the_same_book_counts_everything_since_the_record():
    last = _update(1_000, "-120.5", total="-80", position="1", mark="100")
    r = restore_day(last, [_update(500, "-20"), last], total=D("-95"), mark=D(90),
                    same_book=True)
    assert r.today == D("-135.5")      # −120.5 then 15 more: the book is on the same footing
    assert r.points == ((0.5, D(-20)), (1.0, D("-120.5")))


def test_restore_day_on_a_seeded_book_marks_the_recorded_position_again():
    last = _update(1_000, "-120", total="-80", position="2", mark="100")
    r = restore_day(last, [], total=D(7), mark=D(95), same_book=False)
    assert r.today == D(-130)          # 2 × (95 − 100) more
    old = _update(1_000, "-120")       # a record from before position/mark were kept
    assert restore_day(old, [], total=D(7), mark=D(95), same_book=False).today == D(-120)
    assert restore_day(last, [], total=D(7), mark=None, same_book=False).today == D(-120)
