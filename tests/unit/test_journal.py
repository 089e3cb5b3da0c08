"""The SQLite journal: exact fills without replays, redacted events, WAL, refusals."""

from __future__ import annotations

import json
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

import platformdirs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desk.domain import Liquidity, Side
from desk.domain.records import Fill
from desk.engine import ports
from desk.engine.events import EventBus, EventType
from desk.store.journal import Journal, JournalError, default_journal_path

SECRET = "ocx_sk_" + "0123456789abcdef" * 2  # built at runtime: no secret literal in the repo
SESSION = "ocx_sess_" + "Q" * 40
HEADER_VALUE = "k3y-" + "7" * 30  # not secret-shaped on its own: only its header says so


def fill(n: int, created_at: int = 1_700_000_000_000, market: str = "BTC-PERP",
         price: str = "65000.125", quantity: str = "0.0010", fee: str = "-0.00032500"
         ) -> Fill:
    return Fill(f"f{n}", f"o{n}", f"c{n}" if n % 2 else None, "q1" if n % 3 else None,
                market, Side.BUY if n % 2 else Side.SELL, Decimal(price), Decimal(quantity),
                Liquidity.MAKER if n % 2 else Liquidity.TAKER, Decimal(fee), created_at)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "journal.sqlite3"


@pytest.fixture
def journal(path: Path):
    with Journal(path) as j:
        yield j


def all_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file())


# --- fills ------------------------------------------------------------------------------


def test_fills_round_trip_exactly(journal: Journal):
    fills = [fill(1), fill(2, price="1E+5", quantity="3.000", fee="0"),
             fill(3, price="0.000000000123456789", fee="1.10")]
    for f in fills:
        assert journal.append_fill(f, "s1") is True
    back = journal.fills()
    assert back == fills
    for got, want in zip(back, fills, strict=True):  # same digits and exponent, not just equal
        assert (str(got.price), str(got.quantity), str(got.fee)) == (
            str(want.price), str(want.quantity), str(want.fee))
        assert type(got.side) is Side and type(got.liquidity) is Liquidity


def test_replayed_fill_is_recorded_once(journal: Journal):
    assert journal.append_fill(fill(1), "s1") is True
    assert journal.append_fill(fill(1), "s1") is False
    assert journal.append_fill(fill(1, price="1"), None) is False  # same id: the first stands
    assert journal.fill_count() == 1
    assert journal.fill_ids() == {"f1"}
    assert journal.fills() == [fill(1)]


def test_fills_filter_and_order_by_venue_time_then_arrival(journal: Journal):
    journal.append_fill(fill(1, created_at=300), "a")
    journal.append_fill(fill(2, created_at=100, market="ETH-PERP"), "b")
    journal.append_fill(fill(3, created_at=300), "a")
    journal.append_fill(fill(4, created_at=200), None)
    assert [f.fill_id for f in journal.fills()] == ["f2", "f4", "f1", "f3"]
    assert [f.fill_id for f in journal.fills(strategy_id="a")] == ["f1", "f3"]
    assert [f.fill_id for f in journal.fills(market_id="ETH-PERP")] == ["f2"]
    assert journal.fills(strategy_id="a", market_id="ETH-PERP") == []
    assert journal.fill_count() == 4


# --- events -----------------------------------------------------------------------------


def test_events_from_the_bus_round_trip_and_filter(journal: Journal):
    bus = EventBus(now_ms=lambda: 1_000, journal=journal)
    published = [
        bus.publish(EventType.STARTED, "s1"),
        bus.publish(EventType.QUOTE_SENT, "s1", bid=Decimal("99.50"), levels=[Decimal("1.0")]),
        bus.publish(EventType.STARTED, "s2"),
        bus.publish(EventType.CIRCUIT_BREAKER, None, reason="daily loss"),
        bus.publish(EventType.QUOTE_SENT, "s2", bid=Decimal("1E-8")),
    ]
    assert journal.events() == [e.to_json() for e in published]
    assert journal.events()[1]["bid"] == "99.5"  # plain decimal, no trailing zeros
    assert [e["seq"] for e in journal.events(strategy_id="s1")] == [1, 2]
    assert [e["seq"] for e in journal.events(types=[EventType.QUOTE_SENT])] == [2, 5]
    assert [e["seq"] for e in journal.events(types=["started", "circuit_breaker"])] == [1, 3, 4]
    assert [e["seq"] for e in journal.events(limit=2)] == [4, 5]  # newest two, oldest first
    assert [e["seq"] for e in journal.events(strategy_id="s2", types=["quote_sent"],
                                             limit=5)] == [5]
    assert journal.events(types=[]) == []
    assert journal.events()[3]["severity"] == "error"
    assert journal.events()[3]["strategy_id"] is None


def test_event_columns_are_queryable(journal: Journal, path: Path):
    journal.append_event({"seq": 7, "ts_ms": 42, "type": "error", "strategy_id": "s9",
                          "severity": "error", "message": "boom", "at": Decimal("1.5")})
    journal.close()
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT seq, ts_ms, type, strategy_id, severity, body FROM events"
                         ).fetchone()
    assert row[:5] == (7, 42, "error", "s9", "error")
    assert json.loads(row[5])["at"] == "1.5"  # default=str for a stray Decimal


def test_secrets_never_reach_the_file(path: Path):
    with Journal(path) as j:
        j.append_event({"seq": 1, "ts_ms": 1, "type": "error", "strategy_id": "s1",
                        "severity": "error", "message": f"rejected key {SECRET}",
                        "request": {"headers": {"x-api-key": HEADER_VALUE,
                                                "authorization": f"Bearer {SESSION}"}},
                        "nested": [f"token={SESSION}", f"Bearer\t{SECRET[7:]}"],
                        f"Bearer\n{SECRET[7:]}": "a secret in a key"})
        event = j.events()[0]
    data = all_bytes(path.parent)
    assert SECRET.encode() not in data and SESSION.encode() not in data
    assert SECRET[7:].encode() not in data and SESSION[9:].encode() not in data
    assert HEADER_VALUE.encode() not in data
    assert event["message"] == "rejected key ocx_sk_***"
    assert event["request"]["headers"]["authorization"] == "Bearer ***"
    assert event["request"]["headers"]["x-api-key"] == "***"
    assert event["nested"] == ["token=ocx_sess_***", "Bearer\t***"]  # JSON escapes the tab
    assert event["Bearer\n***"] == "a secret in a key"


_secretish = st.lists(st.sampled_from(["ocx_sk_", "ocx_sess_", "Bearer ", "bearer\t",
                                       "x-api-key", "x-api-key: ", "x-api-key=", '"', "\\",
                                       "'", "=", ":", "*", ",", " ", "}", "é", "\n", "\b",
                                       "abc", "Z9_-"]),
                      max_size=8).map("".join)


@settings(max_examples=150, deadline=None)
@given(key=_secretish, value=_secretish, other=_secretish)
def test_redacted_event_body_is_always_valid_json(tmp_path_factory, key, value, other):
    # a mask never swallows a quote, a separator or half of a JSON escape
    with Journal(tmp_path_factory.getbasetemp() / "prop.sqlite3") as j:
        j.append_event({"seq": 1, "type": "error", key: value, "x-api-key": value,
                        "list": [other, {other: key}]})
        got = j.events(limit=1)[0]
    assert got["seq"] == 1 and got["type"] == "error"
    assert "x-api-key" in got and len(got["list"]) == 2


# --- the file ---------------------------------------------------------------------------


def test_wal_mode_and_data_survive_reopening(path: Path):
    with Journal(path) as j:
        j.append_fill(fill(1), "s1")
        j.append_event({"seq": 1, "ts_ms": 5, "type": "started", "strategy_id": "s1",
                        "severity": "info"})
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                          ).fetchone()[0] == "1"
    with Journal(path) as j:
        assert j.fills() == [fill(1)]
        assert j.events()[0]["type"] == "started"
        assert j.append_fill(fill(1), "s1") is False  # replay after a restart
        assert j.append_fill(fill(2), "s1") is True
        assert j.fill_count() == 2


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path: Path):
    path = tmp_path / "journal.sqlite3"
    garbage = b"this is not a database\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(JournalError, match="not a readable journal") as err:
        Journal(path)
    assert str(path) in str(err.value)
    assert path.read_bytes() == garbage
    assert [p.name for p in tmp_path.iterdir()] == ["journal.sqlite3"]


def test_a_short_garbage_file_is_refused_too(tmp_path: Path):
    path = tmp_path / "j.sqlite3"
    path.write_bytes(b"junk")
    with pytest.raises(JournalError, match=str(path)):
        Journal(path)
    assert path.read_bytes() == b"junk"


def test_a_corrupt_journal_is_refused_untouched(path: Path):
    with Journal(path) as j:
        j.append_fill(fill(1), "s1")
    corrupt = bytearray(path.read_bytes())
    corrupt[100:500] = b"\xff" * 400  # page 1 past the header: the schema itself
    path.write_bytes(bytes(corrupt))
    with pytest.raises(JournalError, match="malformed") as err:
        Journal(path)
    assert str(path) in str(err.value)
    assert path.read_bytes() == bytes(corrupt)


def test_an_unopenable_path_is_a_journal_error(tmp_path: Path):
    path = tmp_path / "a-directory"
    path.mkdir()
    with pytest.raises(JournalError, match=str(path)):
        Journal(path)


def test_a_newer_schema_is_refused(path: Path):
    Journal(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.close()
    before = path.read_bytes()
    with pytest.raises(JournalError, match="newer desk") as err:
        Journal(path)
    assert str(path) in str(err.value)
    assert path.read_bytes() == before


def test_a_closed_journal_raises_journal_errors(path: Path):
    j = Journal(path)
    j.close()
    j.close()  # idempotent
    with pytest.raises(JournalError, match=str(path)):
        j.append_fill(fill(1), None)
    with pytest.raises(JournalError):
        j.events()


def test_a_reader_thread_runs_alongside_the_writer(journal: Journal):
    journal_port: ports.Journal = journal  # the engine's protocol
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                journal.events(limit=10)
                journal.fills()
        except BaseException as e:
            errors.append(e)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(200):
            journal_port.append_fill(fill(n), "s1")
            journal_port.append_event({"seq": n, "type": "pnl_update", "strategy_id": "s1"})
    finally:
        done.set()
        reader.join(5)
    assert errors == []
    assert journal.fill_count() == 200 and len(journal.events()) == 200


def test_default_path_is_in_the_user_data_dir():
    assert default_journal_path() == Path(platformdirs.user_data_dir("desk")) / "journal.sqlite3"
