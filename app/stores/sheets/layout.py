"""Where things are in the office's spreadsheet: the tab of each logical table and, in each tab, the
column of each header the service needs (found by name: staff move, rename and add columns)."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from gspread.utils import rowcol_to_a1

from ...domain.model import EVENT_FIELDS, MOTIVO_FIELDS, PIN_HASH_FIELD, TRABAJADOR_FIELDS
from ..rows import OPERACIONES_HEADERS, HeaderProblem, fold, locate
from .client import RequestRefused, SheetsClient, SheetsLayoutError

OPERACIONES, TRABAJADORES, METADATA, MOTIVOS = "Operaciones", "Trabajadores", "Metadata", "Motivos"
#: The headers the service needs in each tab; every other column is the office's and is never written.
HEADERS: dict[str, tuple[str, ...]] = {
    OPERACIONES: OPERACIONES_HEADERS,
    TRABAJADORES: (*TRABAJADOR_FIELDS, PIN_HASH_FIELD),  # pin_hash: written by the service (SPEC §11)
    METADATA: EVENT_FIELDS,
    MOTIVOS: MOTIVO_FIELDS,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Tab:
    """Where one logical table lives: its actual title and sheet id."""

    title: str
    sheet_id: int
    column_count: int

    def a1(self, cells: str = "") -> str:
        """An A1 range on this tab (the whole tab when ``cells`` is empty)."""
        return quote_title(self.title) + (f"!{cells}" if cells else "")


class LayoutChanged(Exception):
    """Google refused a request naming a tab or range that is gone: the layout was read again."""


def column_letter(index: int) -> str:
    """0-based column index -> A1 letters (0 -> A)."""
    return rowcol_to_a1(1, index + 1)[:-1]


def quote_title(title: str) -> str:
    """A tab title as it must appear in an A1 range."""
    return "'" + title.replace("'", "''") + "'"


def find_tab(titles: Sequence[str], wanted: str) -> str | None:
    """The actual title of the tab ``wanted`` names (compared like headers), or None."""
    return next((t for t in titles if fold(t) == fold(wanted)), None)


def cell(row: Sequence[Any], column: int) -> str:
    """The text of one cell of a row as Google returns it (trailing empty cells are trimmed)."""
    return str(row[column]).strip() if column < len(row) else ""


def string_cell(value: Any) -> dict[str, Any]:
    """A literal cell (RAW): never parsed, so ``=IMPORTXML(...)`` stays text; None clears the cell."""
    if value is None or value == "":
        return {}
    return {"userEnteredValue": {"stringValue": str(value)}}


def header_cells(sheet_id: int, column: int, names: Sequence[str]) -> dict[str, Any]:
    """An updateCells request writing ``names`` into row 1 from ``column`` on."""
    return {
        "updateCells": {
            "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": column},
            "rows": [{"values": [string_cell(n) for n in names]}],
            "fields": "userEnteredValue",
        }
    }


def header_problems(logical: str, header: Sequence[str]) -> list[str]:
    """One line per missing or repeated header the service needs in this tab."""
    try:
        locate(header, HEADERS[logical])
    except HeaderProblem as exc:
        lines = [f"{logical}: missing header {name}" for name in exc.missing]
        for name in exc.duplicated:
            columns = ", ".join(column_letter(i) for i, c in enumerate(header) if fold(c) == fold(name))
            lines.append(f"{logical}: header {name} is repeated (columns {columns})")
        return lines
    return []


class Layout:
    """The tabs and columns of the spreadsheet as last read; re-read when Google says they moved."""

    def __init__(self, client: SheetsClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._tabs: dict[str, Tab] = {}
        self._columns: dict[str, dict[str, int]] = {}  # tab -> header -> 0-based column, as last read

    def refresh(self) -> dict[str, Tab]:
        """Re-read tab titles and sheet ids (at start, and after a tab was renamed or added)."""
        metadata = self.client.metadata()
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

    def tab(self, logical: str) -> Tab:
        """Where ``logical`` lives; SheetsLayoutError when the spreadsheet has no such tab."""
        tab = self._tabs.get(logical) or self.refresh().get(logical)
        if tab is None:
            raise SheetsLayoutError(f"The spreadsheet has no {logical} tab: run `flask sheets-init`.")
        return tab

    def locate(self, logical: str, header: Sequence[str]) -> dict[str, int]:
        """Map the tab's row 1 to columns (staff may have moved or renamed them since the last read)."""
        try:
            columns = locate(header, HEADERS[logical])
        except HeaderProblem as exc:
            raise SheetsLayoutError(
                f"{logical} headers: {exc}. Run `flask sheets-check` / `flask sheets-init`."
            ) from exc
        with self._lock:
            self._columns[logical] = columns
        return columns

    def columns(self, logical: str) -> dict[str, int] | None:
        """The columns of ``logical`` as last located, or None before the first read of its header."""
        with self._lock:
            return self._columns.get(logical)

    @contextlib.contextmanager
    def refreshed_on_refusal(self) -> Iterator[None]:
        """A 400 from Google means a range named a tab that is gone (renamed, re-created): read the
        layout again and say so with LayoutChanged; what to do next is the caller's call."""
        try:
            yield
        except RequestRefused as exc:
            self.refresh()
            raise LayoutChanged(str(exc)) from exc

    def read(self, ranges_of: Callable[[], list[str]], poll: bool = False) -> list[list[list[str]]]:
        """One values:batchGet of the ranges ``ranges_of()`` names (worked out once the request has its
        quota slot), asked again once if the layout changed under it (the ranges are worked out again
        from the new layout)."""
        if not self._tabs:
            self.refresh()  # now, not from inside the read's own quota slot
        try:
            with self.refreshed_on_refusal():
                return self.client.batch_get(ranges_of, poll=poll)
        except LayoutChanged:
            return self.client.batch_get(ranges_of, poll=poll)
