"""Small typed modals: a yes/no question, a choice, and the once-only secret."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class Choice(ModalScreen[str | None]):
    """A question with buttons; dismisses with the chosen button's id, or None (escape)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, question: str, choices: list[tuple[str, str]],
                 title: str = "Confirm") -> None:
        super().__init__(classes="modal")
        self.question = question
        self.choices = choices
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.question, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                for i, (cid, label) in enumerate(self.choices):
                    yield Button(label, id=cid, variant="primary" if i == 0 else "default")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)


def confirm(question: str, yes: str = "Yes", title: str = "Confirm") -> Choice:
    return Choice(question, [("yes", yes)], title)


class SecretModal(ModalScreen[None]):
    """The new key's secret, shown once. Closing it drops the only copy the screen had."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, key_id: str, name: str, secret: str) -> None:
        super().__init__(classes="modal")
        self.key_id = key_id
        self.key_name = name
        self._secret = secret

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog secret"):
            yield Label(f"New key {self.key_name} ({self.key_id})", classes="dialog-title",
                        markup=False)
            yield Static("Copy the secret now. It is shown this once: the venue keeps only "
                         "its hash, and desk keeps it only in its 0600 key file.",
                         classes="warning")
            yield Static(self._secret, id="secret-value", classes="secret-value", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("I have copied it", id="close", variant="warning")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self._secret = ""
        self.query_one("#secret-value", Static).update("")
        self.dismiss(None)
