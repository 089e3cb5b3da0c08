"""The embedded OCX-compatible venue: the server side of the wire.

`exchange` is the pure core (no I/O, injected clock and random source);
`market_sim` drives it with synthetic flow; `http` and `streams` serve it over
FastAPI and sse-starlette; `server` runs it on uvicorn.
"""
