"""The desk app: screens, keys and the actions they trigger. It stays thin: drawing
lives in the screens and widgets, trading behind `desk.control.Backend`."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from desk.control import Backend, ControlError
from desk.engine.errors import StrategyError
from desk.engine.manager import StrategyManager
from desk.engine.view import StrategyView
from desk.store.redact import redact
from desk.ui.commands import DeskCommands
from desk.ui.format import position
from desk.ui.screens.detail import DetailScreen
from desk.ui.screens.editor import EditorScreen
from desk.ui.screens.help import HelpScreen
from desk.ui.screens.keys import KeysScreen
from desk.ui.screens.log import LogScreen
from desk.ui.screens.main import MainScreen
from desk.ui.screens.modals import Choice, QuitModal, confirm
from desk.ui.screens.new_strategy import NewStrategyEditor
from desk.ui.theme import DESK_THEME

log = logging.getLogger(__name__)


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
        Binding("L", "log_records", "Log", show=False),  # desk's warnings and errors
    ]

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        self.panicked = False   # set at the key press, before the engine confirms
        self._keyed_panics = 0  # fired by the panic key's thread, not yet acted on
        self.quitting = False   # the quit question is open (or its answer is running)
        self.main = MainScreen()

    def on_mount(self) -> None:
        self.register_theme(DESK_THEME)
        self.theme = DESK_THEME.name
        self.push_screen(self.main)
        self._catch_panic_key()
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

    def _catch_panic_key(self) -> None:
        """The panic key fires the kill switch from the thread that delivers it (the
        terminal's input thread; Pilot's press in tests), before the key event is queued
        for the screen's loop: that loop may be busy drawing a frame for tens of ms, and
        the kill switch runs on a thread of its own (`backend.fire`). The key event then
        goes on as usual, and `action_panic` runs the rest of the panic."""
        fire = getattr(self.backend, "fire", None)
        driver = self._driver
        if fire is None or driver is None:
            return
        keys = {key.strip() for b in self.BINDINGS if isinstance(b, Binding)
                and b.action == "panic" for key in b.key.split(",")}
        send = driver.send_message

        def send_message(message: Any) -> None:
            if isinstance(message, events.Key) and message.key in keys:
                try:
                    fire()
                    self._keyed_panics += 1
                except Exception:  # the key's action fires it then, on the screen's loop
                    log.exception("firing the kill switch at the panic key failed")
            send(message)

        driver.send_message = send_message  # type: ignore[method-assign]

    def action_panic(self) -> None:
        self.panicked = True
        if self._keyed_panics > 0:  # the key's cancel-all has left already
            self._keyed_panics -= 1
        else:  # the command palette, a click, a test: fire now, before anything is queued
            fire = getattr(self.backend, "fire", None)
            if fire is not None:
                try:
                    fire()
                except Exception:  # the panic below fires it again and reports
                    log.exception("firing the kill switch failed")
        # the cancel-all goes out first; the red screen follows a moment later
        self.set_timer(0.02, self.main.redraw)
        self._panic()

    @work(group="panic", exit_on_error=False)
    async def _panic(self) -> None:
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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands, but not its "Quit the application as soon as
        possible": desk's Quit (commands.py) asks first, like `q`."""
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command

    def action_quit(self) -> None:
        """Ask first (Cancel is the default): what rests and what is open, then quit, or
        flatten every position and quit. The exit pulls every quote either way."""
        if self.quitting:
            return  # already asking (ctrl+q works from every screen, this one too)
        self.quitting = True
        self._quit()

    @work(group="quit", exit_on_error=False)
    async def _quit(self) -> None:
        try:
            answer = await self.push_screen_wait(QuitModal(self.backend.view))
            if answer is not None:
                await self._leave(flatten=answer == "flatten")
        finally:
            self.quitting = False

    async def _leave(self, flatten: bool) -> None:
        if flatten:
            self.notify("flattening every position before quitting …")
            try:
                report = await self.backend.flatten_all()
            except (StrategyError, ControlError) as err:
                self.notify(f"flatten all failed: {err}; desk stays open", severity="error",
                            title="not quitting", timeout=20)
                return
            if report.remaining:
                self.notify(f"still open after flatten all: {report.describe()}; desk "
                            "stays open", severity="error", title="not quitting",
                            timeout=20)
                return
            self.notify(f"flattened: {report.describe()}")
        self.notify("pulling every quote before quitting …")
        try:
            report = await self.backend.panic()
        except Exception as err:  # noqa: BLE001 - the exit pulls again (host.stop)
            self.exit(return_code=1, message=redact(f"desk: pulling the quotes at quit "
                                                    f"failed ({err}); check the venue"))
            return
        if report.resting_after != 0:
            self.exit(return_code=1, message=redact(
                f"desk: the cancel-all at quit was not confirmed ({report.error}); still "
                f"resting: {report.resting_after}. Check the venue!"))
            return
        self.exit()

    # --- strategy actions -----------------------------------------------------------------

    def _need_selected(self) -> StrategyView | None:
        s = self.selected()
        if s is None:
            self.notify("no strategy selected", severity="warning")
        return s

    def _live(self, sid: str) -> StrategyView | None:
        """The strategy as the engine shows it now (None once it is gone)."""
        view = self.backend.view()
        return view.strategy(sid) if view is not None else None

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
        else:  # the verb the event log shows: a paused or halted strategy resumes
            verb = "resumed" if s.state in ("paused", "halted") else "started"
            await self.engine(lambda m: m.start(sid), f"{s.name} {verb}")

    @work(group="actions", exit_on_error=False)
    async def action_stop(self) -> None:
        s = self._need_selected()
        if s is None:
            return
        sid, name = s.id, s.name
        if s.state == "stopped" and s.position == 0:
            self.notify(f"{name} is already stopped and flat")
            return
        if s.state == "stopped":
            answer = await self.push_screen_wait(Choice(
                lambda: stop_text(self._live(sid), name),
                [("flatten", "Flatten at market")], "Flatten stopped strategy",
                danger=("flatten",)))
        else:  # Enter stops and keeps the position: no market order unless chosen
            answer = await self.push_screen_wait(Choice(
                lambda: stop_text(self._live(sid), name),
                [("flatten", "Stop and flatten"), ("keep", "Stop, keep the position")],
                "Stop strategy", default="keep", danger=("flatten",)))
        if answer is None:
            return
        flatten = answer == "flatten"
        await self.engine(lambda m: m.stop(sid, flatten_position=flatten),
                          f"{name} stopped" + (" and flattened" if flatten else ""))

    @work(group="actions", exit_on_error=False)
    async def action_flatten(self) -> None:
        s = self._need_selected()
        if s is None:
            return
        if s.position == 0:  # refused before asking, as the engine would
            self.notify(f"{s.name} is flat: nothing to flatten", severity="warning",
                        title="refused")
            return
        sid, name = s.id, s.name
        answer = await self.push_screen_wait(Choice(
            lambda: flatten_text(self._live(sid), name), [("yes", "Flatten")], "Flatten",
            danger=("yes",)))
        if answer == "yes":  # the engine closes the position the venue holds now
            live = self._live(sid)
            paused = "paused and " if live is not None and live.state == "running" else ""
            await self.engine(lambda m: m.flatten(sid), f"{name} {paused}flattened")

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

        async def sizes(market_id: str) -> dict[str, str] | None:  # from price and equity
            return await self.backend.control(lambda m: _sizes(m, market_id))

        self.push_screen(NewStrategyEditor(submit, self.backend.backtest, sizes),
                         lambda ok: ok and self.notify("strategy created (stopped: p starts it)"))

    def action_detail(self) -> None:
        s = self._need_selected()
        if s is not None:
            self.push_screen(DetailScreen(s.id))

    def action_keys(self) -> None:
        self.push_screen(KeysScreen())

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_log_records(self) -> None:
        if not isinstance(self.screen, LogScreen):
            self.push_screen(LogScreen())


async def _create(m: StrategyManager, values: dict[str, Any]) -> object:
    return m.create(**values)


async def _sizes(m: StrategyManager, market_id: str) -> dict[str, str] | None:
    return m.suggested_sizes(market_id)


def _position(s: StrategyView) -> str:
    return f"{position(s.position)} {s.market_id}" if s.position else f"flat on {s.market_id}"


def stop_text(s: StrategyView | None, name: str) -> str:
    """The stop question, from the strategy as it is now."""
    if s is None:
        return f"{name} is gone."
    if s.state == "stopped":
        return (f"{s.name} is stopped. Its position now: {_position(s)}. Flatten closes "
                "it at market.")
    quotes = "Its quotes are pulled" if s.state == "running" else f"It is {s.state}"
    return (f"Stop {s.name}? {quotes}. Position now: {_position(s)}. 'Stop and flatten' "
            "also closes it at market.")


def flatten_text(s: StrategyView | None, name: str) -> str:
    """The flatten question, worded for the strategy's state, its position as it is now."""
    if s is None:
        return f"{name} is gone."
    if s.position == 0:
        return f"{s.name} is flat now: nothing to flatten."
    first = ("It is paused (its quotes pulled)" if s.state == "running"
             else f"It stays {s.state}")
    return (f"Flatten {s.name}? {first} and its position, now {_position(s)}, is closed at "
            "market.")
