"""A local stand-in for the Google Sheets API v4, driven by the real gspread client in tests."""

from __future__ import annotations

import collections
import copy
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class HangUp(ConnectionAbortedError):
    """Raised while answering: the connection is closed with no answer (reset, when ``reset``)."""

    def __init__(self, reset: bool) -> None:
        super().__init__("the stand-in hangs up")
        self.reset = reset


def _hang_up(reset: bool) -> Iterable[bytes]:
    """A response body that hangs up before its first byte (werkzeug sends nothing before it)."""
    raise HangUp(reset)
    yield b""  # pragma: no cover - makes this a generator, so werkzeug raises while sending


class _QuietHandler(WSGIRequestHandler):
    """Keeps the test output free of one access-log line per API call, and hangs up when told to."""

    _reset = False

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        """A HangUp: close this connection without an answer (werkzeug would wait for the next request)."""
        if isinstance(error, HangUp):
            self.close_connection = True
            self._reset = error.reset

    def finish(self) -> None:
        super().finish()
        if self._reset:
            # SO_LINGER 0: closing sends RST instead of FIN, so the client reads "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


class Formula(str):
    """A cell Google would evaluate; a literal string is a plain ``str``."""


class ApiError(Exception):
    """An error answered in Google's JSON error shape."""

    def __init__(self, code: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after


class Sheet:
    """One tab: a grid of cells (str, Formula or "") with Google's grid size limits."""

    def __init__(self, sheet_id: int, title: str, index: int, rows: int = 1000, cols: int = 26) -> None:
        self.sheet_id, self.title, self.index = sheet_id, title, index
        self.row_count, self.column_count = rows, cols
        self.cells: list[list[str]] = []

    def properties(self) -> dict[str, Any]:
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": self.index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": self.row_count, "columnCount": self.column_count},
        }

    def get(self, row: int, col: int) -> str:
        if row < len(self.cells) and col < len(self.cells[row]):
            return self.cells[row][col]
        return ""

    def set(self, row: int, col: int, value: str) -> None:
        while len(self.cells) <= row:
            self.cells.append([])
        line = self.cells[row]
        while len(line) <= col:
            line.append("")
        line[col] = value

    def last_row_with_data(self) -> int:
        """Index after the last row holding any value (where appendCells writes)."""
        for index in range(len(self.cells) - 1, -1, -1):
            if any(self.cells[index]):
                return index + 1
        return 0


_CELL = re.compile(r"^([A-Za-z]*)(\d*)$")


def _column_index(letters: str) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index - 1


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _split_range(a1: str) -> tuple[str, str]:
    """'My tab'!A1:B2 -> (My tab, A1:B2); a bare title means the whole tab."""
    if a1.startswith("'"):
        end = 1
        title = ""
        while end < len(a1):
            if a1[end] == "'" and a1[end + 1 : end + 2] == "'":
                title += "'"
                end += 2
            elif a1[end] == "'":
                break
            else:
                title += a1[end]
                end += 1
        rest = a1[end + 1 :]
        return title, rest[1:] if rest.startswith("!") else rest
    title, _, cells = a1.partition("!")
    return title, cells


def _quote_title(title: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_]+", title):
        return title
    return "'" + title.replace("'", "''") + "'"


class Spreadsheet:
    """A spreadsheet: tabs by title, in order."""

    def __init__(self, spreadsheet_id: str, title: str) -> None:
        self.spreadsheet_id, self.title = spreadsheet_id, title
        self.sheets: list[Sheet] = []
        self._next_sheet_id = 0

    def add_sheet(self, title: str, rows: int = 1000, cols: int = 26, sheet_id: int | None = None) -> Sheet:
        if any(s.title.lower() == title.lower() for s in self.sheets):
            raise ApiError(400, f'Invalid requests[0].addSheet: A sheet with the name "{title}" already exists.')
        if sheet_id is None:
            self._next_sheet_id += 1
            sheet_id = self._next_sheet_id * 1000003 % 2147483647
        sheet = Sheet(sheet_id, title, len(self.sheets), rows, cols)
        self.sheets.append(sheet)
        return sheet

    def by_title(self, title: str) -> Sheet:
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        raise ApiError(400, f"Unable to parse range: {title}")

    def by_id(self, sheet_id: int) -> Sheet:
        for sheet in self.sheets:
            if sheet.sheet_id == sheet_id:
                return sheet
        raise ApiError(400, f"No grid with id: {sheet_id}")

    def resolve(self, a1: str) -> tuple[Sheet, int, int, int, int]:
        """A1 range -> (sheet, first row, end row, first col, end col), half-open, clipped to the grid."""
        title, cells = _split_range(a1)
        sheet = self.by_title(title)
        if not cells:
            return sheet, 0, sheet.row_count, 0, sheet.column_count
        start, _, end = cells.partition(":")
        end = end or start
        first, last = _CELL.match(start), _CELL.match(end)
        if not first or not last or not (start and end):
            raise ApiError(400, f"Unable to parse range: {a1}")
        c0 = _column_index(first.group(1)) if first.group(1) else 0
        r0 = int(first.group(2)) - 1 if first.group(2) else 0
        c1 = _column_index(last.group(1)) + 1 if last.group(1) else sheet.column_count
        r1 = int(last.group(2)) if last.group(2) else sheet.row_count
        if r0 >= sheet.row_count or c0 >= sheet.column_count:
            raise ApiError(400, f"Range ({a1}) exceeds grid limits.")
        return sheet, r0, min(r1, sheet.row_count), c0, min(c1, sheet.column_count)


def _rendered(value: str, render: str) -> str:
    if isinstance(value, Formula):
        # The stand-in evaluates nothing; Google would fetch the URL and show its result or #N/A.
        return str(value) if render == "FORMULA" else "#N/A"
    return str(value)


def _trimmed(rows: list[list[str]]) -> list[list[str]]:
    """Google drops trailing empty cells of every row and trailing empty rows."""
    out = []
    for row in rows:
        while row and row[-1] == "":
            row = row[:-1]
        out.append(row)
    while out and not out[-1]:
        out.pop()
    return out


def _cell_value(cell: dict[str, Any]) -> str:
    entered = cell.get("userEnteredValue")
    if entered is None:
        return ""
    if "stringValue" in entered:
        return str(entered["stringValue"])
    if "formulaValue" in entered:
        return Formula(entered["formulaValue"])
    if "numberValue" in entered:
        number = entered["numberValue"]
        return str(int(number)) if float(number).is_integer() else str(number)
    if "boolValue" in entered:
        return "TRUE" if entered["boolValue"] else "FALSE"
    raise ApiError(400, "Invalid value at 'requests.userEnteredValue'")


class SheetsEmulator:
    """The Sheets API v4 endpoints gspread calls here, plus a Python API for tests and benches."""

    def __init__(self) -> None:
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.lock = threading.RLock()
        self.counts: collections.Counter[str] = collections.Counter()
        self.log: list[tuple[str, str]] = []  # (kind, endpoint) of every request, faulted ones too
        self.latency = 0.0
        self._faults: collections.deque[tuple[str | None, int, float | None]] = collections.deque()
        self._storm: tuple[int, float | None] | None = None
        self._hooks: list[tuple[str, Callable[[SheetsEmulator], None]]] = []
        self._stalls: collections.deque[tuple[float, threading.Event]] = collections.deque()
        self._hang_ups: collections.deque[bool] = collections.deque()  # reset?, for the next writes
        self._quota: dict[str, int] = {}
        self._quota_log: dict[str, collections.deque[float]] = {
            "read": collections.deque(),
            "write": collections.deque(),
        }
        self.clock: Callable[[], float] = time.monotonic
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- serving ---------------------------------------------------------------------------
    def start(self) -> str:
        """Serve on 127.0.0.1 on a free port; returns ``host:port`` for SHEETS_EMULATOR_HOST."""
        self._server = make_server("127.0.0.1", 0, self.wsgi, threaded=True, request_handler=_QuietHandler)
        # A short poll interval lets stop() return at once instead of after half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="sheets-emulator", daemon=True
        )
        self._thread.start()
        return f"127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        """Release stalled answers and stop serving."""
        while self._stalls:
            self._stalls.popleft()[1].set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def host(self) -> str:
        """``host:port`` of the running server."""
        return f"127.0.0.1:{self._server.server_port}"

    # -- seeding and office edits -----------------------------------------------------------
    def create(
        self, spreadsheet_id: str, tabs: dict[str, Iterable[Iterable[str]]], title: str = "ZEUES"
    ) -> Spreadsheet:
        """Create a spreadsheet whose tabs hold ``tabs`` (rows of strings, header first)."""
        with self.lock:
            book = Spreadsheet(spreadsheet_id, title)
            for name, rows in tabs.items():
                rows = [list(r) for r in rows]
                width = max([26, *(len(r) for r in rows)])
                sheet = book.add_sheet(name, rows=max(1000, len(rows) + 1), cols=width)
                sheet.cells = [[str(v) if not isinstance(v, Formula) else v for v in r] for r in rows]
            self.spreadsheets[spreadsheet_id] = book
            return book

    def rows(self, spreadsheet_id: str, tab: str) -> list[list[str]]:
        """A tab's values as the office sees them (trailing empties trimmed)."""
        with self.lock:
            sheet = self.spreadsheets[spreadsheet_id].by_title(tab)
            return _trimmed([list(r) for r in sheet.cells])

    def records(self, spreadsheet_id: str, tab: str) -> list[dict[str, str]]:
        """A tab's data rows as dicts keyed by the header row."""
        rows = self.rows(spreadsheet_id, tab)
        if not rows:
            return []
        header = rows[0]
        return [{h: (r[i] if i < len(r) else "") for i, h in enumerate(header) if h} for r in rows[1:]]

    def formulas(self, spreadsheet_id: str) -> list[str]:
        """Every cell Google would evaluate, anywhere in the spreadsheet."""
        with self.lock:
            return [
                c
                for s in self.spreadsheets[spreadsheet_id].sheets
                for r in s.cells
                for c in r
                if isinstance(c, Formula)
            ]

    def sort(self, spreadsheet_id: str, tab: str, header: str, reverse: bool = False) -> None:
        """Office: sort the data rows (header stays) by one column, as the Sort range menu does."""
        with self.lock:
            sheet = self.spreadsheets[spreadsheet_id].by_title(tab)
            col = sheet.cells[0].index(header)
            body = [r for r in sheet.cells[1:] if any(r)]
            body.sort(key=lambda r: r[col] if col < len(r) else "", reverse=reverse)
            sheet.cells[1:] = body

    def insert_rows(self, spreadsheet_id: str, tab: str, at: int, rows: Iterable[Iterable[str]]) -> None:
        """Office: insert rows before 0-based row ``at`` (1 = just under the header)."""
        with self.lock:
            sheet = self.spreadsheets[spreadsheet_id].by_title(tab)
            new = [list(r) for r in rows]
            while len(sheet.cells) < at:
                sheet.cells.append([])
            sheet.cells[at:at] = new
            sheet.row_count += len(new)

    def delete_row(self, spreadsheet_id: str, tab: str, at: int) -> None:
        """Office: delete 0-based row ``at``."""
        with self.lock:
            sheet = self.spreadsheets[spreadsheet_id].by_title(tab)
            del sheet.cells[at]
            sheet.row_count -= 1

    def insert_column(self, spreadsheet_id: str, tab: str, at: int, header: str, fill: str = "") -> None:
        """Office: insert a column before 0-based column ``at`` with ``header``."""
        with self.lock:
            sheet = self.spreadsheets[spreadsheet_id].by_title(tab)
            for index, row in enumerate(sheet.cells):
                while len(row) < at:
                    row.append("")
                row.insert(at, header if index == 0 else (fill if any(row) else ""))
            sheet.column_count += 1

    def move_column(self, spreadsheet_id: str, tab: str, header: str, to: int) -> None:
        """Office: drag the column headed ``header`` to 0-based position ``to``."""
        with self.lock:
            sheet = self.spreadsheets[spreadsheet_id].by_title(tab)
            frm = sheet.cells[0].index(header)
            width = max(len(r) for r in sheet.cells)
            for row in sheet.cells:
                row.extend([""] * (width - len(row)))
                row.insert(to, row.pop(frm))

    def rename_header(self, spreadsheet_id: str, tab: str, old: str, new: str) -> None:
        """Office: retype a header cell."""
        with self.lock:
            sheet = self.spreadsheets[spreadsheet_id].by_title(tab)
            sheet.cells[0][sheet.cells[0].index(old)] = new

    def rename_tab(self, spreadsheet_id: str, old: str, new: str) -> None:
        """Office: rename a tab (its sheet id stays)."""
        with self.lock:
            self.spreadsheets[spreadsheet_id].by_title(old).title = new

    def set_cell(self, spreadsheet_id: str, tab: str, row: int, col: int, value: str) -> None:
        """Office: type into 0-based (row, col)."""
        with self.lock:
            self.spreadsheets[spreadsheet_id].by_title(tab).set(row, col, value)

    # -- faults, hooks, quota ---------------------------------------------------------------
    def fail(
        self, status: int = 429, times: int = 1, kind: str | None = None, retry_after: float | None = None
    ) -> None:
        """Answer the next ``times`` requests (of ``kind`` read/write, or any) with ``status``."""
        with self.lock:
            for _ in range(times):
                self._faults.append((kind, status, retry_after))

    def storm(self, status: int = 429, retry_after: float | None = None) -> None:
        """Answer every request with ``status`` until :meth:`calm`."""
        with self.lock:
            self._storm = (status, retry_after)

    def calm(self) -> None:
        """End a storm and drop pending faults."""
        with self.lock:
            self._storm = None
            self._faults.clear()

    def stall_after_write(self, seconds: float) -> threading.Event:
        """Apply the next write, then hold its answer ``seconds`` (longer than the client's timeout)."""
        release = threading.Event()
        with self.lock:
            self._stalls.append((seconds, release))
        return release

    def hang_up_after_write(self, reset: bool = False) -> None:
        """Apply the next write, then close its connection without answering: a plain close (FIN), or
        with ``reset`` an RST (SO_LINGER 0) — the answer is lost after Google applied the change."""
        with self.lock:
            self._hang_ups.append(reset)

    def on_next(self, kind: str, hook: Callable[[SheetsEmulator], None]) -> None:
        """Run ``hook(self)`` when the next ``kind`` (read/write) request arrives, before serving it."""
        with self.lock:
            self._hooks.append((kind, hook))

    def set_quota(self, reads_per_minute: int, writes_per_minute: int) -> None:
        """Enforce Google's per-user quotas: requests over them answer 429 (no Retry-After, like Google)."""
        with self.lock:
            self._quota = {"read": reads_per_minute, "write": writes_per_minute}

    def reset_counts(self) -> None:
        """Zero the request counters and log."""
        with self.lock:
            self.counts.clear()
            self.log.clear()

    # -- HTTP -------------------------------------------------------------------------------
    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The WSGI entry point."""
        request = Request(environ)
        try:
            status, body, stall = self._serve(request)
            response = Response(json.dumps(body), status=status, mimetype="application/json")
            if stall is not None:
                stall[1].wait(stall[0])
            if request.method == "POST":
                with self.lock:
                    hang_up = self._hang_ups.popleft() if self._hang_ups else None
                if hang_up is not None:
                    start_response("200 OK", [])
                    return _hang_up(hang_up)
        except ApiError as err:
            response = Response(
                json.dumps(
                    {
                        "error": {
                            "code": err.code,
                            "message": err.message,
                            "status": _STATUS_NAMES.get(err.code, "UNKNOWN"),
                        }
                    }
                ),
                status=err.code,
                mimetype="application/json",
            )
            if err.retry_after is not None:
                response.headers["Retry-After"] = str(err.retry_after)
        return response(environ, start_response)

    def _serve(self, request: Request) -> tuple[int, Any, tuple[float, threading.Event] | None]:
        path = unquote(request.environ.get("RAW_URI", request.path).split("?", 1)[0])
        match = re.match(r"^/v4/spreadsheets/([^/:]+)(.*)$", path)
        if not match:
            raise ApiError(404, f"Unknown endpoint {request.method} {path}")
        spreadsheet_id, rest = match.groups()
        kind = "read" if request.method == "GET" else "write"
        endpoint = {
            ("GET", ""): "spreadsheets.get",
            ("GET", "/values:batchGet"): "values.batchGet",
            ("POST", ":batchUpdate"): "spreadsheets.batchUpdate",
        }.get((request.method, rest))
        if endpoint is None and request.method == "GET" and rest.startswith("/values/"):
            endpoint = "values.get"
        if endpoint is None:
            raise ApiError(404, f"The stand-in does not implement {request.method} {rest}")
        with self.lock:
            self.log.append((kind, endpoint))
            self.counts[kind] += 1
            hooks = [h for h in self._hooks if h[0] == kind][:1]
            for hook in hooks:
                self._hooks.remove(hook)
        for _, hook in hooks:
            hook(self)
        if self.latency:
            time.sleep(self.latency)  # the injected per-call latency of a distant API
        with self.lock:
            self._inject_faults(kind)
            book = self.spreadsheets.get(spreadsheet_id)
            if book is None:
                raise ApiError(404, "Requested entity was not found.")
            if endpoint == "spreadsheets.get":
                return 200, self._metadata(book), None
            if endpoint == "values.batchGet":
                ranges = request.args.getlist("ranges")
                render = request.args.get("valueRenderOption", "FORMATTED_VALUE")
                return (
                    200,
                    {"spreadsheetId": spreadsheet_id, "valueRanges": [self._values(book, r, render) for r in ranges]},
                    None,
                )
            if endpoint == "values.get":
                render = request.args.get("valueRenderOption", "FORMATTED_VALUE")
                return 200, self._values(book, rest[len("/values/") :], render), None
            body = request.get_json(force=True, silent=True) or {}
            replies = self._batch_update(book, body.get("requests") or [])
            stall = self._stalls.popleft() if self._stalls else None
            return 200, {"spreadsheetId": spreadsheet_id, "replies": replies}, stall

    def _inject_faults(self, kind: str) -> None:
        if self._storm is not None:
            self.counts["faulted"] += 1
            raise ApiError(self._storm[0], "Injected storm.", self._storm[1])
        for fault in self._faults:
            if fault[0] in (None, kind):
                self._faults.remove(fault)
                self.counts["faulted"] += 1
                raise ApiError(fault[1], "Injected fault.", fault[2])
        limit = self._quota.get(kind)
        if limit:
            window = self._quota_log[kind]
            now = self.clock()
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= limit:
                self.counts["quota_exceeded"] += 1
                raise ApiError(
                    429,
                    f"Quota exceeded for quota metric '{kind.title()} requests' and limit "
                    f"'{kind.title()} requests per minute per user'.",
                )
            window.append(now)

    @staticmethod
    def _metadata(book: Spreadsheet) -> dict[str, Any]:
        return {
            "spreadsheetId": book.spreadsheet_id,
            "properties": {"title": book.title, "locale": "es_ES", "timeZone": "Etc/GMT"},
            "sheets": [{"properties": s.properties()} for s in book.sheets],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit",
        }

    @staticmethod
    def _values(book: Spreadsheet, a1: str, render: str) -> dict[str, Any]:
        sheet, r0, r1, c0, c1 = book.resolve(a1)
        rows = [
            [_rendered(sheet.get(r, c), render) for c in range(c0, c1)] for r in range(r0, min(r1, len(sheet.cells)))
        ]
        answer: dict[str, Any] = {
            "range": f"{_quote_title(sheet.title)}!{_column_letters(c0)}{r0 + 1}:{_column_letters(c1 - 1)}{r1}",
            "majorDimension": "ROWS",
        }
        values = _trimmed(rows)
        if values:
            answer["values"] = values
        return answer

    def _batch_update(self, book: Spreadsheet, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Google applies a batch atomically: validate and apply on a copy, keep it only if all succeed.
        work = copy.deepcopy(book)
        replies = []
        for number, request in enumerate(requests):
            if len(request) != 1:
                raise ApiError(400, f"Invalid requests[{number}]: exactly one kind of request expected")
            ((name, args),) = request.items()
            handler = getattr(self, f"_req_{name}", None)
            if handler is None:
                raise ApiError(400, f"Invalid requests[{number}]: the stand-in does not implement {name}")
            try:
                replies.append(handler(work, args))
            except ApiError as err:
                raise ApiError(400, f"Invalid requests[{number}].{name}: {err.message}") from err
        self.spreadsheets[book.spreadsheet_id] = work
        return replies

    @staticmethod
    def _write_rows(sheet: Sheet, r0: int, c0: int, rows: list[dict[str, Any]], fields: str) -> None:
        if fields not in ("*", "userEnteredValue"):
            raise ApiError(400, f"the stand-in only writes userEnteredValue, not {fields!r}")
        for dr, row in enumerate(rows):
            for dc, cell in enumerate(row.get("values") or []):
                if r0 + dr >= sheet.row_count or c0 + dc >= sheet.column_count:
                    raise ApiError(
                        400, f"Range ({sheet.title}!{_column_letters(c0 + dc)}{r0 + dr + 1}) exceeds grid limits."
                    )
                sheet.set(r0 + dr, c0 + dc, _cell_value(cell))

    def _req_updateCells(self, book: Spreadsheet, args: dict[str, Any]) -> dict[str, Any]:
        if "start" in args:
            start = args["start"]
            sheet = book.by_id(start.get("sheetId", 0))
            r0, c0 = start.get("rowIndex", 0), start.get("columnIndex", 0)
        elif "range" in args:
            grid = args["range"]
            sheet = book.by_id(grid.get("sheetId", 0))
            r0, c0 = grid.get("startRowIndex", 0), grid.get("startColumnIndex", 0)
        else:
            raise ApiError(400, "start or range is required")
        if not args.get("fields"):
            raise ApiError(400, "fields is required")
        self._write_rows(sheet, r0, c0, args.get("rows") or [], args["fields"])
        return {}

    def _req_appendCells(self, book: Spreadsheet, args: dict[str, Any]) -> dict[str, Any]:
        sheet = book.by_id(args.get("sheetId", 0))
        rows = args.get("rows") or []
        at = sheet.last_row_with_data()
        # appendCells grows the grid as needed, unlike updateCells.
        sheet.row_count = max(sheet.row_count, at + len(rows))
        if not args.get("fields"):
            raise ApiError(400, "fields is required")
        self._write_rows(sheet, at, 0, rows, args["fields"])
        return {}

    @staticmethod
    def _req_addSheet(book: Spreadsheet, args: dict[str, Any]) -> dict[str, Any]:
        props = args.get("properties") or {}
        grid = props.get("gridProperties") or {}
        sheet = book.add_sheet(
            props["title"], grid.get("rowCount", 1000), grid.get("columnCount", 26), props.get("sheetId")
        )
        return {"addSheet": {"properties": sheet.properties()}}

    @staticmethod
    def _req_appendDimension(book: Spreadsheet, args: dict[str, Any]) -> dict[str, Any]:
        sheet = book.by_id(args["sheetId"])
        if args["dimension"] == "ROWS":
            sheet.row_count += int(args["length"])
        else:
            sheet.column_count += int(args["length"])
        return {}


def stand_in(tabs: dict[str, list[list[str]]] | None = None, spreadsheet_id: str = "hoja-de-prueba") -> SheetsEmulator:
    """A started stand-in holding one spreadsheet (for benches and quick scripts)."""
    emulator = SheetsEmulator()
    emulator.create(spreadsheet_id, tabs or {})
    emulator.start()
    return emulator
