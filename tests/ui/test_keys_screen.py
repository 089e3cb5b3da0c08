"""The keys screen (issue 14): each key's role, the cursor staying on its key through
every reload, refusals before any question, and the new secret's OSC 52 copy. On the
fixed desk (`FixedBackend`: nothing trades, every call is recorded)."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from desk.ui.app import DeskApp
from desk.ui.screens.keys import KeysScreen
from desk.ui.screens.modals import Choice, SecretModal
from tests.ui.fixed_backend import FixedBackend
from tests.ui.pilot_support import eventually, screen_text
from tests.ui.told import Told

SIZE = (160, 50)
ENGINE, KILL, DOG = "ocx_kid_7f3a9c21e0b4", "ocx_kid_4c0e8b7d19a2", "ocx_kid_d5a1f6e2b830"
READ, SPARE = "ocx_kid_2b81d0f4c6aa", "ocx_kid_6e27a4c0f5d1"


def names(backend: FixedBackend) -> list[str]:
    return [c.name for c in backend.calls]


async def open_keys(pilot, app: DeskApp) -> KeysScreen:  # noqa: ANN001
    await pilot.pause()
    await pilot.press("a")
    await eventually(lambda: isinstance(app.screen, KeysScreen) and app.screen.rows, 3,
                     pilot=pilot, what="the keys screen with its list")
    await app.workers.wait_for_complete()
    await pilot.pause()
    return app.screen


async def cursor_to(pilot, keys: KeysScreen, key_id: str) -> None:  # noqa: ANN001
    table = keys.query_one(DataTable)
    table.focus()
    row = [k.id for k in keys.rows].index(key_id)
    while table.cursor_row != row:
        await pilot.press("down" if table.cursor_row < row else "up")


def under_cursor(keys: KeysScreen) -> str | None:
    key = keys.selected()
    return key.id if key else None


def status(keys: KeysScreen) -> str:
    return str(keys.query_one("#keys-status", Static).render())


async def settle(pilot, app: DeskApp) -> None:  # noqa: ANN001
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_each_key_shows_its_role():
    app = DeskApp(FixedBackend())
    async with app.run_test(size=SIZE) as pilot:
        keys = await open_keys(pilot, app)
        table = keys.query_one(DataTable)
        role = {k.id: str(table.get_cell(k.id, "role")) for k in keys.rows}
        assert role[ENGINE] == "engine" and role[KILL] == "kill switch"
        assert role[DOG] == "watchdog" and role[READ] == "-"
        assert "role" in screen_text(app)


async def test_the_cursor_stays_on_its_key_after_use_and_after_a_reload():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        keys = await open_keys(pilot, app)
        await cursor_to(pilot, keys, SPARE)
        await pilot.press("u")
        await settle(pilot, app)
        assert ("use_key", (SPARE,)) in [(c.name, c.args) for c in backend.calls]
        assert [k.id for k in keys.rows if k.in_use] == [SPARE]
        # the cursor is still on the key just chosen, not on the old engine key at row 0
        assert under_cursor(keys) == SPARE
        assert next(k for k in keys.rows if k.id == SPARE).role == "engine"
        await pilot.press("g")
        await settle(pilot, app)
        assert under_cursor(keys) == SPARE


async def test_revoking_a_key_desk_depends_on_is_refused_before_the_question():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        keys = await open_keys(pilot, app)
        for key_id, why in ((ENGINE, "the key the engine trades with"),
                            (KILL, "the panic key's own key"),
                            (DOG, "the watchdog's own key")):
            await cursor_to(pilot, keys, key_id)
            await pilot.press("r")
            await settle(pilot, app)
            assert not isinstance(app.screen, Choice), f"asked to revoke {key_id}"
            assert f"{key_id} is {why}" in status(keys)
            assert under_cursor(keys) == key_id
        assert "revoke_key" not in names(backend)


async def test_revoke_asks_starting_on_cancel_and_keeps_the_cursor():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        keys = await open_keys(pilot, app)
        await cursor_to(pilot, keys, READ)
        await pilot.press("r")
        await eventually(lambda: isinstance(app.screen, Choice), 3, pilot=pilot,
                         what="the revoke question")
        await pilot.pause()
        assert app.screen.focused is not None and app.screen.focused.id == "cancel"
        await pilot.press("enter")
        await settle(pilot, app)
        assert "revoke_key" not in names(backend)
        await pilot.press("r")
        await eventually(lambda: isinstance(app.screen, Choice), 3, pilot=pilot,
                         what="the revoke question")
        await pilot.click("#yes")
        await settle(pilot, app)
        assert ("revoke_key", (READ,)) in [(c.name, c.args) for c in backend.calls]
        assert under_cursor(keys) == READ
        assert next(k for k in keys.rows if k.id == READ).status == "revoked"


async def test_use_refuses_a_read_key_before_calling_and_keeps_the_venues_refusal():
    backend = FixedBackend()
    app = DeskApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        keys = await open_keys(pilot, app)
        await cursor_to(pilot, keys, READ)
        await pilot.press("u")
        await settle(pilot, app)
        assert "use_key" not in names(backend)
        assert "is a read key: the engine needs a trade key" in status(keys)

        backend.use_key_refusal = (f"spare-trade ({SPARE}) was refused by the venue: "
                                   "IP_NOT_ALLOWED: this key does not allow requests from "
                                   "127.0.0.1; the engine keeps its current key")
        await cursor_to(pilot, keys, SPARE)
        await pilot.press("u")
        await settle(pilot, app)
        assert "IP_NOT_ALLOWED" in status(keys)
        assert [k.id for k in keys.rows if k.in_use] == [ENGINE]
        assert under_cursor(keys) == SPARE


async def test_the_new_secret_can_be_copied_with_osc_52_and_is_dropped_on_close():
    backend = FixedBackend()
    app = DeskApp(backend)
    told = Told(app)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_keys(pilot, app)
        from tests.ui.fixed_backend import PLACEHOLDER_SECRET
        modal = SecretModal("ocx_kid_example", "monitoring", PLACEHOLDER_SECRET)
        await app.push_screen(modal)
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert modal.copied and app.clipboard == PLACEHOLDER_SECRET
        assert told.has("copied to the clipboard") and not told.has(PLACEHOLDER_SECRET)
        await pilot.click("#close")
        await pilot.pause()
        assert app.clipboard == "" and not isinstance(app.screen, SecretModal)
