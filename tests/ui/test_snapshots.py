"""Snapshots of every desk screen over the fixed backend, at 120x40 and 80x24.

`snap_compare` runs its own event loop, so these are plain `def` tests. The scenarios
(which desk state, which keys) live in `tests.ui.screenshots`, shared with the
screenshot command. Regenerate after an intended change with
`pytest tests/ui/test_snapshots.py --snapshot-update`, and look at the diff.
"""

from __future__ import annotations

import pytest

from tests.ui.screenshots import SCENARIOS, SIZES, make_app


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_snapshot(snap_compare, name: str, size: str) -> None:
    scenario = SCENARIOS[name]
    assert snap_compare(make_app(scenario), terminal_size=SIZES[size],
                        run_before=scenario.setup)
