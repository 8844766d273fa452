"""Stores: the port every source of truth implements, and its adapters (SQLite, PostgreSQL, Google Sheets)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from typing import Any

from ..config import ConfigError
from ..domain.errors import SourceUnavailable
from .base import Store
from .credentials import CredentialStore, SqliteCredentials

log = logging.getLogger(__name__)


def open_store(config: Mapping[str, Any]) -> Store:
    """The store the configuration selects: PostgreSQL or a Google Sheet when set, else the embedded
    SQLite file."""
    if config.get("DATABASE_URL"):
        # Imported here, in the process that serves: psycopg must load after gevent's patching.
        from .postgres import PostgresStore

        return PostgresStore.from_config(config)
    if config.get("SPREADSHEET_ID"):
        from .sheets import SheetsStore

        return SheetsStore.from_config(config)
    from .sqlite import SqliteStore

    try:
        return SqliteStore(config["DB"], synchronous=config["SQLITE_SYNCHRONOUS"])
    except (sqlite3.Error, OSError) as exc:
        raise ConfigError(f"ZEUES_DB={config['DB']!r} cannot be opened as a SQLite database: {exc}") from exc


def open_credentials(config: Mapping[str, Any], store: Store) -> CredentialStore:
    """Where sessions, API tokens and failed sign-ins live (SPEC §11): the PostgreSQL database when the
    shop runs on one, else the SQLite file ``ZEUES_DB`` (the shop's own file, or a local file beside a
    Google Sheet: one process serves a sheet, so local is shared enough)."""
    if config.get("DATABASE_URL"):
        from .postgres import PostgresStore
        from .postgres_credentials import PostgresCredentials

        assert isinstance(store, PostgresStore)
        return PostgresCredentials(store)
    try:
        return SqliteCredentials(config["DB"], synchronous=config["SQLITE_SYNCHRONOUS"])
    except (sqlite3.Error, OSError) as exc:
        raise ConfigError(f"ZEUES_DB={config['DB']!r} cannot be opened as a SQLite database: {exc}") from exc


# What to run about a store's problems at start, by store name.
_FIXES = {
    "sheets": " (see `flask sheets-check`, fix with `flask sheets-init`)",
    "postgres": " (see `flask --app wsgi db status`)",
}


def verify_at_start(store: Store) -> None:
    """Stop a starting worker with one clear line when the source of truth is misshapen (a wrong
    spreadsheet id, missing tabs or headers, a refused database login); one merely unreachable now
    is left to the retries."""
    try:
        problems = store.check()
    except SourceUnavailable as exc:
        log.warning("the %s store is not reachable at start (%s); commands answer 503 until it is", store.name, exc)
        return
    if problems:
        raise ConfigError("; ".join(problems) + _FIXES.get(store.name, ""))
