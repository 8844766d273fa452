"""The change feed (SPEC §6): spool snapshot cache under an opaque cursor."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .domain.model import Spool, Worker
from .domain.views import spool_view
from .stores.base import Store


def cursor_de(spools: list[dict[str, Any]]) -> str:
    """A cursor any process can recompute from the same data: a hash of the snapshot's content."""
    contenido = json.dumps(spools, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(contenido.encode()).hexdigest()[:20]


class Feed:
    """The current snapshot of every spool, as clients see it, under a cursor."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def view(self) -> tuple[str, list[dict[str, Any]]]:
        """The cursor and every spool (row order)."""
        snapshot = self.store.snapshot()
        workers = {w.id: w for w in snapshot.workers}
        spools = [spool_view(s, workers) for s in snapshot.spools]
        return cursor_de(spools), spools

    def publish(self, spool: Spool, workers: Mapping[int, Worker]) -> None:
        """Make a locally committed change visible at once."""

    def health(self) -> dict[str, Any]:
        """Cursor and freshness of the snapshot."""
        cursor, _ = self.view()
        return {"cursor": cursor, "last_sync_age_s": 0.0, "stale": False}
