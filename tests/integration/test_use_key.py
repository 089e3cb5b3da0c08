"""`u` on the keys screen (`EngineHost.use_key`) tests a key at the venue before the
engine trades with it (issue 14): a read and a zero-risk preview on a client of the
key's own. A key the venue refuses (fenced by allowedIps, revoked) is refused naming
the key and the venue's reason, and the engine keeps its key; a read key is refused by
its scope before any call; a good trade key is taken. Against the embedded venue (a
child process on 127.0.0.1) with a real host.

Care with secrets: a new key's secret stays inside the `NewKey` and the host's key
store; assertions are on ids, codes and statuses only.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from desk.control import ControlError
from desk.host import EngineHost
from tests.integration.test_host import settings_in
from tests.integration.test_ocx_streams import eventually
from tests.ui.pilot_support import VenueReader

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineHost]:
    h = EngineHost(settings_in(tmp_path_factory.mktemp("use-key")), seed=6)
    h.start()
    try:
        yield h
    finally:
        h.stop()


@pytest.fixture(scope="module")
def reader(host: EngineHost) -> Iterator[VenueReader]:
    assert host.desk is not None
    r = VenueReader(host.desk.url, host.settings.account)
    yield r
    r.close()


def engine_key_id(host: EngineHost) -> str:
    desk = host.desk
    assert desk is not None
    key = desk.keys.in_use(desk.url)
    assert key is not None
    return key.id


async def engine_still_trades(host: EngineHost) -> None:
    """The engine's own client reads the account: its key still works."""
    orders = await host.control(lambda m: m.venue.open_orders())
    assert isinstance(orders, list)


async def test_a_key_fenced_off_by_allowed_ips_is_refused_and_the_engine_keeps_its_key(
        host: EngineHost, reader: VenueReader) -> None:
    before = engine_key_id(host)
    fenced = await host.create_key("fenced", "trade", ["10.9.9.9"], None)
    key_id = fenced.row.id
    del fenced
    with pytest.raises(ControlError) as refused:
        await host.use_key(key_id)
    message = str(refused.value)
    assert key_id in message and "fenced" in message
    assert "IP_NOT_ALLOWED" in message and "keeps its current key" in message
    assert "ocx_sk_" not in message
    assert engine_key_id(host) == before
    await engine_still_trades(host)
    rows = {k.id: k for k in await host.keys()}
    assert rows[before].in_use and rows[before].role == "engine"
    assert not rows[key_id].in_use


async def test_a_key_revoked_from_outside_is_refused_with_the_venues_reason(
        host: EngineHost, reader: VenueReader) -> None:
    before = engine_key_id(host)
    doomed = await host.create_key("doomed", "trade", [], None)
    key_id = doomed.row.id
    del doomed
    # revoked elsewhere (another terminal, the venue's site): desk still holds its secret
    r = reader.http.delete(f"/perps/me/api-keys/{key_id}", headers=reader._session_headers())
    assert r.status_code in (200, 204), r.status_code
    with pytest.raises(ControlError) as refused:
        await host.use_key(key_id)
    assert "KEY_REVOKED" in str(refused.value) and key_id in str(refused.value)
    assert engine_key_id(host) == before
    await engine_still_trades(host)


async def test_a_read_key_is_refused_by_its_scope_before_any_call(
        host: EngineHost, reader: VenueReader) -> None:
    before = engine_key_id(host)
    watcher = await host.create_key("watcher", "read", [], None)
    key_id = watcher.row.id
    del watcher
    with pytest.raises(ControlError, match="is a read key: the engine needs a trade key"):
        await host.use_key(key_id)
    assert reader.keys()[key_id]["lastUsedAt"] is None  # the venue never saw it
    assert engine_key_id(host) == before


async def test_a_good_trade_key_is_tested_and_taken(host: EngineHost,
                                                    reader: VenueReader) -> None:
    await eventually(lambda: (v := host.view()) is not None and v.resting >= 6, 15,
                     "the default strategies quoting")
    old = engine_key_id(host)
    spare = await host.create_key("spare", "trade", ["127.0.0.1"], None)
    key_id = spare.row.id
    del spare
    assert reader.keys()[key_id]["lastUsedAt"] is None
    await host.use_key(key_id)
    assert engine_key_id(host) == key_id
    assert reader.keys()[key_id]["lastUsedAt"] is not None  # the read and the preview
    await engine_still_trades(host)
    rows = {k.id: k for k in await host.keys()}
    assert rows[key_id].in_use and rows[key_id].role == "engine"
    assert not rows[old].in_use and rows[old].role == ""
    # the preview placed nothing: no resting order sits 10 % under a market
    view = host.view()
    assert view is not None
    for o in reader.orders():
        fair = view.books[o["marketId"]].fair
        assert fair is None or Decimal(o["price"]) > fair * Decimal("0.95"), o["price"]


async def test_a_key_revoked_under_the_running_engine_stands_it_down_and_u_brings_it_back(
        host: EngineHost, reader: VenueReader) -> None:
    """Last in the module: it revokes the engine's key. The switch pulls through the kill
    switch's key; another key taken with `u` reconnects the refused fill stream and the
    desk quotes again."""
    await eventually(lambda: (v := host.view()) is not None and v.armed and v.resting >= 6,
                     15, "the default strategies quoting")
    old = engine_key_id(host)
    r = reader.http.delete(f"/perps/me/api-keys/{old}", headers=reader._session_headers())
    assert r.status_code == 204
    await eventually(lambda: (v := host.view()) is not None and v.key_refused
                     and not v.armed, 10, "stood down on the refused key")
    await eventually(lambda: reader.orders() == [], 10, "nothing resting at the venue")
    # the venue shows none a moment before the pull's answer is read: wait for that too
    view = await eventually(lambda: (v := host.view()) is not None and v.pulled_by and v,
                            5, "the pull confirmed")
    assert "KEY_REVOKED" in (view.guard_problem or "")
    assert view.pulled and "kill switch" in view.pulled_by
    fresh = await host.create_key("after-revoke", "trade", [], None)
    key_id = fresh.row.id
    del fresh
    await host.use_key(key_id)
    await eventually(lambda: (v := host.view()) is not None and v.armed and v.resting > 0,
                     20, "quoting again with the new key")
    assert len(reader.orders()) > 0 and engine_key_id(host) == key_id
