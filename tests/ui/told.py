"""Every notification an app gives, kept for the test to read. Textual drops a toast
once its timeout passes, and on a loaded machine that can be before the test looks."""

from __future__ import annotations

from typing import Any


class Told:
    def __init__(self, app: Any) -> None:
        self.messages: list[str] = []
        original = app.notify

        def notify(message: str, **kwargs: Any) -> None:
            self.messages.append(str(message))
            original(message, **kwargs)

        app.notify = notify

    def has(self, text: str) -> bool:
        return any(text in m for m in self.messages)
