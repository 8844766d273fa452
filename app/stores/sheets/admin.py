"""``flask sheets-check`` and ``flask sheets-init``: what the spreadsheet lacks, and adding it."""

from __future__ import annotations

import secrets
from typing import Any

from ...domain.model import MOTIVOS_POR_DEFECTO
from ..rows import TAG_HEADER, fold, motivo_to_row
from .client import SheetsLayoutError
from .layout import HEADERS, MOTIVOS, Layout, header_cells, header_problems, string_cell


def header_rows(layout: Layout) -> dict[str, list[str]]:
    """Row 1 of every tab present, in one read (after re-reading the layout)."""
    tabs = layout.refresh()
    present = [logical for logical in HEADERS if logical in tabs]
    values = layout.read(lambda: [tabs[t].a1("1:1") for t in present]) if present else []
    return {t: (v[0] if v else []) for t, v in zip(present, values, strict=True)}


def check(layout: Layout) -> list[str]:
    """Problems that stop the service, one line each: a spreadsheet it cannot open, missing tabs,
    missing or repeated headers."""
    try:
        headers = header_rows(layout)
    except SheetsLayoutError as exc:
        return [exc.detail]
    problems = []
    for logical in HEADERS:
        if logical not in headers:
            problems.append(f"{logical}: missing tab")
        else:
            problems.extend(header_problems(logical, headers[logical]))
    return problems


def init(layout: Layout) -> list[str]:
    """Add what is missing: tabs with their headers (Motivos also with the default reasons), tracking
    headers at the end of Operaciones' row 1.

    Returns what it did; repeated headers and a missing TAG_SPOOL are the office's to fix, and so is an
    existing Motivos tab (its reasons are the office's).
    """
    headers = header_rows(layout)
    requests: list[dict[str, Any]] = []
    done = []
    for logical, required in HEADERS.items():
        if logical not in headers:
            sheet_id = secrets.randbelow(2**31 - 2) + 1  # chosen here so the same batch can fill row 1
            grid = {"rowCount": 1000, "columnCount": max(26, len(required))}
            properties = {"sheetId": sheet_id, "title": logical, "gridProperties": grid}
            requests.append({"addSheet": {"properties": properties}})
            requests.append(header_cells(sheet_id, 0, list(required)))
            if logical == MOTIVOS:
                requests.append(_default_motivos(sheet_id))
                done.append(f"{logical}: tab created with its headers and the reasons {_codes()}")
            else:
                done.append(f"{logical}: tab created with its headers")
            continue
        present = {fold(c) for c in headers[logical]}
        missing = [n for n in required if fold(n) not in present and n != TAG_HEADER]
        if not missing:
            continue
        tab, start = layout.tab(logical), len(headers[logical])
        if start + len(missing) > tab.column_count:
            extra = start + len(missing) - tab.column_count
            requests.append({"appendDimension": {"sheetId": tab.sheet_id, "dimension": "COLUMNS", "length": extra}})
        requests.append(header_cells(tab.sheet_id, start, missing))
        done.append(f"{logical}: added at the end of row 1: {', '.join(missing)}")
    if requests:
        layout.client.batch_update(lambda: {"requests": requests})
        layout.refresh()
    return done


def _codes() -> str:
    return ", ".join(m.codigo for m in MOTIVOS_POR_DEFECTO)


def _default_motivos(sheet_id: int) -> dict[str, Any]:
    """An updateCells request writing the default reasons under the header of a new Motivos tab."""
    return {
        "updateCells": {
            "start": {"sheetId": sheet_id, "rowIndex": 1, "columnIndex": 0},
            "rows": [{"values": [string_cell(v) for v in motivo_to_row(m)]} for m in MOTIVOS_POR_DEFECTO],
            "fields": "userEnteredValue",
        }
    }
