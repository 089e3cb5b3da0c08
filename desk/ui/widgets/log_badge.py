"""One line above the footer while desk's log holds warnings or errors not yet looked
at: how many, and the key that shows them (`L`). Hidden otherwise, and always when the
process keeps no ring (tests, snapshots: `desk.logs.installed()` is false)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from desk import logs


def unseen() -> tuple[int, int] | None:
    """Warnings and errors logged since the log screen was last opened; None without a
    ring."""
    if not logs.installed():
        return None
    return logs.recent.unseen()


def describe(warnings: int, errors: int) -> Text:
    parts = []
    if errors:
        parts.append((f"{errors} error{'s' if errors != 1 else ''}", "bold red"))
    if warnings:
        parts.append((f"{warnings} warning{'s' if warnings != 1 else ''}", "yellow"))
    text = Text("⚠ log: ")
    for i, (label, style) in enumerate(parts):
        if i:
            text.append(", ")
        text.append(label, style)
    text.append(" · L shows them")
    return text


class LogBadge(Static):
    DEFAULT_CSS = """
    LogBadge { height: 1; width: 1fr; padding: 0 1; display: none; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.shown: tuple[int, int] | None = None

    def on_mount(self) -> None:
        self.update_count()
        self.set_interval(1.0, self.update_count)

    def update_count(self) -> None:
        counts = unseen()
        if counts == self.shown:
            return
        self.shown = counts
        if counts is None or counts == (0, 0):
            self.display = False
            return
        self.update(describe(*counts))
        self.display = True
