"""Concurrent reads share requests: rows asked for while another read is in flight, or while the next
one waits for its quota slot, go out together in one values:batchGet, and a poll due meanwhile rides
along — under load polls cost no request of their own, and no command costs more than one read."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable

from .layout import OPERACIONES, Layout


@dataclasses.dataclass(frozen=True, slots=True)
class PollPlan:
    """What a poll reads: its ranges (worked out from the layout when sent) and the Metadata row they start at."""

    ranges: Callable[[], list[str]]
    metadata_from: int


class _Batch:
    """Row reads (and maybe a poll riding along) that go out in one values:batchGet, and its answer."""

    def __init__(self) -> None:
        self.rows: set[int] = set()
        self.poll: PollPlan | None = None
        self.pollers = 0
        self.led = False  # a leader sends it (it may still be waiting for its quota slot)
        self.sent: tuple[list[int], PollPlan | None] | None = None  # what went out, fixed at the slot
        self.done = False
        self.header: list[str] = []
        self.values: dict[int, list[str]] = {}
        self.poll_values: list[list[list[str]]] = []
        self.error: Exception | None = None


class ReadBatcher:
    """Groups the row reads of concurrent commands, and the poll, into as few requests as possible.

    A batch is open until its request gets its quota slot: reads that arrive while its leader waits
    for the slot, or while the previous request is in flight, join it."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._cond = threading.Condition()  # reads waiting for, or in, a batchGet
        self._open = _Batch()
        self._reading = False  # a leader holds the next request (waiting for its slot, or in flight)

    def row(self, row: int) -> tuple[list[str], list[str]]:
        """Row 1 and row ``row`` (0-based) of Operaciones, fresh."""
        header, values = self.rows([row])
        return header, values[row]

    def rows(self, rows: Iterable[int]) -> tuple[list[str], dict[int, list[str]]]:
        """Row 1 and the rows ``rows`` (0-based) of Operaciones, fresh, in one shared request."""
        batch = self._join(set(rows), None)
        assert batch is not None  # a row read always gets its batch
        return batch.header, dict(batch.values)

    def poll(self, plan: PollPlan) -> tuple[list[list[list[str]]], int] | None:
        """The poll's values and the Metadata row they start at, when it could ride with commands'
        reads; None when it should read alone (no command is reading), at a poll's priority."""
        batch = self._join(set(), plan)
        if batch is None:
            return None
        assert batch.sent is not None and batch.sent[1] is not None
        return batch.poll_values, batch.sent[1].metadata_from

    def _join(self, rows: set[int], poll: PollPlan | None) -> _Batch | None:
        """Add to the open batch, wait for the read in flight, then send the batch (as its leader) or
        take its answer; a poll nobody reads with gets None."""
        with self._cond:
            if not rows and not self._reading:
                return None
            batch = self._open
            batch.rows |= rows
            if poll is not None:
                batch.pollers += 1
                batch.poll = batch.poll or poll
            self._cond.notify_all()
            while not batch.done and (batch.led or self._reading):
                self._cond.wait()
            if not batch.done and not batch.rows:
                # No command joined: the poll reads alone, without holding up commands.
                batch.pollers -= 1
                if not batch.pollers:
                    batch.poll = None
                return None
            leader = not batch.done
            if leader:
                batch.led = self._reading = True
        if leader:
            self._send(batch)
        if batch.error is not None:
            raise batch.error
        return batch

    def _close(self, batch: _Batch) -> tuple[list[int], PollPlan | None]:
        """Fix what the batch reads, once its request has its quota slot; later arrivals wait for the next."""
        with self._cond:
            if batch.sent is None:
                batch.sent = (sorted(batch.rows), batch.poll)
                if self._open is batch:
                    self._open = _Batch()
            return batch.sent

    def _send(self, batch: _Batch) -> None:
        """Send one batch as its leader and wake everyone waiting for it (with its answer or error)."""

        def ranges() -> list[str]:
            rows, poll = self._close(batch)
            if poll is not None:
                return poll.ranges()  # it reads all of Operaciones: the rows come with it at no extra cost
            tab = self.layout.tab(OPERACIONES)
            return [tab.a1(r) for r in ("1:1", *(f"{r + 1}:{r + 1}" for r in rows))]

        try:
            values = self.layout.read(ranges)
            assert batch.sent is not None
            rows, poll = batch.sent
            if poll is not None:
                batch.poll_values = values
                operaciones = values[0]
                batch.header = operaciones[0] if operaciones else []
                batch.values = {r: (operaciones[r] if r < len(operaciones) else []) for r in rows}
            else:
                batch.header = values[0][0] if values[0] else []
                batch.values = {r: (v[0] if v else []) for r, v in zip(rows, values[1:], strict=True)}
        except Exception as exc:
            batch.error = exc
        finally:
            with self._cond:
                self._close(batch)  # a request that failed before its slot closes the batch too
                batch.done, self._reading = True, False
                self._cond.notify_all()
