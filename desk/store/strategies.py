"""Persisted strategy configurations: one TOML file (default: the user config dir).

The file is an array of tables, one `[[strategies]]` per strategy in desk's
order, each holding its `id` and the plain values of `StrategyConfig.to_toml_dict()`
(Decimals as exact strings). The store checks only the file's shape; the engine
validates the fields. Writes are atomic (temp file in the same directory, fsync,
then os.replace); a file that fails to parse is reported, never rewritten.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

HEADER = ("# Strategy configurations, written by desk. Edit this file only while desk is\n"
          "# stopped: a running desk may overwrite your changes.\n")


class StrategyStoreError(Exception):
    """The strategies file cannot be read or written; the message names it."""


def default_strategies_path() -> Path:
    return Path(platformdirs.user_config_dir("desk")) / "strategies.toml"


class TomlStrategyStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_strategies_path()

    def load(self) -> list[dict[str, Any]]:
        """The stored strategies in file order; [] when there is no file yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as e:
            raise StrategyStoreError(f"{self.path}: cannot read: {e}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise StrategyStoreError(f"{self.path}: invalid TOML: {e}") from None
        except RecursionError:
            raise StrategyStoreError(f"{self.path}: invalid TOML: values nested too "
                                     "deeply") from None
        strategies = data.get("strategies", [])
        if set(data) - {"strategies"} or not isinstance(strategies, list):
            raise StrategyStoreError(f"{self.path}: expected only an array of [[strategies]] "
                                     f"tables at the top level, found {sorted(data)}")
        for i, entry in enumerate(strategies):
            if not isinstance(entry, dict):
                raise StrategyStoreError(f"{self.path}: strategies[{i}] is not a table")
        return strategies

    def save(self, strategies: list[dict[str, Any]]) -> None:
        """Replace the file with `strategies`, atomically."""
        text = HEADER + self._render(strategies)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                       dir=self.path.parent)
        except OSError as e:
            raise StrategyStoreError(f"{self.path}: cannot write: {e}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                os.fchmod(f.fileno(), 0o644)
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException as e:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(e, OSError):
                raise StrategyStoreError(f"{self.path}: cannot write: {e}") from None
            raise

    def _render(self, strategies: list[dict[str, Any]]) -> str:
        for i, entry in enumerate(strategies):
            if not isinstance(entry, Mapping):
                raise StrategyStoreError(f"{self.path}: strategies[{i}] is not a table")
        if not strategies or any(_has_table(v) for s in strategies for v in s.values()):
            # nested tables need tomli_w's own headers ([strategies.x]); never the case
            # for a StrategyConfig, whose values are all scalars
            return self._dumps({"strategies": list(strategies)}, "strategies")
        # tomli_w would inline short tables: one [[strategies]] header each reads better
        return "".join(f"\n[[strategies]]\n{self._dumps(_id_first(s), f'strategies[{i}]')}"
                       for i, s in enumerate(strategies))

    def _dumps(self, value: dict[str, Any], where: str) -> str:
        try:
            return tomli_w.dumps(value)
        except (TypeError, ValueError) as e:
            raise StrategyStoreError(f"{self.path}: {where} cannot be written as TOML: {e}"
                                     ) from None


def _has_table(value: Any) -> bool:
    return isinstance(value, Mapping) or (
        isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value))


def _id_first(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": entry["id"], **entry} if "id" in entry else dict(entry)


class MemoryStrategyStore:
    """Strategies that live only as long as the process (a `--config` file's set: edits
    made during the run must not overwrite the saved ones)."""

    def __init__(self, records: list[dict[str, Any]] | None = None):
        self.records = [dict(r) for r in records or []]

    def load(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.records]

    def save(self, strategies: list[dict[str, Any]]) -> None:
        self.records = [dict(r) for r in strategies]
