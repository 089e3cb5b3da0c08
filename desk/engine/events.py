"""Strategy events: the 13 types, and the bus that journals them before anyone sees them.

`EventBus.publish` appends the event to the journal first (if one is attached),
then calls the callback subscribers, then feeds the async-iterator
subscribers. A subscriber that raises is logged and skipped; a slow iterator
subscriber loses its oldest events (its queue is bounded), never blocks the
engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from desk.domain import fmt
from desk.engine.ports import Journal

log = logging.getLogger(__name__)


class EventType(StrEnum):
    STARTED = "started"
    STOPPED = "stopped"
    PAUSED = "paused"
    RESUMED = "resumed"
    QUOTE_SENT = "quote_sent"
    QUOTE_FILLED = "quote_filled"
    QUOTE_CANCELLED = "quote_cancelled"
    POSITION_CHANGED = "position_changed"
    HEDGE_TRIGGERED = "hedge_triggered"
    HEDGE_COMPLETED = "hedge_completed"
    CIRCUIT_BREAKER = "circuit_breaker"
    PNL_UPDATE = "pnl_update"
    ERROR = "error"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


_SEVERITY = {EventType.CIRCUIT_BREAKER: Severity.ERROR, EventType.ERROR: Severity.ERROR,
             EventType.HEDGE_TRIGGERED: Severity.WARNING, EventType.PAUSED: Severity.WARNING,
             EventType.STOPPED: Severity.WARNING}


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened. `strategy_id` is None for desk-wide events (the guard)."""
    type: EventType
    strategy_id: str | None
    ts_ms: int
    data: dict[str, Any] = field(default_factory=dict)
    severity: Severity = Severity.INFO
    seq: int = 0

    def __getattr__(self, name: str) -> Any:  # event.reason, event.new_position, ...
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_json(self) -> dict[str, Any]:
        head = {"seq": self.seq, "ts_ms": self.ts_ms, "type": str(self.type),
                "strategy_id": self.strategy_id, "severity": str(self.severity)}
        body = {k: _plain(v) for k, v in self.data.items() if k not in head}
        return head | body


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return fmt(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


Callback = Callable[[Event], None]


class EventBus:
    def __init__(self, now_ms: Callable[[], int], journal: Journal | None = None,
                 queue_size: int = 10_000):
        self.now_ms = now_ms
        self.journal = journal
        self.queue_size = queue_size
        self.seq = 0
        self._callbacks: list[tuple[str | None, Callback]] = []
        self._queues: list[tuple[str | None, asyncio.Queue[Event]]] = []

    def publish(self, type: EventType, strategy_id: str | None = None,
                severity: Severity | None = None, **data: Any) -> Event:
        self.seq += 1
        event = Event(type, strategy_id, self.now_ms(), data,
                      severity or _SEVERITY.get(type, Severity.INFO), self.seq)
        if self.journal is not None:
            self.journal.append_event(event.to_json())  # recorded before it is shown
        for sid, cb in list(self._callbacks):
            if sid is None or sid == strategy_id:
                try:
                    cb(event)
                except Exception:
                    log.exception("an event subscriber failed on %s", event.type)
        for sid, queue in self._queues:
            if sid is None or sid == strategy_id:
                if queue.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                queue.put_nowait(event)
        return event

    def subscribe(self, callback: Callback, strategy_id: str | None = None
                  ) -> Callable[[], None]:
        """Call `callback` on every event (of one strategy, or all); returns unsubscribe."""
        entry = (strategy_id, callback)
        self._callbacks.append(entry)
        return lambda: self._callbacks.remove(entry) if entry in self._callbacks else None

    def events(self, strategy_id: str | None = None) -> Subscription:
        """`async for event in bus.events(): ...`: every event from this call on (not
        from the first iteration), until `aclose()` or the loop breaks."""
        return Subscription(self, strategy_id)


class Subscription:
    def __init__(self, bus: EventBus, strategy_id: str | None):
        self.queue: asyncio.Queue[Event] = asyncio.Queue(bus.queue_size)
        self.entry = (strategy_id, self.queue)
        self.bus = bus
        bus._queues.append(self.entry)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if self.entry not in self.bus._queues:
            raise StopAsyncIteration
        return await self.queue.get()

    async def aclose(self) -> None:
        if self.entry in self.bus._queues:
            self.bus._queues.remove(self.entry)

    def __del__(self) -> None:
        if self.entry in self.bus._queues:
            self.bus._queues.remove(self.entry)
