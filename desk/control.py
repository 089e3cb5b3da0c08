"""What the screens ask of a running desk, beyond the engine's control surface: the
panic key, re-arming, and API key management. `desk.host` implements `Backend`;
`desk.ui` sees only this protocol and the records below (so it never reaches HTTP).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from desk.engine.manager import StrategyManager
    from desk.engine.view import DeskView

T = TypeVar("T")


@dataclass(frozen=True)
class PanicReport:
    cancelled: int            # orders the venue reported cancelled
    resting_after: int        # open orders at the last read-back (0: all pulled; -1: unread)
    attempts: int             # cancel-all calls sent
    elapsed_ms: float
    error: str | None = None  # the last failure, if the venue never confirmed


@dataclass(frozen=True)
class KeyRow:
    """One API key as the keys screen lists it. It never carries the secret."""
    id: str
    name: str
    scope: str
    allowed_ips: tuple[str, ...]
    expires_at: str | None
    status: str
    last_used_at: str | None
    stored: bool              # its secret is in desk's key store
    in_use: bool              # the engine trades with it
    role: str = ""            # what desk uses it for: "engine", "kill switch", "watchdog"
                              # (comma separated when one key does more than one)

    def roles(self) -> tuple[str, ...]:
        return tuple(r.strip() for r in self.role.split(",") if r.strip())


ENGINE, KILL_SWITCH, WATCHDOG = "engine", "kill switch", "watchdog"


def key_role(in_use: bool, kill_switch: bool, watchdog: bool) -> str:
    return ", ".join(name for name, on in ((ENGINE, in_use), (KILL_SWITCH, kill_switch),
                                           (WATCHDOG, watchdog)) if on)


def revoke_refusal(key: KeyRow) -> str | None:
    """Why this key must not be revoked, or None. Asked before the confirmation (the
    screen) and again where the revoke runs (the host)."""
    if key.in_use or ENGINE in key.roles():
        return f"{key.id} is the key the engine trades with: choose another key first"
    if KILL_SWITCH in key.roles():
        return (f"{key.id} is the panic key's own key: revoking it would disarm the kill "
                "switch")
    if WATCHDOG in key.roles():
        return (f"{key.id} is the watchdog's own key: revoking it would disarm the "
                "crash-proof kill switch")
    if key.status == "revoked":
        return f"{key.id} is already revoked"
    return None


def use_refusal(key: KeyRow) -> str | None:
    """Why the engine cannot trade with this key, as far as desk knows without asking
    the venue (the host then tests it at the venue), or None."""
    if key.in_use:
        return f"{key.name} ({key.id}) is already the key the engine trades with"
    if not key.stored:
        return (f"{key.id}: desk does not hold its secret (only keys created here or with "
                "`desk keys create` can trade)")
    if key.scope != "trade":
        return f"{key.id} is a {key.scope} key: the engine needs a trade key"
    if key.status != "active":
        return f"{key.name} ({key.id}) is {key.status}: the venue would refuse it"
    return None


@dataclass(frozen=True)
class FlattenReport:
    """What "flatten all" did: each market's position closed (the quantity it was), the
    positions still open at the read-back after it, and the failures on the way."""
    closed: tuple[tuple[str, Decimal], ...] = ()
    remaining: tuple[tuple[str, Decimal], ...] = ()
    errors: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = [f"closed {q.normalize():+f} {m}" for m, q in self.closed]
        parts += [f"open {q.normalize():+f} {m}" for m, q in self.remaining]
        parts += list(self.errors)
        return "; ".join(parts) or "nothing was open"


@dataclass(frozen=True)
class NewKey:
    row: KeyRow
    secret: str               # shown once, then dropped


@dataclass(frozen=True)
class QuickBacktest:
    """A short backtest of one strategy's parameters (the editor's Backtest button): the
    statistics as (statistic, mean, std) text, and one run's PnL and inventory."""
    title: str
    rows: tuple[tuple[str, str, str], ...]
    footer: str
    t: tuple[float, ...]
    pnl: tuple[float, ...]
    inventory: tuple[float, ...]


class ControlError(Exception):
    """An operator action that could not be done; the message says why."""


class Backend(Protocol):
    def view(self) -> DeskView | None: ...

    async def control(self, action: Callable[[StrategyManager], Awaitable[T]]) -> T:
        """Run `action(manager)` where the engine runs; its result or its error."""
        ...

    async def panic(self) -> PanicReport: ...

    async def rearm(self) -> list[str]: ...

    async def flatten_all(self) -> FlattenReport:
        """Stop every strategy (quotes pulled) and close every open position at market;
        what was closed and what is still open after (read back from the venue)."""
        ...

    async def keys(self) -> list[KeyRow]: ...

    async def create_key(self, name: str, scope: str, allowed_ips: list[str],
                         expires_in_days: int | None) -> NewKey: ...

    async def revoke_key(self, key_id: str) -> None: ...

    async def use_key(self, key_id: str) -> None: ...

    async def backtest(self, params: dict[str, Any]) -> QuickBacktest:
        """Backtest these strategy parameters on the simulated market, away from the live
        desk (its own process); a bad value raises `ControlError` naming the field."""
        ...
