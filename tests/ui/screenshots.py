"""Every desk screen, rendered over the fixed backend: the scenarios the snapshot tests
compare, and `python -m tests.ui.screenshots` to write them as SVG into screenshots/.

    python -m tests.ui.screenshots            # into <repo>/screenshots/
    python -m tests.ui.screenshots --out DIR

Deterministic: the fixed backend has a fixed clock and no randomness, notifications are
off under `run_test`, and input cursors do not blink.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from desk.ui.app import DeskApp
from desk.ui.screens.modals import SecretModal
from tests.ui.fixed_backend import NEW_KEY_ID, PLACEHOLDER_SECRET, FixedBackend, State

os.environ.pop("NO_COLOR", None)
os.environ.pop("TEXTUAL_THEME", None)

WIDE = (120, 40)
NARROW = (80, 24)
SIZES = {"120x40": WIDE, "80x24": NARROW}
ROOT = Path(__file__).resolve().parents[2]

Setup = Callable[[Pilot], Awaitable[None]]


async def _settle(pilot: Pilot) -> None:
    """Let mounts, the first redraws and any worker (the keys list) finish."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _nothing(pilot: Pilot) -> None:
    await _settle(pilot)


async def _press(pilot: Pilot, *keys: str) -> None:
    await _settle(pilot)
    await pilot.press(*keys)
    await _settle(pilot)


async def editor_error(pilot: Pilot) -> None:
    """The editor on BTC MM with base_spread_bps 70, above max_spread_bps (50)."""
    await _press(pilot, "e")
    screen = pilot.app.screen
    for field in screen.query(Input):
        field.cursor_blink = False
    spread = screen.query_one("#f-base_spread_bps", Input)
    spread.focus()
    await pilot.pause()
    spread.value = "70"
    spread.cursor_position = len(spread.value)
    await _settle(pilot)


async def backtest(pilot: Pilot) -> None:
    """The editor's quick backtest of BTC MM, with the fixed backend's made-up report."""
    await _press(pilot, "e")
    await _press(pilot, "ctrl+b")


async def detail(pilot: Pilot) -> None:
    await _press(pilot, "d")


async def keys(pilot: Pilot) -> None:
    await _press(pilot, "a")


async def secret(pilot: Pilot) -> None:
    """The once-only secret modal over the keys screen, with a placeholder secret."""
    await _press(pilot, "a")
    await pilot.app.push_screen(SecretModal(NEW_KEY_ID, "monitoring", PLACEHOLDER_SECRET))
    await _settle(pilot)


async def quit_question(pilot: Pilot) -> None:
    """The quit question over the main screen: 8 quotes resting, three positions open.
    Its worker waits on the answer, so no waiting for workers here."""
    await _settle(pilot)
    await pilot.press("q")
    for _ in range(3):
        await pilot.pause()


async def help_screen(pilot: Pilot) -> None:
    await _press(pilot, "question_mark")


@dataclass(frozen=True)
class Scenario:
    name: str
    state: State
    setup: Setup


SCENARIOS = {s.name: s for s in (
    Scenario("main", "normal", _nothing),
    Scenario("paused", "paused", _nothing),
    Scenario("breaker", "breaker", _nothing),
    Scenario("panic", "panic", _nothing),
    Scenario("refused", "refused", _nothing),
    Scenario("editor-error", "normal", editor_error),
    Scenario("backtest", "normal", backtest),
    Scenario("detail", "normal", detail),
    Scenario("keys", "normal", keys),
    Scenario("secret", "normal", secret),
    Scenario("help", "normal", help_screen),
    Scenario("quit", "normal", quit_question),
)}

# (scenario, size) -> file name under screenshots/
FILES = {(name, "120x40"): f"{name}.svg" for name in SCENARIOS} | {
    ("main", "80x24"): "main-80x24.svg"}


def make_app(scenario: Scenario) -> DeskApp:
    return DeskApp(FixedBackend(scenario.state))


async def render(scenario: Scenario, size: tuple[int, int], out: Path, filename: str) -> Path:
    app = make_app(scenario)
    async with app.run_test(size=size) as pilot:
        await scenario.setup(pilot)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        return Path(app.save_screenshot(filename, str(out)))


async def render_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [await render(SCENARIOS[name], SIZES[size], out, filename)
            for (name, size), filename in FILES.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    args = parser.parse_args()
    for path in asyncio.run(render_all(args.out)):
        print(path)


if __name__ == "__main__":
    main()
