"""Ids the engine mints: strategy ids, and quote/order ids that name their strategy.

Every clientOrderId and quoteId starts with its strategy's id and a dot, so a
fill is attributed to its strategy from the id alone, and an order found on the
venue after a restart is known to be ours or not. Randomness comes from an
injected `random.Random`.
"""

from __future__ import annotations

import random

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


class Ids:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def _chars(self, n: int) -> str:
        return "".join(self.rng.choice(_ALPHABET) for _ in range(n))

    def strategy(self) -> str:
        return "s" + self._chars(7)

    def order(self, strategy_id: str) -> str:
        return f"{strategy_id}.{self._chars(12)}"

    def quote(self, strategy_id: str) -> str:
        return f"{strategy_id}.q{self._chars(11)}"

    def hedge(self, strategy_id: str) -> str:
        return f"{strategy_id}.h{self._chars(11)}"


def owner(client_or_quote_id: str | None) -> str | None:
    """The strategy id an id was minted for, or None if it is not one of ours."""
    if not client_or_quote_id or "." not in client_or_quote_id:
        return None
    return client_or_quote_id.split(".", 1)[0] or None
