"""`desk keys list|create|revoke|use`: API keys on a venue, secrets in the local key store.

Key management needs a venue session, never a key. On a loopback venue (the
embedded one) desk opens a dev session by itself; anywhere else it takes a
pasted session token (DESK_SESSION, or a hidden prompt), and it never offers a
real venue's URL the embedded venue's dev-session route.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
import logging
import os
import sys
from urllib.parse import urlsplit

from desk.domain.errors import VenueCallError, VenueReject
from desk.ocx.rest import OcxClient
from desk.settings import DeskSettings
from desk.store import redact
from desk.store.keys import KeyStore, KeyStoreError

log = logging.getLogger("desk.keys")


class KeysError(Exception):
    """A problem to show the operator in one line."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser(
        "keys", help="list, create, revoke and choose venue API keys",
        description="The venue's API keys: list them, create one (its secret is shown "
                    "once and kept in the key store), revoke one, or choose the one desk "
                    "trades with on a venue.")
    keys.add_argument("--venue-url", default=None,
                      help="venue base URL (default: venue_url in settings)")
    cmd = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    cmd.add_parser("list", help="the venue's keys and which are stored here")
    create = cmd.add_parser("create", help="create a key; its secret is shown once and stored")
    create.add_argument("name")
    create.add_argument("--scope", choices=("trade", "read"), default="trade")
    create.add_argument("--allowed-ip", action="append", default=[], metavar="IP",
                        help="an IP or CIDR allowed to use the key (repeatable)")
    create.add_argument("--expires-in-days", type=int, default=None, metavar="N")
    create.add_argument("--no-store", action="store_true",
                        help="show the secret but do not keep it in the key store")
    revoke = cmd.add_parser("revoke", help="revoke a key on the venue and forget it here")
    revoke.add_argument("key_id")
    use = cmd.add_parser("use", help="the stored key desk trades with on this venue")
    use.add_argument("key_id")
    use.add_argument("--kill-switch", action="store_true",
                     help="make it the kill switch's and the watchdog's key instead: a "
                          "second trade key that pulls every quote if the venue refuses "
                          "the engine's")


def run(args: argparse.Namespace, settings: DeskSettings) -> int:
    url = (args.venue_url or settings.venue_url).rstrip("/")
    store = KeyStore(settings.key_dir)
    try:
        if args.keys_command == "use" and args.kill_switch:
            key = store.use_for_kill_switch(url, args.key_id)
            print(f"the kill switch and the watchdog on {url} now pull with {key.id} "
                  f"({key.name})")
            return 0
        if args.keys_command == "use":
            key = store.use(url, args.key_id)
            print(f"desk now trades on {url} with {key.id} ({key.name}, {key.scope})")
            return 0
        return asyncio.run(_with_venue(args, settings, url, store))
    except (KeysError, KeyStoreError) as err:
        print(f"desk keys: {err}", file=sys.stderr)
        return 2
    except VenueReject as err:
        print(f"desk keys: the venue refused: {err.code}: {err.message}", file=sys.stderr)
        return 1
    except VenueCallError as err:
        print(redact.redact(f"desk keys: cannot reach the venue at {url}: {err}"), file=sys.stderr)
        return 1


async def _with_venue(args: argparse.Namespace, settings: DeskSettings, url: str,
                      store: KeyStore) -> int:
    async with OcxClient(url, config=settings.client) as client:
        client.with_session(await _session(client, settings, url))
        if args.keys_command == "list":
            return await _list(client, store, url)
        if args.keys_command == "create":
            return await _create(client, store, url, args)
        await client.revoke_api_key(args.key_id)
        try:
            store.remove(args.key_id)
            where = " and removed from the key store"
        except KeyStoreError:
            where = ""
        print(f"revoked {args.key_id}{where}")
        return 0


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _session(client: OcxClient, settings: DeskSettings, url: str) -> str:
    token = os.environ.get("DESK_SESSION", "").strip()
    if token:
        return token
    if is_loopback(url):
        try:
            return await client.dev_session(settings.account)
        except VenueReject:
            pass  # a loopback venue that is not the embedded one: ask for a token
    if not sys.stdin.isatty():
        raise KeysError(f"{url} needs a session token: set DESK_SESSION, or run in a "
                        f"terminal to paste it")
    token = getpass.getpass(f"session token for {url} (input hidden): ").strip()
    if not token:
        raise KeysError("no session token given")
    return token


async def _list(client: OcxClient, store: KeyStore, url: str) -> int:
    remote = await client.api_keys()
    local = {k.id: k for k in store.list(url)}
    rows = [("", "ID", "NAME", "SCOPE", "STATUS", "EXPIRES", "LAST USED", "ALLOWED IPS",
             "STORED")]
    for k in remote:
        mine = local.get(k.id)
        rows.append(("*" if mine and mine.in_use else "", k.id, k.name, k.scope, k.status,
                     _day(k.expires_at), _day(k.last_used_at, "never"),
                     ",".join(k.allowed_ips) or "any", "yes" if mine else "no"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    gone = sorted(set(local) - {k.id for k in remote})
    for key_id in gone:
        print(f"note: {key_id} is in the key store but unknown to the venue")
    print("* = the key desk trades with on this venue")
    return 0


async def _create(client: OcxClient, store: KeyStore, url: str,
                  args: argparse.Namespace) -> int:
    if args.expires_in_days is not None and args.expires_in_days < 1:
        raise KeysError(f"--expires-in-days: must be 1 or more, got {args.expires_in_days}")
    created = await client.create_api_key(args.name, args.scope, args.allowed_ip,
                                          args.expires_in_days)
    print(f"created {created.id} ({args.scope}) {args.name!r}")
    print("secret (shown this once; the venue keeps only its hash):")
    print(f"  {created.secret}")
    if args.no_store:
        print("not stored: keep it somewhere safe now")
        return 0
    expires = None
    if args.expires_in_days is not None:
        expires = next((k.expires_at for k in await client.api_keys() if k.id == created.id),
                       None)
    key = store.add(url, created.id, args.name, args.scope, created.secret,
                    expires_at=expires)
    print(f"stored in {store.secrets_path} (mode 0600)"
          + ("; desk trades with it on this venue" if key.in_use else
             f"; `desk keys use {key.id}` to trade with it"))
    return 0


def _day(iso: str | None, empty: str = "-") -> str:
    return iso[:16].replace("T", " ") if iso else empty
