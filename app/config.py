"""Every setting, its environment variable, its default and why (SPEC §10)."""

from __future__ import annotations

import os
import sys
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# gunicorn's "App failed to load" status: the master stops instead of respawning the worker.
APP_LOAD_ERROR = 4


class ConfigError(SystemExit):
    """A setting that cannot work: the start stops with one clear line instead of a traceback."""

    def __init__(self, message: str) -> None:
        # Printed here because a SystemExit carrying an exit status prints nothing itself.
        print(f"zeues: configuration error: {message}", file=sys.stderr, flush=True)
        super().__init__(APP_LOAD_ERROR)
        self.message = message


class Defaults:
    """Defaults; each can be overridden by the environment variable ``ZEUES_<NAME>``."""

    # ZEUES_DB: the embedded SQLite file (relative paths are under the instance folder).
    DB = "zeues.sqlite3"
    # ZEUES_SQLITE_SYNCHRONOUS: FULL fsyncs every commit, so an answered command survives a power cut.
    SQLITE_SYNCHRONOUS = "FULL"
    # ZEUES_SPREADSHEET_ID: when set, the Google Sheet is the source of truth instead of SQLite.
    SPREADSHEET_ID = ""
    # ZEUES_TIMEZONE: the plant's zone, for the fecha_* dates (timestamps are always UTC).
    TIMEZONE = "UTC"
    # ZEUES_MAX_CONTENT_LENGTH: commands are a few hundred bytes; anything over 64 KB is refused.
    MAX_CONTENT_LENGTH = 64 * 1024

    # OpenAPI document, generated from the schemas at /api/openapi.json.
    API_TITLE = "ZEUES floor tracker"
    API_VERSION = "1.0"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    JSON_SORT_KEYS = False


_SYNCHRONOUS = {"OFF", "NORMAL", "FULL", "EXTRA"}


def load(app: Any, test_config: dict[str, Any] | None) -> None:
    """Fill ``app.config`` from the defaults, then ``ZEUES_*`` variables or ``test_config``, and check it."""
    app.config.from_object(Defaults)
    if test_config is None:
        app.config.from_prefixed_env("ZEUES")
    else:
        app.config.update(test_config)
    check(app)


def check(app: Any) -> None:
    """Refuse settings that would only fail later, on the first request."""
    cfg = app.config
    try:
        cfg["ZONA"] = ZoneInfo(str(cfg["TIMEZONE"]))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"ZEUES_TIMEZONE={cfg['TIMEZONE']!r} is not a known time zone (e.g. America/Santiago)"
        ) from exc
    sync = str(cfg["SQLITE_SYNCHRONOUS"]).upper()
    if sync not in _SYNCHRONOUS:
        raise ConfigError(
            f"ZEUES_SQLITE_SYNCHRONOUS={cfg['SQLITE_SYNCHRONOUS']!r} must be one of {sorted(_SYNCHRONOUS)}"
        )
    cfg["SQLITE_SYNCHRONOUS"] = sync
    if not isinstance(cfg["MAX_CONTENT_LENGTH"], int) or cfg["MAX_CONTENT_LENGTH"] <= 0:
        raise ConfigError(f"ZEUES_MAX_CONTENT_LENGTH={cfg['MAX_CONTENT_LENGTH']!r} must be a positive number of bytes")
    db = str(cfg["DB"])
    if db != ":memory:":
        cfg["DB"] = db if os.path.isabs(db) else os.path.join(app.instance_path, db)
