"""Schemathesis against the venue's own OpenAPI schema, over real HTTP on loopback.

Bounded: a fixed number of examples per operation, derandomized. Every response
must be a non-5xx that conforms to the schema (status, content type, body).
Streams never end and `/sim/faults` injects 503s and latency on purpose, so
those are left to their own tests.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.generation.modes import GenerationMode

from tests.helpers import new_session

EXCLUDED = r"^/(perps/(book-stream|index-stream|stream/.*)|sim/faults)$"


@pytest.fixture
def venue_schema(venue):
    loaded = schemathesis.openapi.from_url(f"{venue.url}/openapi.json")
    # well-formed and malformed inputs both: malformed ones must get a 4xx, never a 5xx
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                    deterministic=True)
    return loaded


@pytest.fixture
def auth_headers(client: httpx.Client) -> dict[str, str]:
    session = new_session(client, "fuzz")
    r = client.post("/perps/me/api-keys", headers={"Authorization": f"Bearer {session}"},
                    json={"name": "fuzz", "scope": "trade"})
    return {"Authorization": f"Bearer {session}", "x-api-key": r.json()["secret"]}


schema = schemathesis.pytest.from_fixture("venue_schema").exclude(path_regex=EXCLUDED)


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_conforming_responses(case, auth_headers):
    headers = {**(case.headers or {}), **auth_headers}
    case.call_and_validate(headers=headers, timeout=10)
