"""A flatten whose fills the fill stream shows before the close's answer (as a slow
response on OCX does): the engine on the backtest's SimVenue, a real journal file, a
virtual loop. The stream's copies are held back while the close is in flight, then the
fills are booked once, as the strategy's flatten: no "not a desk order" warning, one
`quote_filled` (kind flatten) and one `position_changed`, journaled to the strategy."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from pathlib import Path

from desk.backtest.simvenue import SimVenue
from desk.backtest.vloop import VirtualClock, VirtualLoop, run_virtual
from desk.domain import OrderType, Side
from desk.domain import records as r
from desk.engine.config import EngineConfig
from desk.engine.events import EventType
from desk.engine.manager import StrategyManager
from desk.store.journal import Journal
from desk.venue.exchange import Exchange, OrderRequest
from tests.unit.test_backtest_simvenue import X, venue_config

D = Decimal


class SlowCloseAnswer(SimVenue):
    """The real SimVenue, whose close answers only after its fills were delivered."""

    order: list[str]

    def _deliver(self, fill: r.Fill) -> None:
        self.order.append(f"stream {fill.fill_id}")
        super()._deliver(fill)

    async def close_position(self, market_id: str,
                             quantity: Decimal | None = None) -> r.CloseResult:
        result = await super().close_position(market_id, quantity)
        await asyncio.sleep(0.05)  # the stream's copies of the fills arrive meanwhile
        self.order += [f"answer {f.fill_id}" for f in result.fills]
        return result


def test_a_close_seen_on_the_stream_first_is_booked_once_as_the_flatten(tmp_path: Path):
    loop = VirtualLoop()
    clock = VirtualClock(loop)
    ex = Exchange(venue_config(), clock.ms, random.Random(1))
    venue = SlowCloseAnswer(ex, "mm", clock)
    venue.order = []
    journal = Journal(tmp_path / "j.sqlite3")
    seen: list = []

    async def main() -> None:
        await venue.start()
        m = StrategyManager(venue, clock=clock, rng=random.Random(1), journal=journal,
                            engine=EngineConfig(preview=False))
        m.subscribe_events(seen.append)
        await m.open()
        try:
            sid = m.create(name="x", market_id=X, quote_size="1", min_quote_size="1",
                           max_quote_size="2", max_position="10", soft_position_limit="8",
                           hedge_threshold="10", hedge_target="2").id
            await m.start(sid)
            while not venue.account().orders:                 # the ladder rests
                await asyncio.sleep(0.01)
            ex.open_account("taker")
            ex.place_order("taker", X, OrderRequest(Side.BUY, D(1), type=OrderType.MARKET))
            await asyncio.sleep(0.1)
            assert m.get(sid).position == D(-1)            # our ask was taken
            await m.pause(sid)
            ex.open_account("maker")
            ex.place_order("maker", X, OrderRequest(Side.SELL, D(5), D("100.20")))
            mark = seen[-1].seq
            await m.flatten(sid)
            await asyncio.sleep(0.1)
            after = [e for e in seen if e.seq > mark]
            filled = [e for e in after if e.type is EventType.QUOTE_FILLED]
            changed = [e for e in after if e.type is EventType.POSITION_CHANGED]
            assert [(e.strategy_id, e.kind, D(e.quantity)) for e in filled] == \
                [(sid, "flatten", D(1))]                    # no "not a desk order"
            assert [(D(e.old_position), D(e.new_position)) for e in changed] == \
                [(D(-1), D(0))]
            assert m.get(sid).position == 0
            fid = filled[0].fill_id
            assert venue.order[-2:] == [f"stream {fid}", f"answer {fid}"]  # stream first
            close = journal.fills(strategy_id=sid)[-1]
            assert close.fill_id == filled[0].fill_id and close.client_order_id is None
            assert journal.fill_count() == 2
        finally:
            await m.shutdown("test over")
            await venue.close()

    try:
        run_virtual(main(), loop)
    finally:
        journal.close()
