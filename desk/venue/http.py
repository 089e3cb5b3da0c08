"""The embedded venue over HTTP: FastAPI routes and sse-starlette streams.

Routes translate requests onto `VenueRuntime` and nothing more. Every error is
the contract's body; order-path responses carry `X-RateLimit-*`; every response
carries `Server-Timing: app;dur=<ms>` (the server's own handling time).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import time
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sse_starlette import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from desk import __version__
from desk.domain import OrderType, TimeInForce, fmt
from desk.venue import schemas as s
from desk.venue import streams, views
from desk.venue.errors import CODES, VenueError
from desk.venue.exchange import OrderRequest
from desk.venue.keys import ApiKey
from desk.venue.runtime import RateLimited, VenueRuntime

log = logging.getLogger("desk.venue")


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode()


def error_response(err: VenueError, headers: dict[str, str] | None = None) -> JSON:
    body = err.body()
    if isinstance(err, RateLimited):
        body["retryAfterMs"] = err.retry_after_ms
        headers = {**err.headers, "Retry-After": str(-(-err.retry_after_ms // 1000))}
    return JSON(body, status_code=err.status, headers=headers)


def _field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc
             if p not in ("body", "query", "path", "header") and p not in s.UNION_TAGS]
    return ".".join(parts) or "body"


# POST routes on the order path: authenticated (trade scope) and counted against the
# account's rate limit before their body is read, so that a malformed body is still
# a 401 without a key and still carries X-RateLimit-* with one
ORDER_PATH = re.compile(r"/perps/(orders(/preview|/cancel-all|/[^/]+/cancel)?|quotes/bulk"
                        r"|positions/close)")
CANCEL_ALL = "/perps/orders/cancel-all"  # counted, never refused for rate


class TimingAndFaults:
    """Pure ASGI middleware: injected latency and 503 bursts, order-path authentication
    and rate counting, Server-Timing and X-RateLimit-* headers, and a contract body
    for any unexpected error."""

    def __init__(self, app: ASGIApp, runtime: VenueRuntime):
        self.app = app
        self.runtime = runtime

    def _order_path(self, scope: Scope) -> ApiKey:
        headers = dict(scope["headers"])
        secret = headers.get(b"x-api-key")
        client = scope.get("client")
        key = self.runtime.keys.authenticate(secret.decode("latin-1") if secret else None,
                                             client[0] if client else None, trade=True)
        refusable = scope["path"] != CANCEL_ALL
        scope["state"]["rate_headers"] = self.runtime.check_order_path(
            key.account_id, refusable).headers()
        return key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state = scope.setdefault("state", {})
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                dur = (time.perf_counter() - start) * 1000
                headers.append((b"server-timing", f"app;dur={dur:.3f}".encode()))
                rate = state.get("rate_headers")
                if rate and not any(k == b"x-ratelimit-limit" for k, _ in headers):
                    headers += [(k.lower().encode(), v.encode()) for k, v in rate.items()]
                message["headers"] = headers
            await send(message)

        faults = self.runtime.faults
        try:
            if scope["path"].startswith("/perps"):
                delay = faults.extra_latency_ms()
                if delay:
                    await asyncio.sleep(delay / 1000)
                if faults.take_error():
                    raise VenueError("UNAVAILABLE",
                                     "the venue is unavailable (injected error burst)")
                if scope["method"] == "POST" and ORDER_PATH.fullmatch(scope["path"]):
                    state["order_key"] = self._order_path(scope)
        except VenueError as err:
            await error_response(err)(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # a bug, not a refusal: log it, answer the contract's INTERNAL body with the
            # usual headers, and keep the connection (never a traceback to the client)
            log.exception("unhandled error in %s %s", scope.get("method"), scope["path"])
            if not started:
                response = error_response(VenueError("INTERNAL", "internal error"))
                await response(scope, receive, send_with_headers)


ERRORS = {status: {"model": s.ErrorOut} for status in sorted({v[0] for v in CODES.values()})}
api_key = APIKeyHeader(name="x-api-key", auto_error=False)
bearer = HTTPBearer(auto_error=False)


async def runtime_of(request: Request) -> VenueRuntime:
    return request.app.state.runtime


Runtime = Annotated[VenueRuntime, Depends(runtime_of)]


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def known_query(request: Request) -> None:
    """Every route refuses a query parameter it does not take (a typo must not silently
    mean "everything"): 400 VALIDATION naming it."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    unknown = sorted(set(request.query_params) - _query_names(dependant))
    if unknown:
        raise RequestValidationError([{"loc": ("query", name), "type": "extra_forbidden",
                                       "msg": "unknown query parameter"} for name in unknown])


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _is_loopback(host: str | None) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


async def read_key(request: Request, rt: Runtime,
             secret: Annotated[str | None, Security(api_key)] = None) -> ApiKey:
    return rt.keys.authenticate(secret, _client_ip(request), trade=False)


async def order_path_key(request: Request,
                         secret: Annotated[str | None, Security(api_key)] = None) -> ApiKey:
    """The trade key the middleware authenticated (and counted) before the body was read.

    `secret` is declared for the OpenAPI schema's security section.
    """
    return request.state.order_key


async def session_account(rt: Runtime,
                    creds: Annotated[HTTPAuthorizationCredentials | None,
                                     Security(bearer)] = None) -> str:
    return rt.keys.session_account(creds.credentials if creds else None)


ReadKey = Annotated[ApiKey, Depends(read_key)]
TradeKey = Annotated[ApiKey, Depends(order_path_key)]
Session = Annotated[str, Depends(session_account)]
MarketQuery = Annotated[str, Query(alias="marketId", min_length=1, max_length=32)]
Interval = Annotated[int, Query(alias="intervalMs", ge=0, le=60_000)]


def _request(level: s.OrderIn | s.QuoteLevelIn) -> OrderRequest:
    kind = level.type if isinstance(level, s.OrderIn) else OrderType.LIMIT
    return OrderRequest(side=level.side, quantity=level.quantity, price=level.price, type=kind,
                        tif=TimeInForce(level.timeInForce), post_only=level.postOnly,
                        reduce_only=level.reduceOnly, client_order_id=level.clientOrderId)


def create_app(runtime: VenueRuntime, manage_runtime: bool = True) -> FastAPI:
    """The venue's ASGI app. With `manage_runtime` the lifespan starts and stops the sim."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if manage_runtime:
            runtime.start()
        try:
            yield
        finally:
            if manage_runtime:
                await runtime.stop()

    app = FastAPI(title="desk embedded venue (OCX-compatible)", version=__version__,
                  lifespan=lifespan, docs_url=None, redoc_url=None,
                  dependencies=[Depends(known_query)])
    app.state.runtime = runtime
    app.add_middleware(TimingAndFaults, runtime=runtime)
    _errors(app)
    _public_routes(app)
    _account_routes(app)
    _trading_routes(app)
    _stream_routes(app)
    _key_routes(app)
    _sim_routes(app)
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(VenueError)
    async def venue_error(request: Request, exc: VenueError) -> JSON:
        headers = getattr(request.state, "rate_headers", None)
        return error_response(exc, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSON:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            err = VenueError("BAD_REQUEST", "the body is not valid JSON")
        else:
            fields: dict[str, list[str]] = {}
            for e in errors:
                fields.setdefault(_field_name(tuple(e.get("loc", ()))), []).append(
                    str(e.get("msg", "invalid")).removeprefix("Value error, "))
            summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items())
            err = VenueError("VALIDATION", summary, {"fieldErrors": fields})
        return error_response(err, getattr(request.state, "rate_headers", None))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSON:
        if exc.status_code == 404:
            return error_response(VenueError("NOT_FOUND", f"no route {request.url.path}"))
        body = {"error": "HttpError", "code": "BAD_REQUEST", "message": str(exc.detail),
                "details": {}}
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JSON(body, status_code=exc.status_code, headers=headers)



def _allowed_methods(request: Request) -> list[str]:
    """Every method any route serves at this path (Starlette lists only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def _public_routes(app: FastAPI) -> None:
    @app.get("/perps/markets", responses={200: {"model": list[s.MarketOut]}, **ERRORS})
    async def markets(rt: Runtime) -> JSON:
        base = rt.exchange.fee_tiers[0]
        return JSON([views.market_view(m, base.maker_fee_bps, base.taker_fee_bps)
                     for m in rt.exchange.markets.values()])

    @app.get("/perps/orderbook/{marketId}", responses={200: {"model": s.OrderBookOut}, **ERRORS})
    async def orderbook(rt: Runtime, marketId: str,
                  depth: Annotated[int, Query(ge=1, le=500)] = 25) -> JSON:
        m = rt.exchange.market(marketId)
        return JSON({"marketId": m.market_id, "sequence": m.book.sequence,
                     "timestamp": views.iso(rt.clock()),
                     "bids": views.levels(m, True, depth), "asks": views.levels(m, False, depth)})

    @app.get("/perps/market-stats", responses={200: {"model": s.MarketStatsOut}, **ERRORS})
    async def market_stats(rt: Runtime, market_id: MarketQuery) -> JSON:
        m = rt.exchange.market(market_id)
        high, low, volume = m.stats_24h(rt.clock())
        return JSON({"marketId": m.market_id, "last": views.dec(m.last),
                     "markPrice": fmt(m.mark), "indexPrice": fmt(m.index),
                     "high24h": views.dec(high), "low24h": views.dec(low),
                     "volume24h": fmt(volume),
                     "openInterest": fmt(rt.exchange.open_interest(m.market_id)),
                     "fundingRate": fmt(m.funding_rate())})

    @app.get("/perps/fees", responses={200: {"model": s.FeesOut}, **ERRORS})
    async def fees(rt: Runtime) -> JSON:
        return JSON({"tiers": [{"tier": t.tier, "minVolume30d": fmt(t.min_volume_30d),
                                "makerFeeBps": fmt(t.maker_fee_bps),
                                "takerFeeBps": fmt(t.taker_fee_bps)}
                               for t in rt.exchange.fee_tiers]})


def _account_routes(app: FastAPI) -> None:
    @app.get("/perps/balances", responses={200: {"model": s.BalancesOut}, **ERRORS})
    async def balances(rt: Runtime, key: ReadKey) -> JSON:
        return JSON(views.balances_view(rt.exchange, key.account_id))

    @app.get("/perps/positions", responses={200: {"model": list[s.PositionOut]}, **ERRORS})
    async def positions(rt: Runtime, key: ReadKey) -> JSON:
        return JSON(views.position_views(rt.exchange, key.account_id))

    @app.get("/perps/orders", responses={200: {"model": list[s.OrderOut]}, **ERRORS})
    async def orders(rt: Runtime, key: ReadKey,
               market_id: Annotated[str | None, Query(alias="marketId", max_length=32)] = None,
               status: Literal["open", "partially_filled", "filled", "cancelled",
                               "rejected"] | None = None) -> JSON:
        ex = rt.exchange
        if market_id is not None:
            ex.market(market_id)
        return JSON([views.order_view(o, ex.markets[o.market_id])
                     for o in ex.orders_of(key.account_id, market_id, status)])

    @app.get("/perps/fees/me", responses={200: {"model": s.MyFeesOut}, **ERRORS})
    async def my_fees(rt: Runtime, key: ReadKey) -> JSON:
        acct = rt.exchange.account(key.account_id)
        tier = rt.exchange.fee_tier(acct)
        return JSON({"tier": tier.tier, "makerFeeBps": fmt(tier.maker_fee_bps),
                     "takerFeeBps": fmt(tier.taker_fee_bps),
                     "volume30d": fmt(rt.exchange.volume_30d(acct))})


def _trading_routes(app: FastAPI) -> None:
    @app.post("/perps/orders/preview", responses={200: {"model": s.PreviewOut}, **ERRORS})
    async def preview(rt: Runtime, key: TradeKey,
                body: Annotated[s.PreviewIn, Body()]) -> JSON:
        if isinstance(body, s.BulkQuoteIn):
            levels = [_request(q) for q in body.quotes]
            out = rt.exchange.preview(key.account_id, body.marketId, levels, body.cancelAll)
        else:
            out = rt.exchange.preview(key.account_id, body.marketId, [_request(body)])
        return JSON(views.preview_view(out))

    @app.post("/perps/orders", responses={200: {"model": s.OrderOut}, **ERRORS})
    async def place(rt: Runtime, key: TradeKey, body: s.OrderIn) -> JSON:
        order, _ = rt.exchange.place_order(key.account_id, body.marketId, _request(body))
        return JSON(views.order_view(order, rt.exchange.markets[order.market_id]))

    @app.post("/perps/orders/cancel-all", responses={200: {"model": s.CancelAllOut}, **ERRORS})
    async def cancel_all(rt: Runtime, key: TradeKey, body: s.CancelAllIn | None = None) -> JSON:
        body = body or s.CancelAllIn()
        ids = rt.exchange.cancel_all(key.account_id, body.marketId, body.quoteId)
        return JSON({"cancelled": ids, "count": len(ids)})

    @app.post("/perps/orders/{orderId}/cancel",
              responses={200: {"model": s.OrderOut}, **ERRORS})
    async def cancel(rt: Runtime, key: TradeKey, orderId: str) -> JSON:
        order = rt.exchange.cancel_order(key.account_id, orderId)
        return JSON(views.order_view(order, rt.exchange.markets[order.market_id]))

    @app.post("/perps/quotes/bulk", responses={200: {"model": s.BulkQuoteOut}, **ERRORS})
    async def bulk(rt: Runtime, key: TradeKey, body: s.BulkQuoteIn) -> JSON:
        ex = rt.exchange
        result = ex.bulk_quote(key.account_id, body.marketId, body.quoteId, body.cancelAll,
                               [_request(q) for q in body.quotes])
        m = ex.markets[body.marketId]
        return JSON({
            "quoteId": result.quote_id,
            "accepted": [views.order_view(o, m) for o in result.accepted],
            "rejected": [{"clientOrderId": coid, "code": err.code, "message": err.message}
                         for coid, err in result.rejected],
            "cancelled": result.cancelled,
        })

    @app.post("/perps/positions/close", responses={200: {"model": s.CloseOut}, **ERRORS})
    async def close(rt: Runtime, key: TradeKey, body: s.ClosePositionIn) -> JSON:
        order, fills = rt.exchange.close_position(key.account_id, body.marketId, body.quantity)
        return JSON({"order": views.order_view(order, rt.exchange.markets[order.market_id]),
                     "fills": [views.fill_view(f) for f in fills]})


SSE_DOC = {200: {"content": {"text/event-stream": {}}, "description": "an SSE stream"},
           **ERRORS}


def _sse(content) -> EventSourceResponse:
    # heartbeats are the generators' own (`:heartbeat`, pausable by a fault); on shutdown
    # the generators end themselves, so sse-starlette waits for them to finish cleanly;
    # a client that stops reading for 10 s is cut off rather than buffered for forever
    return EventSourceResponse(content, ping=0, headers={"Cache-Control": "no-store"},
                               shutdown_grace_period=2.0, send_timeout=10.0)


def _stream_routes(app: FastAPI) -> None:
    @app.get("/perps/book-stream", responses=SSE_DOC, response_class=EventSourceResponse)
    async def book_stream(rt: Runtime, market_id: MarketQuery,
                    depth: Annotated[int, Query(ge=1, le=500)] = 25,
                    interval_ms: Interval = 100) -> EventSourceResponse:
        rt.exchange.market(market_id)
        return _sse(streams.book_stream(rt, market_id, depth, interval_ms))

    @app.get("/perps/index-stream", responses=SSE_DOC, response_class=EventSourceResponse)
    async def index_stream(rt: Runtime, market_id: MarketQuery,
                     interval_ms: Interval = 100) -> EventSourceResponse:
        rt.exchange.market(market_id)
        return _sse(streams.index_stream(rt, market_id, interval_ms))

    @app.get("/perps/stream/user", responses=SSE_DOC, response_class=EventSourceResponse)
    async def user_stream(rt: Runtime, key: ReadKey,
                    interval_ms: Interval = 250) -> EventSourceResponse:
        return _sse(streams.private_stream(rt, key, None, interval_ms, rt.event_id))

    @app.get("/perps/stream/events", responses=SSE_DOC, response_class=EventSourceResponse)
    async def events_stream(rt: Runtime, key: ReadKey, market_id: MarketQuery,
                      interval_ms: Interval = 100) -> EventSourceResponse:
        rt.exchange.market(market_id)
        return _sse(streams.private_stream(rt, key, market_id, interval_ms, rt.event_id))


def _key_routes(app: FastAPI) -> None:
    @app.get("/perps/me/api-keys", responses={200: {"model": s.ApiKeyListOut}, **ERRORS})
    async def list_keys(rt: Runtime, account: Session) -> JSON:
        now = rt.clock()
        return JSON({"keys": [views.key_view(k, now) for k in rt.keys.list(account)]})

    @app.post("/perps/me/api-keys", responses={200: {"model": s.ApiKeyCreatedOut}, **ERRORS})
    async def create_key(rt: Runtime, account: Session, body: s.ApiKeyIn) -> JSON:
        key, secret = rt.keys.create(account, body.name, body.scope, body.allowedIps,
                                     body.expiresInDays)
        return JSON({"id": key.key_id, "secret": secret,
                     "message": "store this secret now: it is shown only once"})

    @app.delete("/perps/me/api-keys/{keyId}", status_code=204, responses=ERRORS,
                response_class=Response)
    async def revoke_key(rt: Runtime, account: Session, keyId: str) -> Response:
        rt.keys.revoke(account, keyId)
        rt.hub.wake_key(keyId)  # its open private streams end now with KEY_REVOKED
        return Response(status_code=204)


def _sim_routes(app: FastAPI) -> None:
    @app.post("/auth/dev-session", responses={200: {"model": s.DevSessionOut}, **ERRORS})
    async def dev_session(rt: Runtime, request: Request,
                          body: s.DevSessionIn | None = None) -> JSON:
        if not _is_loopback(_client_ip(request)):
            # a session can mint and revoke keys and inject faults: never for the network,
            # even when `desk venue --allow-remote` serves it
            raise VenueError("IP_NOT_ALLOWED", "dev sessions are given to loopback "
                                               "clients only")
        body = body or s.DevSessionIn()
        return JSON({"token": rt.dev_session(body.account)})

    @app.get("/sim/state", responses={200: {"model": s.SimStateOut}, **ERRORS})
    async def sim_state(rt: Runtime, account: Session) -> JSON:
        return JSON(rt.state())

    @app.get("/sim/fills", responses={200: {"model": list[dict[str, Any]]}, **ERRORS})
    async def sim_fills(rt: Runtime, account: Session,
                        since_ms: Annotated[int, Query(alias="sinceMs", ge=0)] = 0) -> JSON:
        """The session account's last fills (up to 20,000), oldest first: what a test
        checks a journal against, since the contract has no fills endpoint."""
        fills = [f for f in rt.fills.get(account, ()) if f.created_at >= since_ms]
        return JSON([views.fill_view(f) for f in fills])

    @app.post("/sim/faults", responses={200: {"model": dict[str, Any]}, **ERRORS})
    async def sim_faults(rt: Runtime, account: Session, body: s.FaultIn) -> JSON:
        return JSON(rt.inject(body, account))
