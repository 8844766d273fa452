"""The Google Sheets store (SPEC §7): one batchGet per poll; per command one row read, one batchUpdate."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import requests
import tenacity
from gspread.exceptions import APIError
from gspread.utils import rowcol_to_a1

from ..domain.errors import SourceUnavailable
from ..domain.machine import IDEMPOTENCY_KEY, REQUEST_HASH, Decision
from ..domain.model import EVENT_FIELDS, TRABAJADOR_FIELDS, Event, Spool, Worker
from .base import DuplicateIdempotencyKey, IdempotencyRecord, Snapshot, StaleWrite, Store
from .rows import (
    OPERACIONES_HEADERS,
    TAG_HEADER,
    HeaderProblem,
    event_from_row,
    event_to_row,
    fold,
    locate,
    spool_from_row,
    spool_to_row,
    worker_from_row,
)
from .sheets_transport import QuotaExhausted, QuotaWindow, open_client

log = logging.getLogger(__name__)

T = TypeVar("T")

OPERACIONES, TRABAJADORES, METADATA = "Operaciones", "Trabajadores", "Metadata"
#: The headers the service needs in each tab; every other column is the office's and is never written.
HEADERS: dict[str, tuple[str, ...]] = {
    OPERACIONES: OPERACIONES_HEADERS,
    TRABAJADORES: TRABAJADOR_FIELDS,
    METADATA: EVENT_FIELDS,
}
# How long a fresh read of a row may precede the write that relies on it.
FRESH_S = 5.0


class SheetsLayoutError(SourceUnavailable):
    """The spreadsheet lacks a tab or a header the service needs (run ``flask sheets-init``)."""


class _UnknownOutcome(Exception):
    """A write was sent but no answer came back: it may or may not have been applied."""


@dataclasses.dataclass(frozen=True, slots=True)
class Tab:
    """Where one logical table lives: its actual title and sheet id."""

    title: str
    sheet_id: int
    column_count: int

    def a1(self, cells: str = "") -> str:
        """An A1 range on this tab (the whole tab when ``cells`` is empty)."""
        return quote_title(self.title) + (f"!{cells}" if cells else "")


def _transient(exc: BaseException) -> bool:
    """Worth retrying: quota (429), Google's 5xx, timeouts and dropped connections."""
    if isinstance(exc, APIError):
        return exc.code in (408, 429) or exc.code >= 500
    return isinstance(exc, (requests.Timeout, requests.ConnectionError, _UnknownOutcome))


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _cell(row: Sequence[Any], column: int) -> str:
    return str(row[column]).strip() if column < len(row) else ""


def column_letter(index: int) -> str:
    """0-based column index -> A1 letters (0 -> A)."""
    return rowcol_to_a1(1, index + 1)[:-1]


def quote_title(title: str) -> str:
    """A tab title as it must appear in an A1 range."""
    return "'" + title.replace("'", "''") + "'"


def find_tab(titles: Sequence[str], wanted: str) -> str | None:
    """The actual title of the tab ``wanted`` names (compared like headers), or None."""
    return next((t for t in titles if fold(t) == fold(wanted)), None)


def header_problems(logical: str, header: Sequence[str]) -> list[str]:
    """One line per missing or repeated header the service needs in this tab."""
    try:
        locate(header, HEADERS[logical])
    except HeaderProblem as exc:
        lines = [f"{logical}: missing header {name}" for name in exc.missing]
        for name in exc.duplicated:
            columnas = ", ".join(column_letter(i) for i, c in enumerate(header) if fold(c) == fold(name))
            lines.append(f"{logical}: header {name} is repeated (columns {columnas})")
        return lines
    return []


def _string_cell(value: Any) -> dict[str, Any]:
    """A literal cell (RAW): never parsed, so ``=IMPORTXML(...)`` stays text; None clears the cell."""
    if value is None or value == "":
        return {}
    return {"userEnteredValue": {"stringValue": str(value)}}


class _RowBatch:
    """Row reads (and maybe a poll riding along) that go out in one values:batchGet, and its answer."""

    def __init__(self) -> None:
        self.rows: set[int] = set()
        self.poll: tuple[Callable[[], list[str]], int] | None = None  # the poll's ranges and Metadata start
        self.pollers = 0
        self.done = False
        self.header: list[str] = []
        self.values: dict[int, list[str]] = {}
        self.poll_values: list[list[list[str]]] = []
        self.error: Exception | None = None


class SheetsStore(Store):
    """A Google Sheet edited by the office, read and written through gspread with bounded retries."""

    name = "sheets"

    @classmethod
    def from_config(cls, config: Any) -> SheetsStore:
        """The store ``ZEUES_SPREADSHEET_ID`` and the ``SHEETS_*`` settings describe (no call is made yet)."""
        return cls(
            config["SPREADSHEET_ID"],
            emulator_host=config.get("SHEETS_EMULATOR_HOST") or None,
            credentials_file=config.get("GOOGLE_APPLICATION_CREDENTIALS") or None,
            timeout=float(config["SHEETS_TIMEOUT"]),
            attempts=int(config["SHEETS_ATTEMPTS"]),
            backoff=float(config["SHEETS_BACKOFF"]),
            max_backoff=float(config["SHEETS_MAX_BACKOFF"]),
            reads_per_minute=int(config["SHEETS_READS_PER_MINUTE"]),
            writes_per_minute=int(config["SHEETS_WRITES_PER_MINUTE"]),
        )

    def __init__(
        self,
        spreadsheet_id: str,
        *,
        emulator_host: str | None = None,
        credentials_file: str | None = None,
        timeout: float = 10.0,
        attempts: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        reads_per_minute: int = 60,
        writes_per_minute: int = 60,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spreadsheet_id = spreadsheet_id
        self.emulator_host = emulator_host
        self.credentials_file = credentials_file
        self.timeout = (min(3.05, timeout), timeout)
        self.attempts, self.backoff, self.max_backoff = attempts, backoff, max_backoff
        self._sleep = sleep or tenacity.nap.sleep
        self._quota = {
            "read": QuotaWindow(reads_per_minute, self._sleep, clock),
            "write": QuotaWindow(writes_per_minute, self._sleep, clock),
        }
        # A command waits for a slot at most this long before answering 503 (polls wait longer).
        self.quota_wait_s = max(2.0, timeout)
        self._lock = threading.RLock()
        self._client: Any = None
        self._pid: int | None = None
        self._tabs: dict[str, Tab] = {}
        self._columns: dict[str, dict[str, int]] = {}  # tab -> header -> 0-based column, as last read
        self._spools: dict[str, Spool] = {}  # in row order
        self._rows: dict[str, int] = {}  # tag -> 0-based row, as of the last read
        self._workers: dict[int, Worker] | None = None
        self._events: list[Event] = []
        self._event_ids: set[str] = set()
        self._metadata_rows = 0  # Metadata rows read so far, header included
        self._by_key: dict[str, Event] = {}  # idempotency key -> the event that carried it
        self._records: dict[str, IdempotencyRecord] = {}
        self._row_reads = threading.Condition()  # row reads waiting for, or in, a batchGet
        self._open_batch = _RowBatch()
        self._reading = False
        # tag -> (row, version, when) of its last fresh read: the row commit() writes to
        self._fresh: dict[str, tuple[int, str | None, float]] = {}

    # -- connection and layout ---------------------------------------------------------------
    def _http(self) -> Any:
        """gspread's HTTP client, created lazily in this process (never in gunicorn's master)."""
        if self._client is None or self._pid != os.getpid():
            self._client = open_client(
                emulator_host=self.emulator_host, credentials_file=self.credentials_file, timeout=self.timeout
            ).http_client
            self._pid = os.getpid()
            self._tabs = {}
        return self._client

    def refresh_layout(self) -> dict[str, Tab]:
        """Re-read tab titles and sheet ids (at start, and after a tab was renamed or added)."""
        http = self._http()
        metadata = self._call("metadata", lambda: http.fetch_sheet_metadata(self.spreadsheet_id))
        by_title = {s["properties"]["title"]: s["properties"] for s in metadata.get("sheets", [])}
        tabs = {}
        for logical in HEADERS:
            title = find_tab(list(by_title), logical)
            if title is not None:
                props = by_title[title]
                columns = props.get("gridProperties", {}).get("columnCount", 26)
                tabs[logical] = Tab(title, props["sheetId"], columns)
        with self._lock:
            self._tabs = tabs
            return dict(tabs)

    def _tab(self, logical: str) -> Tab:
        self._http()
        tab = self._tabs.get(logical) or self.refresh_layout().get(logical)
        if tab is None:
            raise SheetsLayoutError(f"La hoja no tiene la pestaña {logical}; ejecute `flask sheets-init`.")
        return tab

    # -- calls with bounded retries ----------------------------------------------------------
    def _wait(self, state: tenacity.RetryCallState) -> float:
        hint = _retry_after(state.outcome.exception() if state.outcome else None)
        if hint is not None:
            return hint  # Google says when; sooner only burns quota
        return tenacity.wait_random_exponential(multiplier=self.backoff, max=self.max_backoff)(state)

    def _take(self, kind: str, poll: bool = False) -> None:
        """A quota slot for one request; a poll may wait a whole window, a command only its budget."""
        window = self._quota[kind]
        window.take(max_wait=window.WINDOW_S + 5 if poll else self.quota_wait_s, poll=poll)

    def _call(
        self,
        what: str,
        fn: Callable[[], T],
        before_retry: Callable[[], bool] | None = None,
        kind: str = "read",
        poll: bool = False,
    ) -> T | None:
        """Run one API call with jittered exponential backoff; 503 SOURCE_UNAVAILABLE once it gives up.

        ``before_retry`` runs before re-sending a call whose answer was lost; when it finds that call
        was applied after all, nothing is re-sent and None is returned.
        """
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(_transient),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            perdido = False  # a previous attempt was sent and its answer lost
            for attempt in retrying:
                with attempt:
                    if perdido and before_retry is not None and before_retry():
                        return None
                    self._take(kind, poll)
                    try:
                        return fn()
                    except _UnknownOutcome:
                        perdido = True
                        raise
        except SourceUnavailable:
            raise
        except QuotaExhausted as exc:
            # A command needs a read and a write: come back when both quotas have room, or the retry
            # would spend its read and meet a full write minute (and sleep a minute more).
            espera = max(exc.wait, *(window.wait_s() for window in self._quota.values()))
            raise SourceUnavailable(
                "Se alcanzó la cuota de Google Sheets; no se escribió nada. Reintente en unos segundos.",
                retry_after=max(1, math.ceil(espera)),
            ) from exc
        except Exception as exc:
            if _transient(exc):
                log.warning("Google Sheets %s failed after %d attempts: %s", what, self.attempts, exc)
                hint = _retry_after(exc)
                raise SourceUnavailable(
                    "Google Sheets no responde; no se escribió nada. Reintente en unos segundos.",
                    retry_after=max(1, math.ceil(hint if hint is not None else self.max_backoff)),
                ) from exc
            if isinstance(exc, APIError) and exc.code in (403, 404):
                raise SheetsLayoutError(
                    f"No se puede abrir la hoja {self.spreadsheet_id} ({exc.code}): revise ZEUES_SPREADSHEET_ID "
                    "y que la cuenta de servicio tenga acceso."
                ) from exc
            raise
        return None  # unreachable: tenacity either returns or raises

    def _batch_get(self, ranges_of: Callable[[], list[str]], poll: bool = False) -> list[list[list[str]]]:
        """One values:batchGet of the ranges ``ranges_of()`` names; each as Google returns it (trailing
        empties trimmed). A tab renamed by the office answers 400: re-read the layout and ask again."""
        http = self._http()
        params = {"valueRenderOption": "FORMATTED_VALUE"}
        try:
            ranges = ranges_of()
            answer = self._call(
                "read", lambda: http.values_batch_get(self.spreadsheet_id, ranges, params=params), poll=poll
            )
        except APIError as exc:
            if exc.code != 400:
                raise
            self.refresh_layout()
            ranges = ranges_of()
            answer = self._call(
                "read", lambda: http.values_batch_get(self.spreadsheet_id, ranges, params=params), poll=poll
            )
        return [vr.get("values", []) for vr in (answer or {}).get("valueRanges", [])]

    # -- parsing ----------------------------------------------------------------------------
    def _locate(self, logical: str, header: Sequence[str]) -> dict[str, int]:
        """Map the tab's headers (staff may have moved or renamed columns since the last read)."""
        try:
            columns = locate(header, HEADERS[logical])
        except HeaderProblem as exc:
            raise SheetsLayoutError(
                f"Encabezados de {logical}: {exc}. Ejecute `flask sheets-check` / `flask sheets-init`."
            ) from exc
        self._columns[logical] = columns
        return columns

    @staticmethod
    def _spool_from(row: Sequence[Any], columns: dict[str, int]) -> Spool:
        return spool_from_row({name.lower(): _cell(row, column) for name, column in columns.items()})

    def _read_operaciones(self, values: list[list[str]]) -> None:
        columns = self._locate(OPERACIONES, values[0] if values else [])
        spools: dict[str, Spool] = {}
        rows: dict[str, int] = {}
        for index, row in enumerate(values[1:], start=1):
            tag = _cell(row, columns[TAG_HEADER])
            if tag and tag not in spools:  # a repeated tag is the office's to fix; the first row counts
                spools[tag] = self._spool_from(row, columns)
                rows[tag] = index
        self._spools, self._rows = spools, rows

    def _read_trabajadores(self, values: list[list[str]]) -> None:
        columns = self._locate(TRABAJADORES, values[0] if values else [])
        workers = {}
        for row in values[1:]:
            try:
                worker = worker_from_row({name: _cell(row, column) for name, column in columns.items()})
            except ValueError:
                continue  # a blank or note row, not a worker
            workers[worker.id] = worker
        self._workers = workers

    def _read_metadata(self, header: list[str], rows: list[list[str]], first_row: int) -> None:
        """Add the events in ``rows`` (sheet rows from ``first_row``, 1-based) not seen before."""
        columns = self._locate(METADATA, header)
        for offset, row in enumerate(rows):
            event_id = _cell(row, columns["id"])
            if first_row + offset == 1 or not event_id or event_id in self._event_ids:
                continue
            self._remember(event_from_row([_cell(row, columns[name]) for name in EVENT_FIELDS]))
        self._metadata_rows = max(self._metadata_rows, first_row + len(rows) - 1)

    def _remember(self, event: Event) -> None:
        self._events.append(event)
        self._event_ids.add(event.id)
        key = event.metadata_json.get(IDEMPOTENCY_KEY)
        if isinstance(key, str):
            self._by_key.setdefault(key, event)

    # -- the port ---------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Every spool, worker and new event in one values:batchGet (one read per poll)."""
        with self._lock:
            desde = self._metadata_rows
            ancho = max(self._columns.get(METADATA, {"": len(EVENT_FIELDS) - 1}).values())

        def ranges() -> list[str]:
            metadata = self._tab(METADATA)
            # Metadata only grows: read its header and the rows from the last one already known on
            # (that row always exists, so the range never falls off the grid).
            eventos = metadata.a1(f"A{desde}:{column_letter(ancho)}") if desde else metadata.a1()
            return [self._tab(OPERACIONES).a1(), self._tab(TRABAJADORES).a1(), metadata.a1("1:1"), eventos]

        valores, desde = self._poll(ranges, desde)
        with self._lock:
            self._read_operaciones(valores[0])
            self._read_trabajadores(valores[1])
            self._read_metadata(valores[2][0] if valores[2] else [], valores[3], desde or 1)
            return Snapshot(spools=tuple(self._spools.values()), workers=tuple((self._workers or {}).values()))

    def spool(self, tag: str) -> Spool | None:
        """Read the spool's row fresh (header row + that row, one request); relocate it if rows moved."""
        with self._lock:
            row = self._rows.get(tag)
        if row is not None:
            header, valores = self._read_row(row)
            with self._lock:
                columns = self._locate(OPERACIONES, header)
                if _cell(valores, columns[TAG_HEADER]) == tag:
                    spool = self._spools[tag] = self._spool_from(valores, columns)
                    self._fresh[tag] = (row, spool.version, time.monotonic())
                    return spool
        # Staff sorted, inserted or deleted rows since the last read (or the tag is new): find it by tag.
        (valores,) = self._batch_get(lambda: [self._tab(OPERACIONES).a1()])
        with self._lock:
            self._read_operaciones(valores)
            spool = self._spools.get(tag)
            if spool is not None:
                self._fresh[tag] = (self._rows[tag], spool.version, time.monotonic())
            return spool

    def _read_row(self, row: int) -> tuple[list[str], list[str]]:
        """Row 1 and row ``row`` of Operaciones, fresh. Rows asked for while another read is in flight
        go out together in the next request: concurrent commands share reads, none costs more than one."""
        with self._row_reads:
            batch = self._open_batch
            batch.rows.add(row)
            self._row_reads.notify_all()
            while not batch.done and self._reading:
                self._row_reads.wait()
            leader = not batch.done
            if leader:
                self._reading, self._open_batch = True, _RowBatch()
                self._row_reads.notify_all()
        if leader:
            self._send_batch(batch)
        if batch.error is not None:
            raise batch.error
        return batch.header, batch.values[row]

    def _send_batch(self, batch: _RowBatch) -> None:
        """Send one batch as its leader and wake everyone waiting for it (with its answer or error)."""
        try:
            filas = sorted(batch.rows)
            if batch.poll is not None:
                # The poll reads all of Operaciones: the rows come with it at no extra cost.
                batch.poll_values = self._batch_get(batch.poll[0], poll=not filas)
                operaciones = batch.poll_values[0]
                batch.header = operaciones[0] if operaciones else []
                batch.values = {f: (operaciones[f] if f < len(operaciones) else []) for f in filas}
            else:
                valores = self._batch_get(
                    lambda: [self._tab(OPERACIONES).a1(r) for r in ("1:1", *(f"{f + 1}:{f + 1}" for f in filas))]
                )
                batch.header = valores[0][0] if valores[0] else []
                batch.values = {f: (v[0] if v else []) for f, v in zip(filas, valores[1:], strict=True)}
        except Exception as exc:
            batch.error = exc
        finally:
            with self._row_reads:
                batch.done, self._reading = True, False
                self._row_reads.notify_all()

    def _poll(self, ranges_of: Callable[[], list[str]], desde: int) -> tuple[list[list[list[str]]], int]:
        """The poll's values:batchGet, and the Metadata row it read from. While commands are reading
        rows, the poll rides in their next request instead: under load polls cost no request of their
        own, and the reads are left to commands."""
        with self._row_reads:
            batch: _RowBatch | None = None
            if self._reading:
                batch = self._open_batch
                if batch.poll is None:
                    batch.poll = (ranges_of, desde)
                batch.pollers += 1
                self._row_reads.notify_all()
                while not batch.done and self._reading:
                    self._row_reads.wait()
                if not batch.done and not batch.rows:
                    # No command joined: read alone, at a poll's priority, without holding up commands.
                    batch.pollers -= 1
                    if not batch.pollers:
                        batch.poll = None
                    batch = None
                elif not batch.done:
                    self._reading, self._open_batch = True, _RowBatch()
                    self._row_reads.notify_all()
                    leader = True
                else:
                    leader = False
        if batch is None:
            return self._batch_get(ranges_of, poll=True), desde
        if leader:
            self._send_batch(batch)
        if batch.error is not None:
            raise batch.error
        return batch.poll_values, batch.poll[1]  # type: ignore[index]

    def workers(self) -> dict[int, Worker]:
        """The workers of the last snapshot (read once if there is none yet)."""
        if self._workers is None:
            self.snapshot()
        return dict(self._workers or {})

    def commit(self, decision: Decision) -> None:
        """One spreadsheets:batchUpdate: the row's tracking cells + the event appended to Metadata.

        The row is the one the fresh read just confirmed holds this tag and version; if the caller
        decided on other data, it is confirmed again first. Google applies the batch atomically.
        """
        tag, key = decision.antes.tag_spool, decision.idempotency_key
        if key is not None and self.idempotency(key) is not None:
            raise DuplicateIdempotencyKey(key)
        with self._lock:
            visto = self._fresh.pop(tag, None)
        # Trust the row only from the read that just informed this decision; anything older is
        # confirmed again (the office may have sorted since).
        if visto is None or visto[1] != decision.antes.version or time.monotonic() - visto[2] > FRESH_S:
            actual = self.spool(tag)
            if actual is None or actual.version != decision.antes.version:
                raise StaleWrite(tag)
            with self._lock:
                visto = self._fresh.pop(tag)
        body = self._write_body(visto[0], decision)
        try:
            self._call(
                "write", lambda: self._send(body), before_retry=lambda: self._written(decision.event.id), kind="write"
            )
        except APIError as exc:
            if exc.code != 400:
                raise
            # The batch was refused whole (a tab re-created, rows deleted under us): nothing was
            # written. Re-read the layout and let the service decide again on a fresh read.
            self.refresh_layout()
            raise StaleWrite(tag) from exc
        with self._lock:
            self._spools[tag] = decision.despues
            self._remember(decision.event)
            if key is not None:
                self._records[key] = IdempotencyRecord(
                    key, str(decision.event.metadata_json.get(REQUEST_HASH, "")), decision.event, decision.despues
                )

    def _send(self, body: dict[str, Any]) -> Any:
        try:
            return self._http().batch_update(self.spreadsheet_id, body)
        except requests.ReadTimeout as exc:
            raise _UnknownOutcome("the write was sent but its answer timed out") from exc
        except APIError as exc:
            if exc.code >= 500:
                raise _UnknownOutcome(f"Google answered {exc.code} to the write") from exc
            raise

    def _written(self, event_id: str) -> bool:
        """Whether an event id is already in Metadata: a lost answer must not become a second write.

        Called inside the write's retry loop, so a failure here is retried (and bounded) with it.
        """
        tab = self._tab(METADATA)
        with self._lock:
            column = column_letter(self._columns[METADATA]["id"])
            desde = max(1, self._metadata_rows)
        self._take("read")
        answer = self._http().values_batch_get(self.spreadsheet_id, [tab.a1(f"{column}{desde}:{column}")])
        ids = answer["valueRanges"][0].get("values", [])
        return any(row and row[0] == event_id for row in ids)

    def _write_body(self, row: int, decision: Decision) -> dict[str, Any]:
        operaciones, metadata = self._tab(OPERACIONES), self._tab(METADATA)
        if METADATA not in self._columns:
            self.snapshot()  # the Metadata header, read once, places the event's cells
        with self._lock:
            columnas = {n: c for n, c in self._columns[OPERACIONES].items() if n != TAG_HEADER}
            columnas_evento = dict(self._columns[METADATA])
        valores = spool_to_row(decision.despues)
        requests_: list[dict[str, Any]] = [
            # One updateCells per run of adjacent tracking columns: office columns in between are never sent.
            {
                "updateCells": {
                    "start": {"sheetId": operaciones.sheet_id, "rowIndex": row, "columnIndex": inicio},
                    "rows": [{"values": [_string_cell(valores[n]) for n in nombres]}],
                    "fields": "userEnteredValue",
                }
            }
            for inicio, nombres in _runs(sorted(columnas.items(), key=lambda kv: kv[1]))
        ]
        fila: list[dict[str, Any]] = [{} for _ in range(max(columnas_evento.values()) + 1)]
        for name, texto in zip(EVENT_FIELDS, event_to_row(decision.event), strict=True):
            fila[columnas_evento[name]] = _string_cell(texto)
        requests_.append(
            {"appendCells": {"sheetId": metadata.sheet_id, "rows": [{"values": fila}], "fields": "userEnteredValue"}}
        )
        return {"requests": requests_}

    def events(self, tag: str) -> list[Event]:
        """The spool's events, oldest first, as of the last read plus this process's commits."""
        if self._workers is None:
            self.snapshot()
        with self._lock:
            return [e for e in self._events if e.tag_spool == tag]

    def idempotency(self, key: str) -> IdempotencyRecord | None:
        """The first answer for ``key``; after a restart it is rebuilt from the event in Metadata."""
        if self._workers is None:
            self.snapshot()
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

    # -- sheets-check / sheets-init ------------------------------------------------------------
    def _header_rows(self) -> dict[str, list[str]]:
        """Row 1 of every tab present, in one read (after re-reading the layout)."""
        tabs = self.refresh_layout()
        presentes = [logical for logical in HEADERS if logical in tabs]
        valores = self._batch_get(lambda: [tabs[t].a1("1:1") for t in presentes]) if presentes else []
        return {t: (v[0] if v else []) for t, v in zip(presentes, valores, strict=True)}

    def check(self) -> list[str]:
        """Problems that stop the service: a spreadsheet it cannot open, missing tabs, missing or
        repeated headers (one line each)."""
        try:
            headers = self._header_rows()
        except SheetsLayoutError as exc:
            return [exc.detail]
        problems = []
        for logical in HEADERS:
            if logical not in headers:
                problems.append(f"{logical}: missing tab")
            else:
                problems.extend(header_problems(logical, headers[logical]))
        return problems

    def init(self) -> list[str]:
        """Add what is missing: tabs with their headers, tracking headers at the end of Operaciones' row 1.

        Returns what it did; repeated headers and a missing TAG_SPOOL are the office's to fix.
        """
        headers = self._header_rows()
        requests_: list[dict[str, Any]] = []
        hecho = []
        for logical, required in HEADERS.items():
            if logical not in headers:
                sheet_id = secrets.randbelow(2**31 - 2) + 1  # chosen here so the same batch can fill row 1
                grid = {"rowCount": 1000, "columnCount": max(26, len(required))}
                requests_.append(
                    {"addSheet": {"properties": {"sheetId": sheet_id, "title": logical, "gridProperties": grid}}}
                )
                requests_.append(_header_cells(sheet_id, 0, list(required)))
                hecho.append(f"{logical}: tab created with its headers")
                continue
            presentes = {fold(c) for c in headers[logical]}
            faltan = [n for n in required if fold(n) not in presentes and n != TAG_HEADER]
            if not faltan:
                continue
            tab, inicio = self._tabs[logical], len(headers[logical])
            if inicio + len(faltan) > tab.column_count:
                extra = inicio + len(faltan) - tab.column_count
                requests_.append(
                    {"appendDimension": {"sheetId": tab.sheet_id, "dimension": "COLUMNS", "length": extra}}
                )
            requests_.append(_header_cells(tab.sheet_id, inicio, faltan))
            hecho.append(f"{logical}: added at the end of row 1: {', '.join(faltan)}")
        if requests_:
            http = self._http()
            self._call("init", lambda: http.batch_update(self.spreadsheet_id, {"requests": requests_}), kind="write")
            self.refresh_layout()
        return hecho


def _header_cells(sheet_id: int, column: int, names: list[str]) -> dict[str, Any]:
    return {
        "updateCells": {
            "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": column},
            "rows": [{"values": [_string_cell(n) for n in names]}],
            "fields": "userEnteredValue",
        }
    }


def _runs(columns: list[tuple[str, int]]) -> list[tuple[int, list[str]]]:
    """[(name, column)] sorted by column -> [(first column, [names])] of adjacent columns."""
    runs: list[tuple[int, list[str]]] = []
    for name, column in columns:
        if runs and runs[-1][0] + len(runs[-1][1]) == column:
            runs[-1][1].append(name)
        else:
            runs.append((column, [name]))
    return runs
