"""The store port: what the service needs from a source of truth (SQLite file, PostgreSQL, Google Sheet)."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from ..domain.machine import Decision
from ..domain.model import Event, Motivo, Spool, Worker


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """Every spool (in row order) and every worker, read together."""

    spools: tuple[Spool, ...]
    workers: tuple[Worker, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What a command sent with an Idempotency-Key left behind, to answer its retries."""

    key: str
    request_hash: str  # endpoint + canonical body: the same key with another request is refused
    event: Event  # the event the command appended
    spool: Spool  # the spool as the command left it


class StaleWrite(Exception):
    """The row no longer holds the version the decision was made on: nothing was written."""


class DuplicateIdempotencyKey(StaleWrite):
    """Another process committed a command with the same Idempotency-Key first."""


class ChangeListener(Protocol):
    """Push notification of changes made by any process (a store's LISTEN connection)."""

    def wait(self, timeout: float) -> list[str] | None:
        """Block up to ``timeout`` s: the tags that changed in commit order, None for "reload everything",
        an empty list on timeout; raise SourceUnavailable when the connection is lost (then open a new one)."""

    def close(self) -> None:
        """Release the connection."""


class Store(abc.ABC):
    """A source of truth. Every method either fully happens or raises; none half-writes."""

    #: Short name reported by ``/api/health``.
    name: str = "?"
    #: Where the data lives, for messages to the operator (a file, a spreadsheet id, a database).
    location: str = ""
    #: Whether ``listener()`` gives one: the store announces every commit, by any process.
    announces_changes: bool = False

    @abc.abstractmethod
    def snapshot(self) -> Snapshot:
        """Read every spool and worker in one go (one request for a remote store)."""

    @abc.abstractmethod
    def spool(self, tag: str) -> Spool | None:
        """Read one spool fresh from the source of truth, or None if no row has that tag."""

    def fresh(self, tag: str) -> tuple[Spool | None, dict[int, Worker]]:
        """What a command is decided on: the spool read fresh and the workers, together (a store on a
        network answers both in one round trip)."""
        return self.spool(tag), self.workers()

    @abc.abstractmethod
    def workers(self) -> dict[int, Worker]:
        """The workers by id; a remote store may answer from its last snapshot."""

    @abc.abstractmethod
    def motivos(self) -> list[Motivo]:
        """The reasons a spool may be put on hold (Motivos), active or not, in table order; a remote
        store may answer from its last snapshot."""

    @abc.abstractmethod
    def commit(self, decision: Decision) -> None:
        """Write ``decision`` atomically: the row (only if it still holds ``decision.antes.version``)
        and its event, and record the event's idempotency key; raise StaleWrite (DuplicateIdempotencyKey
        when that key is already recorded) and write nothing otherwise."""

    @abc.abstractmethod
    def events(self, tag: str) -> list[Event]:
        """The spool's events, oldest first."""

    def all_events(self) -> Iterator[Event]:
        """Every event in the log, each spool's oldest first, streamed (the reports of SPEC §14 read
        the whole log: a spool's earlier history decides what its latest events mean).

        This fallback asks for each spool's events in turn; adapters read the log in one pass, in
        append order, without holding a lock that commands need while the caller consumes it.
        """
        for spool in self.snapshot().spools:
            yield from self.events(spool.tag_spool)

    @abc.abstractmethod
    def idempotency(self, key: str) -> IdempotencyRecord | None:
        """The record of the command whose event carried ``key``, or None."""

    @abc.abstractmethod
    def set_pin_hash(self, worker_id: int, pin_hash: str | None) -> bool:
        """Write the worker's PIN hash (SPEC §11; None clears it) where ``workers()`` reads it, so every
        process sees it at once; False when no worker has that id."""

    def load(
        self,
        spools: Iterable[Spool],
        workers: Iterable[Worker],
        versions: Mapping[str, str | None] | None = None,
        motivos: Iterable[Motivo] = (),
    ) -> None:
        """Write ``workers`` (added, or replaced by id) and ``spools`` in one transaction, all or nothing
        (demo, CSV import). A spool whose tag is a key of ``versions`` replaces its row only if the row
        still holds that version; any other spool is added, and its tag must be new. Otherwise raise
        StaleWrite and write nothing, so a load planned on a snapshot never overwrites a command that
        landed since. ``motivos`` whose code is not in Motivos are added (one that is stays as the
        shop has it). Stores that are edited by people instead (a Google Sheet) do not support it."""
        raise NotImplementedError(f"the {self.name} store is edited at its source, not loaded")

    def check(self) -> list[str]:
        """Problems that keep the source of truth from serving (missing tabs or headers), one line
        each; a store that cannot be misshapen has none."""
        return []

    def inconsistencies(self) -> list[str]:
        """Tags whose rows disagree with the store's own event log (SPEC §7: a write that landed on a
        moved row), until they are repaired; a store that writes rows and log in one transaction has none."""
        return []

    def listener(self) -> ChangeListener | None:
        """A new listener for changes committed by any process, or None when the store cannot push
        them (then only polling sees other processes' changes)."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook: most stores hold nothing to release
        """Release connections."""
