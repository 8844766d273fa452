"""The reports of SPEC §14: ``GET /api/reportes/resumen``, ``/trabajadores`` and ``/spools/<tag>``, as JSON or CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, tzinfo
from typing import Any

from flask import Response, current_app

from .. import reports
from ..domain.errors import NotFound
from ..domain.model import Estado, Spool, Worker
from ..extensions import zeues
from ..offload import yield_to_loop
from ..request_body import Blueprint
from ..schemas import (
    RangoQuerySchema,
    ReporteQuerySchema,
    ResumenSchema,
    SpoolReporteSchema,
    TrabajadoresReporteSchema,
    spool_from_json,
)
from .docs import problems

blp = Blueprint("reports", __name__, description="Reportes desde el registro de eventos")

CSV = "text/csv"
# The CSV form of the same answer (``?formato=csv``), beside the JSON the schema documents.
CSV_DOC = {
    "responses": {
        200: {
            "content": {
                CSV: {
                    "schema": {"type": "string"},
                    "example": "\ufeffseccion,clave,indicador,valor\r\noperaciones,ARM,completadas,12\r\n",
                }
            }
        }
    }
}
# A cell a spreadsheet program would run as a formula (CSV injection): written with a leading
# apostrophe, which shows it as the text it is.
_FORMULA = re.compile(r"^[=+\-@\t\r]")


@dataclasses.dataclass(frozen=True)
class _Entrada:
    """What a report over a range is computed from."""

    registro: reports.Registro
    spools: list[Spool]
    workers: Mapping[int, Worker]
    rango: reports.Rango
    zona: tzinfo
    ahora: datetime


def _entrada(desde: date | None, hasta: date | None) -> _Entrada:
    """The spools as the feed shows them, the workers and the whole log, digested, and the range."""
    z = zeues()
    zona, ahora = current_app.config["ZONA"], z.service.reloj()
    _cursor, views = z.feed.view()
    registro = reports.analizar(z.store.all_events(), pausa=yield_to_loop)
    return _Entrada(
        registro=registro,
        # Finished spools are no one's work in progress: a year's worth is not converted for nothing.
        spools=[spool_from_json(v) for v in views if v["estado"] != Estado.APROBADO],
        workers=z.store.workers(),
        rango=reports.Rango.por_defecto(ahora, zona, desde, hasta),
        zona=zona,
        ahora=ahora,
    )


def _cell(value: Any) -> Any:
    """A figure as a CSV cell: empty for null, TRUE/FALSE as the sheet writes them, text kept as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return value


def csv_answer(tabla: reports.Tabla, nombre: str) -> Response:
    """A table as a CSV download: UTF-8 with a BOM (so spreadsheet programs keep the accents), a header row."""
    cabecera, filas = tabla
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(cabecera)
    writer.writerows([_cell(v) for v in fila] for fila in filas)
    response = Response(("\ufeff" + out.getvalue()).encode("utf-8"), mimetype=CSV)
    archivo = re.sub(r"[^A-Za-z0-9._-]+", "_", nombre)
    response.headers["Content-Disposition"] = f'attachment; filename="zeues-{archivo}.csv"'
    return response


def _answer(figuras: dict[str, Any], formato: str, tabla: Callable[[Mapping[str, Any]], reports.Tabla], nombre: str):
    """The figures as JSON (dumped by the view's schema) or as a CSV download."""
    return csv_answer(tabla(figuras), nombre) if formato == "csv" else figuras


@blp.route("/reportes/resumen")
@blp.arguments(RangoQuerySchema, location="query", as_kwargs=True)
@blp.response(200, ResumenSchema)
@blp.doc(**CSV_DOC)
@problems(422)
def resumen(formato, desde=None, hasta=None):
    """Per operation: completions, active hours, median hours per spool and waiting; first-pass yield;
    work in progress; completions per day and first-pass yield per week."""
    e = _entrada(desde, hasta)
    figuras = reports.resumen(e.registro, e.spools, e.rango, e.zona, e.ahora, pausa=yield_to_loop)
    return _answer(figuras, formato, reports.tabla_resumen, f"resumen-{e.rango.desde}-{e.rango.hasta}")


@blp.route("/reportes/trabajadores")
@blp.arguments(RangoQuerySchema, location="query", as_kwargs=True)
@blp.response(200, TrabajadoresReporteSchema)
@blp.doc(**CSV_DOC)
@problems(422)
def trabajadores(formato, desde=None, hasta=None):
    """Per worker: completions and active hours per operation; for welders, the inspections of their
    welds and how many were rejected."""
    e = _entrada(desde, hasta)
    figuras = reports.trabajadores(e.registro, e.workers, e.rango, e.zona, e.ahora, pausa=yield_to_loop)
    return _answer(figuras, formato, reports.tabla_trabajadores, f"trabajadores-{e.rango.desde}-{e.rango.hasta}")


@blp.route("/reportes/spools/<path:tag>")
@blp.arguments(ReporteQuerySchema, location="query", as_kwargs=True)
@blp.response(200, SpoolReporteSchema)
@blp.doc(**CSV_DOC)
@problems(404, 422)
def spool(formato, tag):
    """The spool's timeline: each event of its log and the time spent in the state it left it in."""
    z = zeues()
    vista = z.feed.spool(tag)
    if vista is None:
        raise NotFound(f"El spool {tag} no existe.")
    figuras = reports.linea_de_tiempo(spool_from_json(vista), z.store.events(vista["tag_spool"]), z.service.reloj())
    return _answer(figuras, formato, reports.tabla_spool, f"spool-{vista['tag_spool']}")
