"""Group commit: the writes of concurrent commands share requests. Writes that arrive while another is
in flight, or while the next one waits for its quota slot, go out together in one
spreadsheets:batchUpdate — every row's updateCells, then one appendCells with all their events. Google
applies a batch whole or not at all; a batch it refuses whole is sent again write by write, so one
bad write cannot sink the others."""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Callable, Hashable
from typing import Any

from ...domain.errors import SourceUnavailable
from .layout import Layout, LayoutChanged


@dataclasses.dataclass(eq=False)
class Write:
    """What one command (or one repair) writes: the tracking cells of its rows and at most one event."""

    tags: tuple[str, ...]  # the spools whose rows it writes
    rows: tuple[int, ...]  # those rows, 0-based
    cells: list[dict[str, Any]]  # updateCells requests
    event: list[dict[str, Any]] | None = None  # the Metadata row it appends, cell by cell
    event_id: str | None = None
    key: str | None = None  # the Idempotency-Key its event records
    metadata_sheet_id: int = 0

    def claims(self) -> set[Hashable]:
        """What no other pending write may touch at the same time: its spools, rows and key."""
        claims: set[Hashable] = {("tag", t) for t in self.tags} | {("row", r) for r in self.rows}
        return claims | ({("key", self.key)} if self.key is not None else set())


def request_body(writes: list[Write]) -> dict[str, Any]:
    """One batchUpdate body: every write's updateCells in order, then their events in one appendCells."""
    requests = [request for write in writes for request in write.cells]
    events = [write for write in writes if write.event is not None]
    if events:
        append = {
            "sheetId": events[0].metadata_sheet_id,
            "rows": [{"values": write.event} for write in events],
            "fields": "userEnteredValue",
        }
        requests.append({"appendCells": append})
    return {"requests": requests}


class _Batch:
    """Writes that go out in one batchUpdate, and how it went."""

    def __init__(self) -> None:
        self.writes: list[Write] = []
        self.led = False  # a leader sends it (it may still be waiting for its quota slot)
        self.sent: list[Write] | None = None  # what went out, fixed when the request got its slot
        self.done = False
        self.split = False  # refused whole: each write goes again alone
        self.error: Exception | None = None


class WriteBatcher:
    """Sends concurrent writes in as few batchUpdates as possible, one request at a time.

    A batch is open until its request gets its quota slot. ``found(event_ids)`` tells whether a batch
    whose answer was lost was applied (its events are in Metadata): Google applies a batch whole, so
    looking for its events answers for every write in it.
    """

    def __init__(self, layout: Layout, found: Callable[[list[str]], bool]) -> None:
        self.layout = layout
        self._found = found
        self._cond = threading.Condition()
        self._open = _Batch()
        self._writing = False  # a leader holds the next request (waiting for its slot, or in flight)
        self._claims: collections.Counter[Hashable] = collections.Counter()  # of writes not finished yet
        self.waiting = 0  # writes waiting for an earlier write of the same spool, row or key

    def write(self, write: Write, current: Callable[[], None], applied: Callable[[], None]) -> None:
        """Send ``write`` with the next batch; return once Google applied it.

        A write waits while an earlier one of the same spool, row or key is pending (two changes of one
        row in one batch would both be decided on the same read); then ``current()`` confirms it is still
        right, and raises when it is not (nothing is sent). ``applied()`` records the write's effect
        before the next write of the same spool may be confirmed against it.
        """
        claims = write.claims()
        with self._cond:
            while any(self._claims[c] for c in claims):
                self.waiting += 1
                self._cond.notify_all()
                try:
                    self._cond.wait()
                finally:
                    self.waiting -= 1
            current()
            self._claims.update(claims)
            batch = self._open
            batch.writes.append(write)
            self._cond.notify_all()
            while not batch.done and (batch.led or self._writing):
                self._cond.wait()
            leader = not batch.done
            if leader:
                batch.led = self._writing = True
        try:
            if leader:
                self._send(batch)
            if batch.split:
                self._send_alone(write)
            elif batch.error is not None:
                raise batch.error
            applied()
        finally:
            with self._cond:
                self._claims.subtract(claims)
                self._cond.notify_all()

    def _close(self, batch: _Batch) -> list[Write]:
        """Fix what the batch writes, once its request has its quota slot; later writes wait for the next."""
        with self._cond:
            if batch.sent is None:
                batch.sent = list(batch.writes)
                if self._open is batch:
                    self._open = _Batch()
            return batch.sent

    def _applied(self, writes: list[Write]) -> bool:
        ids = [w.event_id for w in writes if w.event_id is not None]
        if not ids:
            # A repair appends no event: nothing tells whether it landed, so it is not sent blindly again
            # (the next poll checks the rows and repairs what is still wrong).
            raise SourceUnavailable("Google Sheets did not answer a repair; the next poll checks it.")
        return self._found(ids)

    def _send(self, batch: _Batch) -> None:
        """Send one batch as its leader and wake every write waiting for it."""
        try:
            with self.layout.refreshed_on_refusal():
                self.layout.client.batch_update(
                    lambda: request_body(self._close(batch)), applied=lambda: self._applied(self._close(batch))
                )
        except LayoutChanged as exc:
            if len(self._close(batch)) > 1:
                batch.split = True  # one write may be the one Google refuses: find out write by write
            else:
                batch.error = exc
        except Exception as exc:
            batch.error = exc
        finally:
            with self._cond:
                self._close(batch)  # a request that failed before its slot closes the batch too
                batch.done, self._writing = True, False
                self._cond.notify_all()

    def _send_alone(self, write: Write) -> None:
        """One write of a batch Google refused whole, on its own (LayoutChanged if it is the bad one)."""
        with self.layout.refreshed_on_refusal():
            self.layout.client.batch_update(lambda: request_body([write]), applied=lambda: self._applied([write]))
