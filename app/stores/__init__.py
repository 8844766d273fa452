"""Stores: the port every source of truth implements, and its adapters."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from ..config import ConfigError
from .base import Store


def open_store(config: Mapping[str, Any]) -> Store:
    """The store the configuration selects: the embedded SQLite file unless a spreadsheet is set."""
    if config.get("SPREADSHEET_ID"):
        from .sheets import SheetsStore

        return SheetsStore.from_config(config)
    from .sqlite import SqliteStore

    try:
        return SqliteStore(config["DB"], synchronous=config["SQLITE_SYNCHRONOUS"])
    except (sqlite3.Error, OSError) as exc:
        raise ConfigError(f"ZEUES_DB={config['DB']!r} cannot be opened as a SQLite database: {exc}") from exc
