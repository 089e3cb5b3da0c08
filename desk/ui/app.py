"""The desk app: screens, keys and the actions they trigger. It stays thin: drawing
lives in the screens and widgets, trading behind `desk.control.Backend`."""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from desk.control import Backend, ControlError
from desk.engine.errors import StrategyError
from desk.engine.manager import StrategyManager
from desk.engine.view import StrategyView
from desk.store.redact import redact
from desk.ui.commands import DeskCommands
from desk.ui.screens.detail import DetailScreen
from desk.ui.screens.editor import EditorScreen
from desk.ui.screens.help import HelpScreen
from desk.ui.screens.keys import KeysScreen
from desk.ui.screens.main import MainScreen
from desk.ui.screens.modals import Choice, confirm
from desk.ui.theme import DESK_THEME


def styles_path() -> Path:
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "styles", here.parents[1] / "styles"):
        if (candidate / "app.tcss").exists():
            return candidate / "app.tcss"
    raise FileNotFoundError("styles/app.tcss not found next to the desk package")


class DeskApp(App[None]):
    TITLE = "desk"
    CSS_PATH = styles_path()
    COMMANDS = App.COMMANDS | {DeskCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("ctrl+k", "panic", "PANIC", priority=True),
        Binding("q", "quit", "Quit"),              # a text field takes its own q
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding("a", "keys", "API keys"),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        self.panicked = False   # set at the key press, before the engine confirms
        self.main = MainScreen()

    def on_mount(self) -> None:
        self.register_theme(DESK_THEME)
        self.theme = DESK_THEME.name
        self.push_screen(self.main)
        warm = getattr(self.backend, "warm", None)
        if warm is not None:
            self.run_worker(warm(), group="warm", exit_on_error=False)

    async def on_unmount(self) -> None:
        close = getattr(self.backend, "close_kill_switch", None)
        if close is not None:
            await close()

    def _fatal_error(self) -> None:
        """A crash report without locals, redacted. Textual's own prints every frame's
        locals, and a key secret (a new key shown once, a client's header) can be one."""
        self.bell()
        report = redact("".join(traceback.format_exc()))
        self._exit_renderables.append(Text(report))
        self._close_messages_no_wait()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """An action that failed unexpectedly: say so, keep the desk running."""
        if event.state is WorkerState.ERROR:
            self.notify(f"{event.worker.name or 'action'} failed: {event.worker.error!r}"[:300],
                        severity="error", timeout=15)

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Notifications carry strategy names and venue messages: never markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout,
                       markup=markup)

    # --- helpers ------------------------------------------------------------------------

    def selected(self) -> StrategyView | None:
        view = self.backend.view()
        sid = self.main.selected
        return view.strategy(sid) if view is not None and sid else None

    async def engine(self, action: Callable[[StrategyManager], Awaitable[Any]],
                     done: str | None = None) -> bool:
        """Run an engine action; its refusal becomes a notification, never a crash."""
        try:
            await self.backend.control(action)
        except (StrategyError, ControlError) as err:
            self.notify(str(err), severity="error", title="refused")
            return False
        if done:
            self.notify(done)
        return True

    # --- the panic key, and quit ----------------------------------------------------------

    @work(group="panic", exit_on_error=False)
    async def action_panic(self) -> None:
        self.panicked = True
        # the cancel-all goes out first; the red screen follows a moment later
        self.set_timer(0.02, self.main.redraw)
        report = await self.backend.panic()
        if report.resting_after == 0:
            self.notify(f"ALL QUOTES PULLED: {report.cancelled} cancelled in "
                        f"{report.elapsed_ms:.0f} ms; ctrl+r re-arms", severity="warning",
                        timeout=10)
        else:
            self.notify(f"cancel-all not confirmed ({report.error}); still resting: "
                        f"{report.resting_after}. Check the venue!", severity="error",
                        timeout=30)

    @work(group="panic", exit_on_error=False)
    async def action_rearm(self) -> None:
        view = self.backend.view()
        if not (self.panicked or (view and view.panicked)):
            self.notify("nothing to re-arm: the desk is not panicked")
            return
        answer = await self.push_screen_wait(confirm(
            "Re-arm the desk? Strategies the panic stopped start quoting again once the "
            "feeds and the account check out.", "Re-arm", "Re-arm"))
        if answer != "yes":
            return
        try:
            started = await self.backend.rearm()
        except ControlError as err:
            self.notify(str(err), severity="error")
            return
        self.panicked = False
        self.notify(f"re-armed; {len(started)} strategies restarted")

    @work(group="panic", exit_on_error=False)
    async def action_quit(self) -> None:
        self.notify("pulling every quote before quitting …")
        await self.backend.panic()
        self.exit()

    # --- strategy actions -----------------------------------------------------------------

    def _need_selected(self) -> StrategyView | None:
        s = self.selected()
        if s is None:
            self.notify("no strategy selected", severity="warning")
        return s

    @work(group="actions", exit_on_error=False)
    async def action_pause_resume(self) -> None:
        s = self._need_selected()
        if s is None:
            return
        if self.panicked and s.state != "running":
            self.notify("the desk is panicked: re-arm first (ctrl+r)", severity="warning")
            return
        sid = s.id
        if s.state == "running":
            await self.engine(lambda m: m.pause(sid), f"{s.name} paused")
        else:
            await self.engine(lambda m: m.start(sid), f"{s.name} started")

    @work(group="actions", exit_on_error=False)
    async def action_stop(self) -> None:
        s = self._need_selected()
        if s is None:
            return
        answer = await self.push_screen_wait(Choice(
            f"Stop {s.name}? Its quotes are pulled. Position now: {s.position}.",
            [("flatten", "Stop and flatten"), ("keep", "Stop, keep the position")],
            "Stop strategy"))
        if answer is None:
            return
        sid, flatten = s.id, answer == "flatten"
        await self.engine(lambda m: m.stop(sid, flatten_position=flatten),
                          f"{s.name} stopped" + (" and flattened" if flatten else ""))

    @work(group="actions", exit_on_error=False)
    async def action_flatten(self) -> None:
        s = self._need_selected()
        if s is None:
            return
        answer = await self.push_screen_wait(confirm(
            f"Flatten {s.name}? It is paused and its position of {s.position} is closed "
            "at market.", "Flatten", "Flatten"))
        if answer == "yes":
            sid = s.id
            await self.engine(lambda m: m.flatten(sid), f"{s.name} flattened")

    def action_edit(self) -> None:
        s = self._need_selected()
        if s is None:
            return
        sid = s.id

        async def submit(changes: dict[str, Any]) -> object:
            return await self.backend.control(lambda m: m.update(sid, **changes))

        self.push_screen(EditorScreen(s.config, f" Edit {s.name} ({s.market_id})", submit,
                                      self.backend.backtest),
                         lambda ok: ok and self.notify(f"{s.name} updated"))

    def action_new(self) -> None:
        async def submit(values: dict[str, Any]) -> object:
            return await self.backend.control(lambda m: _create(m, values))

        self.push_screen(EditorScreen(None, " New strategy", submit, self.backend.backtest),
                         lambda ok: ok and self.notify("strategy created (stopped: p starts it)"))

    def action_detail(self) -> None:
        s = self._need_selected()
        if s is not None:
            self.push_screen(DetailScreen(s.id))

    def action_keys(self) -> None:
        self.push_screen(KeysScreen())

    def action_help(self) -> None:
        self.push_screen(HelpScreen())


async def _create(m: StrategyManager, values: dict[str, Any]) -> object:
    return m.create(**values)
