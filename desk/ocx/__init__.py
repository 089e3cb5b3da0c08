"""The client side of the OCX wire (REST over httpx, streams over httpx-sse)."""
