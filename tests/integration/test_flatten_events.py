"""A flatten's events, against the embedded venue: its fill is a `quote_filled` with
`kind` flatten (not a quote's, and not "not a desk order" when the fill stream shows it
before the close's answer), and the position change is one `position_changed` per fill,
never the same change twice (issue 14: "a flatten logs as quote_filled followed by two
identical position_changed")."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from desk.engine.events import EventType
from desk.engine.strategy import State
from desk.store.journal import Journal
from desk.ui.widgets.event_log import describe
from tests.integration.engine_support import desk_on
from tests.integration.test_engine_quoting import (
    fill_our_bid,
    last_seq,
    post_book,
    start,
    taker,  # noqa: F401  (a fixture)
)
from tests.integration.test_ocx_streams import eventually

D = Decimal


async def _flatten_events_are_one_fill_one_change(d, sid: str, mark: int,
                                                  journal: Journal) -> None:
    after = [e for e in d.recorder.events if e.seq > mark]
    filled = [e for e in after if e.type is EventType.QUOTE_FILLED]
    changed = [e for e in after if e.type is EventType.POSITION_CHANGED]
    assert [(e.strategy_id, e.kind, e.reason, D(e.quantity)) for e in filled] == \
        [(sid, "flatten", "flatten", D(1))]
    assert [(D(e.old_position), D(e.new_position), D(e.flattened), e.reason)
            for e in changed] == [(D(1), D(0), D(1), "flatten")]
    # the log says so: `reason` is the first field it writes
    assert [describe(e).split()[0] for e in filled + changed] == ["reason=flatten"] * 2
    assert all(e.strategy_id == sid for e in changed)
    close = [f for f in journal.fills() if f.fill_id == filled[0].fill_id]
    assert len(close) == 1
    assert [f.fill_id for f in journal.fills(strategy_id=sid)][-1] == filled[0].fill_id


async def test_flatten_is_one_quote_filled_of_kind_flatten_and_one_position_changed(
        venue, trader, counterparty, taker, tmp_path: Path):  # noqa: F811
    post_book(counterparty, "63900", "64100")
    journal = Journal(tmp_path / "j.sqlite3")
    try:
        async with desk_on(venue, trader, journal=journal) as d:
            sid = await start(d, base_spread_bps="10", quote_size="1", min_quote_size="0.1")
            await fill_our_bid(d, sid, taker, "63900", "1")
            await d.manager.pause(sid)
            mark = last_seq(d)
            n = len(d.venue.account().fills)
            info = await d.manager.flatten(sid)
            assert info.state is State.PAUSED and info.position == 0
            # the fill stream's copy of the close's fill has arrived and changed nothing
            await eventually(lambda: len(d.venue.account().fills) == n + 1, 3,
                             "the close's fill on the stream")
            await asyncio.sleep(0.1)
            await _flatten_events_are_one_fill_one_change(d, sid, mark, journal)
            quote_fills = [e for e in d.recorder.of(EventType.QUOTE_FILLED, sid)
                           if e.seq <= mark]
            assert [e.kind for e in quote_fills] == ["quote"]
    finally:
        journal.close()


async def test_stop_and_flatten_logs_the_close_the_same_way(
        venue, trader, counterparty, taker, tmp_path: Path):  # noqa: F811
    post_book(counterparty, "63900", "64100")
    journal = Journal(tmp_path / "j.sqlite3")
    try:
        async with desk_on(venue, trader, journal=journal) as d:
            sid = await start(d, base_spread_bps="10", quote_size="1", min_quote_size="0.1")
            await fill_our_bid(d, sid, taker, "63900", "1")
            await d.manager.pause(sid)
            mark = last_seq(d)
            n = len(d.venue.account().fills)
            await d.manager.stop(sid, flatten_position=True)
            await eventually(lambda: len(d.venue.account().fills) == n + 1, 3,
                             "the close's fill on the stream")
            await asyncio.sleep(0.1)
            await _flatten_events_are_one_fill_one_change(d, sid, mark, journal)
            stopped = d.recorder.of(EventType.STOPPED, sid)[-1]
            assert D(stopped.flattened) == 1
    finally:
        journal.close()
