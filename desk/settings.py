"""desk's settings: a TOML file in the platform config dir, DESK_* env overrides, --config.

Precedence (highest first): command-line flags, DESK_* environment variables
(nested with `__`, e.g. DESK_VENUE__RATE_LIMIT_PER_MINUTE=600), the TOML file
(`--config PATH`, else `desk.toml` in the user config dir), defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from desk.engine.config import EngineConfig
from desk.ocx.config import ClientConfig
from desk.venue.config import VenueConfig

APP_NAME = "desk"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "desk.toml"


class SettingsError(ValueError):
    """Settings that do not validate; the message names every bad field."""


class DeskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESK_", env_nested_delimiter="__",
                                      extra="forbid")

    venue: VenueConfig = Field(default_factory=VenueConfig)
    client: ClientConfig = Field(default_factory=ClientConfig)
    # the venue `desk keys` (and later the engine) talks to; `desk venue` listens here
    venue_url: str = Field("http://127.0.0.1:8731", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    # the account an embedded venue's dev session opens
    account: str = Field("desk", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    # where API keys are kept (default: the user config dir)
    key_dir: Path | None = None
    engine: EngineConfig = Field(default_factory=EngineConfig)
    # fair value: the embedded venue's index, or the venue's own book (mid / microprice);
    # default: index on the embedded venue, mid elsewhere
    reference: Literal["index", "mid", "micro"] | None = None
    # the strategies of this desk; when given they replace the saved ones for the run
    # (each a table of strategy parameters: `[[strategies]]`)
    strategies: list[dict[str, Any]] | None = None
    # the SQLite journal (default: journal.sqlite3 in the user data dir)
    journal_path: Path | None = None
    # saved strategies (default: strategies.toml in the user config dir)
    strategies_path: Path | None = None
    # the crash-proof kill switch: a watchdog process that pulls every quote when desk's
    # heartbeats stop for `watchdog_timeout_s` or desk dies (desk/watchdog.py)
    watchdog: bool = True
    watchdog_timeout_s: float = Field(2.0, ge=0.2, le=600)
    # what the watchdog did (default: watchdog.log in the user data dir)
    watchdog_log: Path | None = None
    # the desk screen's log, rotated (default: desk.log in the user log dir); `desk run`
    # logs to stderr unless given --log-file
    log_file: Path | None = None

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = cls.model_config.get("toml_file")
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, path))


def load_settings(path: Path | None = None) -> DeskSettings:
    """Load settings; a missing default file is fine, a missing --config file is not."""
    if path is not None and not path.is_file():
        raise SettingsError(f"--config: no such file {str(path)!r}")
    path = path or default_config_path()

    class _Settings(DeskSettings):
        model_config = SettingsConfigDict(toml_file=path if path.is_file() else None)

    try:
        return _Settings()
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in err.errors())
        raise SettingsError(f"invalid settings in {path}: {problems}") from None
    except (OSError, ValueError) as err:
        raise SettingsError(f"cannot read settings {path}: {err}") from None
    except RecursionError:
        raise SettingsError(f"cannot read settings {path}: values nested too deeply") from None
