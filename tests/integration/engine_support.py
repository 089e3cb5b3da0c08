"""A headless desk on the embedded venue, for the engine's integration tests.

`desk_on(server, trader)` opens an `OcxVenue` with fast stream settings and a
`StrategyManager` with fast engine timers, seeded ids, and an optional journal;
it shuts everything down (quotes pulled) at the end. `Recorder` keeps every
event the bus publishes.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from desk.engine.config import EngineConfig
from desk.engine.events import Event, EventType
from desk.engine.manager import StrategyManager
from desk.ocx.adapter import OcxVenue, Reference
from desk.ocx.config import ClientConfig
from desk.ocx.rest import OcxClient
from tests.helpers import Trader

FAST_CLIENT = ClientConfig(heartbeat_timeout_s=2.0, stale_after_s=5.0, reconnect_base_s=0.02,
                           reconnect_cap_s=0.1, stable_after_s=0.1, backoff_base_s=0.01,
                           backoff_cap_s=0.05, book_interval_ms=0, user_interval_ms=0)
FAST_ENGINE = EngineConfig(guard_interval_s=0.02, housekeeping_s=0.05, vol_sample_s=0.05,
                           min_requote_s=0.01, pnl_event_s=0.2)


@dataclass
class Recorder:
    events: list[Event] = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, type: EventType, strategy_id: str | None = "*") -> list[Event]:
        return [e for e in self.events if e.type == type
                and (strategy_id == "*" or e.strategy_id == strategy_id)]


@dataclass
class Desk:
    manager: StrategyManager
    venue: OcxVenue
    client: OcxClient
    recorder: Recorder


@asynccontextmanager
async def desk_on(server: Any, trader: Trader, markets: tuple[str, ...] = ("BTC-PERP",),
                  reference: Reference = "mid", engine: EngineConfig = FAST_ENGINE,
                  seed: int = 1, **manager_kw: Any) -> AsyncIterator[Desk]:
    client = OcxClient(server.url, api_key=trader.trade_secret, session=trader.session,
                       config=FAST_CLIENT)
    venue = OcxVenue(client, markets, reference=reference)
    await venue.start()
    manager = StrategyManager(venue, rng=random.Random(seed), engine=engine, **manager_kw)
    recorder = Recorder()
    manager.subscribe_events(recorder)
    try:
        await manager.open()
        yield Desk(manager, venue, client, recorder)
    finally:
        await manager.shutdown("test over")
        await venue.close()
