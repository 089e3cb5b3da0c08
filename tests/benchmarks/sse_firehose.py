"""A book stream that sends a snapshot and then N updates as fast as the socket takes them.

    python -m tests.benchmarks.sse_firehose N   (prints "listening on URL", loopback only)

Each update moves one bid and one ask level of a 25-level book, with
consecutive SSE ids, so the consumer's fold does real work.
"""

from __future__ import annotations

import asyncio
import json
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from desk.venue.server import bind


def frames(n: int) -> list[bytes]:
    bids = [{"price": f"{64000 - i}.0", "size": "1", "total": str(i + 1)} for i in range(25)]
    asks = [{"price": f"{64001 + i}.0", "size": "1", "total": str(i + 1)} for i in range(25)]
    snap = {"marketId": "BTC-PERP", "sequence": 1, "bids": bids, "asks": asks}
    out = [f"event: snapshot\nid: 1\ndata: {json.dumps(snap)}\n\n".encode()]
    chunk = []
    for k in range(n):
        i = k % 25
        size = f"{1 + (k % 7) * 0.5:g}"
        upd = {"marketId": "BTC-PERP", "sequence": k + 2,
               "bids": [{"price": f"{64000 - i}.0", "size": size}],
               "asks": [{"price": f"{64001 + i}.0", "size": size}]}
        chunk.append(f"event: update\nid: {k + 2}\ndata: {json.dumps(upd)}\n\n")
        if len(chunk) == 200:
            out.append("".join(chunk).encode())
            chunk = []
    if chunk:
        out.append("".join(chunk).encode())
    return out


def app(n: int) -> Starlette:
    body = frames(n)

    async def stream(request):
        async def gen():
            for part in body:
                yield part
            await asyncio.sleep(3600)
        return StreamingResponse(gen(), media_type="text/event-stream")

    return Starlette(routes=[Route("/perps/book-stream", stream)])


async def main(n: int) -> None:
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app(n), log_level="warning", lifespan="off",
                                           ws="none"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
