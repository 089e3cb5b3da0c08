"""Engine ids: strategy ids, and order/quote/hedge ids that name their strategy."""

from __future__ import annotations

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from desk.engine.ids import Ids, owner

ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]+$")


def mint(ids: Ids) -> list[str]:
    sid = ids.strategy()
    return [sid, ids.order(sid), ids.quote(sid), ids.hedge(sid), ids.order(sid)]


def test_ids_are_deterministic_for_a_seeded_random():
    assert mint(Ids(random.Random(42))) == mint(Ids(random.Random(42)))
    assert mint(Ids(random.Random(42))) != mint(Ids(random.Random(43)))


def test_ids_use_only_the_injected_random():
    rng = random.Random(7)
    state = rng.getstate()
    first = mint(Ids(rng))
    rng.setstate(state)
    random.seed(12345)  # the global random has no say
    assert mint(Ids(rng)) == first


def test_strategy_id_shape():
    sid = Ids(random.Random(1)).strategy()
    assert re.fullmatch(r"s[0-9a-z]{7}", sid)
    assert "." not in sid


def test_order_quote_and_hedge_ids_name_their_strategy():
    ids = Ids(random.Random(3))
    sid = ids.strategy()
    order, quote, hedge = ids.order(sid), ids.quote(sid), ids.hedge(sid)
    for value in (order, quote, hedge):
        assert value.startswith(sid + ".")
        assert len(value) <= 64
        assert ID_RE.match(value)
        assert owner(value) == sid
    assert quote.startswith(sid + ".q") and hedge.startswith(sid + ".h")
    assert len({order, quote, hedge}) == 3


def test_ids_do_not_repeat():
    ids = Ids(random.Random(5))
    sid = ids.strategy()
    minted = [ids.order(sid) for _ in range(2_000)] + [ids.quote(sid) for _ in range(2_000)]
    assert len(set(minted)) == len(minted)
    assert len({ids.strategy() for _ in range(500)}) == 500


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**64))
def test_any_seed_gives_well_formed_ids(seed):
    ids = Ids(random.Random(seed))
    sid = ids.strategy()
    assert ID_RE.match(sid) and len(sid) <= 64 and owner(sid) is None
    for value in (ids.order(sid), ids.quote(sid), ids.hedge(sid)):
        assert value.startswith(sid + ".")
        assert len(value) <= 64
        assert ID_RE.match(value)
        assert owner(value) == sid


def test_owner_of_foreign_ids_is_none():
    assert owner(None) is None
    assert owner("") is None
    assert owner("01HZX3M4K8Q9V7T6N5B2C1D0EF") is None   # a venue ULID
    assert owner("manual-order-17") is None
    assert owner("sabcdefg") is None                    # a bare strategy id is no order id


def test_owner_splits_at_the_first_dot():
    assert owner("sabcdefg.q0123456789a") == "sabcdefg"
    assert owner("sabcdefg.h0123456789a") == "sabcdefg"
    assert owner("sabcdefg.x.y") == "sabcdefg"
