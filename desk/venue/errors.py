"""Typed venue errors that map one-to-one onto the contract's error bodies."""

from __future__ import annotations

from typing import Any

# code -> (HTTP status, error kind)
CODES: dict[str, tuple[int, str]] = {
    "VALIDATION": (400, "ValidationError"),
    "BAD_REQUEST": (400, "BadRequest"),
    "UNAUTHENTICATED": (401, "Unauthenticated"),
    "KEY_EXPIRED": (401, "Unauthenticated"),
    "FORBIDDEN_SCOPE": (403, "Forbidden"),
    "IP_NOT_ALLOWED": (403, "Forbidden"),
    "NOT_FOUND": (404, "NotFound"),
    "DUPLICATE_CLIENT_ORDER_ID": (409, "Conflict"),
    "MARKET_HALTED": (409, "Conflict"),
    "KEY_REVOKED": (409, "Conflict"),
    "INSUFFICIENT_MARGIN": (422, "BusinessReject"),
    "POST_ONLY_WOULD_CROSS": (422, "BusinessReject"),
    "REDUCE_ONLY_WOULD_INCREASE": (422, "BusinessReject"),
    "PRICE_OUT_OF_BAND": (422, "BusinessReject"),
    "INVALID_TICK": (422, "BusinessReject"),
    "INVALID_STEP": (422, "BusinessReject"),
    "ORDER_RATE_LIMIT": (429, "RateLimited"),
    "INTERNAL": (500, "Internal"),
    "UNAVAILABLE": (503, "Unavailable"),
}


class VenueError(Exception):
    """A refusal with a contract code; `body()` is the wire error body."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None):
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    @property
    def status(self) -> int:
        return CODES[self.code][0]

    def body(self) -> dict[str, Any]:
        return {
            "error": CODES[self.code][1],
            "code": self.code,
            "message": self.message,
            "details": self.details,
        }


def field_error(field: str, message: str) -> VenueError:
    """A 400 VALIDATION error for one field, in the contract's fieldErrors shape."""
    return VenueError("VALIDATION", f"{field}: {message}", {"fieldErrors": {field: [message]}})
