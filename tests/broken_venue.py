"""A deliberately broken venue: a reverse proxy in front of a real embedded venue that
garbles what comes back, on demand.

desk talks to the proxy as to any remote venue. While `mode` is None every request and
stream passes through untouched; set a mode and the matching responses are corrupted
from then on (open streams included, message by message). Requests still reach the real
venue, so an order or a cancel-all the proxy garbles the answer to did happen there, as
on a venue whose reply was lost; tests read the truth from the real venue directly.

REST modes garble every JSON answer; SSE modes garble every stream message that carries
data (heartbeats pass, so a stream full of garbage still looks connected).

Served by uvicorn on 127.0.0.1, port 0, in a thread; `start()`/`stop()`.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from desk.venue.server import bind


def _numbers(value: Any, bad: str) -> Any:
    """`value` with every decimal string (and number) replaced by `bad`."""
    if isinstance(value, dict):
        return {k: _numbers(v, bad) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v, bad) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return bad
    if isinstance(value, str) and value.replace(".", "", 1).lstrip("-").isdigit():
        return bad
    return value


def _shape(value: Any) -> Any:
    """Valid JSON of the wrong shape: objects lose every other key, lists become objects,
    strings become numbers and numbers strings."""
    if isinstance(value, dict):
        return {k: _shape(v) for i, (k, v) in enumerate(value.items()) if i % 2}
    if isinstance(value, list):
        return {"items": value[:1]}
    if isinstance(value, str):
        return 7
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "seven"
    return value


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


# Each REST mode: (status, content-type, body from the real body).
REST_MODES: dict[str, Callable[[bytes], tuple[int, str, bytes]]] = {
    "rest_not_json": lambda b: (200, "application/json", b"<html>upstream oops</html>"),
    "rest_truncated": lambda b: (200, "application/json", b[: max(1, len(b) // 2)]),
    "rest_empty": lambda b: (200, "application/json", b""),
    "rest_html_502": lambda b: (502, "text/html", b"<html><h1>502 Bad Gateway</h1></html>"),
    "rest_wrong_shape": lambda b: (200, "application/json", json.dumps(
        _shape(_json_or_none(b.decode(errors="replace")))).encode()),
    "rest_bad_numbers": lambda b: (200, "application/json", json.dumps(
        _numbers(_json_or_none(b.decode(errors="replace")), "NaN")).encode()),
    "rest_binary": lambda b: (200, "application/json", b"\xff\xfe\x00garbage\x80\x81"),
}

# Each SSE mode: the real `data:` payload → the lines sent in its place (without newlines).
SSE_MODES: dict[str, Callable[[str], list[str]]] = {
    "sse_not_json": lambda d: ["data: {this is not json"],
    "sse_truncated": lambda d: [f"data: {d[: len(d) // 2]}"],
    "sse_wrong_shape": lambda d: [f"data: {json.dumps(_shape(_json_or_none(d)))}"],
    "sse_bad_numbers": lambda d: [f"data: {json.dumps(_numbers(_json_or_none(d), 'abc'))}"],
    "sse_infinite": lambda d: [f"data: {json.dumps(_numbers(_json_or_none(d), '1e999999'))}"],
    "sse_negative": lambda d: [f"data: {json.dumps(_numbers(_json_or_none(d), '-5'))}"],
    "sse_huge": lambda d: ["data: " + "9" * 2_000_000],
    "sse_bad_id": lambda d: ["id: not-a-number", f"data: {d}"],
    "sse_binary": lambda d: ["data: \udcff\udcfe garbage"],
}

MODES = (*REST_MODES, *SSE_MODES)
_HOP = {"host", "content-length", "transfer-encoding", "connection", "accept-encoding"}


class BrokenVenue:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.mode: str | None = None
        self.garbled: Counter[str] = Counter()   # corrupted answers/messages, by mode
        app = Starlette(routes=[Route("/{path:path}", self._proxy,
                                      methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])
        self.server = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="critical", access_log=False,
            lifespan="off", ws="none", timeout_graceful_shutdown=1))
        self._thread: threading.Thread | None = None
        self._sock = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._http: httpx.AsyncClient | None = None

    # --- running ------------------------------------------------------------------------

    def start(self) -> BrokenVenue:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()),
                                        name="broken-venue", daemon=True)
        self._thread.start()
        for _ in range(500):
            if self.server.started:
                return self
            threading.Event().wait(0.01)
        raise TimeoutError("the broken venue did not start")

    async def _serve(self) -> None:
        timeout = httpx.Timeout(10.0, read=None)
        async with httpx.AsyncClient(base_url=self.upstream, timeout=timeout) as http:
            self._http = http
            await self.server.serve(sockets=[self._sock])

    def stop(self) -> None:
        self.server.should_exit = True
        self.server.force_exit = True
        if self._thread is not None:
            self._thread.join(10)

    # --- the proxy ----------------------------------------------------------------------

    async def _proxy(self, request: Request) -> Response:
        assert self._http is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        upstream = self._http.build_request(
            request.method, request.url.path, params=list(request.query_params.multi_items()),
            headers=headers, content=await request.body())
        reply = await self._http.send(upstream, stream=True)
        keep = {k: v for k, v in reply.headers.items()
                if k.lower() not in _HOP and k.lower() != "content-encoding"}
        if reply.headers.get("content-type", "").startswith("text/event-stream"):
            return StreamingResponse(self._stream(reply), status_code=reply.status_code,
                                     headers=keep)
        body = await reply.aread()
        await reply.aclose()
        mode = self.mode
        if mode in REST_MODES:
            self.garbled[mode] += 1
            status, kind, body = REST_MODES[mode](body)
            keep["content-type"] = kind
            return Response(body, status_code=status, headers=keep)
        return Response(body, status_code=reply.status_code, headers=keep)

    async def _stream(self, reply: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for line in reply.aiter_lines():
                mode = self.mode
                if mode in SSE_MODES and line.startswith("data:") and line[5:].strip():
                    self.garbled[mode] += 1
                    out = SSE_MODES[mode](line[5:].lstrip())
                    yield ("\n".join(out) + "\n").encode("utf-8", "surrogateescape")
                else:
                    yield (line + "\n").encode()
        finally:
            await reply.aclose()
