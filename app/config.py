"""Every setting, its environment variable, its default and why (SPEC §10)."""

from __future__ import annotations

import datetime
import json
import math
import os
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(SystemExit):
    """A setting that cannot work: the start stops with one clear line instead of a traceback."""

    # A SystemExit whose code is the line: left uncaught (`flask --app wsgi ...`, a script) the
    # interpreter prints it to stderr and exits 1 without a traceback; gunicorn's worker
    # (gunicorn_worker.py) prints it and exits with the status that halts the master.
    def __init__(self, message: str) -> None:
        self.message = " ".join(message.splitlines())
        super().__init__(f"zeues: configuration error: {self.message}")


class Defaults:
    """Defaults; each can be overridden by the environment variable ``ZEUES_<NAME>``."""

    # ZEUES_DB: the embedded SQLite file (relative paths are under the instance folder).
    DB = "zeues.sqlite3"
    # ZEUES_SQLITE_SYNCHRONOUS: FULL fsyncs every commit, so an answered command survives a power cut.
    SQLITE_SYNCHRONOUS = "FULL"
    # ZEUES_SPREADSHEET_ID: when set, the Google Sheet is the source of truth instead of SQLite.
    SPREADSHEET_ID = ""
    # ZEUES_SHEETS_TIMEOUT: seconds one Sheets API call may take before it counts as failed and is retried.
    SHEETS_TIMEOUT = 10.0
    # ZEUES_SHEETS_ATTEMPTS: tries per Sheets call on 429/5xx/timeouts before answering 503 SOURCE_UNAVAILABLE.
    SHEETS_ATTEMPTS = 4
    # ZEUES_SHEETS_BACKOFF / ZEUES_SHEETS_MAX_BACKOFF: jittered exponential wait between tries (seconds),
    # so a quota burst (60 requests/min) drains instead of being hammered.
    SHEETS_BACKOFF = 0.5
    SHEETS_MAX_BACKOFF = 8.0
    # ZEUES_SHEETS_READS_PER_MINUTE / ZEUES_SHEETS_WRITES_PER_MINUTE: Google's per-user quota, paced
    # here so requests wait for a slot instead of drawing 429s (share it out when running several workers).
    SHEETS_READS_PER_MINUTE = 60
    SHEETS_WRITES_PER_MINUTE = 60
    # ZEUES_DATABASE_URL: postgresql://user:password@host/dbname runs on PostgreSQL (SPEC §12): several
    # worker processes and instances on one database. Empty: the embedded SQLite file.
    DATABASE_URL = ""
    # ZEUES_DATABASE_POOL_SIZE: connections each worker process may open. A command holds one for a
    # few milliseconds, so 10 serve hundreds of tablets; instances x workers x (pool + 1 listener)
    # must stay under the server's max_connections (100 by default).
    DATABASE_POOL_SIZE = 10
    # ZEUES_DATABASE_POOL_TIMEOUT: seconds a request waits for a free connection (or for the database
    # to come back) before it answers 503 SOURCE_UNAVAILABLE with Retry-After.
    DATABASE_POOL_TIMEOUT = 5.0
    # ZEUES_DATABASE_CONNECT_TIMEOUT: seconds one connection attempt may take (libpq counts whole
    # seconds, at least 2), so an unreachable host fails instead of hanging a worker.
    DATABASE_CONNECT_TIMEOUT = 5
    # ZEUES_DATABASE_STATEMENT_TIMEOUT: seconds one statement may run, waiting on a row lock
    # included; a command's statements take milliseconds, so this only ends what is stuck.
    DATABASE_STATEMENT_TIMEOUT = 5.0
    # ZEUES_TIMEZONE: the plant's zone, for the fecha_* dates (timestamps are always UTC).
    TIMEZONE = "UTC"
    # ZEUES_MAX_CONTENT_LENGTH: commands are a few hundred bytes; anything over 64 KB is refused.
    MAX_CONTENT_LENGTH = 64 * 1024

    # ZEUES_ALERT_OCCUPIED_H / ZEUES_ALERT_BLOCKED_H: hours after which a spool held by a worker, or on
    # hold, is an alert on the board and in /api/alertas (SPEC §13): longer than a shift is most likely
    # forgotten; a hold is looked at again after a day.
    ALERT_OCCUPIED_H = 8.0
    ALERT_BLOCKED_H = 24.0
    # ZEUES_SHIFT_ENDS: plant times (ZEUES_TIMEZONE) at which every spool still held is released by the
    # system, e.g. "14:00,22:00" (HH:MM or HH:MM:SS). Empty: off, workers release their own spools.
    SHIFT_ENDS = ""
    # ZEUES_AUTH (SPEC §11): pin — a command needs a worker's session (opened with their PIN) or an
    # API token, so nobody on the plant's Wi-Fi can act as someone else; open — the plain
    # pick-your-name flow, for closed networks only (the server says so at start).
    AUTH = "pin"
    # ZEUES_READ_AUTH: open — reads and pages need nothing, for wall boards on the LAN; token — they need
    # a session or an API token with the read scope (the board then takes ?token= in its URL).
    READ_AUTH = "open"
    # ZEUES_SESSION_HOURS: a session lasts a shift, unless its worker signs out or gets a new PIN.
    SESSION_HOURS = 12.0
    # ZEUES_PIN_LOCKOUT_S: 5 wrong PINs for one worker within this many seconds stop their sign-in
    # (429, the right PIN included) until the oldest of the five is this old: a 4-digit PIN then
    # takes years to guess, not minutes.
    PIN_LOCKOUT_S = 15 * 60.0

    # ZEUES_FEED_*: the poller's cadence (SPEC §6). Every 5 s by default; 2 s for a minute after a
    # change (commands flowing); 15 s after 5 idle minutes (a Sheet's read quota is 60/min, shared with
    # the commands); while the source fails, backoff up to 15 s, so the feed is live again within 15 s
    # of the source recovering.
    FEED_POLL_S = 5.0
    FEED_BUSY_POLL_S = 2.0
    FEED_BUSY_WINDOW_S = 60.0
    FEED_IDLE_POLL_S = 15.0
    FEED_IDLE_AFTER_S = 300.0
    FEED_MAX_BACKOFF_S = 15.0
    # ZEUES_FEED_HISTORY: cursors remembered for deltas; a client further behind gets a reset.
    FEED_HISTORY = 1024
    # ZEUES_FEED_STALE_AFTER_S: /api/health says stale when the last good read is older than this.
    FEED_STALE_AFTER_S = 45.0
    # ZEUES_WORKER_CONNECTIONS: gunicorn's simultaneous connections per worker (gunicorn.conf.py reads it
    # and fits it to the open-file limit); here it sizes the waiter limit below.
    WORKER_CONNECTIONS = 4000
    # ZEUES_MAX_WAITERS: long polls one process holds at once. Past it a poll that would hold is answered
    # at once with a jittered retry_after_ms instead, so however many tablets wait, commands and reads
    # still find a free connection. Unset: three quarters of ZEUES_WORKER_CONNECTIONS (3,000 of 4,000).
    MAX_WAITERS = None

    # OpenAPI document, generated from the schemas at /api/openapi.json.
    API_TITLE = "ZEUES floor tracker"
    API_VERSION = "1.0"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"


_SYNCHRONOUS = {"OFF", "NORMAL", "FULL", "EXTRA"}
_CHOICES = {"AUTH": ("pin", "open"), "READ_AUTH": ("open", "token")}


def defaults() -> dict[str, Any]:
    """Every default, keyed as in ``app.config`` (for parts built outside an app: tests, benches)."""
    return {name: getattr(Defaults, name) for name in dir(Defaults) if name.isupper()}


def load(app: Any, test_config: dict[str, Any] | None) -> None:
    """Fill ``app.config`` from the defaults, then ``ZEUES_*`` variables or ``test_config``, and check it."""
    app.config.from_object(Defaults)
    if test_config is None:
        app.config.from_prefixed_env("ZEUES")
    else:
        app.config.update(test_config)
    # Google's own names, unprefixed: the service account key file, and a local Sheets API stand-in.
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "SHEETS_EMULATOR_HOST"):
        app.config.setdefault(name, os.environ.get(name, "") if test_config is None else "")
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
    _check_supervision(cfg)
    _check_access(cfg)
    _check_database(cfg)
    _check_waiters(cfg)
    _check_sheets(cfg)
    db = str(cfg["DB"])
    if db != ":memory:":
        cfg["DB"] = db if os.path.isabs(db) else os.path.join(app.instance_path, db)


def _check_supervision(cfg: Any) -> None:
    """Alert thresholds are positive hours; shift ends are times of day, kept parsed in FINES_DE_TURNO."""
    for name in ("ALERT_OCCUPIED_H", "ALERT_BLOCKED_H"):
        try:
            ok = isinstance(cfg[name], int | float | str) and float(cfg[name]) > 0
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError(f"ZEUES_{name}={cfg[name]!r} must be a positive number of hours (e.g. 8 or 0.5)")
        cfg[name] = float(cfg[name])
    text = str(cfg["SHIFT_ENDS"] or "")
    fines = []
    for part in text.split(",") if text.strip() else ():
        hora = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*", part)
        try:
            if hora is None:
                raise ValueError(part)
            fines.append(datetime.time(int(hora[1]), int(hora[2]), int(hora[3] or 0)))
        except ValueError:
            raise ConfigError(
                f"ZEUES_SHIFT_ENDS={text!r} must list times of day in plant time, HH:MM separated by commas "
                "(e.g. 14:00,22:00)"
            ) from None
    cfg["FINES_DE_TURNO"] = tuple(sorted(set(fines)))


def _check_access(cfg: Any) -> None:
    """The identity settings (SPEC §11): known modes, positive durations."""
    for name, choices in _CHOICES.items():
        value = str(cfg[name]).strip().lower()
        if value not in choices:
            raise ConfigError(f"ZEUES_{name}={cfg[name]!r} must be one of {', '.join(choices)}")
        cfg[name] = value
    for name in ("SESSION_HOURS", "PIN_LOCKOUT_S"):
        try:
            ok = not isinstance(cfg[name], bool) and math.isfinite(float(cfg[name])) and float(cfg[name]) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"ZEUES_{name}={cfg[name]!r} must be a positive number")
        cfg[name] = float(cfg[name])


def _check_database(cfg: Any) -> None:
    """A PostgreSQL URL is the only source of truth when set: never beside a spreadsheet."""
    url = str(cfg["DATABASE_URL"] or "")
    if not url:
        return
    if cfg["SPREADSHEET_ID"]:
        raise ConfigError(
            "ZEUES_DATABASE_URL and ZEUES_SPREADSHEET_ID are both set: choose one source of truth "
            "(PostgreSQL or the Google Sheet)"
        )
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("ZEUES_DATABASE_URL must be a postgresql:// URL (postgresql://user:password@host/dbname)")
    for name in (
        "DATABASE_POOL_TIMEOUT",
        "DATABASE_CONNECT_TIMEOUT",
        "DATABASE_STATEMENT_TIMEOUT",
        "DATABASE_POOL_SIZE",
    ):
        whole = name == "DATABASE_POOL_SIZE"  # a pool holds whole connections
        try:
            ok = float(cfg[name]) > 0 and (not whole or float(cfg[name]).is_integer())
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"ZEUES_{name}={cfg[name]!r} must be a positive {'whole ' if whole else ''}number")


def _whole(cfg: Any, name: str) -> int:
    """The setting ``name`` as a whole number of at least 1."""
    value = cfg[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"ZEUES_{name}={value!r} must be a whole number of at least 1")
    return value


def default_max_waiters(connections: int) -> int:
    """The waiter limit for ``connections`` per worker: a quarter of them stays for everything else —
    commands, reads, the board's page loads and the idle keep-alive connections of clients between polls."""
    return max(1, connections * 3 // 4)


def _check_waiters(cfg: Any) -> None:
    """The waiter limit must leave some of the worker's connections to commands and reads."""
    connections = _whole(cfg, "WORKER_CONNECTIONS")
    if cfg["MAX_WAITERS"] is None:
        cfg["MAX_WAITERS"] = default_max_waiters(connections)
        return
    if _whole(cfg, "MAX_WAITERS") >= connections:
        raise ConfigError(
            f"ZEUES_MAX_WAITERS={cfg['MAX_WAITERS']!r} must be below ZEUES_WORKER_CONNECTIONS={connections} "
            f"(held polls would take every connection and lock commands out; e.g. {default_max_waiters(connections)})"
        )


def _check_sheets(cfg: Any) -> None:
    """A configured spreadsheet needs a plausible id and, unless emulated, a service account key."""
    if not cfg["SPREADSHEET_ID"]:
        return
    if not re.fullmatch(r"[A-Za-z0-9_-]+", str(cfg["SPREADSHEET_ID"])):
        raise ConfigError(
            f"ZEUES_SPREADSHEET_ID={cfg['SPREADSHEET_ID']!r} is not a spreadsheet id "
            "(the part of the sheet's URL between /d/ and /edit)"
        )
    for name in (
        "SHEETS_TIMEOUT",
        "SHEETS_ATTEMPTS",
        "SHEETS_BACKOFF",
        "SHEETS_MAX_BACKOFF",
        "SHEETS_READS_PER_MINUTE",
        "SHEETS_WRITES_PER_MINUTE",
    ):
        try:
            ok = float(cfg[name]) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"ZEUES_{name}={cfg[name]!r} must be a positive number")
    if cfg["SHEETS_EMULATOR_HOST"]:
        return
    key = cfg["GOOGLE_APPLICATION_CREDENTIALS"]
    if not key:
        raise ConfigError(
            "ZEUES_SPREADSHEET_ID is set but GOOGLE_APPLICATION_CREDENTIALS is not (the service account's JSON key)"
        )
    if not os.path.isfile(key):
        raise ConfigError(f"GOOGLE_APPLICATION_CREDENTIALS={key!r} is not a readable file")
    _check_service_account_key(key)


# What the Sheets store's credentials need from the key file (google-auth also wants token_uri).
_KEY_FIELDS = ("type", "client_email", "private_key", "token_uri")


def _check_service_account_key(path: str) -> None:
    """The key file must be a service account's JSON key whose private key google-auth can load."""
    name = f"GOOGLE_APPLICATION_CREDENTIALS={path!r}"
    try:
        with open(path, encoding="utf-8") as handle:
            key = json.load(handle)
    except OSError as exc:
        raise ConfigError(f"{name} cannot be read: {exc.strerror}") from exc
    except ValueError as exc:  # not JSON, or not UTF-8
        raise ConfigError(f"{name} is not JSON ({exc}): download the service account's key again") from exc
    if not isinstance(key, dict):
        raise ConfigError(f"{name} is not a service account key (a JSON object with {', '.join(_KEY_FIELDS)})")
    missing = [field for field in _KEY_FIELDS if not isinstance(key.get(field), str) or not key[field]]
    if missing:
        raise ConfigError(f"{name} is not a service account key: missing {', '.join(missing)}")
    if key["type"] != "service_account":
        raise ConfigError(f"{name} is a {key['type']!r} key, not a 'service_account' key")
    # Imported here: google-auth is only needed with a spreadsheet.
    from google.oauth2.service_account import Credentials

    try:
        Credentials.from_service_account_info(key)
    except (ValueError, TypeError) as exc:  # TypeError: a key encrypted with a password
        raise ConfigError(f"{name}: its private_key cannot be loaded ({exc})") from exc
