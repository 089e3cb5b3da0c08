"""Small typed modals: a question with choices, the quit question, and the once-only
secret. Every question starts with the focus on its safe choice (Cancel unless told
otherwise): Enter or Escape on a fresh dialog never does the risky thing."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from desk.engine.view import DeskView
from desk.ui.format import position, signed

REFRESH_S = 0.25   # how often a question whose text follows the desk is redrawn
ARROWS = [Binding("left", "move(-1)", show=False), Binding("right", "move(1)", show=False)]


class _Buttons:
    """Left and right move between a dialog's shown buttons, stopping at either end (no
    wrap: Left Left from Cancel always lands on the first choice)."""

    def action_move(self, step: int) -> None:
        buttons = [b for b in self.query(Button) if b.display]  # type: ignore[attr-defined]
        if not buttons:
            return
        focused = self.focused  # type: ignore[attr-defined]
        i = buttons.index(focused) if focused in buttons else len(buttons) - 1
        buttons[max(0, min(len(buttons) - 1, i + step))].focus()


class Choice(_Buttons, ModalScreen[str | None]):
    """A question with buttons; dismisses with the chosen button's id, or None (Cancel,
    Escape). `question` may be a function: its text is then redrawn while the dialog is
    open (a position that moves is shown as it is now). The focus starts on `default`."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), *ARROWS]

    def __init__(self, question: str | Callable[[], str], choices: list[tuple[str, str]],
                 title: str = "Confirm", default: str = "cancel",
                 danger: tuple[str, ...] = ()) -> None:
        super().__init__(classes="modal")
        self.question = question
        self.choices = choices
        self.title_text = title
        self.default = default
        self.danger = danger        # buttons drawn in the error colour
        self.AUTO_FOCUS = f"#{default}"

    def text(self) -> str:
        return self.question() if callable(self.question) else self.question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.text(), id="dialog-question", classes="dialog-body",
                         markup=False)
            with Horizontal(classes="dialog-buttons"):
                for cid, label in self.choices:
                    variant = ("error" if cid in self.danger else
                               "primary" if cid == self.default else "default")
                    yield Button(label, id=cid, variant=variant)
                yield Button("Cancel", id="cancel",
                             variant="primary" if self.default == "cancel" else "default")

    def on_mount(self) -> None:
        if callable(self.question):
            self.set_interval(REFRESH_S, self.redraw)

    def redraw(self) -> None:
        self.query_one("#dialog-question", Static).update(self.text())

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)


def confirm(question: str | Callable[[], str], yes: str = "Yes", title: str = "Confirm",
            default: str = "cancel") -> Choice:
    return Choice(question, [("yes", yes)], title, default)


# --- quit --------------------------------------------------------------------------------

MAX_LISTED = 6   # positions listed by name; the rest are counted


def at_risk(view: DeskView | None) -> tuple[int, int]:
    """Our resting orders and open positions in this view."""
    if view is None:
        return 0, 0
    return view.resting, sum(1 for p in view.positions if p.quantity != 0)


def quit_text(view: DeskView | None) -> str:
    """What quitting leaves behind, from the desk as it is now."""
    if view is None:
        return "The engine is not running. Quit desk?"
    resting, open_positions = at_risk(view)
    if not resting and not open_positions:
        return "Nothing is resting and no position is open. Quit desk?"
    lines: list[str] = []
    if resting:
        by_strategy = [f"{s.name} {len(s.bids) + len(s.asks)}" for s in view.strategies
                       if s.bids or s.asks]
        lines.append(f"Resting: {resting} quote(s)"
                     + (f" ({', '.join(by_strategy)})" if by_strategy else "")
                     + ". Quit pulls every one first.")
    else:
        lines.append("Nothing is resting.")
    positions = [p for p in view.positions if p.quantity != 0]
    if positions:
        lines.append(f"Open positions ({len(positions)}), left open at the venue by 'Quit':")
        for p in positions[:MAX_LISTED]:
            lines.append(f"  {p.market_id:<14} {position(p.quantity):>12}   uPnL "
                         f"{signed(p.unrealized_pnl)}")
        if len(positions) > MAX_LISTED:
            lines.append(f"  ... and {len(positions) - MAX_LISTED} more")
    else:
        lines.append("No position is open.")
    return "\n".join(lines)


class QuitModal(_Buttons, ModalScreen[str | None]):
    """Quit, flatten everything and quit, or stay (the default). Dismisses with "quit",
    "flatten" or None. The text follows the desk while the dialog is open; "Flatten
    all and quit" is offered only while a position is open."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), *ARROWS]
    AUTO_FOCUS = "#cancel"

    def __init__(self, source: Callable[[], DeskView | None]) -> None:
        super().__init__(classes="modal", id="quit-dialog")
        self.source = source

    def compose(self) -> ComposeResult:
        view = self.source()
        with Vertical(classes="dialog"):
            yield Label("Quit desk", classes="dialog-title")
            yield Static(quit_text(view), id="dialog-question", classes="dialog-body",
                         markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Quit", id="quit", variant="error")
                flatten = Button("Flatten all and quit", id="flatten", variant="warning")
                flatten.display = bool(at_risk(view)[1])
                yield flatten
                yield Button("Cancel", id="cancel", variant="primary")

    def on_mount(self) -> None:
        self.set_interval(REFRESH_S, self.redraw)

    def redraw(self) -> None:
        view = self.source()
        self.query_one("#dialog-question", Static).update(quit_text(view))
        flatten = self.query_one("#flatten", Button)
        show = bool(at_risk(view)[1])
        if flatten.display != show:
            if not show and flatten.has_focus:
                self.query_one("#cancel", Button).focus()
            flatten.display = show

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)


# --- the new key's secret -------------------------------------------------------------------

class SecretModal(ModalScreen[None]):
    """The new key's secret, shown once. Closing it drops the only copy the screen had.
    `c` (or the button) copies it to the clipboard with OSC 52: the terminal gets it,
    nothing is logged."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("c", "copy", "Copy")]

    def __init__(self, key_id: str, name: str, secret: str) -> None:
        super().__init__(classes="modal")
        self.key_id = key_id
        self.key_name = name
        self._secret = secret
        self.copied = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog secret"):
            yield Label(f"New key {self.key_name} ({self.key_id})", classes="dialog-title",
                        markup=False)
            yield Static("Copy the secret now. It is shown this once: the venue keeps only "
                         "its hash, and desk keeps it only in its 0600 key file.",
                         classes="warning")
            yield Static(self._secret, id="secret-value", classes="secret-value", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Copy (c)", id="copy")
                yield Button("I have copied it", id="close", variant="warning")

    @on(Button.Pressed, "#copy")
    def action_copy(self) -> None:
        if not self._secret:
            return
        self.app.copy_to_clipboard(self._secret)   # OSC 52 to the terminal, no log
        self.copied = True
        self.app.notify("secret copied to the clipboard (OSC 52: if your terminal allows "
                        "it; otherwise select it with the mouse)")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        if self.app.clipboard == self._secret:
            # Textual keeps the last copy for its own paste: not past this modal
            self.app._clipboard = ""
        self._secret = ""
        self.query_one("#secret-value", Static).update("")
        self.dismiss(None)
