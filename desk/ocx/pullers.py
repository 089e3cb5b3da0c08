"""Fallback credentials for the dead-man switch (the engine's `Puller` port).

Each holds its own client (its own connection pool and credential) on the engine's
loop: the kill switch's key, the watchdog's key, a session. When the venue refuses
the engine's key, the switch pulls every quote through the first of these that
the venue still accepts, and reads back through it that nothing rests.
"""

from __future__ import annotations

from desk.ocx.config import ClientConfig
from desk.ocx.rest import OcxClient


class ClientPuller:
    """An unscoped cancel-all and an open-orders count through one credential."""

    def __init__(self, name: str, client: OcxClient):
        self.name = name
        self.client = client

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

    async def close(self) -> None:
        await self.client.aclose()

    def __repr__(self) -> str:
        return f"ClientPuller({self.name!r})"
