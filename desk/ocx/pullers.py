"""Fallback credentials for the dead-man switch (the engine's `Puller` port).

Each holds its own client (its own connection pool and credential) on the engine's
loop: the kill switch's key, the watchdog's key, a session. When the venue refuses
the engine's key, the switch pulls every quote through the first of these that
the venue still accepts, and reads back through it that nothing rests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from desk.domain.errors import AuthError, ForbiddenError, VenueCallError
from desk.ocx.config import ClientConfig
from desk.ocx.rest import OcxClient

log = logging.getLogger(__name__)
WARM_EVERY_S = 4.0  # under common keep-alive timeouts (uvicorn's is 5 s)


class ClientPuller:
    """An unscoped cancel-all and an open-orders count through one credential."""

    def __init__(self, name: str, client: OcxClient):
        self.name = name
        self.client = client
        self.refused: str | None = None  # the venue refused this credential at the last read
        self._warm: asyncio.Task | None = None

    @classmethod
    def with_key(cls, name: str, url: str, secret: str,
                 config: ClientConfig | None = None) -> ClientPuller:
        return cls(name, OcxClient(url, api_key=secret, config=config))

    @classmethod
    def with_session(cls, name: str, url: str, token: str,
                     config: ClientConfig | None = None) -> ClientPuller:
        return cls(name, OcxClient(url, session=token, config=config))

    async def cancel_all(self) -> list[str]:
        return await self.client.cancel_all()

    async def resting(self) -> int:
        return len(await self.client.orders())

    async def check(self) -> bool:
        """Read through this credential: True if the venue accepts it. Keeps its
        connection open, so a pull does not pay for connecting."""
        try:
            await self.client.orders()
        except (AuthError, ForbiddenError) as exc:
            if self.refused is None:
                log.warning("%s is refused by the venue (%s): it cannot pull the quotes if "
                            "the engine's key is refused", self.name, exc)
            self.refused = str(exc)
            return False
        except VenueCallError:
            return False
        self.refused = None
        return True

    def keep_warm(self, every_s: float = WARM_EVERY_S) -> None:
        """Check now and every `every_s` seconds (on the running loop) until closed."""
        async def loop() -> None:
            while True:
                await self.check()
                await asyncio.sleep(every_s)

        if self._warm is None:
            self._warm = asyncio.get_running_loop().create_task(loop(), name=f"warm:{self.name}")

    async def close(self) -> None:
        if self._warm is not None:
            self._warm.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warm
            self._warm = None
        await self.client.aclose()

    def __repr__(self) -> str:
        return f"ClientPuller({self.name!r})"
