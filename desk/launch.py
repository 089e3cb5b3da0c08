"""Wiring a desk together: venue (embedded child process or a URL), key, streams,
journal, strategy store and the engine. `desk run` and the TUI both start here.

With no venue URL, `desk venue --port 0` runs as a child process (its own
interpreter, so the market simulation never competes with the engine for the
GIL) and a trade key is provisioned through its dev session, held in memory
only. With a URL, the key in use for that venue comes from the key store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import select
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from desk import logs
from desk.engine.events import Event
from desk.engine.expiry import parse_expiry
from desk.engine.manager import StrategyManager
from desk.engine.presets import DEFAULT_STRATEGIES, for_desk
from desk.killswitch import KillSwitch
from desk.ocx.adapter import OcxVenue
from desk.ocx.pullers import ClientPuller
from desk.ocx.rest import OcxClient
from desk.settings import DeskSettings
from desk.store.journal import Journal, default_journal_path
from desk.store.keys import KeyStore, StoredKey
from desk.store.strategies import MemoryStrategyStore, TomlStrategyStore
from desk.watchdog import Orders, Watchdog, actions_path, default_log, report_actions

log = logging.getLogger(__name__)
READY = re.compile(r"venue listening on (http://\S+)")


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux only)."""
    if sys.platform.startswith("linux"):
        import ctypes
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # SET_PDEATHSIG


class LaunchError(Exception):
    """The desk cannot start; the message says what to do."""


def launch_failure(err: BaseException) -> tuple[str, int] | None:
    """What to tell the operator when opening the desk failed, and the exit code; None
    for an error that is not a known way of failing to start (a bug: let it raise)."""
    from desk.domain.errors import TransportError, VenueCallError, VenueReject
    from desk.engine.errors import StrategyError
    from desk.store.journal import JournalError
    from desk.store.keys import KeyStoreError
    from desk.store.strategies import StrategyStoreError

    if isinstance(err, LaunchError | StrategyError | KeyStoreError | JournalError
                  | StrategyStoreError):
        return str(err), 2
    if isinstance(err, VenueReject):
        return f"the venue refused: {err.code}: {err.message}", 1
    if isinstance(err, TransportError) and err.kind == "stopped":
        return f"the venue refused: {err}", 1  # a stream refused for good (a dead key)
    if isinstance(err, TransportError) and err.kind != "connect":
        # it answered, but not as the contract says (or not in time)
        return f"the venue is not answering usably: {err}", 1
    if isinstance(err, VenueCallError):
        return f"cannot reach the venue: {err}", 1
    return None


class EmbeddedVenue:
    """`desk venue` as a child process on a free loopback port."""

    def __init__(self, config: Path | None = None, seed: int | None = None):
        self.config = config
        self.seed = seed
        self.proc: subprocess.Popen[str] | None = None
        self.url: str | None = None

    def spawn(self) -> None:
        """Start the child (from the event loop's thread: PDEATHSIG follows the thread)."""
        cmd = [sys.executable, "-m", "desk"]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        cmd += ["venue", "--port", "0"]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # its own session: a Ctrl-C at the terminal reaches desk, which pulls its quotes
        # before it stops the venue; and it dies with desk even if desk is killed
        # its stderr: desk's (desk run), or under the screen a pipe into desk's log file
        with logs.child_stderr("desk.venue.embedded") as stderr:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                         stdin=subprocess.DEVNULL, stderr=stderr, text=True,
                                         env=env, start_new_session=True,
                                         preexec_fn=_die_with_parent)

    def wait_ready(self, timeout: float = 20.0) -> str:
        """Block until the child prints its ready line; its URL."""
        assert self.proc is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
        match = READY.search(line)
        if not match:
            self.stop()
            raise LaunchError(f"the embedded venue did not start (said {line.strip()!r})")
        self.url = match.group(1)
        return self.url

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if proc.stdout is not None:
            proc.stdout.close()


@dataclass
class Desk:
    manager: StrategyManager
    venue: OcxVenue
    journal: Journal
    url: str
    embedded: EmbeddedVenue | None
    keys: KeyStore                # for the embedded venue: a temporary one, gone at exit
    kill_switch: KillSwitch       # its own client, for the screen's loop
    session: str | None = field(default=None, repr=False)  # key management (dev session)
    kill_key_id: str | None = None  # the kill switch's own key (embedded venue)
    _key_dir: tempfile.TemporaryDirectory | None = None
    watchdog: Watchdog | None = None
    watchdog_key_id: str | None = None  # the watchdog's own key (embedded venue)
    pullers: list[ClientPuller] = field(default_factory=list)  # the dead-man's fallbacks

    async def close(self, reason: str = "exit") -> None:
        """Pull every quote, stop the engine, the streams and the embedded venue; the
        watchdog goes once the quotes are pulled (it still beats while they are)."""
        try:
            await self.manager.shutdown(reason)
            if self.watchdog is not None:
                await self.watchdog.end(pulled=self.manager.guard.pulled)
        finally:
            await self.venue.close()
            for puller in self.pullers:
                with contextlib.suppress(Exception):
                    await puller.close()
            self.journal.close()
            if self.embedded is not None:
                await asyncio.to_thread(self.embedded.stop)
            if self._key_dir is not None:
                self._key_dir.cleanup()


async def _embedded_keys(url: str, settings: DeskSettings, store: KeyStore
                         ) -> tuple[str, str, str, str, str, str]:
    """A trade key for the engine (stored, in use), one for the kill switch and one for
    the watchdog; the dev session that made them; the two switches' key ids."""
    async with OcxClient(url, config=settings.client) as client:
        session = await client.dev_session(settings.account)
        client.with_session(session)
        engine = await client.create_api_key("desk-engine", "trade")
        store.add(url, engine.id, "desk-engine", "trade", engine.secret)
        store.use(url, engine.id)
        panic = await client.create_api_key("desk-kill-switch", "trade")
        dog = await client.create_api_key("desk-watchdog", "trade")
        return engine.secret, panic.secret, session, panic.id, dog.secret, dog.id


def _stored_key(url: str, store: KeyStore) -> StoredKey:
    key = store.in_use(url)
    if key is None:
        raise LaunchError(f"no API key in use for {url}: create one with "
                          f"`desk keys create --venue-url {url}` (or pick one with "
                          "`desk keys use`)")
    if key.scope != "trade":
        raise LaunchError(f"the key in use for {url} ({key.name}, {key.id}) is {key.scope}-"
                          "scoped and desk trades: pick a trade key with `desk keys use` "
                          f"(or create one with `desk keys create --venue-url {url}`)")
    return key


def _kill_key(url: str, store: KeyStore, engine: StoredKey) -> StoredKey | None:
    """The second trade key the kill switch and the watchdog pull with, if one is set."""
    key = store.kill_switch(url)
    if key is None or key.id == engine.id:
        log.warning("the kill switch and the watchdog share the engine's key on %s: if the "
                    "venue refuses it, nothing else can pull the quotes; set a second trade "
                    "key with `desk keys use KEY_ID --kill-switch --venue-url %s`", url, url)
        return None
    return key


def key_label(key: StoredKey | None, role: str) -> str:
    return f"{role} {key.name} ({key.id})" if key is not None else role


def _pullers(url: str, settings: DeskSettings, engine_secret: str,
             keys: list[tuple[str, str | None]], session: str | None) -> list[ClientPuller]:
    """The dead-man switch's fallbacks, in order: each key other than the engine's, then
    a session."""
    seen = {engine_secret}
    out = []
    for name, secret in keys:
        if secret and secret not in seen:
            seen.add(secret)
            out.append(ClientPuller.with_key(name, url, secret, settings.client))
    if session:
        out.append(ClientPuller.with_session("the session", url, session, settings.client))
    return out


async def open_desk(settings: DeskSettings, *, venue_url: str | None = None,
                    config_path: Path | None = None, seed: int | None = None,
                    on_event: Callable[[Event], None] | None = None,
                    start: bool = True) -> Desk:
    """Start (or reach) the venue, open the engine, start the enabled strategies."""
    embedded = None
    if venue_url is None:
        embedded = EmbeddedVenue(config_path, seed)
        embedded.spawn()
        url = await asyncio.to_thread(embedded.wait_ready)
    else:
        url = venue_url.rstrip("/")
    opened: list[object] = []
    key_dir = tempfile.TemporaryDirectory(prefix="desk-keys-") if embedded else None
    manager: StrategyManager | None = None
    try:
        session = kill_key_id = dog_key_id = None
        if key_dir is not None:
            keys = KeyStore(Path(key_dir.name))
            (secret, panic_secret, session, kill_key_id, dog_secret,
             dog_key_id) = await _embedded_keys(url, settings, keys)
            labels = ("the engine's key desk-engine", "the kill switch's key",
                      "the watchdog's key")
            expires_at = None  # desk made these keys, without an expiry
        else:
            keys = KeyStore(settings.key_dir)
            engine_key = _stored_key(url, keys)
            kill_key = _kill_key(url, keys, engine_key)
            secret = keys.secret(engine_key.id)
            panic_secret = dog_secret = (keys.secret(kill_key.id) if kill_key is not None
                                         else secret)
            kill_key_id = dog_key_id = kill_key.id if kill_key is not None else None
            session = os.environ.get("DESK_SESSION", "").strip() or None
            labels = (key_label(engine_key, "the engine's key"),
                      key_label(kill_key, "the kill switch's key"), "")
            expires_at = parse_expiry(engine_key.expires_at)
        # the embedded venue takes only keys on cancel-all: its dev session is no fallback
        pullers = _pullers(url, settings, secret, [(labels[1], panic_secret),
                                                   (labels[2], dog_secret)],
                           None if embedded else session)
        opened.extend(pullers)
        for puller in pullers:
            puller.keep_warm()
        dog = None
        if settings.watchdog:
            # an embedded venue dies with desk, and its quotes with it: the watchdog
            # gives up on it soon; a remote venue it tries for five minutes
            dog = Watchdog(Orders(url, dog_secret, settings.watchdog_timeout_s,
                                  str(settings.watchdog_log or default_log()),
                                  give_up_s=10.0 if embedded else 300.0,
                                  actions_path=str(actions_path(
                                      settings.journal_path or default_journal_path()))))
            dog.begin(min(0.5, settings.watchdog_timeout_s / 4))
            opened.append(dog)
        del dog_secret
        client = OcxClient(url, api_key=secret, config=settings.client)
        kill_switch = KillSwitch(partial(OcxClient, url, api_key=panic_secret,
                                         config=settings.client))
        del secret, panic_secret
        markets = [m.market_id for m in await client.markets()]
        reference = settings.reference or ("index" if embedded else "mid")
        venue = OcxVenue(client, markets, reference=reference)
        opened.append(venue)
        await venue.start()
        journal = Journal(settings.journal_path or default_journal_path())
        opened.append(journal)
        store = (MemoryStrategyStore(settings.strategies) if settings.strategies is not None
                 else TomlStrategyStore(settings.strategies_path))
        rng = random.Random(seed) if seed is not None else None
        manager = StrategyManager(venue, rng=rng, journal=journal, store=store,
                                  engine=settings.engine, pullers=pullers,
                                  carry_over=embedded is None)
        manager.guard.key_replaced(labels[0], expires_at)
        # a quote's resend must not land after the dead-man switch's cancel-all
        client.may_quote = lambda: manager.guard.quoting_allowed
        if on_event is not None:
            manager.subscribe_events(on_event)
        await manager.open()
        # what a watchdog did since the last start (desk killed or hung) into the journal
        report_actions(actions_path(journal.path), manager.bus, journal)
        if dog is not None:
            dog.on_replaced = lambda: report_actions(actions_path(journal.path), manager.bus,
                                                     journal)
        if not manager.strategies:
            for params in DEFAULT_STRATEGIES:
                if params["market_id"] in markets:
                    manager.create(**for_desk(params, manager))  # sized to fit the account
        if start:
            await manager.start_enabled()
        return Desk(manager, venue, journal, url, embedded, keys, kill_switch, session,
                    kill_key_id, key_dir, dog, dog_key_id, pullers)
    except BaseException:
        pulled = True
        if manager is not None and manager.list(status="running"):  # quoting: pull it all
            with contextlib.suppress(Exception):
                await manager.shutdown("start-up failed")
            pulled = manager.guard.pulled
        for thing in reversed(opened):
            with contextlib.suppress(Exception):
                if isinstance(thing, Watchdog):
                    await thing.end(pulled=pulled)
                elif isinstance(thing, OcxVenue | ClientPuller):
                    await thing.close()
                elif isinstance(thing, Journal):
                    thing.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        if key_dir is not None:
            key_dir.cleanup()
        raise
