"""The engine's venue with its order path watched for refused credentials.

An auth or scope refusal (401 or 403: a revoked, expired or IP-fenced key) on any
order-path call means nothing the engine's key sends will land, including the
cancels that would pull what already rests. `RefusalWatch` tells the dead-man
switch at once (`on_refused`), then lets the error go on to its caller as before.
Every other call passes straight through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from desk.domain.errors import AuthError, ForbiddenError, VenueReject

ORDER_PATH = ("place_order", "cancel_order", "bulk_quote", "preview_quotes", "cancel_all",
              "close_position")


class RefusalWatch:
    def __init__(self, venue: Any, on_refused: Callable[[VenueReject], None]):
        self._venue = venue
        self._on_refused = on_refused
        for name in ORDER_PATH:
            setattr(self, name, self._watched(getattr(venue, name)))

    def _watched(self, call: Callable[..., Any]) -> Callable[..., Any]:
        async def watched(*args: Any, **kwargs: Any) -> Any:
            try:
                return await call(*args, **kwargs)
            except (AuthError, ForbiddenError) as exc:
                self._on_refused(exc)
                raise

        watched.__name__ = call.__name__
        return watched

    def __getattr__(self, name: str) -> Any:
        return getattr(self._venue, name)

    @property
    def inner(self) -> Any:
        """The venue itself, unwatched."""
        return self._venue
