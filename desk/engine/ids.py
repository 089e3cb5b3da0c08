"""Ids the engine mints: strategy ids, and quote/order ids that name their strategy.

Every clientOrderId and quoteId starts with its strategy's id and a dot, so a
fill is attributed to its strategy from the id alone, and an order found on the
venue after a restart is known to be ours or not. Randomness comes from an
injected `random.Random`.
"""

from __future__ import annotations

import random

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_SPACE = [36 ** n for n in range(16)]


class Ids:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def _chars(self, n: int) -> str:
        """`n` base-36 digits, uniform, from one draw."""
        value = self.rng.randrange(_SPACE[n])
        out = []
        for _ in range(n):
            value, digit = divmod(value, 36)
            out.append(_ALPHABET[digit])
        return "".join(out)

    def strategy(self) -> str:
        return "s" + self._chars(7)

    def _hex(self, n: int) -> str:
        """`n` hex digits from one draw: cheap enough for the quote path (an id per
        level per cycle)."""
        return format(self.rng.getrandbits(4 * n), f"0{n}x")

    def order(self, strategy_id: str) -> str:
        return f"{strategy_id}.{self._hex(16)}"

    def quote(self, strategy_id: str) -> str:
        return f"{strategy_id}.q{self._hex(15)}"

    def hedge(self, strategy_id: str) -> str:
        return f"{strategy_id}.h{self._hex(15)}"


def owner(client_or_quote_id: str | None) -> str | None:
    """The strategy id an id was minted for, or None if it is not one of ours."""
    if not client_or_quote_id or "." not in client_or_quote_id:
        return None
    return client_or_quote_id.split(".", 1)[0] or None
