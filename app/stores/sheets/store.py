"""The Google Sheets store (SPEC §7): one batchGet per poll; per command one row read and a share of one
batchUpdate; the Metadata log as the truth the rows are checked against, and repaired from."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ...domain.errors import SourceUnavailable
from ...domain.machine import IDEMPOTENCY_KEY, REQUEST_HASH, VERSION, Decision
from ...domain.model import EVENT_FIELDS, PIN_HASH_FIELD, Event, Motivo, Spool, Worker
from ..base import DuplicateIdempotencyKey, IdempotencyRecord, Snapshot, StaleWrite, Store
from ..rows import (
    TAG_HEADER,
    event_from_row,
    event_to_row,
    motivo_from_row,
    spool_from_row,
    spool_to_row,
    worker_from_row,
)
from . import admin
from .client import SheetsClient, SheetsSettings
from .layout import (
    METADATA,
    MOTIVOS,
    OPERACIONES,
    TRABAJADORES,
    Layout,
    LayoutChanged,
    cell,
    column_letter,
    string_cell,
)
from .reads import PollPlan, ReadBatcher
from .writes import Write, WriteBatcher

log = logging.getLogger(__name__)

# How long a fresh read of a row may precede the write that relies on it.
FRESH_S = 5.0
# What a command on a row that disagrees with the log is told to wait: the feed polls every 2 s while
# commands flow (5 s otherwise), and the poll that finds the row repairs it.
REPAIR_RETRY_S = 5


@dataclasses.dataclass(frozen=True, slots=True)
class Repair:
    """One row to put back in step with the log: where it was found, what it held, what it must hold."""

    tag: str
    row: int
    found: str | None  # the version the row held when the poll read it
    truth: Spool  # the spool as the log says it is


class SheetsStore(Store):
    """A Google Sheet edited by the office, read and written through gspread with bounded retries."""

    name = "sheets"

    @classmethod
    def from_config(cls, config: Any) -> SheetsStore:
        """The store ``ZEUES_SPREADSHEET_ID`` and the ``SHEETS_*`` settings describe (no call is made yet)."""
        return cls(SheetsSettings.from_config(config))

    def __init__(
        self,
        settings: SheetsSettings,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = SheetsClient(settings, sleep, clock)
        self.location = f"spreadsheet {settings.spreadsheet_id}"
        self.layout = Layout(self.client)
        self.reads = ReadBatcher(self.layout)
        self.writes = WriteBatcher(self.layout, self._written)
        self._lock = threading.RLock()
        self._loaded = False
        # tag -> the spool as the log says it is, in row order: what a row holds when it agrees with the
        # log; the last state known good when it does not (a write landed on it, or missed it).
        self._spools: dict[str, Spool] = {}
        self._rows: dict[str, int] = {}  # tag -> 0-based row, as of the last read
        self._workers: dict[int, Worker] = {}
        self._motivos: list[Motivo] = []
        self._events: list[Event] = []
        self._event_ids: set[str] = set()
        self._metadata_rows = 0  # Metadata rows read so far, header included
        self._by_key: dict[str, Event] = {}  # idempotency key -> the event that carried it
        self._records: dict[str, IdempotencyRecord] = {}  # of commands this process committed
        # tag -> (row, version, when) of its last fresh read: the row commit() writes to
        self._fresh: dict[str, tuple[int, str | None, float]] = {}
        # The log's view of the rows (SPEC §7): every event records the version it produced.
        self._owner: dict[str, str] = {}  # version -> the spool whose event produced it (the log's word)
        # version -> the first spool whose own row showed it: who a version the log never produced
        # (an imported or office-made one) belongs to, for a repair; a copied row may repeat one, so it
        # never makes a row disagree on its own.
        self._seen: dict[str, str] = {}
        self._logged: dict[str, str] = {}  # tag -> version of its last event, as read from Metadata
        self._latest: dict[str, str] = {}  # tag -> version of its last event known here (read or committed)
        self._inconsistent: dict[str, str] = {}  # tag -> how its row disagrees with the log
        self._reported: set[str] = set()  # tags already named in the log, so each is logged once

    # -- parsing ----------------------------------------------------------------------------
    def _spool_from(self, row: Sequence[Any], columns: dict[str, int]) -> Spool:
        return spool_from_row({name.lower(): cell(row, column) for name, column in columns.items()})

    def _read_operaciones(self, values: list[list[str]], expected: Mapping[str, str]) -> dict[str, Spool]:
        """Every row as it is (tag -> spool, first row of a repeated tag); positions and the spools that
        agree with ``expected`` (tag -> version of its last event) are kept, the others keep their truth."""
        columns = self.layout.locate(OPERACIONES, values[0] if values else [])
        seen: dict[str, Spool] = {}
        rows: dict[str, int] = {}
        for index, row in enumerate(values[1:], start=1):
            tag = cell(row, columns[TAG_HEADER])
            if tag and tag not in seen:  # a repeated tag is the office's to fix; the first row counts
                seen[tag] = self._spool_from(row, columns)
                rows[tag] = index
        spools = {}
        for tag, spool in seen.items():
            if self._disagreement(tag, spool.version, expected) is None:
                latest = self._latest.get(tag)
                truth = self._spools.get(tag)
                # A row read before this process's own later commit landed: keep what the commit left.
                ahead = truth is not None and latest is not None and truth.version == latest != spool.version
                spools[tag] = truth if ahead and truth is not None else spool
                if spool.version and not ahead:
                    self._seen.setdefault(spool.version, tag)
            else:
                spools[tag] = self._truth(tag) or spool
        self._spools, self._rows = spools, rows
        return seen

    def _read_trabajadores(self, values: list[list[str]]) -> None:
        columns = self.layout.locate(TRABAJADORES, values[0] if values else [])
        workers = {}
        for row in values[1:]:
            try:
                worker = worker_from_row({name: cell(row, column) for name, column in columns.items()})
            except ValueError:
                continue  # a blank or note row, not a worker
            workers[worker.id] = worker
        self._workers = workers

    def _read_motivos(self, values: list[list[str]]) -> None:
        columns = self.layout.locate(MOTIVOS, values[0] if values else [])
        motivos: dict[str, Motivo] = {}
        for row in values[1:]:
            try:
                motivo = motivo_from_row({name: cell(row, column) for name, column in columns.items()})
            except ValueError:
                continue  # a blank or note row, not a reason
            motivos.setdefault(motivo.codigo, motivo)  # a repeated code is the office's to fix; the first counts
        self._motivos = list(motivos.values())

    def _read_metadata(self, header: list[str], rows: list[list[str]], first_row: int) -> None:
        """Learn the events in ``rows`` (sheet rows from ``first_row``, 1-based): new ones are remembered,
        every one tells which version its spool is at."""
        columns = self.layout.locate(METADATA, header)
        for offset, row in enumerate(rows):
            event_id = cell(row, columns["id"])
            if first_row + offset == 1 or not event_id:
                continue
            event = event_from_row([cell(row, columns[name]) for name in EVENT_FIELDS])
            new = event_id not in self._event_ids
            if new:
                self._remember(event)
            version = event.metadata_json.get(VERSION)
            if isinstance(version, str) and version:
                self._owner[version] = event.tag_spool
                self._logged[event.tag_spool] = version
                if new:  # this process's own commits are known already, maybe later ones too
                    self._latest[event.tag_spool] = version
            else:  # an event from before versions were logged: the log cannot vouch for this row
                self._logged.pop(event.tag_spool, None)
                if new:
                    self._latest.pop(event.tag_spool, None)
        self._metadata_rows = max(self._metadata_rows, first_row + len(rows) - 1)

    def _remember(self, event: Event) -> None:
        self._events.append(event)
        self._event_ids.add(event.id)
        key = event.metadata_json.get(IDEMPOTENCY_KEY)
        if isinstance(key, str):
            self._by_key.setdefault(key, event)

    def _ensure_loaded(self) -> None:
        """Answers that come from the last poll need one: take it now if there is none yet."""
        if not self._loaded:
            self.snapshot()

    # -- rows against the log (SPEC §7) --------------------------------------------------------
    def _disagreement(self, tag: str, version: str | None, expected: Mapping[str, str]) -> str | None:
        """How a row of ``tag`` holding ``version`` disagrees with the log, or None when it agrees."""
        owner = self._owner.get(version) if version else None
        if owner is not None and owner != tag:
            return f"holds the version of {owner}"
        if tag in expected and version != expected[tag]:
            return "does not hold the version of its last event"
        return None

    def _truth(self, tag: str) -> Spool | None:
        """The spool as the log says it is, when this process knows its cells: its last event's state, or
        (no event yet) the state last read from its own row. None when only a guess is left."""
        spool = self._spools.get(tag)
        if spool is None:
            return None
        if tag in self._latest:
            return spool if spool.version == self._latest[tag] else None
        version = spool.version or ""
        return spool if self._owner.get(version, self._seen.get(version, tag)) == tag else None

    def _reconcile(self, seen: dict[str, Spool]) -> list[Repair]:
        """After a poll: which rows disagree with the log, said once in the service's log, and how to
        repair each from the log and the last snapshot (only where both cells are known)."""
        problems: dict[str, str] = {}
        for tag, spool in seen.items():
            problem = self._disagreement(tag, spool.version, self._logged)
            if problem is not None:
                problems[tag] = problem
                owner = self._owner.get(spool.version or "")
                # The cells a write meant for ``owner`` carried, found on another spool's row: its truth
                # when this process does not know it (after a restart).
                carried = owner is not None and owner != tag and spool.version == self._latest.get(owner)
                if carried and owner in self._spools and self._truth(owner) is None:
                    self._spools[owner] = spool.con(tag_spool=owner)
        repairs = [
            Repair(tag, self._rows[tag], seen[tag].version, truth)
            for tag in problems
            if (truth := self._truth(tag)) is not None
        ]
        self._inconsistent = problems
        if set(problems) - self._reported:
            stuck = sorted(set(problems) - {r.tag for r in repairs})
            log.warning(
                "Operaciones disagrees with the Metadata log in %d rows (%s): %s",
                len(problems),
                "; ".join(f"{tag} {why}" for tag, why in sorted(problems.items())),
                f"cannot repair {', '.join(stuck)} (its last good state is not known here): fix by hand"
                if stuck
                else "repairing them from the log",
            )
        self._reported = set(problems)
        return repairs

    def _repair(self, repairs: list[Repair]) -> None:
        """Write each row back from the log, after confirming it still holds what the poll saw (staff may
        have sorted since): one read, then one write. What cannot be confirmed waits for the next poll."""
        header, values = self.reads.rows([r.row for r in repairs])
        with self._lock:
            columns = self.layout.locate(OPERACIONES, header)
            confirmed = [
                r
                for r in repairs
                if cell(values[r.row], columns[TAG_HEADER]) == r.tag
                and (cell(values[r.row], columns["version"]) or None) == r.found
            ]
        if not confirmed:
            return
        cells = [c for r in confirmed for c in self._row_cells(r.row, r.truth)]

        def current() -> None:
            with self._lock:
                for r in confirmed:
                    if self._truth(r.tag) != r.truth:
                        raise StaleWrite(r.tag)  # a command moved it on meanwhile: look again next poll

        write = Write(tags=tuple(r.tag for r in confirmed), rows=tuple(r.row for r in confirmed), cells=cells)
        self.writes.write(write, current, lambda: None)

    def inconsistencies(self) -> list[str]:
        """Tags whose rows disagree with the log, as last found (repaired within the next polls)."""
        with self._lock:
            return sorted(self._inconsistent)

    # -- the port ---------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Every spool, worker and new event in one values:batchGet (one read per poll); rows that
        disagree with the log are shown as the log says and repaired."""
        with self._lock:
            metadata_from = self._metadata_rows
            columns = self.layout.columns(METADATA)
            last_column = max(columns.values()) if columns else len(EVENT_FIELDS) - 1

        def ranges() -> list[str]:
            metadata = self.layout.tab(METADATA)
            # Metadata only grows: read its header and the rows from the last one already known on
            # (that row always exists, so the range never falls off the grid).
            events = metadata.a1(f"A{metadata_from}:{column_letter(last_column)}") if metadata_from else metadata.a1()
            operaciones, trabajadores = self.layout.tab(OPERACIONES), self.layout.tab(TRABAJADORES)
            return [operaciones.a1(), trabajadores.a1(), metadata.a1("1:1"), events, self.layout.tab(MOTIVOS).a1()]

        riding = self.reads.poll(PollPlan(ranges, metadata_from))
        values, metadata_from = riding if riding is not None else (self.layout.read(ranges, poll=True), metadata_from)
        with self._lock:
            self._read_trabajadores(values[1])
            # The log first: the rows read in the same request are checked against it.
            self._read_metadata(values[2][0] if values[2] else [], values[3], metadata_from or 1)
            seen = self._read_operaciones(values[0], self._logged)
            repairs = self._reconcile(seen)
            self._read_motivos(values[4])
            self._loaded = True
            snapshot = Snapshot(spools=tuple(self._spools.values()), workers=tuple(self._workers.values()))
        if repairs:
            try:
                self._repair(repairs)
            except (SourceUnavailable, StaleWrite, LayoutChanged) as exc:
                log.debug("repair of %s left for the next poll: %s", [r.tag for r in repairs], exc)
        return snapshot

    def spool(self, tag: str) -> Spool | None:
        """Read the spool's row fresh (header row + that row, one request); relocate it if rows moved.
        A row that disagrees with the log answers 503 until the poll repairs it."""
        with self._lock:
            row = self._rows.get(tag)
        if row is not None:
            header, values = self.reads.row(row)
            with self._lock:
                columns = self.layout.locate(OPERACIONES, header)
                if cell(values, columns[TAG_HEADER]) == tag:
                    return self._fresh_read(tag, row, self._spool_from(values, columns))
        # Staff sorted, inserted or deleted rows since the last read (or the tag is new): find it by tag.
        (values,) = self.layout.read(lambda: [self.layout.tab(OPERACIONES).a1()])
        with self._lock:
            seen = self._read_operaciones(values, self._latest)
            return self._fresh_read(tag, self._rows[tag], seen[tag]) if tag in seen else None

    def _fresh_read(self, tag: str, row: int, spool: Spool) -> Spool:
        """A spool's row just read for a command: refused when it disagrees with the log (a write meant
        for another spool landed on it, or the write meant for it landed elsewhere), else the truth."""
        problem = self._disagreement(tag, spool.version, self._latest)
        if problem is not None:
            # Deciding on this row would act on a state the log says is not the spool's; the poll that
            # finds it puts the row back from the log within seconds.
            self._inconsistent[tag] = problem
            raise SourceUnavailable(
                f"La fila del spool {tag} no coincide con su último evento (una escritura cayó en otra fila "
                "al ordenar la hoja); se corrige sola en unos segundos. No se escribió nada.",
                retry_after=REPAIR_RETRY_S,
            )
        self._spools[tag] = spool
        if spool.version:
            self._seen.setdefault(spool.version, tag)
        self._fresh[tag] = (row, spool.version, time.monotonic())
        return spool

    def workers(self) -> dict[int, Worker]:
        """The workers of the last snapshot."""
        self._ensure_loaded()
        with self._lock:
            return dict(self._workers)

    def motivos(self) -> list[Motivo]:
        """The reasons of the last snapshot (the office edits the Motivos tab; the next poll brings it)."""
        self._ensure_loaded()
        with self._lock:
            return list(self._motivos)

    def commit(self, decision: Decision) -> None:
        """The row's tracking cells + the event appended to Metadata, in the next spreadsheets:batchUpdate
        (shared with the commands committing meanwhile; Google applies it atomically).

        The row is the one the fresh read just confirmed holds this tag and version; if the caller
        decided on other data, it is confirmed again first.
        """
        tag, key = decision.antes.tag_spool, decision.idempotency_key
        if key is not None and self.idempotency(key) is not None:
            raise DuplicateIdempotencyKey(key)
        with self._lock:
            seen = self._fresh.pop(tag, None)
        # Trust the row only from the read that just informed this decision; anything older is
        # confirmed again (the office may have sorted since).
        if seen is None or seen[1] != decision.antes.version or time.monotonic() - seen[2] > FRESH_S:
            current = self.spool(tag)
            if current is None or current.version != decision.antes.version:
                raise StaleWrite(tag)
            with self._lock:
                seen = self._fresh.pop(tag)
        if self.layout.columns(METADATA) is None:
            self.snapshot()  # the Metadata header, read once, places the event's cells
        write = Write(
            tags=(tag,),
            rows=(seen[0],),
            cells=self._row_cells(seen[0], decision.despues),
            event=self._event_cells(decision.event),
            event_id=decision.event.id,
            key=key,
            metadata_sheet_id=self.layout.tab(METADATA).sheet_id,
        )

        def current() -> None:
            # Confirmed once no earlier write of this spool or key is pending: still what was decided on?
            with self._lock:
                if key is not None and (key in self._records or key in self._by_key):
                    raise DuplicateIdempotencyKey(key)
                truth = self._spools.get(tag)
                if truth is None or truth.version != decision.antes.version:
                    raise StaleWrite(tag)

        def applied() -> None:
            with self._lock:
                self._spools[tag] = decision.despues
                if decision.despues.version:
                    self._latest[tag] = decision.despues.version
                    self._owner[decision.despues.version] = tag
                if decision.event.id not in self._event_ids:  # a poll may have read it from Metadata already
                    self._remember(decision.event)
                if key is not None:
                    self._records[key] = IdempotencyRecord(
                        key, str(decision.event.metadata_json.get(REQUEST_HASH, "")), decision.event, decision.despues
                    )

        try:
            # A batch refused whole (a tab re-created, rows deleted under us) is sent again write by
            # write; one refused alone wrote nothing: with the layout read again, the service decides
            # again on a fresh read.
            self.writes.write(write, current, applied)
        except LayoutChanged as exc:
            raise StaleWrite(tag) from exc

    def _written(self, event_ids: list[str]) -> bool:
        """Whether the events of a write whose answer was lost are in Metadata (all of them: Google
        applies a batch whole); a lost answer must not become a second write."""
        tab = self.layout.tab(METADATA)
        with self._lock:
            column = column_letter((self.layout.columns(METADATA) or {"id": 0})["id"])
            metadata_from = max(1, self._metadata_rows)
        (ids,) = self.client.looked_up([tab.a1(f"{column}{metadata_from}:{column}")])
        found = {row[0] for row in ids if row} & set(event_ids)
        if found and found != set(event_ids):
            raise SourceUnavailable(f"Metadata holds only part of a batch ({len(found)} of {len(event_ids)} events)")
        return bool(found)

    def _row_cells(self, row: int, spool: Spool) -> list[dict[str, Any]]:
        """updateCells requests writing ``spool``'s tracking cells into ``row`` (never the tag, never
        an office column: one request per run of adjacent tracking columns)."""
        operaciones = self.layout.tab(OPERACIONES)
        columns = {n: c for n, c in (self.layout.columns(OPERACIONES) or {}).items() if n != TAG_HEADER}
        cells = spool_to_row(spool)
        return [
            {
                "updateCells": {
                    "start": {"sheetId": operaciones.sheet_id, "rowIndex": row, "columnIndex": first},
                    "rows": [{"values": [string_cell(cells[n]) for n in names]}],
                    "fields": "userEnteredValue",
                }
            }
            for first, names in _runs(sorted(columns.items(), key=lambda kv: kv[1]))
        ]

    def _event_cells(self, event: Event) -> list[dict[str, Any]]:
        """The Metadata row of ``event``, each cell under its header."""
        event_columns = self.layout.columns(METADATA) or {}
        event_row: list[dict[str, Any]] = [{} for _ in range(max(event_columns.values()) + 1)]
        for name, text in zip(EVENT_FIELDS, event_to_row(event), strict=True):
            event_row[event_columns[name]] = string_cell(text)
        return event_row

    def events(self, tag: str) -> list[Event]:
        """The spool's events, oldest first, as of the last read plus this process's commits."""
        self._ensure_loaded()
        with self._lock:
            return [e for e in self._events if e.tag_spool == tag]

    def all_events(self) -> Iterator[Event]:
        """The whole log as of the last read plus this process's commits, from memory (no quota spent)."""
        self._ensure_loaded()
        with self._lock:
            events = list(self._events)  # a copy: a poll may append while the caller reads
        return iter(events)

    def idempotency(self, key: str) -> IdempotencyRecord | None:
        """The command that carried ``key``; after a restart it is rebuilt from its event in Metadata."""
        self._ensure_loaded()
        with self._lock:
            record = self._records.get(key)
            if record is not None:
                return record
            event = self._by_key.get(key)
            if event is None:
                return None
            # After a restart the row as it is now stands for the spool the command left.
            spool = self._spools.get(event.tag_spool) or Spool(event.tag_spool)
        return IdempotencyRecord(key, str(event.metadata_json.get(REQUEST_HASH, "")), event, spool)

    def set_pin_hash(self, worker_id: int, pin_hash: str | None) -> bool:
        """Write the worker's ``pin_hash`` cell: one fresh read of Trabajadores finds the worker's row
        (the office sorts this tab too), one ``updateCells`` writes the hash as a literal string.

        A sort landing between the read and the write would put the hash on another worker's row:
        harmless, because a PIN hash is bound to its worker's id (``auth.hash_pin``), so it opens
        nobody's session there (that worker is asked for a new PIN).
        """
        (values,) = self.layout.read(lambda: [self.layout.tab(TRABAJADORES).a1()])
        with self._lock:
            self._read_trabajadores(values)
            columns = self.layout.columns(TRABAJADORES) or {}
            worker = self._workers.get(worker_id)
        if worker is None:
            return False
        row = max(i for i, cells in enumerate(values[1:], start=1) if _worker_id(cells, columns) == worker_id)
        tab = self.layout.tab(TRABAJADORES)
        write = {
            "updateCells": {
                "start": {"sheetId": tab.sheet_id, "rowIndex": row, "columnIndex": columns[PIN_HASH_FIELD]},
                "rows": [{"values": [string_cell(pin_hash)]}],
                "fields": "userEnteredValue",
            }
        }
        # Writing the same cell again is harmless: a lost answer is simply sent again.
        self.client.batch_update(lambda: {"requests": [write]}, applied=lambda: False)
        with self._lock:
            self._workers[worker_id] = dataclasses.replace(worker, pin_hash=pin_hash)
        return True

    def check(self) -> list[str]:
        """Problems that stop the service (see ``admin.check``)."""
        return admin.check(self.layout)


def _worker_id(cells: Sequence[Any], columns: dict[str, int]) -> int | None:
    """The id on a Trabajadores row, read as ``_read_trabajadores`` reads it (its last row of an id wins)."""
    try:
        return worker_from_row({name: cell(cells, column) for name, column in columns.items()}).id
    except ValueError:
        return None


def _runs(columns: list[tuple[str, int]]) -> list[tuple[int, list[str]]]:
    """[(name, column)] sorted by column -> [(first column, [names])] of adjacent columns."""
    runs: list[tuple[int, list[str]]] = []
    for name, column in columns:
        if runs and runs[-1][0] + len(runs[-1][1]) == column:
            runs[-1][1].append(name)
        else:
            runs.append((column, [name]))
    return runs
