"""The journal's readers a restart uses (the engine's `Journal` protocol): a strategy's
fills, and its events of a kind since a time, newest `limit`."""

from __future__ import annotations

import inspect
from decimal import Decimal
from pathlib import Path

from desk.domain import Liquidity, Side
from desk.domain.records import Fill
from desk.engine import ports
from desk.engine.events import EventBus, EventType
from desk.store.journal import Journal


def test_events_since_a_time_with_a_limit(tmp_path: Path):
    now = [0]
    with Journal(tmp_path / "j.sqlite3") as journal:
        bus = EventBus(lambda: now[0], journal)
        for t, sid, daily in [(1_000, "s1", "-1"), (2_000, "s2", "-9"), (3_000, "s1", "-2"),
                              (4_000, "s1", "-3")]:
            now[0] = t
            bus.publish(EventType.PNL_UPDATE, sid, daily_pnl=Decimal(daily))
        bus.publish(EventType.QUOTE_SENT, "s1", quote_id="q")
        since = journal.events(strategy_id="s1", types=["pnl_update"], since_ms=2_000)
        assert [(e["ts_ms"], e["daily_pnl"]) for e in since] == [(3_000, "-2"), (4_000, "-3")]
        newest = journal.events(strategy_id="s1", types=["pnl_update"], since_ms=0, limit=1)
        assert [e["daily_pnl"] for e in newest] == ["-3"]
        assert journal.events(strategy_id="s1", types=["pnl_update"], since_ms=5_000) == []
        assert len(journal.events(strategy_id="s1")) == 4   # no bound: everything


def test_a_strategys_fills_oldest_first(tmp_path: Path):
    with Journal(tmp_path / "j.sqlite3") as journal:
        for n, (sid, at) in enumerate([("s1", 30), ("s2", 10), ("s1", 20)]):
            journal.append_fill(Fill(f"f{n}", "o", f"{sid}.x", None, "BTC-PERP", Side.BUY,
                                     Decimal(100), Decimal(1), Liquidity.MAKER, Decimal(0),
                                     at), sid)
        assert [f.fill_id for f in journal.fills(strategy_id="s1")] == ["f2", "f0"]


def test_the_store_implements_the_engines_readers():
    for name in ("fills", "events"):
        want = inspect.signature(getattr(ports.Journal, name)).parameters
        have = inspect.signature(getattr(Journal, name)).parameters
        assert list(want) == list(have), name
