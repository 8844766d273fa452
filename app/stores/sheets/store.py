"""The Google Sheets store (SPEC §7): one batchGet per poll; per command one row read, one batchUpdate."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ...domain.machine import IDEMPOTENCY_KEY, REQUEST_HASH, Decision
from ...domain.model import EVENT_FIELDS, Event, Motivo, Spool, Worker
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

# How long a fresh read of a row may precede the write that relies on it.
FRESH_S = 5.0


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
        self._lock = threading.RLock()
        self._loaded = False
        self._spools: dict[str, Spool] = {}  # in row order
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

    # -- parsing ----------------------------------------------------------------------------
    def _spool_from(self, row: Sequence[Any], columns: dict[str, int]) -> Spool:
        return spool_from_row({name.lower(): cell(row, column) for name, column in columns.items()})

    def _read_operaciones(self, values: list[list[str]]) -> None:
        columns = self.layout.locate(OPERACIONES, values[0] if values else [])
        spools: dict[str, Spool] = {}
        rows: dict[str, int] = {}
        for index, row in enumerate(values[1:], start=1):
            tag = cell(row, columns[TAG_HEADER])
            if tag and tag not in spools:  # a repeated tag is the office's to fix; the first row counts
                spools[tag] = self._spool_from(row, columns)
                rows[tag] = index
        self._spools, self._rows = spools, rows

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
        """Add the events in ``rows`` (sheet rows from ``first_row``, 1-based) not seen before."""
        columns = self.layout.locate(METADATA, header)
        for offset, row in enumerate(rows):
            event_id = cell(row, columns["id"])
            if first_row + offset == 1 or not event_id or event_id in self._event_ids:
                continue
            self._remember(event_from_row([cell(row, columns[name]) for name in EVENT_FIELDS]))
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

    # -- the port ---------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Every spool, worker and new event in one values:batchGet (one read per poll)."""
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
            self._read_operaciones(values[0])
            self._read_trabajadores(values[1])
            self._read_metadata(values[2][0] if values[2] else [], values[3], metadata_from or 1)
            self._read_motivos(values[4])
            self._loaded = True
            return Snapshot(spools=tuple(self._spools.values()), workers=tuple(self._workers.values()))

    def spool(self, tag: str) -> Spool | None:
        """Read the spool's row fresh (header row + that row, one request); relocate it if rows moved."""
        with self._lock:
            row = self._rows.get(tag)
        if row is not None:
            header, values = self.reads.row(row)
            with self._lock:
                columns = self.layout.locate(OPERACIONES, header)
                if cell(values, columns[TAG_HEADER]) == tag:
                    spool = self._spools[tag] = self._spool_from(values, columns)
                    self._fresh[tag] = (row, spool.version, time.monotonic())
                    return spool
        # Staff sorted, inserted or deleted rows since the last read (or the tag is new): find it by tag.
        (values,) = self.layout.read(lambda: [self.layout.tab(OPERACIONES).a1()])
        with self._lock:
            self._read_operaciones(values)
            spool = self._spools.get(tag)
            if spool is not None:
                self._fresh[tag] = (self._rows[tag], spool.version, time.monotonic())
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
        """One spreadsheets:batchUpdate: the row's tracking cells + the event appended to Metadata.

        The row is the one the fresh read just confirmed holds this tag and version; if the caller
        decided on other data, it is confirmed again first. Google applies the batch atomically.
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
        body = self._write_body(seen[0], decision)
        try:
            # A batch refused whole (a tab re-created, rows deleted under us) wrote nothing: with the
            # layout read again, the service decides again on a fresh read.
            with self.layout.refreshed_on_refusal():
                self.client.batch_update(body, applied=lambda: self._written(decision.event.id))
        except LayoutChanged as exc:
            raise StaleWrite(tag) from exc
        with self._lock:
            self._spools[tag] = decision.despues
            self._remember(decision.event)
            if key is not None:
                self._records[key] = IdempotencyRecord(
                    key, str(decision.event.metadata_json.get(REQUEST_HASH, "")), decision.event, decision.despues
                )

    def _written(self, event_id: str) -> bool:
        """Whether an event id is already in Metadata: a lost answer must not become a second write."""
        tab = self.layout.tab(METADATA)
        with self._lock:
            column = column_letter((self.layout.columns(METADATA) or {"id": 0})["id"])
            metadata_from = max(1, self._metadata_rows)
        (ids,) = self.client.looked_up([tab.a1(f"{column}{metadata_from}:{column}")])
        return any(row and row[0] == event_id for row in ids)

    def _write_body(self, row: int, decision: Decision) -> dict[str, Any]:
        operaciones, metadata = self.layout.tab(OPERACIONES), self.layout.tab(METADATA)
        if self.layout.columns(METADATA) is None:
            self.snapshot()  # the Metadata header, read once, places the event's cells
        columns = {n: c for n, c in (self.layout.columns(OPERACIONES) or {}).items() if n != TAG_HEADER}
        event_columns = self.layout.columns(METADATA) or {}
        cells = spool_to_row(decision.despues)
        requests: list[dict[str, Any]] = [
            # One updateCells per run of adjacent tracking columns: office columns in between are never sent.
            {
                "updateCells": {
                    "start": {"sheetId": operaciones.sheet_id, "rowIndex": row, "columnIndex": first},
                    "rows": [{"values": [string_cell(cells[n]) for n in names]}],
                    "fields": "userEnteredValue",
                }
            }
            for first, names in _runs(sorted(columns.items(), key=lambda kv: kv[1]))
        ]
        event_row: list[dict[str, Any]] = [{} for _ in range(max(event_columns.values()) + 1)]
        for name, text in zip(EVENT_FIELDS, event_to_row(decision.event), strict=True):
            event_row[event_columns[name]] = string_cell(text)
        append = {"sheetId": metadata.sheet_id, "rows": [{"values": event_row}], "fields": "userEnteredValue"}
        requests.append({"appendCells": append})
        return {"requests": requests}

    def events(self, tag: str) -> list[Event]:
        """The spool's events, oldest first, as of the last read plus this process's commits."""
        self._ensure_loaded()
        with self._lock:
            return [e for e in self._events if e.tag_spool == tag]

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

    def check(self) -> list[str]:
        """Problems that stop the service (see ``admin.check``)."""
        return admin.check(self.layout)


def _runs(columns: list[tuple[str, int]]) -> list[tuple[int, list[str]]]:
    """[(name, column)] sorted by column -> [(first column, [names])] of adjacent columns."""
    runs: list[tuple[int, list[str]]] = []
    for name, column in columns:
        if runs and runs[-1][0] + len(runs[-1][1]) == column:
            runs[-1][1].append(name)
        else:
            runs.append((column, [name]))
    return runs
