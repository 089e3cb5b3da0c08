"""The embedded venue's state in one place: exchange, keys, limits, faults, streams, sim.

The HTTP layer is a thin translation of requests onto this object. The clock
and the random source are injected; the simulation runs as an asyncio task
stepping on that clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from desk.venue import views
from desk.venue.config import VenueConfig
from desk.venue.errors import VenueError, field_error
from desk.venue.exchange import Exchange, Fill
from desk.venue.faults import KEY_KINDS, Faults, KeyFault
from desk.venue.ids import UlidGen
from desk.venue.keys import ApiKey, KeyStore
from desk.venue.market_sim import MAKER, TAKER, MarketSimulator
from desk.venue.ratelimit import RateLimiter
from desk.venue.schemas import FaultIn
from desk.venue.streams import StreamHub

log = logging.getLogger("desk.venue")
FILL_LOG = 20_000  # fills kept per account for `/sim/fills`


def system_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class VenueRuntime:
    def __init__(self, config: VenueConfig | None = None,
                 clock: Callable[[], int] = system_clock_ms,
                 rng: random.Random | None = None,
                 token: Callable[[int], str] = secrets.token_urlsafe,
                 monotonic: Callable[[], float] = time.monotonic):
        self.config = config or VenueConfig()
        self.clock = clock
        self.monotonic = monotonic
        rng = rng or random.Random(self.config.seed)
        self.exchange = Exchange(self.config, clock, random.Random(rng.getrandbits(64)))
        self.event_id = UlidGen(clock, random.Random(rng.getrandbits(64)))
        self.keys = KeyStore(clock, token)
        self.limiter = RateLimiter(self.config.rate_limit_per_minute, clock)
        self.faults = Faults(clock)
        self.hub = StreamHub()
        # the last fills of each real account, for `/sim/fills` (a test surface: the
        # contract has no fills endpoint); kept here, not in the matching core
        self.fills: dict[str, deque[Fill]] = {}
        self.exchange.sink = self._on_exchange
        self.exchange.on_book = self.hub.on_book
        sim_rng = random.Random(rng.getrandbits(64))
        self.sim = (MarketSimulator(self.exchange, sim_rng, self.faults.index_frozen)
                    if self.config.sim_enabled else None)
        self.closing = False
        self.sim_errors = 0
        self._task: asyncio.Task | None = None

    # --- accounts and sessions ------------------------------------------------------

    def dev_session(self, account_id: str) -> str:
        if account_id in (MAKER, TAKER):
            raise field_error("account", f"{account_id!r} is reserved for the simulation")
        ex = self.exchange
        if account_id not in ex.accounts and len(ex.accounts) >= self.config.max_accounts:
            raise VenueError("BAD_REQUEST", f"the embedded venue holds at most "
                                            f"{self.config.max_accounts} accounts",
                             {"maxAccounts": self.config.max_accounts})
        ex.open_account(account_id)
        return self.keys.new_session(account_id)

    # --- simulation loop --------------------------------------------------------------

    def step(self, dt_ms: int) -> None:
        """One simulation step: faults that ran out end, then the market moves."""
        self.expire_faults()
        if self.sim is not None:
            self.sim.step(dt_ms)
        else:
            self.exchange.refresh_marks()
            self.exchange.liquidate_underwater()

    async def run(self) -> None:
        step_s = self.config.sim_step_ms / 1000
        last = self.clock()
        while not self.closing:
            await asyncio.sleep(step_s)
            now = self.clock()
            try:
                self.step(min(max(now - last, 1), 1000))
            except Exception:  # a bug must not silently stop marks, liquidations and makers
                self.sim_errors += 1
                log.exception("simulation step failed")
            last = now

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="venue-sim")

    async def stop(self) -> None:
        self.closing = True
        self.hub.drop_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_exchange(self, account_id: str, kind: str, obj: object) -> None:
        if kind == "fill" and not self.exchange.accounts[account_id].unlimited:
            kept = self.fills.get(account_id)
            if kept is None:
                kept = self.fills[account_id] = deque(maxlen=FILL_LOG)
            kept.append(obj)
        self.hub.on_exchange(account_id, kind, obj)

    # --- faults -------------------------------------------------------------------

    def expire_faults(self) -> None:
        unhalt, unsqueeze = self.faults.expired()
        for market_id in unhalt:
            self.exchange.set_halted(market_id, False)
        for market_id in unsqueeze:
            self.exchange.set_margin_factor(market_id, Decimal(1))
        unexpire, unfence = self.faults.keys_over()
        for kind, over in (("expire_key", unexpire), ("fence_key", unfence)):
            for key_id, held in over.items():
                key = self.keys.keys.get(key_id)
                if key is not None:
                    self._end_key_fault(kind, key, held)

    def inject(self, fault: FaultIn, account_id: str | None = None) -> dict[str, Any]:
        """Inject a fault. The key faults act on a key of `account_id` (the session's
        account; None: any account's key, for tests of the runtime itself)."""
        f = self.faults
        now = self.clock()
        kind = fault.kind
        if kind in KEY_KINDS:
            return self._key_fault(fault, account_id)
        seconds = fault.seconds if fault.seconds is not None else 10.0
        until = now + int(seconds * 1000)
        markets = self._fault_markets(fault)
        out: dict[str, Any] = {"kind": kind}
        if kind == "freeze_index":
            for m in markets:
                f.frozen_index[m] = until
            out.update(markets=markets, until=views.iso(until))
        elif kind == "drop_streams":
            out["streams"] = self.hub.drop_all()
        elif kind == "seq_gap":
            out["streams"] = self.hub.gap_all()
        elif kind == "stop_heartbeats":
            f.heartbeats_off_until = until
            out["until"] = views.iso(until)
        elif kind == "rate_limit":
            f.rate_limit_left = fault.count or 1
            out["count"] = f.rate_limit_left
        elif kind == "error_burst":
            f.error_burst_left = fault.count or 1
            out["count"] = f.error_burst_left
        elif kind == "latency":
            if fault.ms is None:
                raise field_error("ms", "latency needs the milliseconds to add")
            f.latency_ms, f.latency_until = fault.ms, until
            out.update(ms=fault.ms, until=views.iso(until))
        elif kind == "halt_market":
            for m in markets:
                f.halted[m] = until
                self.exchange.set_halted(m, True)
            out.update(markets=markets, until=views.iso(until))
        elif kind == "margin_squeeze":
            factor = fault.factor if fault.factor is not None else Decimal(5)
            if factor < 1:
                raise field_error("factor", "a squeeze multiplies margin by 1 or more")
            for m in markets:
                f.squeezed[m] = until
                self.exchange.set_margin_factor(m, factor)
            out.update(markets=markets, factor=views.dec(factor), until=views.iso(until))
        f.injected[kind] += 1
        return out

    def _key_fault(self, fault: FaultIn, account_id: str | None) -> dict[str, Any]:
        """`expire_key`: the key's expiresAt is now (every call with it is 401 KEY_EXPIRED,
        its private streams end with KEY_EXPIRED); `fence_key`: its allowedIps are
        replaced (a call from elsewhere is 403 IP_NOT_ALLOWED; streams already open were
        admitted and stay open, as a per-request check leaves them). Both last `seconds`,
        or until the same kind comes with `undo`; then the key is as it was."""
        kind = fault.kind
        if fault.keyId is None:
            raise field_error("keyId", f"{kind} needs the keyId of one of the account's keys")
        key = (self.keys.get(account_id, fault.keyId) if account_id is not None
               else self.keys.keys.get(fault.keyId))
        if key is None:
            raise VenueError("NOT_FOUND", f"no API key {fault.keyId!r}", {"id": fault.keyId})
        faults = self.faults.expired_keys if kind == "expire_key" else self.faults.fenced_keys
        out: dict[str, Any] = {"kind": kind, "keyId": key.key_id}
        if fault.undo:
            held = faults.pop(key.key_id, None)
            if held is not None:
                self._end_key_fault(kind, key, held)
            out.update(undone=held is not None, status=key.status(self.clock()),
                       allowedIps=list(key.allowed_ips))
            return out
        now = self.clock()
        until = None if fault.seconds is None else now + int(fault.seconds * 1000)
        if kind == "expire_key":
            previous: object = self.keys.set_expiry(key, now)
            self.hub.wake_key(key.key_id)  # its open private streams learn it now
        else:
            if fault.allowedIps is None:
                raise field_error("allowedIps", "fence_key needs the allowedIps to fence "
                                                "the key to")
            previous = self.keys.set_allowed_ips(key, fault.allowedIps)
        held = faults.get(key.key_id)  # a second injection keeps what to restore
        faults[key.key_id] = KeyFault(until, held.restore if held is not None else previous)
        self.faults.injected[kind] += 1
        out.update(until=views.iso(until), status=key.status(now),
                   allowedIps=list(key.allowed_ips))
        return out

    def _end_key_fault(self, kind: str, key: ApiKey, held: KeyFault) -> None:
        if kind == "expire_key":
            self.keys.set_expiry(key, held.restore)  # type: ignore[arg-type]
        else:
            self.keys.set_allowed_ips(key, held.restore)  # type: ignore[arg-type]

    def _fault_markets(self, fault: FaultIn) -> list[str]:
        if fault.marketId is not None:
            self.exchange.market(fault.marketId)
            return [fault.marketId]
        if fault.kind in ("freeze_index", "halt_market"):
            raise field_error("marketId", f"{fault.kind} needs a marketId")
        return list(self.exchange.markets)

    # --- views --------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        ex = self.exchange
        now = self.clock()
        markets = [{
            "marketId": m.market_id, "tradingStatus": m.trading_status,
            "indexPrice": views.dec(m.index), "markPrice": views.dec(m.mark),
            "bestBid": views.dec(m.book.bids.best() * m.tick) if m.book.bids.best() else None,
            "bestAsk": views.dec(m.book.asks.best() * m.tick) if m.book.asks.best() else None,
            "bookSequence": m.book.sequence, "indexFrozen": self.faults.index_frozen(m.market_id),
        } for m in ex.markets.values()]
        accounts = [{
            "account": a.account_id, "synthetic": a.unlimited, "openOrders": len(a.open_orders),
            "equity": views.dec(a.equity(ex.risks)), "liquidations": a.liquidations,
        } for a in ex.accounts.values()]
        counters = dict(ex.counters, sim_errors=self.sim_errors)
        if self.sim is not None:
            counters.update({f"sim_{k}": v for k, v in self.sim.counters.items()})
        counters.update({f"streams_{k}": v for k, v in self.hub.counts().items()})
        return {"clock": views.iso(now), "clockMs": now, "markets": markets,
                "accounts": accounts, "counters": counters, "faults": self.faults.describe()}

    def check_order_path(self, account_id: str, refusable: bool = True):
        """Count an order-path call; raise 429 when over the limit or a fault says so."""
        if refusable and self.faults.take_rate_limit():
            # an injected one-off refusal: nothing left right now, try again in a second
            state = self.limiter.peek(account_id)
            headers = {**state.headers(), "X-RateLimit-Remaining": "0"}
            raise RateLimited(FAULT_RETRY_MS, headers)
        state = self.limiter.hit(account_id, refusable)
        if not state.allowed:
            raise RateLimited(state.reset_ms, state.headers())
        return state


FAULT_RETRY_MS = 1000


class RateLimited(VenueError):
    def __init__(self, retry_after_ms: int, headers: dict[str, str]):
        super().__init__("ORDER_RATE_LIMIT",
                         f"order rate limit reached; retry in {retry_after_ms} ms",
                         {"retryAfterMs": retry_after_ms})
        self.retry_after_ms = retry_after_ms
        self.headers = headers
