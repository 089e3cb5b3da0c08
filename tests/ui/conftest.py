"""Fixtures of the Pilot tests that drive a real desk: one engine host (the embedded
venue as a child, the default strategies) per test module, and a read-only view of
that venue through a key of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from desk.host import EngineHost
from tests.ui.pilot_support import VenueReader, desk_settings, start_host


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineHost]:
    h = start_host(desk_settings(tmp_path_factory.mktemp("desk")))
    try:
        yield h
    finally:
        h.stop()


@pytest.fixture(scope="module")
def reader(host: EngineHost) -> Iterator[VenueReader]:
    assert host.desk is not None
    r = VenueReader(host.desk.url, host.settings.account)
    try:
        yield r
    finally:
        r.close()
