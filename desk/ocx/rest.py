"""The REST side of the OCX client: every route of the contract on one pooled
`httpx.AsyncClient` per venue.

How each call may be retried is decided by what it is (`Call`):

- READ: GETs. Retried on transport trouble and 429, with backoff.
- IDEMPOTENT: order-path calls a replay cannot double (orders and quotes carry a
  `clientOrderId` on every level, cancels). Retried like reads; an order whose
  retry meets DUPLICATE_CLIENT_ORDER_ID is looked up, because the first try landed.
- UNSAFE: `positions/close` (a replay could close twice). Resent only when the
  request surely never left (connect failure) or the venue said 429.
- CANCEL: `cancel-all`. Retried like IDEMPOTENT but never held back by the local
  rate-limit budget: pulling quotes must always go out at once.

Order-path calls wait for the rate window to reset when the venue reported it
spent; a 429 waits `retryAfterMs` (plus jitter). No loop retries without a wait.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticError

from desk.domain import fmt
from desk.domain import records as r
from desk.domain.errors import (
    DuplicateClientOrderIdError,
    RateLimitedError,
    TransportError,
    VenueCallError,
)
from desk.ocx import wire as w
from desk.ocx.config import ClientConfig
from desk.ocx.errors import error_from_response
from desk.ocx.ids import new_client_order_id
from desk.ocx.pacing import RateLimitState, full_jitter

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class Credential(httpx.Auth):
    """A key or session header added to each request; its repr never shows the value,
    so a traceback that prints call arguments cannot leak it."""

    def __init__(self, header: str, value: str):
        self._header = header
        self._value = value

    def __repr__(self) -> str:
        return f"Credential({self._header}: ***)"

    def auth_flow(self, request: httpx.Request):  # noqa: ANN201 - httpx's generator protocol
        request.headers[self._header] = self._value
        yield request


class Call(enum.Enum):
    READ = "read"
    IDEMPOTENT = "idempotent"
    UNSAFE = "unsafe"
    CANCEL = "cancel"


class OcxClient:
    """One venue, one key (and optionally a session for key management).

    Secrets live only in private attributes; `repr()` never shows them.
    """

    def __init__(self, base_url: str, *, api_key: str | None = None,
                 session: str | None = None, config: ClientConfig | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rng: random.Random | None = None,
                 new_coid: Callable[[], str] = new_client_order_id):
        self.config = cfg = config or ClientConfig()
        self.base_url = base_url.rstrip("/")
        self._key = Credential("x-api-key", api_key) if api_key else None
        self._session: Credential | None = None
        if session:
            self.with_session(session)
        self.monotonic = monotonic
        self.sleep = sleep
        # OS-seeded unless given: jitter exists to de-correlate clients (tests pass a seed)
        self.rng = rng or random.Random()
        self.new_coid = new_coid
        self.rate = RateLimitState()
        self.retries = 0  # resends made, for health and tests
        # asked before each resend of a quote: once the owner stands down (its dead-man
        # switch tripped), a resend would land quotes after its cancel-all
        self.may_quote: Callable[[], bool] = lambda: True
        self.http = httpx.AsyncClient(
            base_url=self.base_url, transport=transport,
            timeout=httpx.Timeout(connect=cfg.connect_timeout_s, read=cfg.read_timeout_s,
                                  write=cfg.write_timeout_s, pool=cfg.pool_timeout_s),
            limits=httpx.Limits(max_connections=cfg.max_connections,
                                max_keepalive_connections=cfg.max_connections),
            headers={"accept": "application/json"})
        self._urls: dict[str, httpx.URL] = {}  # the absolute URL of each fixed path

    def __repr__(self) -> str:
        return (f"OcxClient({self.base_url!r}, key={'set' if self._key else 'none'}, "
                f"session={'set' if self._session else 'none'})")

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> OcxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def with_session(self, token: str) -> None:
        self._session = Credential("authorization", f"Bearer {token}")

    def use_key(self, api_key: str) -> None:
        """Trade with another key from the next request on. The credential is changed in
        place, so the streams sharing it use the new key from their next connect."""
        if self._key is None:
            self._key = Credential("x-api-key", api_key)
        else:
            self._key._value = api_key

    @property
    def key_auth(self) -> Credential:
        """The key's credential, for the streams sharing this client."""
        if self._key is None:
            raise VenueCallError("no API key configured for this venue")
        return self._key

    @property
    def own_auth(self) -> Credential:
        """The key, or the session for a client that holds no key (a last-resort
        credential of the kill path)."""
        return self._key or self.session_auth

    @property
    def session_auth(self) -> Credential:
        if self._session is None:
            raise VenueCallError("key management needs a venue session token")
        return self._session

    # --- the one request path -------------------------------------------------------

    async def _send(self, method: str, path: str, call: Call, auth: httpx.Auth | None,
                    parse: Callable[[httpx.Response], T], body: Any = None,
                    params: dict[str, Any] | None = None, order_path: bool = False,
                    quotes: bool = False) -> T:
        """Send, map errors, validate the body (`parse`), and retry what is safe to retry
        (`quotes`: only while `may_quote()` says so)."""
        cfg = self.config
        attempt = 0
        waited = 0.0
        while True:
            attempt += 1
            if order_path and call is not Call.CANCEL:
                hold = self.rate.wait_s(self.monotonic())
                if hold > 0:
                    if waited + hold > cfg.max_rate_wait_s:
                        raise RateLimitedError("ORDER_RATE_LIMIT", "rate window spent; not "
                                               "sending", 429, retry_after_s=hold)
                    waited += hold
                    await self.sleep(hold)
                self.rate.spend(self.monotonic())
            try:
                response = await self.http.send(self._request(method, path, body, params),
                                                auth=auth or httpx.USE_CLIENT_DEFAULT)
            except httpx.HTTPError as exc:
                err: VenueCallError = _transport_error(exc, f"{method} {path}")
            else:
                if order_path:
                    self.rate.update(response.headers, self.monotonic())
                if response.status_code < 300:
                    try:
                        return parse(response)
                    except (PydanticError, ValueError) as exc:
                        err = _bad_body(exc, f"{method} {path}", response.status_code)
                else:
                    err = error_from_response(response, f"{method} {path}")
            if isinstance(err, RateLimitedError):
                self.rate.limited_for(err.retry_after_s, self.monotonic())
            if (attempt >= cfg.max_attempts or not _may_retry(err, call)
                    or (quotes and not self.may_quote())):
                err.attempts = attempt
                raise err
            delay = full_jitter(attempt, cfg.backoff_base_s, cfg.backoff_cap_s, self.rng)
            if isinstance(err, RateLimitedError):
                delay += err.retry_after_s
                if waited + delay > cfg.max_rate_wait_s:
                    raise err
            waited += delay
            await self.sleep(delay)
            if quotes and not self.may_quote():  # stood down while waiting: no resend
                err.attempts = attempt
                raise err
            self.retries += 1

    def _request(self, method: str, path: str, body: Any,
                 params: dict[str, Any] | None) -> httpx.Request:
        """The request `http.request()` would build, without its cost on the order path:
        httpx parses and joins the URL on every call (two URL parses, most of its ~0.1 ms
        before a request leaves); a path without query parameters is parsed once here.
        Same headers, body bytes, timeouts; a client holding cookies takes httpx's way."""
        http = self.http
        if params or http.cookies:
            return http.build_request(method, path, json=body, params=params)
        url = self._urls.get(path)
        if url is None:
            url = http._merge_url(path)
            if len(self._urls) < 64:  # fixed paths; an order id's is not worth keeping
                self._urls[path] = url
        return httpx.Request(method, url, json=body, headers=http.headers,
                             extensions={"timeout": http.timeout.as_dict()})

    async def _model(self, model: type[M], method: str, path: str, call: Call,
                     auth: httpx.Auth | None, body: Any = None,
                     params: dict[str, Any] | None = None, order_path: bool = False,
                     quotes: bool = False) -> M:
        return await self._send(method, path, call, auth,
                                lambda resp: model.model_validate_json(resp.content),
                                body, params, order_path, quotes)

    async def _rows(self, adapter: TypeAdapter, path: str, params: dict[str, Any] | None = None,
                    auth: httpx.Auth | None = None) -> list:
        return await self._send("GET", path, Call.READ, auth,
                                lambda resp: adapter.validate_json(resp.content), params=params)

    # --- public market data ---------------------------------------------------------

    async def markets(self) -> list[r.Market]:
        return [m.to_domain() for m in await self._rows(w.MARKETS, "/perps/markets")]

    async def orderbook(self, market_id: str, depth: int = 25) -> w.OrderBookW:
        return await self._model(w.OrderBookW, "GET", f"/perps/orderbook/{market_id}",
                                 Call.READ, None, params={"depth": depth})

    async def market_stats(self, market_id: str) -> w.MarketStatsW:
        return await self._model(w.MarketStatsW, "GET", "/perps/market-stats", Call.READ,
                                 None, params={"marketId": market_id})

    async def fees(self) -> w.FeesW:
        return await self._model(w.FeesW, "GET", "/perps/fees", Call.READ, None)

    # --- account --------------------------------------------------------------------

    async def balances(self) -> r.Balances:
        out = await self._model(w.BalancesW, "GET", "/perps/balances", Call.READ,
                                self.key_auth)
        return out.to_domain()

    async def positions(self) -> list[r.Position]:
        rows = await self._rows(w.POSITIONS, "/perps/positions", auth=self.key_auth)
        return [p.to_domain() for p in rows]

    async def orders(self, market_id: str | None = None,
                     status: str | None = None) -> list[r.Order]:
        params = {k: v for k, v in (("marketId", market_id), ("status", status)) if v}
        rows = await self._rows(w.ORDERS, "/perps/orders", params, self.own_auth)
        return [o.to_domain() for o in rows]

    async def my_fees(self) -> w.MyFeesW:
        return await self._model(w.MyFeesW, "GET", "/perps/fees/me", Call.READ, self.key_auth)

    # --- trading --------------------------------------------------------------------

    async def preview_order(self, order: r.OrderRequest) -> r.Preview:
        out = await self._model(w.PreviewW, "POST", "/perps/orders/preview", Call.READ,
                                self.key_auth, _order_body(order, order.client_order_id),
                                order_path=True)
        return out.to_domain()

    async def preview_quotes(self, market_id: str, levels: Sequence[r.QuoteLevel],
                             cancel_all: bool = True) -> r.Preview:
        body = _bulk_body(market_id, "preview", levels, cancel_all)
        out = await self._model(w.PreviewW, "POST", "/perps/orders/preview", Call.READ,
                                self.key_auth, body, order_path=True)
        return out.to_domain()

    async def place_order(self, order: r.OrderRequest) -> r.Order:
        """Place one order, at most once.

        The venue refuses a repeated clientOrderId only while that order is live, so
        a blind resend of an order that filled at once would trade twice. After an
        ambiguous failure (the request may have landed) the order is looked up by its
        clientOrderId first, and resent only if the venue has never seen it.
        """
        coid = order.client_order_id or self.new_coid()
        body = _order_body(order, coid)
        attempt = 0
        while True:
            attempt += 1
            try:
                out = await self._model(w.OrderW, "POST", "/perps/orders", Call.UNSAFE,
                                        self.key_auth, body, order_path=True)
                return out.to_domain()
            except DuplicateClientOrderIdError:
                if attempt == 1:
                    raise
                landed = await self.find_order(order.market_id, coid)
                if landed is None:
                    raise
                return landed
            except TransportError as err:
                # an unsent request was already resent by _send; give up on it
                if err.unsent or attempt >= self.config.max_attempts:
                    raise
                landed = await self.find_order(order.market_id, coid)
                if landed is not None:
                    return landed
                self.retries += 1
                await self.sleep(full_jitter(attempt, self.config.backoff_base_s,
                                             self.config.backoff_cap_s, self.rng))

    async def find_order(self, market_id: str, client_order_id: str) -> r.Order | None:
        """The account's order with this clientOrderId, live or finished, if any."""
        for status in ("open", "filled", "cancelled", "rejected"):
            for o in await self.orders(market_id, status):
                if o.client_order_id == client_order_id:
                    return o
        return None

    async def cancel_order(self, order_id: str) -> r.Order:
        out = await self._model(w.OrderW, "POST", f"/perps/orders/{order_id}/cancel",
                                Call.IDEMPOTENT, self.key_auth, order_path=True)
        return out.to_domain()

    async def bulk_quote(self, market_id: str, quote_id: str, levels: Sequence[r.QuoteLevel],
                         cancel_all: bool = True) -> r.BulkResult:
        """Post-only quote levels each with a clientOrderId: a replay replaces (cancelAll)
        or is refused level by level (duplicates), so it is retried like a read, while
        `may_quote()` allows."""
        out = await self._model(w.BulkResultW, "POST", "/perps/quotes/bulk", Call.IDEMPOTENT,
                                self.key_auth, _bulk_body(market_id, quote_id, levels,
                                                          cancel_all), order_path=True,
                                quotes=True)
        return out.to_domain()

    async def cancel_all(self, market_id: str | None = None,
                         quote_id: str | None = None) -> list[str]:
        body = {k: v for k, v in (("marketId", market_id), ("quoteId", quote_id)) if v}
        out = await self._model(w.CancelAllW, "POST", "/perps/orders/cancel-all", Call.CANCEL,
                                self.own_auth, body, order_path=True)
        return out.cancelled

    async def close_position(self, market_id: str,
                             quantity: Decimal | None = None) -> r.CloseResult:
        body: dict[str, Any] = {"marketId": market_id}
        if quantity is not None:
            body["quantity"] = fmt(quantity)
        out = await self._model(w.CloseW, "POST", "/perps/positions/close", Call.UNSAFE,
                                self.key_auth, body, order_path=True)
        return out.to_domain()

    # --- API keys (session) -----------------------------------------------------------

    async def api_keys(self) -> list[w.ApiKeyW]:
        out = await self._model(w.ApiKeysW, "GET", "/perps/me/api-keys", Call.READ,
                                self.session_auth)
        return out.keys

    async def create_api_key(self, name: str, scope: str, allowed_ips: Sequence[str] = (),
                             expires_in_days: int | None = None) -> w.CreatedKeyW:
        body: dict[str, Any] = {"name": name, "scope": scope, "allowedIps": list(allowed_ips)}
        if expires_in_days is not None:
            body["expiresInDays"] = expires_in_days
        # not retried on ambiguity: a replay would mint a second key
        return await self._model(w.CreatedKeyW, "POST", "/perps/me/api-keys", Call.UNSAFE,
                                 self.session_auth, body)

    async def revoke_api_key(self, key_id: str) -> None:
        await self._send("DELETE", f"/perps/me/api-keys/{key_id}", Call.IDEMPOTENT,
                         self.session_auth, lambda resp: None)

    # --- [embedded only] ----------------------------------------------------------------

    async def dev_session(self, account: str = "desk") -> str:
        """Ask an embedded venue for a session (a real venue has no such route)."""
        out = await self._model(w.SessionW, "POST", "/auth/dev-session", Call.UNSAFE, None,
                                {"account": account})
        return out.token

    async def sim_state(self) -> dict[str, Any]:
        return await self._send("GET", "/sim/state", Call.READ, self.session_auth, _json)

    async def inject_fault(self, kind: str, **fields: Any) -> dict[str, Any]:
        body = {"kind": kind, **{k: v for k, v in fields.items() if v is not None}}
        return await self._send("POST", "/sim/faults", Call.UNSAFE, self.session_auth, _json,
                                body)


def _json(response: httpx.Response) -> Any:
    return response.json()


def _bad_body(exc: Exception, what: str, status: int) -> TransportError:
    if isinstance(exc, PydanticError):
        detail = f"{exc.error_count()} problems, first at {_loc(exc)}"
    else:
        detail = "not JSON"
    return TransportError(f"{what}: a {status} with a body that is not the contract's "
                          f"({detail})", "bad_response", status)


def _may_retry(err: VenueCallError, call: Call) -> bool:
    if isinstance(err, RateLimitedError):
        return True
    if not isinstance(err, TransportError):
        return False
    if call is Call.UNSAFE:
        return err.unsent
    if err.kind == "bad_response":  # the call was carried out; only a read may repeat
        return call is Call.READ
    return True


def _transport_error(exc: httpx.HTTPError, what: str) -> TransportError:
    if isinstance(exc, httpx.LocalProtocolError):
        # httpx names the refused header *value* (a key or token): never repeat it
        return TransportError(f"{what}: the request could not be sent: a header value is "
                              "malformed (check the API key or session token for stray "
                              "characters)", "connect")
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        kind = "connect"
    elif isinstance(exc, httpx.TimeoutException):
        kind = "timeout"
    else:
        kind = "network"
    return TransportError(f"{what}: {type(exc).__name__} {exc}".rstrip(), kind)


def _loc(exc: PydanticError) -> str:
    first = exc.errors()[0]
    return ".".join(str(p) for p in first["loc"]) or "the top level"


def _order_body(order: r.OrderRequest, coid: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"marketId": order.market_id, "type": order.type.value,
                            "side": order.side.value, "quantity": fmt(order.quantity),
                            "timeInForce": order.time_in_force.value,
                            "postOnly": order.post_only, "reduceOnly": order.reduce_only}
    if order.price is not None:
        body["price"] = fmt(order.price)
    if coid is not None:
        body["clientOrderId"] = coid
    return body


def _bulk_body(market_id: str, quote_id: str, levels: Sequence[r.QuoteLevel],
               cancel_all: bool) -> dict[str, Any]:
    return {"marketId": market_id, "quoteId": quote_id, "cancelAll": cancel_all,
            "quotes": [{"side": q.side.value, "price": fmt(q.price),
                        "quantity": fmt(q.quantity), "clientOrderId": q.client_order_id,
                        "postOnly": q.post_only, "reduceOnly": q.reduce_only,
                        "timeInForce": q.time_in_force.value} for q in levels]}
