"""Local store for venue API keys: two files in one directory (default: the user
config dir, e.g. ~/.config/desk; created with mode 0700 if missing).

- keys.json (metadata, mode 0644):
  {"keys": [{id, name, scope, venue, expiresAt, createdAt}], "inUse": {venue: id},
   "killSwitch": {venue: id}}: the key the engine trades with on each venue, and the
  second trade key the kill switch and the watchdog pull quotes with (optional; without
  it they share the engine's key, and a refused engine key leaves them nothing)
- secrets.json (key id -> secret, mode 0600): read only when a secret is asked
  for or changed, and refused if its permissions are looser.

The OS keyring is not used: headless Linux boxes rarely have one, so the 0600
file is the store. Writes are atomic (0600 temp file, then os.replace), nothing
is cached, and a file that fails to parse is reported, never rewritten.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from desk.store.redact import redact

SCOPES = ("read", "trade")
_SECRET_RE = re.compile(r"ocx_sk_[A-Za-z0-9_-]+")
_KEY_ID_RE = re.compile(r"ocx_kid_[A-Za-z0-9_-]+")
_FIELDS = {"id", "name", "scope", "venue", "createdAt"}


class KeyStoreError(Exception):
    """A key store problem, with a message fit to show the operator (secrets masked)."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


@dataclass(frozen=True)
class StoredKey:
    """Metadata of one stored key. It never carries the secret."""

    id: str
    name: str
    scope: str
    venue: str
    expires_at: str | None
    created_at: str
    in_use: bool
    kill_switch: bool = False  # the kill switch's and the watchdog's own key


def default_key_dir() -> Path:
    return Path(platformdirs.user_config_dir("desk"))


def normalise_venue(venue: str) -> str:
    url = str(venue).strip().rstrip("/")
    if not re.match(r"https?://[^/\s]+", url):
        raise KeyStoreError(f"venue: expected a base URL like http://host:port, got {venue!r}")
    return url


class KeyStore:
    def __init__(self, directory: Path | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.now = now  # stamps createdAt of keys stored without one
        self.directory = Path(directory) if directory is not None else default_key_dir()
        self.meta_path = self.directory / "keys.json"
        self.secrets_path = self.directory / "secrets.json"

    def list(self, venue: str | None = None) -> builtins.list[StoredKey]:
        meta = self._load_meta()
        wanted = None if venue is None else normalise_venue(venue)
        return [_to_key(k, meta) for k in meta["keys"] if wanted in (None, k["venue"])]

    def get(self, key_id: str) -> StoredKey:
        return _to_key(self._find(meta := self._load_meta(), key_id), meta)

    def in_use(self, venue: str) -> StoredKey | None:
        meta = self._load_meta()
        entry = _entry(meta, meta["inUse"].get(normalise_venue(venue)))
        return _to_key(entry, meta) if entry else None

    def kill_switch(self, venue: str) -> StoredKey | None:
        """The second trade key of this venue: the kill switch's and the watchdog's."""
        meta = self._load_meta()
        entry = _entry(meta, meta.get("killSwitch", {}).get(normalise_venue(venue)))
        return _to_key(entry, meta) if entry else None

    def use_for_kill_switch(self, venue: str, key_id: str) -> StoredKey:
        """Make this stored trade key the kill switch's (and the watchdog's) on its venue."""
        venue = normalise_venue(venue)
        meta = self._load_meta()
        entry = self._find(meta, key_id)
        if entry["venue"] != venue:
            raise KeyStoreError(f"key {key_id} belongs to {entry['venue']}, not {venue}")
        if entry["scope"] != "trade":
            raise KeyStoreError(f"key {key_id} is {entry['scope']}-scoped: the kill switch "
                                "needs a trade key to cancel with")
        meta.setdefault("killSwitch", {})[venue] = key_id
        self._write(self.meta_path, meta)
        return _to_key(entry, meta)

    def secret(self, key_id: str) -> str:
        if (value := self._load_secrets().get(key_id)) is None:
            raise KeyStoreError(f"no secret stored for key {key_id!r} in {self.secrets_path}")
        return value

    def add(self, venue: str, key_id: str, name: str, scope: str, secret: str,
            expires_at: str | None = None, created_at: str | None = None) -> StoredKey:
        venue = normalise_venue(venue)
        if not isinstance(key_id, str) or not _KEY_ID_RE.fullmatch(key_id):
            raise KeyStoreError(f"key_id: expected ocx_kid_<id>, got {key_id!r}")
        if not isinstance(name, str) or not name.strip():
            raise KeyStoreError("name: must be a non-empty string")
        if scope not in SCOPES:
            raise KeyStoreError(f"scope: expected read or trade, got {scope!r}")
        if not isinstance(secret, str) or not _SECRET_RE.fullmatch(secret):
            raise KeyStoreError("secret: expected ocx_sk_ followed by url-safe characters")
        try:
            if expires_at is not None:
                datetime.fromisoformat(expires_at)
        except (TypeError, ValueError):
            raise KeyStoreError(f"expires_at: expected ISO-8601, got {expires_at!r}") from None
        meta, stored = self._load_meta(), self._load_secrets()
        if _entry(meta, key_id):
            raise KeyStoreError(f"key_id: {key_id} is already stored")
        created_at = created_at or self.now().isoformat(timespec="seconds")
        entry = {"id": key_id, "name": name, "scope": scope, "venue": venue,
                 "expiresAt": expires_at, "createdAt": created_at}
        meta["keys"].append(entry)
        meta["inUse"].setdefault(venue, key_id)
        self._write(self.secrets_path, {**stored, key_id: secret})  # secret first: no dangling id
        self._write(self.meta_path, meta)
        return _to_key(entry, meta)

    def use(self, venue: str, key_id: str) -> StoredKey:
        venue = normalise_venue(venue)
        meta = self._load_meta()
        entry = self._find(meta, key_id)
        if entry["venue"] != venue:
            raise KeyStoreError(f"key {key_id} belongs to {entry['venue']}, not {venue}")
        meta["inUse"][venue] = key_id
        self._write(self.meta_path, meta)
        return _to_key(entry, meta)

    def remove(self, key_id: str) -> None:
        meta, stored = self._load_meta(), self._load_secrets()
        entry = self._find(meta, key_id)
        meta["keys"].remove(entry)
        if meta["inUse"].get(entry["venue"]) == key_id:
            del meta["inUse"][entry["venue"]]
        if meta.get("killSwitch", {}).get(entry["venue"]) == key_id:
            del meta["killSwitch"][entry["venue"]]
        stored.pop(key_id, None)
        self._write(self.secrets_path, stored)  # the secret goes first
        self._write(self.meta_path, meta)

    def _find(self, meta: dict[str, Any], key_id: str) -> dict[str, Any]:
        if entry := _entry(meta, key_id):
            return entry
        raise KeyStoreError(f"unknown key {key_id!r} (not in {self.meta_path})")

    def _load_meta(self) -> dict[str, Any]:
        if not self.meta_path.exists():
            return {"keys": [], "inUse": {}}
        data = _parse(self.meta_path, self.meta_path.read_bytes())
        if not (isinstance(data, dict) and isinstance(data.get("inUse"), dict)
                and isinstance(data.get("killSwitch", {}), dict)
                and isinstance(data.get("keys"), builtins.list)
                and all(isinstance(k, dict) and k.keys() >= _FIELDS for k in data["keys"])):
            raise KeyStoreError(f"{self.meta_path} is not a desk key file; fix or move it")
        return data

    def _load_secrets(self) -> dict[str, str]:
        try:
            fd = os.open(self.secrets_path, os.O_RDONLY)
        except FileNotFoundError:
            return {}
        with os.fdopen(fd, "rb") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            if mode & 0o077:
                raise KeyStoreError(f"{self.secrets_path} has mode {mode:04o}, readable by "
                                    f"others; refusing it. Run: chmod 600 {self.secrets_path}")
            data = _parse(self.secrets_path, f.read())
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise KeyStoreError(f"{self.secrets_path} is not a desk secrets file; fix or move it")
        return data

    def _write(self, path: Path, data: Any) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.directory)
        try:  # mkstemp creates the file with mode 0600; fchmod makes it exact
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                os.fchmod(f.fileno(), 0o600 if path == self.secrets_path else 0o644)
                f.write(json.dumps(data, indent=2) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _entry(meta: dict[str, Any], key_id: str | None) -> dict[str, Any] | None:
    return next((k for k in meta["keys"] if k["id"] == key_id), None)


def _to_key(entry: dict[str, Any], meta: dict[str, Any]) -> StoredKey:
    return StoredKey(entry["id"], entry["name"], entry["scope"], entry["venue"],
                     entry.get("expiresAt"), entry["createdAt"],
                     in_use=meta["inUse"].get(entry["venue"]) == entry["id"],
                     kill_switch=meta.get("killSwitch", {}).get(entry["venue"]) == entry["id"])


def _parse(path: Path, raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyStoreError(f"{path} is not valid JSON ({exc}); fix or move it") from None
