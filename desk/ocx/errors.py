"""Turning an HTTP error response into the typed errors of `desk.domain.errors`."""

from __future__ import annotations

import math

import httpx
from pydantic import ValidationError as PydanticError

from desk.domain.errors import (
    BY_STATUS,
    REJECTS,
    RateLimitedError,
    TransportError,
    VenueCallError,
    VenueReject,
)
from desk.ocx.wire import ErrorBodyW


def error_from_response(response: httpx.Response, what: str) -> VenueCallError:
    """The typed error for a non-2xx response; 5xx and unreadable bodies are transport trouble."""
    status = response.status_code
    try:
        body = ErrorBodyW.model_validate_json(response.content)
    except PydanticError:
        body = None
    if body is not None and body.code is None and body.error is None:
        body = None  # JSON, but not an error body of the contract
    if status >= 500 or body is None:
        code = body.the_code if body is not None else "no error body"
        return TransportError(f"{what}: HTTP {status} ({code})", "server", status)
    code = body.the_code
    cls = REJECTS.get(code) or BY_STATUS.get(status, VenueReject)
    if cls is RateLimitedError:
        return RateLimitedError(code, body.message, status, body.details,
                                retry_after_s=_retry_after(response, body))
    return cls(code, body.message, status, body.details)


def _retry_after(response: httpx.Response, body: ErrorBodyW) -> float:
    ms = body.retry_after_ms
    if ms is None and isinstance(body.details.get("retryAfterMs"), int):
        ms = body.details["retryAfterMs"]
    if ms is not None and ms >= 0:
        return ms / 1000
    try:
        seconds = float(response.headers.get("retry-after", "1"))
    except ValueError:
        return 1.0
    return max(seconds, 0.0) if math.isfinite(seconds) else 1.0
