"""Sheet rows as text: header folding and the text ⇄ domain conversions shared by the Google Sheets
store and the CSV import (both speak in the sheet's own headers and cell strings)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from typing import Any

from ..domain.machine import iso_utc
from ..domain.model import (
    EVENT_FIELDS,
    TRACKING_FIELDS,
    WORKER_ID_FIELDS,
    Event,
    Motivo,
    Resultado,
    Rol,
    Spool,
    Worker,
    parse_roles,
    rol_de,
    sin_acentos,
)

TAG_HEADER = "TAG_SPOOL"
OPERACIONES_HEADERS: tuple[str, ...] = (TAG_HEADER, *TRACKING_FIELDS)


def fold(header: str) -> str:
    """Header identity per SPEC §3: ignore case, accents, and spaces vs underscores."""
    return re.sub(r"[\s_]+", "_", sin_acentos(str(header)).strip()).lower()


class HeaderProblem(ValueError):
    """Missing or duplicated headers: names the columns to fix."""

    def __init__(self, missing: Sequence[str], duplicated: Sequence[str]) -> None:
        self.missing, self.duplicated = list(missing), list(duplicated)
        partes = []
        if self.missing:
            partes.append("missing " + ", ".join(self.missing))
        if self.duplicated:
            partes.append("duplicated " + ", ".join(self.duplicated))
        super().__init__("; ".join(partes))


def locate(header_row: Sequence[str], wanted: Iterable[str]) -> dict[str, int]:
    """Zero-based position of each ``wanted`` header in ``header_row``; raise HeaderProblem if any
    is missing or appears twice (writing to the wrong one of two would be silent data loss)."""
    posiciones: dict[str, list[int]] = {}
    for i, celda in enumerate(header_row):
        posiciones.setdefault(fold(celda), []).append(i)
    wanted = list(wanted)
    missing = [w for w in wanted if fold(w) not in posiciones]
    duplicated = [w for w in wanted if len(posiciones.get(fold(w), [])) > 1]
    if missing or duplicated:
        raise HeaderProblem(missing, duplicated)
    return {w: posiciones[fold(w)][0] for w in wanted}


# How spreadsheet programs and people write a boolean cell, in English and Spanish.
_VERDADERO = frozenset({"TRUE", "VERDADERO", "1", "SI", "YES", "X"})
_FALSO = frozenset({"FALSE", "FALSO", "0", "NO"})


def _clave(text: Any) -> str:
    """A cell as a keyword: no accents, no surrounding spaces, upper case."""
    return sin_acentos(str(text)).strip().upper()


def _int(text: str, default: int | None = None) -> int | None:
    text = str(text).strip()
    if not text:
        return default
    return int(float(text)) if re.fullmatch(r"-?\d+(\.0+)?", text) else default


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def spool_from_row(row: Mapping[str, Any]) -> Spool:
    """A Spool from a row keyed by field name (``tag_spool`` + tracking fields), cells as text."""
    datos: dict[str, Any] = {"tag_spool": str(row.get("tag_spool", "")).strip()}
    for name in TRACKING_FIELDS:
        valor = row.get(name, "")
        if name in WORKER_ID_FIELDS:
            datos[name] = _int(valor)
        elif name == "reparacion_ciclo":
            datos[name] = _int(valor, 0)
        elif name == "resultado_metrologia":
            texto = (_text(valor) or "").upper()
            datos[name] = Resultado(texto) if texto in Resultado.__members__ else None
        else:
            datos[name] = _text(valor)
    return Spool(**datos)


def spool_to_row(spool: Spool) -> dict[str, str]:
    """The tracking cells of ``spool`` as strings ("" for empty), keyed by field name."""
    return {name: "" if value is None else str(value) for name, value in spool.tracking().items()}


def worker_from_row(row: Mapping[str, Any]) -> Worker:
    """A Worker from a Trabajadores row (``roles`` comma separated, ``activo`` TRUE/FALSE)."""
    worker_id = _int(row.get("id", ""))
    if worker_id is None:
        raise ValueError(f"worker id {row.get('id')!r} is not an integer")
    return Worker(
        id=worker_id,
        nombre=str(row.get("nombre", "")).strip(),
        apellido=str(row.get("apellido", "")).strip(),
        roles=parse_roles(str(row.get("roles", "")).split(",")),
        activo=_clave(row.get("activo", "")) in _VERDADERO,
        pin_hash=_text(row.get("pin_hash")),
    )


def motivo_from_row(row: Mapping[str, Any]) -> Motivo:
    """A Motivo from a Motivos row; ``activo`` empty counts as TRUE (a reason the office just typed in is
    meant to be used), FALSE switches it off."""
    codigo = _clave(row.get("codigo", ""))
    if not codigo:
        raise ValueError("a Motivos row needs its codigo")
    activo = _clave(row.get("activo", ""))
    return Motivo(codigo, str(row.get("descripcion", "")).strip() or codigo, activo not in _FALSO)


def motivo_to_row(motivo: Motivo) -> list[str]:
    """A Motivos row in column order."""
    return [motivo.codigo, motivo.descripcion, "TRUE" if motivo.activo else "FALSE"]


def event_to_row(event: Event) -> list[str]:
    """A Metadata row in column order, every cell a string."""
    datos = event.as_dict()
    datos["metadata_json"] = json.dumps(datos["metadata_json"], ensure_ascii=False, sort_keys=True)
    return [str(datos[name]) for name in EVENT_FIELDS]


def event_from_row(cells: Sequence[str]) -> Event:
    """An Event from a Metadata row in column order."""
    # Google trims trailing empty cells: pad the row back to its full width.
    datos = dict(zip(EVENT_FIELDS, [*cells, *[""] * len(EVENT_FIELDS)][: len(EVENT_FIELDS)], strict=True))
    datos["worker_id"] = _int(datos["worker_id"], 0)
    try:
        datos["metadata_json"] = json.loads(datos["metadata_json"] or "{}")
    except ValueError:
        datos["metadata_json"] = {"texto": datos["metadata_json"]}
    return Event(**datos)


class CellError(ValueError):
    """A cell the CSV import cannot understand; the message says what to write instead."""


_WHOLE = re.compile(r"\d+(\.0+)?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
# Day first, as Spanish-locale spreadsheet programs write dates: 3/11/2026 is the 3rd of November.
_DAY_FIRST = re.compile(r"(\d{1,2})([/-])(\d{1,2})\2(\d{4})")
_DAY_FIRST_TIME = re.compile(r"(\d{1,2})([/-])(\d{1,2})\2(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")
_TAG_MAX = 64  # what the API accepts (SPEC §5): a longer tag could never be scanned or commanded


def tag_cell(text: str) -> str:
    """A TAG_SPOOL cell: 1–64 printable characters, surrounding spaces dropped."""
    tag = text.strip()
    if not tag:
        raise CellError("is empty: every row needs its tag (delete the row if it is not a spool)")
    if len(tag) > _TAG_MAX or not tag.isprintable():
        raise CellError(f"is not a tag: write 1 to {_TAG_MAX} printable characters")
    return tag


def whole_cell(text: str) -> int | None:
    """A cell holding a whole number ≥ 0 ("7", or "7.0" as some programs save it); None when empty."""
    text = text.strip()
    if not text:
        return None
    if not _WHOLE.fullmatch(text):
        raise CellError("is not a whole number")
    return int(float(text))


def ciclo_cell(text: str) -> int:
    """reparacion_ciclo: completed repair cycles, 0 when empty."""
    return whole_cell(text) or 0


def date_cell(text: str) -> str | None:
    """A fecha_* cell as YYYY-MM-DD, from ISO or day-first D/M/YYYY or D-M-YYYY; None when empty."""
    text = text.strip()
    if not text:
        return None
    if iso := _ISO_DATE.fullmatch(text):
        year, month, day = iso.group(1, 2, 3)
    elif day_first := _DAY_FIRST.fullmatch(text):
        day, month, year = day_first.group(1, 3, 4)
    else:
        raise CellError("is not a date: write YYYY-MM-DD, or D/M/YYYY with the day first")
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        raise CellError("is not a day of the calendar (dates are read day first: D/M/YYYY)") from None


def timestamp_cell(text: str, zona: tzinfo) -> str | None:
    """timestamp_ocupacion as ISO 8601 UTC (``...Z``), from ISO 8601 or day-first D/M/YYYY H:MM[:SS];
    a moment written without a zone is the plant's time (``zona``). None when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        if day_first := _DAY_FIRST_TIME.fullmatch(text):
            day, _, month, year, hour, minute, second = day_first.groups()
            momento = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", text):
            momento = datetime.fromisoformat(text)
        else:
            raise ValueError(text)
    except ValueError:
        raise CellError(
            "is not a date and time: write ISO 8601 (2026-11-03T08:15:00Z), or D/M/YYYY H:MM in plant time"
        ) from None
    return iso_utc(momento if momento.tzinfo else momento.replace(tzinfo=zona))


def resultado_cell(text: str) -> Resultado | None:
    """resultado_metrologia: APROBADO or RECHAZADO in any case or accents; None when empty."""
    clave = _clave(text)
    if not clave:
        return None
    if clave not in Resultado.__members__:
        raise CellError("is not a result: write APROBADO or RECHAZADO, or leave it empty")
    return Resultado(clave)


def motivo_cell(text: str, codigos: Sequence[str]) -> str | None:
    """bloqueo_motivo: the codigo of a reason in Motivos, any case or accents; None when empty."""
    clave = _clave(text)
    if not clave:
        return None
    if clave not in codigos:
        raise CellError(f"is not a reason for a hold: write one of {', '.join(codigos)}, or leave it empty")
    return clave


def note_cell(text: str) -> str | None:
    """A free text cell (bloqueo_nota); None when empty."""
    return _text(text)


def roles_cell(text: str) -> tuple[Rol, ...]:
    """A Trabajadores.roles cell: roles separated by commas (or ; or /), any case or accents."""
    names = [n for n in re.split(r"[,;/]", text) if n.strip()]
    unknown = [n.strip() for n in names if rol_de(n) is None]
    if unknown:
        known = ", ".join(Rol)
        raise CellError(f"names an unknown role ({', '.join(unknown)}): roles are {known}, separated by commas")
    return parse_roles(names)


def activo_cell(text: str) -> bool:
    """A Trabajadores.activo cell: TRUE/FALSE (or VERDADERO/FALSO, SÍ/NO, 1/0)."""
    clave = _clave(text)
    if clave in _VERDADERO:
        return True
    if clave in _FALSO:
        return False
    raise CellError("is not TRUE or FALSE" if clave else "is empty: write TRUE or FALSE")
