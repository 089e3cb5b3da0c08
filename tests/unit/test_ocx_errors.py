"""desk.ocx.errors.error_from_response: an HTTP error response → the typed error it means."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import httpx
import pytest

from desk.domain.errors import (
    AuthError,
    BadRequestError,
    BusinessReject,
    DuplicateClientOrderIdError,
    ForbiddenError,
    InsufficientMarginError,
    InvalidStepError,
    InvalidTickError,
    MarketHaltedError,
    NotFoundError,
    PostOnlyWouldCrossError,
    PriceOutOfBandError,
    RateLimitedError,
    ReduceOnlyError,
    TransportError,
    ValidationError,
    VenueCallError,
    VenueReject,
)
from desk.ocx.errors import error_from_response

# every contract code: (status, code, class, error "Kind" of the long form)
CONTRACT = [
    (400, "VALIDATION", ValidationError, "ValidationError"),
    (400, "BAD_REQUEST", BadRequestError, "BadRequest"),
    (401, "UNAUTHENTICATED", AuthError, "Unauthenticated"),
    (401, "KEY_EXPIRED", AuthError, "Unauthenticated"),
    (409, "KEY_REVOKED", AuthError, "Unauthenticated"),
    (403, "FORBIDDEN_SCOPE", ForbiddenError, "Forbidden"),
    (403, "IP_NOT_ALLOWED", ForbiddenError, "Forbidden"),
    (404, "NOT_FOUND", NotFoundError, "NotFound"),
    (409, "DUPLICATE_CLIENT_ORDER_ID", DuplicateClientOrderIdError, "Conflict"),
    (409, "MARKET_HALTED", MarketHaltedError, "Conflict"),
    (422, "INSUFFICIENT_MARGIN", InsufficientMarginError, "BusinessReject"),
    (422, "POST_ONLY_WOULD_CROSS", PostOnlyWouldCrossError, "BusinessReject"),
    (422, "REDUCE_ONLY_WOULD_INCREASE", ReduceOnlyError, "BusinessReject"),
    (422, "PRICE_OUT_OF_BAND", PriceOutOfBandError, "BusinessReject"),
    (422, "INVALID_TICK", InvalidTickError, "BusinessReject"),
    (422, "INVALID_STEP", InvalidStepError, "BusinessReject"),
    (429, "ORDER_RATE_LIMIT", RateLimitedError, "RateLimited"),
]

BUSINESS = [c for c in CONTRACT if c[0] == 422]


def response(status: int, body: object = None, *, content: bytes | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
    if content is None:
        content = json.dumps(body).encode()
    hdrs = {"content-type": "application/json", **(headers or {})}
    return httpx.Response(status, content=content, headers=hdrs,
                          request=httpx.Request("POST", "http://127.0.0.1/x"))


def long_body(kind: str, code: str, message: str = "refused",
              details: dict | None = None) -> dict:
    return {"error": kind, "code": code, "message": message, "details": details or {}}


def short_body(code: str, message: str = "refused") -> dict:
    return {"error": code, "message": message}


# --- every contract code, both body forms --------------------------------------------


@pytest.mark.parametrize(("status", "code", "cls", "kind"), CONTRACT,
                         ids=[c[1] for c in CONTRACT])
def test_long_form_maps_code_to_class(status, code, cls, kind):
    err = error_from_response(response(status, long_body(kind, code, "nope")), "place")
    assert type(err) is cls
    assert err.code == code
    assert err.status == status
    assert err.message == "nope"
    assert isinstance(err, VenueReject)
    assert not isinstance(err, TransportError)


@pytest.mark.parametrize(("status", "code", "cls", "kind"), CONTRACT,
                         ids=[c[1] for c in CONTRACT])
def test_short_form_maps_code_to_class(status, code, cls, kind):
    err = error_from_response(response(status, short_body(code, "short")), "place")
    assert type(err) is cls
    assert err.code == code
    assert err.status == status
    assert err.message == "short"
    assert err.details == {}


def test_code_wins_over_status():
    # KEY_REVOKED arrives as 409 but is an auth failure, not a generic conflict
    err = error_from_response(response(409, long_body("Conflict", "KEY_REVOKED")), "list")
    assert type(err) is AuthError


# --- details -------------------------------------------------------------------------


def test_validation_field_errors():
    details = {"fieldErrors": {"quantity": ["must be > 0"], "price": ["not a decimal"]}}
    err = error_from_response(
        response(400, long_body("ValidationError", "VALIDATION", details=details)), "place")
    assert isinstance(err, ValidationError)
    assert err.field_errors == {"quantity": ["must be > 0"], "price": ["not a decimal"]}


def test_validation_field_error_as_a_single_string_becomes_a_list():
    details = {"fieldErrors": {"quantity": "must be > 0"}}
    err = error_from_response(
        response(400, long_body("ValidationError", "VALIDATION", details=details)), "place")
    assert err.field_errors == {"quantity": ["must be > 0"]}


def test_validation_without_field_errors_is_empty():
    err = error_from_response(response(400, short_body("VALIDATION")), "place")
    assert err.field_errors == {}


def test_insufficient_margin_amounts_are_exact_decimals():
    details = {"requiredIm": "1250.125", "availableIm": "310.5"}
    err = error_from_response(
        response(422, long_body("BusinessReject", "INSUFFICIENT_MARGIN", details=details)),
        "bulk quote")
    assert isinstance(err, InsufficientMarginError)
    assert err.required_margin == Decimal("1250.125")
    assert err.available_margin == Decimal("310.5")
    assert isinstance(err.required_margin, Decimal)


def test_insufficient_margin_without_details_has_no_amounts():
    err = error_from_response(response(422, short_body("INSUFFICIENT_MARGIN")), "place")
    assert isinstance(err, InsufficientMarginError)
    assert err.required_margin is None
    assert err.available_margin is None


def test_details_survive_on_the_error():
    details = {"band": ["60000", "70000"]}
    err = error_from_response(
        response(422, long_body("BusinessReject", "PRICE_OUT_OF_BAND", details=details)), "p")
    assert err.details == details


# --- rate limit: retryAfterMs, then Retry-After, then 1 s ----------------------------


def test_retry_after_from_body_retry_after_ms():
    body = {**short_body("ORDER_RATE_LIMIT"), "retryAfterMs": 1500}
    err = error_from_response(response(429, body, headers={"Retry-After": "9"}), "place")
    assert isinstance(err, RateLimitedError)
    assert err.retry_after_s == pytest.approx(1.5)


def test_retry_after_from_details_retry_after_ms():
    body = long_body("RateLimited", "ORDER_RATE_LIMIT", details={"retryAfterMs": 250})
    err = error_from_response(response(429, body, headers={"Retry-After": "9"}), "place")
    assert err.retry_after_s == pytest.approx(0.25)


def test_retry_after_from_header_when_body_has_none():
    err = error_from_response(
        response(429, short_body("ORDER_RATE_LIMIT"), headers={"Retry-After": "3"}), "place")
    assert err.retry_after_s == pytest.approx(3.0)


def test_retry_after_defaults_to_one_second():
    err = error_from_response(response(429, short_body("ORDER_RATE_LIMIT")), "place")
    assert err.retry_after_s == 1.0


@pytest.mark.parametrize("header", ["Wed, 21 Oct 2015 07:28:00 GMT", "soon", "nan", "inf"])
def test_unusable_retry_after_header_falls_back_to_one_second(header):
    err = error_from_response(
        response(429, short_body("ORDER_RATE_LIMIT"), headers={"Retry-After": header}), "p")
    assert math.isfinite(err.retry_after_s)
    assert err.retry_after_s == 1.0


def test_negative_retry_after_header_never_waits_negative():
    err = error_from_response(
        response(429, short_body("ORDER_RATE_LIMIT"), headers={"Retry-After": "-3"}), "p")
    assert err.retry_after_s == 0.0


# --- unknown codes fall back by status -----------------------------------------------


@pytest.mark.parametrize(("status", "cls"), [
    (400, BadRequestError), (401, AuthError), (403, ForbiddenError), (404, NotFoundError),
    (409, VenueReject), (422, BusinessReject), (429, RateLimitedError), (418, VenueReject),
])
def test_unknown_code_falls_back_by_status(status, cls):
    err = error_from_response(response(status, short_body("SOMETHING_NEW", "hm")), "place")
    assert type(err) is cls
    assert err.code == "SOMETHING_NEW"
    assert err.status == status


def test_unknown_429_code_still_carries_retry_after():
    err = error_from_response(
        response(429, short_body("ACCOUNT_RATE_LIMIT"), headers={"Retry-After": "2"}), "p")
    assert isinstance(err, RateLimitedError)
    assert err.retry_after_s == pytest.approx(2.0)


# --- transport-class trouble ---------------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(500, "INTERNAL"), (503, "UNAVAILABLE")])
def test_5xx_is_transport_server_error(status, code):
    err = error_from_response(response(status, long_body("Internal", code)), "place")
    assert type(err) is TransportError
    assert err.kind == "server"
    assert err.status == status
    assert code in str(err)
    assert "place" in str(err)
    assert not isinstance(err, VenueReject)
    assert err.unsent is False


def test_5xx_with_a_known_code_is_still_transport():
    # a gateway that relays a business code on a 5xx: the order's fate is unknown
    err = error_from_response(response(503, short_body("MARKET_HALTED")), "place")
    assert type(err) is TransportError


@pytest.mark.parametrize("content", [
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    b"",
    b'{"error": "VALIDATION", "message": ',  # truncated
    b'["VALIDATION"]',
    b'"VALIDATION"',
])
@pytest.mark.parametrize("status", [400, 404, 422, 429])
def test_4xx_without_a_readable_error_body_is_transport(status, content):
    err = error_from_response(response(status, content=content,
                                       headers={"content-type": "text/html"}), "cancel")
    assert type(err) is TransportError
    assert err.kind == "server"
    assert err.status == status
    assert "no error body" in str(err)


# --- the families --------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code", "cls", "kind"), BUSINESS,
                         ids=[c[1] for c in BUSINESS])
def test_business_rejects_are_business_and_venue_rejects(status, code, cls, kind):
    assert issubclass(cls, BusinessReject)
    assert issubclass(cls, VenueReject)
    assert not issubclass(cls, TransportError)
    err = error_from_response(response(status, long_body(kind, code)), "place")
    assert isinstance(err, BusinessReject)
    assert isinstance(err, VenueCallError)


@pytest.mark.parametrize("cls", [AuthError, ForbiddenError, NotFoundError, BadRequestError,
                                 DuplicateClientOrderIdError, MarketHaltedError,
                                 RateLimitedError, ValidationError])
def test_non_business_rejects_are_not_business(cls):
    assert issubclass(cls, VenueReject)
    assert not issubclass(cls, BusinessReject)
    assert not issubclass(cls, TransportError)


@pytest.mark.parametrize(("kind", "unsent"), [
    ("connect", True), ("timeout", False), ("server", False), ("bad_response", False),
])
def test_only_a_connect_failure_is_surely_unsent(kind, unsent):
    assert TransportError("boom", kind).unsent is unsent


@pytest.mark.parametrize("body", [{}, {"message": "no code"}, {"details": {}}])
def test_json_that_is_not_an_error_body_is_transport_trouble(body):
    err = error_from_response(response(400, body), "POST /x")
    assert isinstance(err, TransportError) and err.kind == "server" and err.status == 400
