"""What the screens ask of a running desk, beyond the engine's control surface: the
panic key, re-arming, and API key management. `desk.host` implements `Backend`;
`desk.ui` sees only this protocol and the records below (so it never reaches HTTP).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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

    async def keys(self) -> list[KeyRow]: ...

    async def create_key(self, name: str, scope: str, allowed_ips: list[str],
                         expires_in_days: int | None) -> NewKey: ...

    async def revoke_key(self, key_id: str) -> None: ...

    async def use_key(self, key_id: str) -> None: ...

    async def backtest(self, params: dict[str, Any]) -> QuickBacktest:
        """Backtest these strategy parameters on the simulated market, away from the live
        desk (its own process); a bad value raises `ControlError` naming the field."""
        ...
