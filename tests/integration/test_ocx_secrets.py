"""No secret reaches a log line, whatever the client does and however it fails.

Every logger runs at DEBUG (httpx and httpcore included) through a handler with
desk's redacting filter installed, as `desk` installs it.
"""

from __future__ import annotations

import io
import logging
from decimal import Decimal

import pytest

from desk.domain import Side
from desk.domain.errors import AuthError, ForbiddenError
from desk.domain.records import OrderRequest
from desk.ocx.config import ClientConfig
from desk.ocx.rest import OcxClient
from desk.ocx.streams import UserStream
from desk.store import redact
from tests.helpers import Trader
from tests.integration.test_ocx_streams import FAST, eventually


@pytest.fixture
def debug_log():
    root = logging.getLogger()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    redact.install()
    yield buffer
    root.removeHandler(handler)
    root.setLevel(old_level)
    for f in list(root.filters):
        if isinstance(f, redact.RedactingFilter):
            root.removeFilter(f)


async def test_no_secret_in_debug_logs_of_a_busy_and_failing_client(venue, trader: Trader,
                                                                    debug_log):
    secrets = [trader.trade_secret, trader.read_secret, trader.session]
    async with OcxClient(venue.url, api_key=trader.trade_secret, session=trader.session,
                         config=ClientConfig(max_attempts=1)) as client:
        stream = UserStream(client.http, FAST, client.key_auth).start()
        await stream.wait_live()
        await client.balances()
        await client.place_order(OrderRequest("BTC-PERP", Side.BUY, Decimal("0.01"),
                                              price=Decimal("63000")))
        created = await client.create_api_key("extra", "trade")
        secrets.append(created.secret)
        await client.revoke_api_key(trader.trade_key_id)
        await eventually(lambda: stream.health().state.value == "stopped")
        with pytest.raises(AuthError):
            await client.balances()
        await stream.stop()
    async with OcxClient(venue.url, api_key=trader.read_secret) as reader:
        with pytest.raises(ForbiddenError):
            await reader.cancel_all()
        logging.getLogger("desk.test").error("a careless line: key %s",
                                             trader.read_secret)
    text = debug_log.getvalue()
    assert "HTTP Request" in text and "KEY_REVOKED" in text  # the logs did capture
    leaked = [i for i, s in enumerate(secrets) if s in text]
    assert not leaked, f"secrets #{leaked} leaked into the log"
    assert "ocx_sk_***" in text
