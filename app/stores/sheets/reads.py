"""Concurrent reads share requests: rows asked for while another read is in flight go out together in
the next values:batchGet, and a poll due meanwhile rides along — under load polls cost no request of
their own, and no command costs more than one read."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

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
        self.done = False
        self.header: list[str] = []
        self.values: dict[int, list[str]] = {}
        self.poll_values: list[list[list[str]]] = []
        self.error: Exception | None = None


class ReadBatcher:
    """Groups the row reads of concurrent commands, and the poll, into as few requests as possible."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._cond = threading.Condition()  # reads waiting for, or in, a batchGet
        self._open = _Batch()
        self._reading = False

    def row(self, row: int) -> tuple[list[str], list[str]]:
        """Row 1 and row ``row`` (0-based) of Operaciones, fresh."""
        batch = self._join({row}, None)
        assert batch is not None  # a row read always gets its batch
        return batch.header, batch.values[row]

    def poll(self, plan: PollPlan) -> tuple[list[list[list[str]]], int] | None:
        """The poll's values and the Metadata row they start at, when it could ride with commands'
        reads; None when it should read alone (no command is reading), at a poll's priority."""
        batch = self._join(set(), plan)
        if batch is None:
            return None
        assert batch.poll is not None
        return batch.poll_values, batch.poll.metadata_from

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
            while not batch.done and self._reading:
                self._cond.wait()
            if not batch.done and not batch.rows:
                # No command joined: the poll reads alone, without holding up commands.
                batch.pollers -= 1
                if not batch.pollers:
                    batch.poll = None
                return None
            leader = not batch.done
            if leader:
                self._reading, self._open = True, _Batch()
                self._cond.notify_all()
        if leader:
            self._send(batch)
        if batch.error is not None:
            raise batch.error
        return batch

    def _send(self, batch: _Batch) -> None:
        """Send one batch as its leader and wake everyone waiting for it (with its answer or error)."""
        try:
            rows = sorted(batch.rows)
            if batch.poll is not None:
                # The poll reads all of Operaciones: the rows come with it at no extra cost.
                batch.poll_values = self.layout.read(batch.poll.ranges, poll=not rows)
                operaciones = batch.poll_values[0]
                batch.header = operaciones[0] if operaciones else []
                batch.values = {r: (operaciones[r] if r < len(operaciones) else []) for r in rows}
            else:

                def ranges() -> list[str]:
                    tab = self.layout.tab(OPERACIONES)
                    return [tab.a1(r) for r in ("1:1", *(f"{r + 1}:{r + 1}" for r in rows))]

                values = self.layout.read(ranges)
                batch.header = values[0][0] if values[0] else []
                batch.values = {r: (v[0] if v else []) for r, v in zip(rows, values[1:], strict=True)}
        except Exception as exc:
            batch.error = exc
        finally:
            with self._cond:
                batch.done, self._reading = True, False
                self._cond.notify_all()
