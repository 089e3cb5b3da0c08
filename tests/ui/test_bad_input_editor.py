"""Bad input in the strategy editor, on the fixed desk (`FixedBackend`: nothing trades,
every engine call is recorded).

Random text in random fields never crashes the app; every invalid field shows its
message under it and is marked; Apply is off and ctrl+s sends nothing while anything is
invalid; putting the fields back makes the form valid again. A refusal from the engine
keeps the screen open with the message on the field it names.

One app serves the whole property: Hypothesis runs in a worker thread and hands each
example to the app's loop (setting `Input.value`, one `Changed` event per field), which
is far quicker than an app per example. tests/ui/test_pilot.py already types one bad
value key by key against the real engine; that is not repeated.
"""

from __future__ import annotations

import asyncio
import decimal
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from textual.widgets import Button, Input, Static

from desk.engine.config import StrategyConfig, errors_by_field
from desk.engine.errors import StrategyError
from desk.engine.manager import StrategyConfigError
from desk.ui.app import DeskApp
from desk.ui.screens.editor import EditorScreen
from tests.ui.fixed_backend import FixedBackend

SIZE = (160, 50)
FIELDS = StrategyConfig.model_fields
EMAX = decimal.getcontext().Emax


def _is_input(name: str) -> bool:
    annotation = FIELDS[name].annotation
    return annotation is not bool and getattr(annotation, "__args__", None) is None


INPUTS = sorted(n for n in FIELDS if _is_input(n))
NUMERIC = [n for n in INPUTS if n not in ("name", "market_id")]


def updates(backend: FixedBackend) -> list[Any]:
    return [c for c in backend.calls if c.name in ("update", "create")]


async def open_editor(pilot: Any, key: str = "e") -> EditorScreen:
    await pilot.pause()
    await pilot.press(key)
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, EditorScreen), screen
    return screen


def shown(editor: EditorScreen, name: str) -> str | None:
    """The message under a field, None when its error line is hidden."""
    line = editor.query_one(f"#e-{name}", Static)
    return str(line.render()) if line.display else None


def expected_errors(values: dict[str, Any]) -> dict[str, str]:
    try:
        StrategyConfig.model_validate(values)
    except ValidationError as err:
        return errors_by_field(err)
    return {}


def obviously_bad(name: str, text: str) -> bool:
    """Text no value of the field's type can come from, whatever the other fields hold."""
    t = text.strip()
    if name in ("name", "market_id"):
        return not t
    try:
        d = Decimal(t.replace("_", ""))
    except (decimal.InvalidOperation, ValueError):
        return True
    return not d.is_finite()


# --- the property ------------------------------------------------------------------------------

field_text = st.one_of(
    st.text(max_size=16),                                                   # any unicode
    st.text(alphabet=st.characters(max_codepoint=0xA0, exclude_categories=()), max_size=6),
    st.sampled_from(["", " ", "NaN", "inf", "-1", "0", "1e400", "1e-400", "1_0", "0x10",
                     "[red]x[/red]", "[", "١٢", "5.", ".5", "1,5", "1e999999", "-0",
                     "BTC-PERP", "btc-perp", "\t3\t", "9" * 400]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.builds(lambda c, n: c * n, st.sampled_from(["9", "x", " ", "é"]), st.integers(100, 3000)),
)
edit_sets = st.dictionaries(st.sampled_from(INPUTS), field_text, min_size=1, max_size=4)


async def test_random_text_in_random_fields_is_shown_field_by_field_and_never_applied():
    backend = FixedBackend()
    app = DeskApp(backend)
    loop = asyncio.get_running_loop()
    async with app.run_test(size=SIZE) as pilot:
        ed = await open_editor(pilot)
        original = {n: ed.query_one(f"#f-{n}", Input).value for n in INPUTS}
        assert ed.errors == {} and not ed.query_one("#apply", Button).disabled
        seen = {"invalid": 0, "valid": 0}

        async def one(edits: dict[str, str]) -> None:
            for name, text in edits.items():
                ed.query_one(f"#f-{name}", Input).value = text
            await pilot.pause()
            assert app.is_running and app.screen is ed
            want = expected_errors(ed.values())
            for name in edits:
                if obviously_bad(name, edits[name]):
                    assert name in want, (name, edits[name], want)
            for name in FIELDS:
                if name in want:
                    assert shown(ed, name) == want[name], (name, edits)
                    assert want[name].strip(), (name, want)
                else:
                    assert shown(ed, name) is None, (name, shown(ed, name), edits)
                if name in INPUTS:
                    assert ed.query_one(f"#f-{name}").has_class("-invalid") == (name in want)
            assert ed.errors == want
            apply = ed.query_one("#apply", Button)
            summary = str(ed.query_one("#editor-summary", Static).render())
            assert apply.disabled == bool(want)
            if want:
                seen["invalid"] += 1
                assert summary.startswith(f"{len(want)} field(s) to fix: ")
                for name in want:
                    assert name in summary
                await pilot.press("ctrl+s")  # refused in the form: nothing reaches the engine
                await pilot.pause()
                assert app.screen is ed and updates(backend) == []
            else:
                seen["valid"] += 1
            for name in edits:  # put the fields back: the form is valid again
                ed.query_one(f"#f-{name}", Input).value = original[name]
            await pilot.pause()
            assert ed.errors == {}
            assert not ed.query_one("#apply", Button).disabled
            assert all(shown(ed, n) is None for n in FIELDS)
            assert not any(ed.query_one(f"#f-{n}").has_class("-invalid") for n in INPUTS)
            assert str(ed.query_one("#editor-summary", Static).render()) == "no changes"

        @settings(max_examples=20, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(edit_sets)
        def check(edits: dict[str, str]) -> None:
            asyncio.run_coroutine_threadsafe(one(edits), loop).result(timeout=60)

        await asyncio.to_thread(check)
        assert seen["invalid"] > 0
        assert updates(backend) == []
    assert app.return_code in (None, 0)


async def test_garbage_in_every_numeric_field_is_reported_on_each_then_cleared():
    """Every numeric field at once: a word in each; the error is on each of them (a field
    that failed does not drag a cross-field complaint onto another), and putting the
    values back clears them all."""
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        ed = await open_editor(pilot)
        before = {n: ed.query_one(f"#f-{n}", Input).value for n in NUMERIC}
        for name in NUMERIC:
            ed.query_one(f"#f-{name}", Input).value = "lots"
        await pilot.pause()
        assert set(ed.errors) == set(NUMERIC), ed.errors
        assert all(shown(ed, n) for n in NUMERIC)
        assert shown(ed, "name") is None and shown(ed, "market_id") is None
        assert ed.query_one("#apply", Button).disabled
        for name, value in before.items():
            ed.query_one(f"#f-{name}", Input).value = value
        await pilot.pause()
        assert ed.errors == {} and all(shown(ed, n) is None for n in NUMERIC)
        assert not ed.query_one("#apply", Button).disabled
        assert updates(backend) == []


async def test_the_new_strategy_form_starts_invalid_and_ctrl_s_creates_nothing():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        ed = await open_editor(pilot, "n")
        assert set(ed.errors) == {"name", "market_id"}
        assert shown(ed, "name") and shown(ed, "market_id")
        assert ed.query_one("#apply", Button).disabled
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is ed and updates(backend) == []
        ed.query_one("#f-name", Input).value = "New MM"
        ed.query_one("#f-market_id", Input).value = "btc-perp"  # lower case: refused
        await pilot.pause()
        assert set(ed.errors) == {"market_id"}
        ed.query_one("#f-market_id", Input).value = "BTC-PERP"
        await pilot.pause()
        assert ed.errors == {} and not ed.query_one("#apply", Button).disabled


# --- refusals from the engine ---------------------------------------------------------------

class RefusingBackend(FixedBackend):
    """Records the engine call as FixedBackend does, then refuses it as the engine would."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def control(self, action: Any) -> Any:
        result = await super().control(action)
        if updates(self):
            raise self.error
        return result


def refusal(fields: dict[str, str]) -> StrategyConfigError:
    return StrategyConfigError("; ".join(f"{k}: {v}" for k, v in fields.items()), fields)


REFUSALS = [
    {"base_spread_bps": "must lie between min_spread_bps (5) and max_spread_bps (50)"},
    {"market_id": "stop it first"},
    {"name": "a strategy named 'ETH MM' exists already",
     "hedge_venue": "'both' needs a second venue connection and none is configured"},
    {"strategy": "something about the whole strategy", "quote_size": "too big for the venue"},
]


async def test_an_engine_refusal_keeps_the_screen_open_with_the_message_on_its_field():
    backend = RefusingBackend(refusal(REFUSALS[0]))
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        ed = await open_editor(pilot)
        ed.query_one("#f-base_spread_bps", Input).value = "12"
        await pilot.pause()
        assert ed.errors == {}
        for i, fields in enumerate(REFUSALS, 1):  # one refusal after another, screen open
            backend.error = refusal(fields)
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert len(updates(backend)) == i
            call = updates(backend)[-1]
            assert call.args == ("btc-mm",) and call.kwargs == {"base_spread_bps": "12"}
            assert app.is_running and app.screen is ed
            for name, message in fields.items():
                if name in FIELDS:
                    assert shown(ed, name) == message
                    assert ed.query_one(f"#f-{name}").has_class("-invalid")
            summary = str(ed.query_one("#editor-summary", Static).render())
            assert summary.startswith("refused: ")
            for name, message in fields.items():
                assert f"{name}: {message}" in summary


async def test_a_plain_strategy_error_is_a_notification_and_the_screen_stays():
    backend = RefusingBackend(StrategyError("strategy 'BTC MM' is halted: cannot start"))
    app = DeskApp(backend)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        ed = await open_editor(pilot)
        ed.query_one("#f-quote_size", Input).value = "0.2"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert len(updates(backend)) == 1
        assert app.is_running and app.screen is ed
        assert any("halted" in n.message for n in app._notifications)


async def test_a_refusal_on_a_field_goes_away_at_the_next_edit():
    backend = RefusingBackend(refusal({"market_id": "stop it first"}))
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        ed = await open_editor(pilot)
        ed.query_one("#f-base_spread_bps", Input).value = "12"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert shown(ed, "market_id") == "stop it first"
        ed.query_one("#f-base_spread_bps", Input).value = "13"  # the next edit
        await pilot.pause()
        assert ed.errors == {} and not ed.query_one("#apply", Button).disabled
        assert shown(ed, "market_id") is None
        assert not ed.query_one("#f-market_id").has_class("-invalid")


async def test_a_target_position_beyond_the_decimal_context_is_an_error_not_a_crash():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        ed = await open_editor(pilot)
        ed.query_one("#f-target_position", Input).value = "1e1000000"
        await pilot.pause()
        if app.is_running:  # else leaving run_test raises what crashed the app
            assert app.screen is ed
            assert shown(ed, "target_position")
            assert ed.query_one("#apply", Button).disabled
