"""A desk restart on the same UTC day, against the embedded venue with a real journal
file: today's PnL, the daily loss breaker and the recent fills carry on from the
journal (issue 14: "a restart must never reset max_daily_loss").

The first desk gets long 1 and the book drops ~570 below its entry (a loss short of
max_daily_loss 1000); it shuts down with the position open. The second desk, on the
same journal and strategy file, starts with today at that loss; a further ~500 drop
trips max_daily_loss at a cumulative ~1070, as one desk running through would have.
Without the journal the second desk would count only the ~500 and never trip.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from desk.engine.events import EventType
from desk.engine.strategy import State
from desk.engine.view import Monitor
from desk.store.journal import Journal
from desk.store.strategies import TomlStrategyStore
from tests.integration.engine_support import desk_on
from tests.integration.test_engine_quoting import (
    SMALL_BOOK,
    WIDE,
    call,
    fill_our_bid,
    first_pnl_sample,
    last_seq,
    move_book,
    next_quote,
    post_book,
    start,
    taker,  # noqa: F401  (a fixture)
)
from tests.integration.test_ocx_streams import eventually

D = Decimal
LIMITS = {"max_daily_loss": "1000", "max_hourly_loss": "1000000",
          "max_drawdown_percent": 100.0}


async def test_a_restart_keeps_todays_pnl_and_trips_max_daily_loss_on_the_total(
        venue, trader, counterparty, taker, tmp_path: Path):  # noqa: F811
    post_book(counterparty, *WIDE)
    path = tmp_path / "strategies.toml"
    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        async with desk_on(venue, trader, journal=journal, store=TomlStrategyStore(path)) as d:
            sid = await start(d, **{**SMALL_BOOK, **LIMITS})
            await first_pnl_sample(d, sid)
            mark = last_seq(d)
            await fill_our_bid(d, sid, taker, "63950")          # long 1 near 63968
            await next_quote(d, sid, mark, where=lambda e: e.bids == [] and e.fair == D(64000))
            await call(move_book, counterparty, "63390", "63410")   # fair 63400
            s = d.manager.strategies[sid]
            await eventually(lambda: s.mark() == D(63400) and s.series.daily() < -500, 3,
                             "a loss of ~570 today")
            before = d.manager.get_metrics(sid)
            assert d.manager.get(sid).state is State.RUNNING     # short of the limit
            assert -1000 < before.daily_pnl < -500
            assert before.daily_pnl == before.total_pnl           # started flat today
            fills_before = list(s.recent_fills)
            assert len(fills_before) == 1
        assert journal.fill_count() == 1

        async with desk_on(venue, trader, journal=journal, store=TomlStrategyStore(path),
                           seed=2) as d2:
            m = d2.manager
            s2 = m.strategies[sid]
            assert s2.state is State.CREATED and s2.position == D(1)
            await eventually(lambda: s2.mark() == D(63400), 3, "the same fair value")
            after = m.get_metrics(sid)
            # the book rebuilt from the journal: the same total, trades and today
            assert after.total_pnl == before.total_pnl
            assert after.daily_pnl == before.daily_pnl
            assert after.trade_count == before.trade_count == 1
            assert after.realized_pnl == before.realized_pnl
            assert [f.fill_id for f in s2.recent_fills] == [f.fill_id for f in fills_before]
            view = Monitor(m, "test").snapshot().strategy(sid)
            assert view is not None and [f.fill_id for f in view.fills] == \
                [f.fill_id for f in fills_before]
            await first_pnl_sample(d2, sid)
            assert s2.series.daily() == before.daily_pnl       # the breakers' view too
            # the hour too: from the first desk's opening record (today 0), within the hour
            assert s2.series.hourly() == before.daily_pnl

            await m.start(sid)
            await next_quote(d2, sid, 0)
            await call(move_book, counterparty, "62890", "62910")   # fair 62900: ~500 more
            tripped = await eventually(lambda: d2.recorder.of(EventType.CIRCUIT_BREAKER, sid),
                                       3, "max_daily_loss tripped after the restart")
            reason = tripped[0].reason
            assert "max_daily_loss" in reason, reason
            loss = D(reason.split()[2])
            total = m.get_metrics(sid).total_pnl
            assert loss >= 1000 and abs(-total - loss) < 1   # the day's whole loss
            assert m.get(sid).state is State.HALTED
    finally:
        journal.close()


async def test_without_a_journal_a_restart_counts_today_from_the_restart(
        venue, trader, counterparty, taker, tmp_path: Path):  # noqa: F811
    """The contrast (and the backtest's journal-less way keeps working): no journal, so
    the second desk counts today from its own start, and the same drop does not trip."""
    post_book(counterparty, *WIDE)
    path = tmp_path / "strategies.toml"
    async with desk_on(venue, trader, store=TomlStrategyStore(path)) as d:
        sid = await start(d, **{**SMALL_BOOK, **LIMITS})
        await first_pnl_sample(d, sid)
        mark = last_seq(d)
        await fill_our_bid(d, sid, taker, "63950")
        await next_quote(d, sid, mark, where=lambda e: e.bids == [] and e.fair == D(64000))
        await call(move_book, counterparty, "63390", "63410")
        s = d.manager.strategies[sid]
        await eventually(lambda: s.series.daily() < -500, 3, "a loss of ~570 today")
    async with desk_on(venue, trader, store=TomlStrategyStore(path), seed=2) as d2:
        s2 = d2.manager.strategies[sid]
        await eventually(lambda: s2.mark() == D(63400), 3, "the same fair value")
        await first_pnl_sample(d2, sid)
        assert s2.series.daily() == 0 and not s2.recent_fills


async def test_a_fresh_venue_account_carries_nothing_over_from_the_journal(
        venue, trader, counterparty, taker, tmp_path: Path):  # noqa: F811
    """The embedded venue is born fresh at each `desk` start (a new account, flat, the
    starting equity): the journal's PnL is another account's, so `carry_over=False`
    (what launch passes for it) restores neither the book nor today's PnL."""
    post_book(counterparty, *WIDE)
    path = tmp_path / "strategies.toml"
    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        async with desk_on(venue, trader, journal=journal, store=TomlStrategyStore(path)) as d:
            sid = await start(d, **{**SMALL_BOOK, **LIMITS})
            await first_pnl_sample(d, sid)
            await fill_our_bid(d, sid, taker, "63950")
            s = d.manager.strategies[sid]
            await eventually(lambda: s.pnl.trades == 1, 3, "the fill booked")
        assert journal.fill_count() == 1
        # a position of the same size on the new account, so a rebuild would be accepted
        async with desk_on(venue, trader, journal=journal, store=TomlStrategyStore(path),
                           carry_over=False) as d2:
            s2 = d2.manager.strategies[sid]
            after = d2.manager.get_metrics(sid)
            assert after.trade_count == 0 and after.realized_pnl == 0
            assert list(s2.recent_fills) == []
            assert after.daily_pnl == 0                   # today counts from this start
    finally:
        journal.close()
