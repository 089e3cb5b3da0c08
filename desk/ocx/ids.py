"""Client-side ids (clientOrderId, quoteId): short, unique, from an injected random source."""

from __future__ import annotations

import random

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


class IdSource:
    """`prefix` + 16 base-36 characters (about 82 bits) drawn from `rng`."""

    def __init__(self, rng: random.Random, prefix: str = "d"):
        self.rng = rng
        self.prefix = prefix

    def __call__(self) -> str:
        n = self.rng.getrandbits(82)
        chars = []
        for _ in range(16):
            n, d = divmod(n, 36)
            chars.append(_ALPHABET[d])
        return self.prefix + "".join(chars)


_default = IdSource(random.Random())


def new_client_order_id() -> str:
    """The default id source, seeded by the OS; pass an `IdSource` for replayable ids."""
    return _default()
