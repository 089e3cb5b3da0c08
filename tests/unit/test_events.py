"""The event bus: journal first, then callbacks, then async iterators; the 13 event types."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from decimal import Decimal
from typing import Any

import pytest

from desk.engine.events import Event, EventBus, EventType, Severity

SPEC_TYPES = ("started, stopped, paused, resumed, quote_sent, quote_filled, quote_cancelled, "
              "position_changed, hedge_triggered, hedge_completed, circuit_breaker, "
              "pnl_update, error")


class FakeJournal:
    """Records append_event calls into a log shared with the subscribers."""

    def __init__(self, log: list[tuple[str, Any]]):
        self.log = log
        self.events: list[dict[str, Any]] = []

    def append_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.log.append(("journal", event["seq"]))

    def append_fill(self, fill: Any, strategy_id: str | None) -> bool:  # pragma: no cover
        return True


def make_bus(journal: FakeJournal | None = None, queue_size: int = 10_000) -> EventBus:
    ticks = itertools.count(1_700_000_000_000, 5)
    return EventBus(lambda: next(ticks), journal, queue_size=queue_size)


async def started(it) -> asyncio.Task:
    """Run `anext(it)` as a task until it waits on its queue (the iterator is subscribed)."""
    task = asyncio.ensure_future(anext(it))
    await asyncio.sleep(0)
    return task


async def collect(it, n: int) -> list[Event]:
    return [await asyncio.wait_for(anext(it), 1.0) for _ in range(n)]


# --- publishing ------------------------------------------------------------------------------


def test_seq_increases_and_ts_comes_from_the_clock():
    bus = make_bus()
    events = [bus.publish(EventType.STARTED, "s1"), bus.publish(EventType.PNL_UPDATE, "s2"),
              bus.publish(EventType.ERROR)]
    assert [e.seq for e in events] == [1, 2, 3]
    assert bus.seq == 3
    assert [e.ts_ms for e in events] == [1_700_000_000_000, 1_700_000_000_005,
                                         1_700_000_000_010]
    assert events[2].strategy_id is None


def test_publish_builds_the_event():
    bus = make_bus()
    e = bus.publish(EventType.POSITION_CHANGED, "s1", new_position=Decimal("1.5"), side="buy")
    assert e.type is EventType.POSITION_CHANGED and e.strategy_id == "s1"
    assert e.data == {"new_position": Decimal("1.5"), "side": "buy"}
    assert e.severity is Severity.INFO


def test_default_and_explicit_severity():
    bus = make_bus()
    assert bus.publish(EventType.CIRCUIT_BREAKER, "s1").severity is Severity.ERROR
    assert bus.publish(EventType.ERROR, "s1").severity is Severity.ERROR
    assert bus.publish(EventType.HEDGE_TRIGGERED, "s1").severity is Severity.WARNING
    assert bus.publish(EventType.PAUSED, "s1").severity is Severity.WARNING
    assert bus.publish(EventType.STOPPED, "s1").severity is Severity.WARNING
    assert bus.publish(EventType.QUOTE_SENT, "s1").severity is Severity.INFO
    assert bus.publish(EventType.QUOTE_FILLED, None, Severity.WARNING).severity is \
        Severity.WARNING


def test_the_journal_gets_the_json_before_any_subscriber():
    log: list[tuple[str, Any]] = []
    journal = FakeJournal(log)
    bus = make_bus(journal)

    def seen(name: str):
        def cb(event: Event) -> None:
            # the journal already holds this very event
            assert journal.events[-1] == event.to_json()
            log.append((name, event.seq))
        return cb

    bus.subscribe(seen("all"))
    bus.subscribe(seen("s1"), "s1")
    e1 = bus.publish(EventType.QUOTE_SENT, "s1", price=Decimal("100.5"))
    e2 = bus.publish(EventType.STARTED, "s2")
    assert log == [("journal", 1), ("all", 1), ("s1", 1), ("journal", 2), ("all", 2)]
    assert journal.events == [e1.to_json(), e2.to_json()]
    assert journal.events[0]["price"] == "100.5"


async def test_the_journal_is_written_before_iterators_see_the_event():
    log: list[tuple[str, Any]] = []
    journal = FakeJournal(log)
    bus = make_bus(journal)
    it = bus.events()
    task = await started(it)
    bus.publish(EventType.PAUSED, "s1", reason="manual")
    event = await asyncio.wait_for(task, 1.0)
    assert journal.events == [event.to_json()]
    await it.aclose()


def test_the_journal_is_written_even_when_a_subscriber_raises():
    log: list[tuple[str, Any]] = []
    journal = FakeJournal(log)
    bus = make_bus(journal)
    bus.subscribe(lambda e: 1 / 0)
    bus.publish(EventType.ERROR, "s1", message="boom")
    assert log == [("journal", 1)]


def test_no_journal_is_fine():
    bus = make_bus(None)
    got: list[Event] = []
    bus.subscribe(got.append)
    bus.publish(EventType.STARTED, "s1")
    assert len(got) == 1


# --- callbacks -------------------------------------------------------------------------------


def test_callbacks_are_filtered_by_strategy():
    bus = make_bus()
    everything: list[Event] = []
    s1: list[Event] = []
    s2: list[Event] = []
    bus.subscribe(everything.append)
    bus.subscribe(s1.append, "s1")
    bus.subscribe(s2.append, "s2")
    bus.publish(EventType.STARTED, "s1")
    bus.publish(EventType.STARTED, "s2")
    bus.publish(EventType.PNL_UPDATE, "s1")
    bus.publish(EventType.CIRCUIT_BREAKER, None)   # desk-wide
    assert [e.seq for e in everything] == [1, 2, 3, 4]
    assert [e.seq for e in s1] == [1, 3]
    assert [e.seq for e in s2] == [2]


def test_unsubscribe_stops_delivery():
    bus = make_bus()
    got: list[Event] = []
    other: list[Event] = []
    unsubscribe = bus.subscribe(got.append)
    bus.subscribe(other.append)
    bus.publish(EventType.STARTED, "s1")
    unsubscribe()
    bus.publish(EventType.STOPPED, "s1")
    unsubscribe()  # twice is harmless
    assert [e.seq for e in got] == [1]
    assert [e.seq for e in other] == [1, 2]


def test_unsubscribing_during_publish_is_safe():
    bus = make_bus()
    got: list[int] = []
    unsubscribe = None

    def once(event: Event) -> None:
        got.append(event.seq)
        unsubscribe()

    unsubscribe = bus.subscribe(once)
    later: list[int] = []
    bus.subscribe(lambda e: later.append(e.seq))
    bus.publish(EventType.STARTED, "s1")
    bus.publish(EventType.STARTED, "s1")
    assert got == [1] and later == [1, 2]


def test_a_raising_callback_does_not_stop_the_others(caplog):
    bus = make_bus()
    before: list[int] = []
    after: list[int] = []
    bus.subscribe(lambda e: before.append(e.seq))
    bus.subscribe(lambda e: (_ for _ in ()).throw(RuntimeError("subscriber bug")))
    bus.subscribe(lambda e: after.append(e.seq))
    with caplog.at_level(logging.ERROR, logger="desk.engine.events"):
        event = bus.publish(EventType.HEDGE_COMPLETED, "s1")
        bus.publish(EventType.HEDGE_COMPLETED, "s1")
    assert event.seq == 1
    assert before == [1, 2] and after == [1, 2]
    assert any("subscriber" in r.getMessage() for r in caplog.records)


# --- async iterators -------------------------------------------------------------------------


async def test_events_arrive_in_order():
    bus = make_bus()
    it = bus.events()
    first = await started(it)
    published = [bus.publish(t, "s1") for t in (EventType.STARTED, EventType.QUOTE_SENT,
                                                 EventType.QUOTE_FILLED, EventType.STOPPED)]
    got = [await asyncio.wait_for(first, 1.0), *await collect(it, 3)]
    assert got == published
    await it.aclose()


async def test_events_are_filtered_by_strategy():
    bus = make_bus()
    it = bus.events("s1")
    first = await started(it)
    bus.publish(EventType.STARTED, "s2")
    bus.publish(EventType.STARTED, None)
    a = bus.publish(EventType.STARTED, "s1")
    bus.publish(EventType.PNL_UPDATE, "s2")
    b = bus.publish(EventType.PNL_UPDATE, "s1")
    assert [await asyncio.wait_for(first, 1.0), *await collect(it, 1)] == [a, b]
    await it.aclose()


async def test_async_for_in_a_consumer_task():
    bus = make_bus()
    got: list[Event] = []

    async def consume() -> None:
        async for event in bus.events("s1"):
            got.append(event)
            if event.type is EventType.STOPPED:
                break

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    bus.publish(EventType.STARTED, "s1")
    bus.publish(EventType.QUOTE_SENT, "s9")
    bus.publish(EventType.STOPPED, "s1")
    await asyncio.wait_for(task, 1.0)
    assert [e.type for e in got] == [EventType.STARTED, EventType.STOPPED]
    assert bus._queues == []  # the loop broke: the subscription is gone


async def test_several_iterators_each_get_every_event():
    bus = make_bus()
    a, b = bus.events(), bus.events()
    ta, tb = await started(a), await started(b)
    e1 = bus.publish(EventType.STARTED, "s1")
    e2 = bus.publish(EventType.STOPPED, "s1")
    assert [await asyncio.wait_for(ta, 1.0), *await collect(a, 1)] == [e1, e2]
    assert [await asyncio.wait_for(tb, 1.0), *await collect(b, 1)] == [e1, e2]
    await a.aclose()
    await b.aclose()


async def test_a_full_queue_drops_the_oldest():
    bus = make_bus(queue_size=2)
    it = bus.events()
    first = await started(it)
    published = [bus.publish(EventType.PNL_UPDATE, "s1", n=n) for n in range(5)]
    # the consumer did not run in between: only the newest two are left
    got = [await asyncio.wait_for(first, 1.0), *await collect(it, 1)]
    assert got == published[-2:]
    assert [e.n for e in got] == [3, 4]
    later = bus.publish(EventType.PNL_UPDATE, "s1", n=5)
    assert await collect(it, 1) == [later]
    await it.aclose()


async def test_a_slow_iterator_does_not_block_callbacks_or_the_publisher():
    bus = make_bus(queue_size=1)
    it = bus.events()
    first = await started(it)
    seen: list[int] = []
    bus.subscribe(lambda e: seen.append(e.seq))
    for _ in range(100):
        bus.publish(EventType.QUOTE_SENT, "s1")
    assert seen == list(range(1, 101))
    assert (await asyncio.wait_for(first, 1.0)).seq == 100
    await it.aclose()


async def test_closing_an_iterator_unsubscribes_it():
    bus = make_bus()
    it = bus.events()
    first = await started(it)
    assert len(bus._queues) == 1
    bus.publish(EventType.STARTED, "s1")
    await asyncio.wait_for(first, 1.0)
    await it.aclose()
    assert bus._queues == []
    bus.publish(EventType.STOPPED, "s1")  # nobody listening: fine


async def test_events_published_right_after_subscribing_are_not_lost():
    bus = make_bus()
    it = bus.events("s1")
    e = bus.publish(EventType.STARTED, "s1")
    try:
        assert await asyncio.wait_for(anext(it), 0.2) == e
    finally:
        with contextlib.suppress(Exception):
            await it.aclose()


# --- Event -----------------------------------------------------------------------------------


def test_event_attribute_access_reads_the_data():
    e = Event(EventType.CIRCUIT_BREAKER, "s1", 123, {"reason": "daily loss", "n": 2})
    assert e.reason == "daily loss" and e.n == 2
    assert e.type is EventType.CIRCUIT_BREAKER and e.ts_ms == 123
    with pytest.raises(AttributeError):
        _ = e.missing
    assert not hasattr(e, "missing")
    assert getattr(e, "missing", None) is None


def test_event_is_frozen():
    e = Event(EventType.STARTED, "s1", 0)
    with pytest.raises(AttributeError):
        e.seq = 5  # type: ignore[misc]
    assert e.data == {} and e.seq == 0 and e.severity is Severity.INFO


def test_to_json_turns_decimals_into_strings():
    # wire format (desk.domain.fmt): plain notation, no exponent, no trailing zeros
    e = Event(EventType.QUOTE_SENT, "s1", 1_000,
              {"price": Decimal("64012.50"), "levels": [Decimal("1E+3"), (Decimal("0.00"), 2)],
               "book": {"bid": Decimal("99.5"), "nested": {"ask": Decimal("100.25")}},
               "note": "hi", "count": 3, "ratio": 0.5, "none": None},
              Severity.WARNING, 7)
    out = e.to_json()
    assert out == {
        "seq": 7, "ts_ms": 1_000, "type": "quote_sent", "strategy_id": "s1",
        "severity": "warning", "price": "64012.5", "levels": ["1000", ["0", 2]],
        "book": {"bid": "99.5", "nested": {"ask": "100.25"}},
        "note": "hi", "count": 3, "ratio": 0.5, "none": None}
    assert type(out["type"]) is str and type(out["severity"]) is str
    assert json.loads(json.dumps(out)) == out


def test_to_json_of_a_desk_wide_event():
    e = make_bus().publish(EventType.ERROR, None, message="feed down")
    out = e.to_json()
    assert out["strategy_id"] is None and out["severity"] == "error"
    assert out["message"] == "feed down" and out["seq"] == 1


def test_the_13_event_types_of_the_spec():
    expected = [t.strip() for t in SPEC_TYPES.split(",")]
    assert len(expected) == 13
    assert [t.value for t in EventType] == expected
    for value in expected:
        assert EventType(value).value == value
        assert EventType[value.upper()] == value
