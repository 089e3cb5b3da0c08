"""ULID order, fill and event ids from the injected clock and random source.

The hot path makes one id per order, so the encoding is done here with the
standard library's base32 (re-lettered to Crockford's alphabet) rather than by
python-ulid, which costs ~5 us an id; tests check the result against python-ulid.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RFC4648 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_CROCKFORD = bytes.maketrans(_RFC4648.encode(), _CROCKFORD.encode())
_MASK80 = (1 << 80) - 1


def _encode_ms(ms: int) -> str:
    return "".join(_CROCKFORD[(ms >> shift) & 31] for shift in range(45, -1, -5))


class UlidGen:
    """Monotonic ULIDs: millisecond time from `clock`, an 80-bit counter seeded by `rng`."""

    __slots__ = ("_clock", "_last_ms", "_prefix", "_rand")

    def __init__(self, clock: Callable[[], int], rng: random.Random):
        self._clock = clock
        self._last_ms = -1
        self._prefix = ""
        self._rand = rng.getrandbits(80)

    def __call__(self) -> str:
        ms = self._clock()
        if ms > self._last_ms:
            self._last_ms = ms
            self._prefix = _encode_ms(ms)
        self._rand = (self._rand + 1) & _MASK80
        tail = base64.b32encode(self._rand.to_bytes(10, "big")).translate(_TO_CROCKFORD)
        return self._prefix + tail.decode()
