"""The journal: one SQLite file (WAL) holding every strategy event and every fill.

- `events`: one row per event, in publication order; `body` is the event's JSON
  (`Event.to_json()`) after secret redaction, the other columns copy its keys
  for filtering.
- `fills`: one row per venue fill id (a replayed fill is ignored), Decimals as
  their exact strings, with the strategy it belongs to and when it was recorded.
- `meta`: the schema version; a journal written by a newer desk is refused.

Each append commits at once: the journal is written before anything is shown.
One connection is shared by the engine and UI threads under a lock. A file that
is not a readable journal raises `JournalError` naming it, and is never rewritten.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import platformdirs

from desk.domain import Liquidity, Side
from desk.domain.records import Fill
from desk.store.redact import redacted_json

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER, ts_ms INTEGER, type TEXT,
    strategy_id TEXT, severity TEXT, body TEXT);
CREATE INDEX IF NOT EXISTS events_strategy ON events (strategy_id, id);
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY, order_id TEXT, client_order_id TEXT, quote_id TEXT,
    market_id TEXT, side TEXT, price TEXT, quantity TEXT, liquidity TEXT, fee TEXT,
    created_at INTEGER, strategy_id TEXT, recorded_at INTEGER);
CREATE INDEX IF NOT EXISTS fills_strategy ON fills (strategy_id, created_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""
_FILL_COLUMNS = ("fill_id", "order_id", "client_order_id", "quote_id", "market_id", "side",
                 "price", "quantity", "liquidity", "fee", "created_at")


class JournalError(Exception):
    """The journal cannot be opened, read or written; the message names the file."""


def default_journal_path() -> Path:
    return Path(platformdirs.user_data_dir("desk")) / "journal.sqlite3"


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise JournalError(f"journal {self.path}: cannot create its directory: {e}") from None
        with self._guard("cannot open"):
            self._db = sqlite3.connect(self.path, check_same_thread=False)
        try:
            self._init_schema()
        except BaseException:
            self._db.close()
            raise

    def _init_schema(self) -> None:
        with self._guard("not a readable journal"):  # the first read fails on a non-database
            tables = {r[0] for r in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            row = "meta" in tables and self._db.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = str(row[0]) if row else "0"
        if not version.isdigit():
            raise JournalError(f"journal {self.path}: bad schema version {version!r}")
        if int(version) > SCHEMA_VERSION:
            raise JournalError(f"journal {self.path}: schema version {version} was written by "
                               f"a newer desk (this one reads up to {SCHEMA_VERSION})")
        with self._guard("cannot initialise"):
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            with self._db:
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                                 (str(SCHEMA_VERSION),))

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise JournalError(f"journal {self.path}: {what}: {e}") from None

    # --- writers --------------------------------------------------------------------

    def append_event(self, event: dict[str, Any]) -> None:
        text = redacted_json(event)
        clean = json.loads(text)
        row = tuple(clean.get(k) for k in ("seq", "ts_ms", "type", "strategy_id", "severity"))
        with self._lock, self._guard("cannot write an event"), self._db:
            self._db.execute("INSERT INTO events (seq, ts_ms, type, strategy_id, severity, body)"
                             " VALUES (?, ?, ?, ?, ?, ?)", (*row, text))

    def append_fill(self, fill: Fill, strategy_id: str | None) -> bool:
        """Record `fill`; False if its fill id is already journaled (a replay)."""
        values = [getattr(fill, c) for c in _FILL_COLUMNS]
        values = [str(v) if isinstance(v, Decimal | Side | Liquidity) else v for v in values]
        with self._lock, self._guard("cannot write a fill"), self._db:
            cur = self._db.execute(
                f"INSERT OR IGNORE INTO fills ({', '.join(_FILL_COLUMNS)}, strategy_id, "
                f"recorded_at) VALUES ({', '.join('?' * (len(_FILL_COLUMNS) + 2))})",
                (*values, strategy_id, int(time.time() * 1000)))
            return cur.rowcount == 1

    # --- readers --------------------------------------------------------------------

    def events(self, strategy_id: str | None = None, types: Iterable[str] | None = None,
               limit: int | None = None, since_ms: int | None = None) -> list[dict[str, Any]]:
        """Events oldest first, from `since_ms` (their `ts_ms`) on; with `limit`, the
        newest `limit` of them (still oldest first)."""
        where, args = _equal(strategy_id=strategy_id)
        if since_ms is not None:
            where.append("ts_ms >= ?")
            args.append(int(since_ms))
        if types is not None:
            names = [str(t) for t in types]
            where.append(f"type IN ({', '.join('?' * len(names))})")
            args.extend(names)
        sql = f"SELECT id, body FROM events {_clause(where)} ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        rows = self._query(f"SELECT body FROM ({sql}) ORDER BY id", args)
        return [json.loads(body) for (body,) in rows]

    def fills(self, strategy_id: str | None = None, market_id: str | None = None) -> list[Fill]:
        """Fills in venue time order (ties in the order they were recorded)."""
        where, args = _equal(strategy_id=strategy_id, market_id=market_id)
        rows = self._query(f"SELECT {', '.join(_FILL_COLUMNS)} FROM fills {_clause(where)} "
                           "ORDER BY created_at, rowid", args)
        return [_fill(row) for row in rows]

    def fill_ids(self) -> set[str]:
        return {fid for (fid,) in self._query("SELECT fill_id FROM fills", [])}

    def fill_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM fills", [])[0][0])

    def _query(self, sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
        with self._lock, self._guard("cannot read"):
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _equal(**columns: str | None) -> tuple[list[str], list[Any]]:
    given = {k: v for k, v in columns.items() if v is not None}
    return [f"{k} = ?" for k in given], list(given.values())




def _clause(where: list[str]) -> str:
    return f"WHERE {' AND '.join(where)}" if where else ""


def _fill(row: tuple[Any, ...]) -> Fill:
    (fill_id, order_id, client_order_id, quote_id, market_id, side, price, quantity,
     liquidity, fee, created_at) = row
    return Fill(fill_id, order_id, client_order_id, quote_id, market_id, Side(side),
                Decimal(price), Decimal(quantity), Liquidity(liquidity), Decimal(fee),
                int(created_at))
