"""The strategy editor: every parameter of strategy-params.md, grouped as there,
validated as you type with the model's own messages. Apply hands the values (for an
existing strategy only the changed ones) to `submit`, which sends them to the engine
(applied on its next cycle, and persisted); a refusal from the engine is shown on the
field it names and the screen stays open. Cancel changes nothing.
"""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import ValidationError
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static, Switch

from desk.control import QuickBacktest
from desk.engine.config import GROUPS, StrategyConfig, errors_by_field
from desk.engine.errors import StrategyError
from desk.engine.manager import StrategyConfigError
from desk.ui.screens.backtest import BacktestScreen

FIELDS = StrategyConfig.model_fields


def _choices(name: str) -> tuple[str, ...] | None:
    annotation = FIELDS[name].annotation
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    return None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


Submit = Callable[[dict[str, Any]], Awaitable[object]]
Backtest = Callable[[dict[str, Any]], Awaitable[QuickBacktest]]


class EditorScreen(Screen[bool]):
    """`base` is the strategy's config (None: a new strategy from the defaults).
    Dismisses with True once the engine took the values, False on cancel."""

    BINDINGS = [
        Binding("ctrl+s", "apply", "Apply", priority=True),
        Binding("ctrl+b", "backtest", "Backtest", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, base: StrategyConfig | None, title: str, submit: Submit,
                 backtest: Backtest | None = None) -> None:
        super().__init__(id="editor")
        self.base = base
        self.title_text = title
        self.submit = submit
        self.backtest = backtest
        self.initial = (base.model_dump() if base is not None else
                        {n: ("" if f.is_required() else f.default) for n, f in FIELDS.items()})
        self.errors: dict[str, str] = {}     # shown now, by field

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, id="editor-title", markup=False)
        with VerticalScroll(id="editor-form"):
            for group, names in GROUPS.items():
                with Vertical(classes="editor-group") as box:
                    box.border_title = group
                    for name in names:
                        yield from self._field(name)
        yield Static("", id="editor-summary", markup=False)
        with Horizontal(id="editor-buttons"):
            yield Button("Apply (ctrl+s)", id="apply", variant="primary")
            if self.backtest is not None:
                yield Button("Backtest (ctrl+b)", id="backtest")
            yield Button("Cancel (esc)", id="cancel")
        yield Footer(compact=True)

    def _field(self, name: str) -> ComposeResult:
        value = self.initial.get(name)
        description = FIELDS[name].description or ""
        with Horizontal(classes="editor-row"):
            yield Label(name, classes="editor-label")
            choices = _choices(name)
            if FIELDS[name].annotation is bool:
                yield Switch(bool(value), id=f"f-{name}", classes="editor-input")
            elif choices is not None:
                yield Select([(c, c) for c in choices], value=value, allow_blank=False,
                             id=f"f-{name}", classes="editor-input")
            else:
                yield Input(_text(value), id=f"f-{name}", classes="editor-input")
            yield Label(description, classes="editor-help")
        yield Static(self.errors.get(name, ""), id=f"e-{name}", classes="editor-error",
                     markup=False)

    def on_mount(self) -> None:
        for name in FIELDS:
            self.query_one(f"#e-{name}").display = False
        self.validate_form()

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in FIELDS:
            widget = self.query_one(f"#f-{name}")
            if isinstance(widget, Input):
                out[name] = widget.value.strip()
            else:
                out[name] = widget.value  # type: ignore[attr-defined]
        return out

    def changes(self, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """The fields whose text differs from the starting values."""
        values = self.values() if values is None else values
        return {k: v for k, v in values.items() if _text(v) != _text(self.initial.get(k))}

    def validate_form(self) -> dict[str, str]:
        values = self.values()
        try:
            StrategyConfig.model_validate(values)
            errors: dict[str, str] = {}
        except ValidationError as err:
            errors = errors_by_field(err)
        for name in set(errors) | set(self.errors):
            if errors.get(name) == self.errors.get(name):
                continue
            line = self.query_one(f"#e-{name}", Static)
            line.update(errors.get(name, ""))
            line.display = name in errors
            self.query_one(f"#f-{name}").set_class(name in errors, "-invalid")
        self.errors = errors
        summary = self.query_one("#editor-summary", Static)
        if errors:
            summary.update(f"{len(errors)} field(s) to fix: " + ", ".join(errors))
        else:
            n = len(self.changes(values))
            summary.update(f"{n} change(s) ready" if n else "no changes")
        for button in self.query("#apply, #backtest").results(Button):
            button.disabled = bool(errors)
        return errors

    @on(Input.Changed)
    @on(Switch.Changed)
    @on(Select.Changed)
    def _edited(self) -> None:
        self.validate_form()

    @on(Button.Pressed, "#apply")
    async def action_apply(self) -> None:
        if self.validate_form():
            self.app.notify("fix the fields marked in red first", severity="error")
            return
        values = self.values() if self.base is None else self.changes()
        if not values:
            self.dismiss(False)
            return
        try:
            await self.submit(values)
        except StrategyConfigError as err:
            self._show_refusal(err.fields)  # until the next edit
            return
        except StrategyError as err:
            self.app.notify(str(err), severity="error", title="not applied")
            return
        self.dismiss(True)

    @on(Button.Pressed, "#backtest")
    def action_backtest(self) -> None:
        """The edited values, as they stand, on the simulated market; nothing is applied."""
        backtest = self.backtest
        if backtest is None:
            return
        if self.validate_form():
            self.app.notify("fix the fields marked in red first", severity="error")
            return
        values = self.values()
        self.app.push_screen(BacktestScreen(f"Backtest of {values['name']} (not applied)",
                                            lambda: backtest(values)))

    def _show_refusal(self, fields: dict[str, str]) -> None:
        for name, message in fields.items():
            if name in FIELDS:
                line = self.query_one(f"#e-{name}", Static)
                line.update(message)
                line.display = True
                self.query_one(f"#f-{name}").add_class("-invalid")
                self.errors[name] = message  # so the next edit repaints (clears) it
        self.query_one("#editor-summary", Static).update(
            "refused: " + "; ".join(f"{k}: {v}" for k, v in fields.items()))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
