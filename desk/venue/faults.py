"""Injected faults of the embedded venue ([embedded only] `POST /sim/faults`).

A fault either counts down (`rate_limit`, `error_burst`: the next N calls) or
lasts a number of seconds on the injected clock. `drop_streams` and `seq_gap`
act at once on the open streams. The key faults (`expire_key`, `fence_key`) kill
one API key of the session's account mid-run, for `seconds` or until undone
(`undo`); revoking one is the contract's own `DELETE /perps/me/api-keys/{id}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

KINDS = ("freeze_index", "drop_streams", "seq_gap", "stop_heartbeats", "rate_limit",
         "error_burst", "latency", "halt_market", "margin_squeeze", "expire_key", "fence_key")
KEY_KINDS = ("expire_key", "fence_key")


@dataclass(slots=True)
class KeyFault:
    """A key fault in force: until when (None: until undone), and what to put back
    when it ends (the key's expiresAt, or its allowedIps)."""
    until: int | None
    restore: object


@dataclass(slots=True)
class Faults:
    clock: Callable[[], int]
    frozen_index: dict[str, int] = field(default_factory=dict)  # market -> until ms
    heartbeats_off_until: int = 0
    rate_limit_left: int = 0
    error_burst_left: int = 0
    latency_ms: int = 0
    latency_until: int = 0
    halted: dict[str, int] = field(default_factory=dict)  # market -> until ms
    squeezed: dict[str, int] = field(default_factory=dict)  # market -> until ms
    expired_keys: dict[str, KeyFault] = field(default_factory=dict)  # key id -> fault
    fenced_keys: dict[str, KeyFault] = field(default_factory=dict)  # key id -> fault
    injected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def index_frozen(self, market_id: str) -> bool:
        return self.clock() < self.frozen_index.get(market_id, 0)

    def heartbeats_stopped(self) -> bool:
        return self.clock() < self.heartbeats_off_until

    def take_rate_limit(self) -> bool:
        if self.rate_limit_left > 0:
            self.rate_limit_left -= 1
            return True
        return False

    def take_error(self) -> bool:
        if self.error_burst_left > 0:
            self.error_burst_left -= 1
            return True
        return False

    def extra_latency_ms(self) -> int:
        return self.latency_ms if self.clock() < self.latency_until else 0

    def expired(self) -> tuple[list[str], list[str]]:
        """Markets whose halt and whose margin squeeze have run out (and forget them)."""
        now = self.clock()
        unhalt = [m for m, until in self.halted.items() if now >= until]
        for m in unhalt:
            del self.halted[m]
        unsqueeze = [m for m, until in self.squeezed.items() if now >= until]
        for m in unsqueeze:
            del self.squeezed[m]
        return unhalt, unsqueeze

    def keys_over(self) -> tuple[dict[str, KeyFault], dict[str, KeyFault]]:
        """Key expiries and key fences whose time has run out (and forget them)."""
        now = self.clock()
        out = []
        for faults in (self.expired_keys, self.fenced_keys):
            over = {k: f for k, f in faults.items() if f.until is not None and now >= f.until}
            for k in over:
                del faults[k]
            out.append(over)
        return out[0], out[1]

    def describe(self) -> dict[str, object]:
        now = self.clock()
        return {
            "frozenIndex": sorted(m for m, t in self.frozen_index.items() if now < t),
            "heartbeatsStopped": self.heartbeats_stopped(),
            "rateLimitLeft": self.rate_limit_left,
            "errorBurstLeft": self.error_burst_left,
            "latencyMs": self.extra_latency_ms(),
            "halted": sorted(self.halted),
            "squeezed": sorted(self.squeezed),
            "expiredKeys": sorted(self.expired_keys),
            "fencedKeys": sorted(self.fenced_keys),
            "injected": dict(self.injected),
        }
