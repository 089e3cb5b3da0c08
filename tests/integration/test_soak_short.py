"""The fault soak, short: every fault kind of the venue's contract, the engine's key
revoked, expired and IP-fenced, a venue restart, a SIGKILL and a SIGTERM of desk, once
each, in random order (the long soak is
`python -m tests.soak.soak --minutes 30`). Zero anomalies: nothing rests while desk
is stood down or gone or its key dead, it quotes again after each fault, and the
journal's fills add up to the venue's positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.soak.soak import ALL_FAULTS, KEY_FAULTS, soak


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_every_fault_once_and_no_anomaly():
    # timed venue faults of 1-2 s (a frozen index 3.5 s, past stale_feed_ms), a trip seen
    # up to 2 s after a fault's end, short gaps and warm-up: each fault still fires once
    # and is checked in full
    result = soak(seconds=0, seed=3, gap_s=0.5, fault_s=(1.0, 2.0), warmup_s=2.0,
                  trip_grace_s=2.0)
    table = result.table()
    assert result.notes == [], table
    for kind in ALL_FAULTS:
        row = result.rows[kind]
        assert (row.injected, row.handled, row.anomalies) == (1, 1, 0), (kind, table)
    # the faults that stand desk down were seen to empty the venue
    for kind in ("freeze_index", "desk_sigkill", "desk_sigterm", *KEY_FAULTS):
        assert result.rows[kind].worst_zero_ms > 0, (kind, table)
