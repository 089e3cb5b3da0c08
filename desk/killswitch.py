"""The panic key's own way to the venue: an unscoped cancel-all over a client that
shares nothing with the engine (its own connection pool, its own event loop: the
screen's), so a wedged or busy engine cannot hold it up.

`fire()` retries the cancel-all until the venue confirms it, then reads the open
orders back and cancels again while any rest (a cycle that was already in flight
when the switch fired can land just after it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from desk.control import PanicReport
from desk.domain.errors import AuthError, ForbiddenError, VenueCallError
from desk.ocx.rest import OcxClient


class KillSwitch:
    """`make_client` builds the switch's client; a client is bound to the event loop it
    first runs on, so the switch builds a fresh one if it is fired from another loop."""

    def __init__(self, make_client: Callable[[], OcxClient], *, attempts: int = 20,
                 verify_rounds: int = 3):
        self.make_client = make_client
        self.attempts = attempts
        self.verify_rounds = verify_rounds
        self._client: OcxClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.refused: str | None = None  # the key may not cancel (auth, scope): no retry

    @property
    def client(self) -> OcxClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client, self._loop = self.make_client(), loop
        return self._client

    async def cancel_all(self) -> tuple[int, int, str | None]:
        """Unscoped cancel-all until confirmed: (cancelled, attempts, last error)."""
        error = None
        for attempt in range(1, self.attempts + 1):
            try:
                return len(await self.client.cancel_all()), attempt, None
            except (AuthError, ForbiddenError) as exc:  # asking again will not help
                self.refused = str(exc)
                return 0, attempt, self.refused
            except VenueCallError as exc:
                error = str(exc)
                await asyncio.sleep(min(0.02 * 2 ** attempt, 0.5))
        return 0, self.attempts, error

    async def fire(self) -> PanicReport:
        began = time.perf_counter()
        cancelled, attempts, error = await self.cancel_all()
        resting = -1
        for _ in range(self.verify_rounds):
            try:
                resting = len(await self.client.orders())
            except VenueCallError as exc:
                error = str(exc)
                continue
            if resting == 0 or self.refused:
                break
            more, sent, error = await self.cancel_all()
            cancelled += more
            attempts += sent
        return PanicReport(cancelled, resting, attempts,
                           (time.perf_counter() - began) * 1000, error)

    async def warm(self) -> None:
        """Open the connection now, so the panic does not pay for it."""
        with contextlib.suppress(VenueCallError):
            await self.client.markets()

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.aclose()
