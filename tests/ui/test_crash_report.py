"""A crash of the app prints a report without locals and with secrets masked (Textual's
own report shows every frame's locals, and a key secret can be one of them)."""

from __future__ import annotations

import pytest
from textual.binding import Binding

from desk.ui.app import DeskApp
from tests.ui.fixed_backend import FixedBackend

SECRET = "ocx_sk_" + "Zq9x" * 10


class Crashing(DeskApp):
    BINDINGS = [*DeskApp.BINDINGS, Binding("x", "crash", "crash")]

    def action_crash(self) -> None:
        new_key_secret = SECRET  # a local, as in the keys screen's "shown once" dialog
        raise RuntimeError(f"boom while showing x-api-key: {new_key_secret}")


async def test_a_crash_report_has_no_locals_and_no_secret(capsys):
    app = Crashing(FixedBackend())
    with pytest.raises(RuntimeError):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("x")
            await pilot.pause()
    text = capsys.readouterr().err          # Textual prints the report on stderr
    # booleans only: a failing assertion must not print the report (it may hold the secret)
    leaked = SECRET[7:] in text
    assert not leaked, "the secret reached the crash report"
    shown = ("Traceback (most recent call last)" in text and "action_crash" in text,
             "RuntimeError: boom while showing x-api-key: ***" in text,
             "new_key_secret =" not in text and "locals" not in text.lower())
    assert shown == (True, True, True), "(traceback, redacted message, no locals)"
