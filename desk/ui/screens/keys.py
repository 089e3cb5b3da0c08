"""API keys: list (never a secret) with what desk uses each for, create (the secret
shown once, with an OSC 52 copy), revoke (after a confirmation), and choose the key the
engine trades with (tested at the venue first). A refusal desk can see itself comes
before any question; the cursor stays on its key through every reload."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, Select, Static

from desk.control import ControlError, KeyRow, revoke_refusal, use_refusal
from desk.ui.screens.modals import SecretModal, confirm

COLUMNS = (("", 1), ("name", 16), ("role", 11), ("id", 24), ("scope", 5), ("allowed IPs", 18),
           ("expires", 10), ("status", 7), ("last used", 16), ("stored", 6))


def _when(iso: str | None, empty: str = "-", minutes: bool = True) -> str:
    return iso[:16 if minutes else 10].replace("T", " ") if iso else empty


def ips(allowed: tuple[str, ...], width: int = 18) -> str:
    """All of them if they fit, else as many as fit and how many more: never a cut
    address (which would read as another network)."""
    if not allowed:
        return "any"
    shown: list[str] = []
    for i, ip in enumerate(allowed):
        rest = len(allowed) - i - 1
        candidate = ",".join([*shown, ip]) + (f" +{rest}" if rest else "")
        if len(candidate) > width and shown:
            return ",".join(shown) + f" +{len(allowed) - i}"
        shown.append(ip)
    return ",".join(shown)


def key_cells(k: KeyRow) -> tuple[str, ...]:
    return ("▶" if k.in_use else "", k.name, k.role or "-", k.id, k.scope,
            ips(k.allowed_ips),
            _when(k.expires_at, "never", minutes=False), k.status,
            _when(k.last_used_at, "never"), "yes" if k.stored else "no")


@dataclass(frozen=True)
class KeyRequest:
    name: str
    scope: str
    allowed_ips: list[str]
    expires_in_days: int | None


MAX_IPS, MAX_IP_CHARS = 32, 64


def parse_key_request(name: str, scope: str, ips: str, days: str
                      ) -> tuple[KeyRequest | None, dict[str, str]]:
    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = "name: required"
    elif len(name) > 64:
        errors["name"] = "name: at most 64 characters"
    if scope not in ("read", "trade"):
        errors["scope"] = "scope: read or trade"
    allowed = [p.strip() for p in ips.split(",") if p.strip()]
    if len(allowed) > MAX_IPS:  # the embedded venue's limits (the contract sets none)
        errors["allowed_ips"] = f"allowed IPs: at most {MAX_IPS}, got {len(allowed)}"
    for ip in allowed:
        if len(ip) > MAX_IP_CHARS:
            errors["allowed_ips"] = (f"allowed IPs: {ip[:20]!r}... is longer than "
                                     f"{MAX_IP_CHARS} characters")
            break
        try:
            ipaddress.ip_network(ip, strict=False)
        except ValueError:
            errors["allowed_ips"] = f"allowed IPs: {ip!r} is not an IP address or network"
            break
    expires = None
    if days.strip():
        try:
            expires = int(days.strip())
        except ValueError:
            errors["expires"] = f"expires in days: {days.strip()!r} is not a whole number"
        else:
            if not 1 <= expires <= 3650:
                errors["expires"] = "expires in days: between 1 and 3650 (blank: never)"
    if errors:
        return None, errors
    return KeyRequest(name, scope, allowed, expires), {}


class CreateKeyModal(ModalScreen[KeyRequest | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog create-key"):
            yield Label("New API key", classes="dialog-title")
            yield Label("name")
            yield Input(placeholder="e.g. monitoring", id="key-name")
            yield Label("scope")
            yield Select([("read", "read"), ("trade", "trade")], value="read",
                         allow_blank=False, id="key-scope")
            yield Label("allowed IPs (comma separated; blank: any)")
            yield Input(placeholder="127.0.0.1, 10.0.0.0/8", id="key-ips")
            yield Label("expires in days (blank: never)")
            yield Input(placeholder="30", id="key-days")
            yield Static("", id="key-errors", classes="editor-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Create", id="create", variant="primary")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#create")
    @on(Input.Submitted)
    def _create(self) -> None:
        request, errors = parse_key_request(
            self.query_one("#key-name", Input).value,
            str(self.query_one("#key-scope", Select).value),
            self.query_one("#key-ips", Input).value,
            self.query_one("#key-days", Input).value)
        if request is None:
            self.query_one("#key-errors", Static).update("\n".join(errors.values()))
            return
        self.dismiss(request)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class KeysScreen(Screen):
    BINDINGS = [
        Binding("c", "create", "Create"),
        Binding("r", "revoke", "Revoke"),
        Binding("u", "use", "Engine uses it"),
        Binding("g", "reload", "Reload"),
        Binding("escape,a", "app.pop_screen", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__(id="keys")
        self.rows: list[KeyRow] = []
        self.problem = ""   # the last refusal, kept in the status line until the next action

    def compose(self) -> ComposeResult:
        yield Static(" API keys · ▶ the key the engine trades with · secrets are never "
                     "listed", id="keys-title")
        yield DataTable(id="keys-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="keys-status", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name, width in COLUMNS:
            table.add_column(name, key=name or "mark", width=width)
        self.action_reload()

    def show(self, rows: list[KeyRow]) -> None:
        """Redraw the list; the cursor stays on the key it was on (by id), or on the
        same row if that key is gone."""
        table = self.query_one(DataTable)
        was = self.selected()
        row_before = table.cursor_row
        self.rows = rows
        table.clear()
        for k in rows:
            table.add_row(*(Text(c) for c in key_cells(k)), key=k.id)
        ids = [k.id for k in rows]
        if was is not None and was.id in ids:
            table.move_cursor(row=ids.index(was.id), animate=False)
        elif rows:
            table.move_cursor(row=max(0, min(row_before, len(rows) - 1)), animate=False)
        status = f" {len(rows)} key(s)"
        if self.problem:
            status += f" · {self.problem}"
        self.query_one("#keys-status", Static).update(status)

    def selected(self) -> KeyRow | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _error(self, err: Exception) -> None:
        self.problem = str(err)
        self.query_one("#keys-status", Static).update(f" {err}")
        self.app.notify(str(err), severity="error")

    @work(exclusive=True, group="keys", exit_on_error=False)
    async def action_reload(self) -> None:
        try:
            self.show(await self.app.backend.keys())  # type: ignore[attr-defined]
        except ControlError as err:
            self._error(err)

    @work(group="keys", exit_on_error=False)
    async def action_create(self) -> None:
        self.problem = ""
        request = await self.app.push_screen_wait(CreateKeyModal())
        if request is None:
            return
        try:
            new = await self.app.backend.create_key(  # type: ignore[attr-defined]
                request.name, request.scope, request.allowed_ips, request.expires_in_days)
        except ControlError as err:
            self._error(err)
            return
        await self.app.push_screen_wait(SecretModal(new.row.id, new.row.name, new.secret))
        del new
        self.action_reload()

    @work(group="keys", exit_on_error=False)
    async def action_revoke(self) -> None:
        self.problem = ""
        key = self.selected()
        if key is None:
            return
        refusal = revoke_refusal(key)
        if refusal is not None:  # before the question, not after it
            self._error(ControlError(refusal))
            return
        answer = await self.app.push_screen_wait(confirm(
            f"Revoke {key.name} ({key.id})? Anything using it stops working at once.",
            "Revoke", "Revoke key"))
        if answer != "yes":
            return
        await self._act(self.app.backend.revoke_key(key.id),  # type: ignore[attr-defined]
                        f"revoked {key.name}")

    @work(group="keys", exit_on_error=False)
    async def action_use(self) -> None:
        self.problem = ""
        key = self.selected()
        if key is None:
            return
        refusal = use_refusal(key)
        if refusal is not None:
            self._error(ControlError(refusal))
            return
        self.query_one("#keys-status", Static).update(
            f" testing {key.name} at the venue (a read and a preview) …")
        await self._act(self.app.backend.use_key(key.id),  # type: ignore[attr-defined]
                        f"the engine now trades with {key.name}")

    async def _act(self, call: Awaitable[None], done: str) -> None:
        try:
            await call
            self.app.notify(done)
        except ControlError as err:
            self._error(err)
        self.action_reload()
