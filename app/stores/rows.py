"""Sheet rows as text: header folding and the text ⇄ domain conversions shared by the Google Sheets
store and the CSV import (both speak in the sheet's own headers and cell strings)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..domain.model import (
    EVENT_FIELDS,
    TRACKING_FIELDS,
    WORKER_ID_FIELDS,
    Event,
    Resultado,
    Spool,
    Worker,
    parse_roles,
)

TAG_HEADER = "TAG_SPOOL"
OPERACIONES_HEADERS: tuple[str, ...] = (TAG_HEADER, *TRACKING_FIELDS)


def fold(header: str) -> str:
    """Header identity per SPEC §3: ignore case, accents, and spaces vs underscores."""
    sin_acentos = "".join(c for c in unicodedata.normalize("NFKD", str(header)) if not unicodedata.combining(c))
    return re.sub(r"[\s_]+", "_", sin_acentos.strip()).lower()


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
        activo=str(row.get("activo", "")).strip().upper() in ("TRUE", "VERDADERO", "1", "SI", "SÍ", "YES"),
    )


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
