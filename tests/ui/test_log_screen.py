"""desk's own warnings and errors in the app: a one-line badge above the footer while
some are unseen, and `L` opens them (newest first, redacted); without a ring (tests,
snapshots) the badge stays hidden."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from textual.widgets import Static

from desk import logs
from desk.ui.app import DeskApp
from desk.ui.screens.log import LogScreen
from desk.ui.widgets.log_badge import LogBadge
from tests.ui.fixed_backend import FixedBackend
from tests.ui.pilot_support import eventually

SIZE = (120, 40)
SECRET = "ocx_sk_" + "Z9y8" * 8


@pytest.fixture
def ring() -> Iterator[None]:
    """The process's ring on the root logger, as `desk` has it (redacting)."""
    from desk.store.redact import RedactingFilter

    root = logging.getLogger()
    logs.recent.clear()
    logs.recent.addFilter(RedactingFilter())
    root.addHandler(logs.recent)
    try:
        yield
    finally:
        root.removeHandler(logs.recent)
        logs.recent.filters.clear()
        logs.recent.clear()


async def test_no_ring_no_badge():
    app = DeskApp(FixedBackend())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.main.query_one(LogBadge).display


async def test_warnings_show_as_a_badge_and_L_lists_them(ring):
    app = DeskApp(FixedBackend())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        badge = app.main.query_one(LogBadge)
        assert not badge.display
        log = logging.getLogger("desk.ocx.streams")
        log.warning("orders stream: reconnecting (%s)", "connection refused")
        log.warning("fills stream: reconnecting")
        log.error("key %s refused", SECRET)
        await eventually(lambda: badge.display, 5, pilot=pilot, what="the badge")
        text = str(badge.render())
        assert "1 error" in text and "2 warnings" in text and "L shows them" in text

        await pilot.press("L")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LogScreen)
        body = str(screen.query_one("#log-lines", Static).render())
        lines = body.splitlines()
        assert "ERROR" in lines[0] and "key ocx_sk_*** refused" in lines[0]  # newest first
        assert "reconnecting (connection refused)" in lines[2]
        assert SECRET not in body
        title = str(screen.query_one("#log-title", Static).render())
        assert "2 warning(s), 1 error(s)" in title
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main
        await eventually(lambda: not badge.display, 5, pilot=pilot, what="the badge gone")
        log.warning("one more")
        await eventually(lambda: badge.display and "1 warning" in str(badge.render()), 5,
                         pilot=pilot, what="the badge back for the new one")
