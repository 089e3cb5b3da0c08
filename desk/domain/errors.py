"""What can go wrong talking to a venue, in two families the engine treats differently.

- `TransportError`: the venue could not be reached or answered nonsense
  (connect or read timeout, 5xx, a body that is not the contract's). The state
  of an order-path call is unknown; safe calls may be retried.
- `VenueReject`: the venue understood and refused, with a contract code.
  Business rejects (`InsufficientMarginError`, `PostOnlyWouldCrossError`, ...)
  are signals to re-price or de-risk, never a reason to reconnect.

The client (`desk.ocx`) raises these; the engine catches them without knowing HTTP.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


class VenueCallError(Exception):
    """Any failed venue call; `attempts` is how many times it was sent."""

    attempts: int = 1


class TransportError(VenueCallError):
    """Transport-class trouble. `kind` is connect | timeout | server | bad_response."""

    def __init__(self, message: str, kind: str, status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status

    @property
    def unsent(self) -> bool:
        """True when the request surely never reached the venue (safe to resend)."""
        return self.kind == "connect"


class VenueReject(VenueCallError):
    """The venue refused with a contract code."""

    def __init__(self, code: str, message: str, status: int,
                 details: dict[str, Any] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}


class ValidationError(VenueReject):
    """400 VALIDATION; `field_errors` maps each bad field to its messages."""

    @property
    def field_errors(self) -> dict[str, list[str]]:
        raw = self.details.get("fieldErrors") or {}
        return {str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
                for k, v in raw.items()} if isinstance(raw, dict) else {}


class BadRequestError(VenueReject):
    """400 BAD_REQUEST."""


class AuthError(VenueReject):
    """401 UNAUTHENTICATED / KEY_EXPIRED, 409 KEY_REVOKED: stop and alert, never loop."""


class ForbiddenError(VenueReject):
    """403 FORBIDDEN_SCOPE / IP_NOT_ALLOWED: the wrong key for the job."""


class NotFoundError(VenueReject):
    """404: unknown market, order or key."""


class DuplicateClientOrderIdError(VenueReject):
    """409: a live order already has this clientOrderId; nothing was placed."""


class MarketHaltedError(VenueReject):
    """409: the market is halted."""


class BusinessReject(VenueReject):
    """422: re-price or de-risk; never reconnect."""


class InsufficientMarginError(BusinessReject):
    """422 INSUFFICIENT_MARGIN with the margin the order needed and what was free."""

    @property
    def required_margin(self) -> Decimal | None:
        return _decimal(self.details.get("requiredIm"))

    @property
    def available_margin(self) -> Decimal | None:
        return _decimal(self.details.get("availableIm"))


class PostOnlyWouldCrossError(BusinessReject):
    """422 POST_ONLY_WOULD_CROSS."""


class ReduceOnlyError(BusinessReject):
    """422 REDUCE_ONLY_WOULD_INCREASE."""


class PriceOutOfBandError(BusinessReject):
    """422 PRICE_OUT_OF_BAND."""


class InvalidTickError(BusinessReject):
    """422 INVALID_TICK."""


class InvalidStepError(BusinessReject):
    """422 INVALID_STEP."""


class RateLimitedError(VenueReject):
    """429 ORDER_RATE_LIMIT; `retry_after_s` is how long the venue asked us to wait."""

    def __init__(self, code: str, message: str, status: int,
                 details: dict[str, Any] | None = None, retry_after_s: float = 1.0):
        super().__init__(code, message, status, details)
        self.retry_after_s = retry_after_s


REJECTS: dict[str, type[VenueReject]] = {
    "VALIDATION": ValidationError,
    "BAD_REQUEST": BadRequestError,
    "UNAUTHENTICATED": AuthError,
    "KEY_EXPIRED": AuthError,
    "KEY_REVOKED": AuthError,
    "FORBIDDEN_SCOPE": ForbiddenError,
    "IP_NOT_ALLOWED": ForbiddenError,
    "NOT_FOUND": NotFoundError,
    "DUPLICATE_CLIENT_ORDER_ID": DuplicateClientOrderIdError,
    "MARKET_HALTED": MarketHaltedError,
    "INSUFFICIENT_MARGIN": InsufficientMarginError,
    "POST_ONLY_WOULD_CROSS": PostOnlyWouldCrossError,
    "REDUCE_ONLY_WOULD_INCREASE": ReduceOnlyError,
    "PRICE_OUT_OF_BAND": PriceOutOfBandError,
    "INVALID_TICK": InvalidTickError,
    "INVALID_STEP": InvalidStepError,
    "ORDER_RATE_LIMIT": RateLimitedError,
}

# when a venue sends a code we do not know, the status decides the family
BY_STATUS: dict[int, type[VenueReject]] = {
    400: BadRequestError, 401: AuthError, 403: ForbiddenError, 404: NotFoundError,
    409: VenueReject, 422: BusinessReject, 429: RateLimitedError,
}


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            return Decimal(value)
        except ArithmeticError:
            return None
    return None
