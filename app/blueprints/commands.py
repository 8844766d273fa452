"""The commands: ``POST /api/tomar-accion``, ``/api/pausar-accion``, ``/api/completar-accion``, and the
holds of SPEC §13, ``/api/bloquear-accion`` and ``/api/desbloquear-accion``."""

from __future__ import annotations

from typing import Any

from flask import request

from ..domain.machine import Comando
from ..domain.model import Accion, Operacion, Resultado
from ..errors import ValidationError
from ..extensions import zeues
from ..request_body import Blueprint
from ..schemas import (
    BloquearSchema,
    ComandoSchema,
    CommandHeadersSchema,
    CompletarSchema,
    DesbloquearSchema,
    LiberarSchema,
    ResultadoComandoSchema,
)
from .docs import problems

blp = Blueprint("commands", __name__, description="TOMAR / PAUSAR / COMPLETAR / BLOQUEAR / DESBLOQUEAR")


@blp.before_request
def _json_only() -> None:
    """A body that is not JSON is malformed (400), before any schema sees it."""
    if request.method == "POST" and not request.is_json:
        raise ValidationError("El cuerpo debe ser JSON (Content-Type: application/json).", status=400)


def _if_match(headers: dict[str, str]) -> tuple[str, ...] | None:
    """If-Match versions, quoted or bare (``*`` matches any version); None without the header."""
    if "if_match" not in headers:
        return None
    etags = request.if_match
    return ("*",) if etags.star_tag else tuple(etags.as_set(include_weak=True))


def _run(accion: Accion, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    comando = Comando(
        accion=accion,
        operacion=Operacion(body["operacion"]) if "operacion" in body else None,
        tag_spool=body["tag_spool"],
        worker_id=body["worker_id"],
        resultado=Resultado(body["resultado"]) if body.get("resultado") else None,
        version=body.get("version"),
        if_match=_if_match(headers),
        motivo=body.get("motivo"),
        nota=body.get("nota"),
    )
    outcome = zeues().service.ejecutar(comando, request.path, body, headers.get("idempotency_key"))
    return {"spool": (outcome.spool, outcome.workers), "event": outcome.event}


@blp.route("/tomar-accion", methods=["POST"])
@blp.arguments(CommandHeadersSchema, location="headers", error_status_code=400)
@blp.arguments(ComandoSchema)
@blp.response(200, ResultadoComandoSchema)
@problems(400, 403, 404, 409, 412, 413, 422, 503)
def tomar(headers, body):
    """Take physical possession of a spool for an operation."""
    return _run(Accion.TOMAR, headers, body)


@blp.route("/pausar-accion", methods=["POST"])
@blp.arguments(CommandHeadersSchema, location="headers", error_status_code=400)
@blp.arguments(LiberarSchema)
@blp.response(200, ResultadoComandoSchema)
@problems(400, 403, 404, 409, 412, 413, 422, 503)
def pausar(headers, body):
    """Release a spool with the operation unfinished (a supervisor releasing someone else's says why)."""
    return _run(Accion.PAUSAR, headers, body)


@blp.route("/completar-accion", methods=["POST"])
@blp.arguments(CommandHeadersSchema, location="headers", error_status_code=400)
@blp.arguments(CompletarSchema)
@blp.response(200, ResultadoComandoSchema)
@problems(400, 403, 404, 409, 412, 413, 422, 503)
def completar(headers, body):
    """Finish the operation (METROLOGIA with a resultado) and release the spool."""
    return _run(Accion.COMPLETAR, headers, body)


@blp.route("/bloquear-accion", methods=["POST"])
@blp.arguments(CommandHeadersSchema, location="headers", error_status_code=400)
@blp.arguments(BloquearSchema)
@blp.response(200, ResultadoComandoSchema)
@problems(400, 403, 404, 409, 412, 413, 422, 503)
def bloquear(headers, body):
    """Put a spool on hold for a reason: its holder (the spool is released) or a SUPERVISOR (any state but APROBADO)."""
    return _run(Accion.BLOQUEAR, headers, body)


@blp.route("/desbloquear-accion", methods=["POST"])
@blp.arguments(CommandHeadersSchema, location="headers", error_status_code=400)
@blp.arguments(DesbloquearSchema)
@blp.response(200, ResultadoComandoSchema)
@problems(400, 403, 404, 409, 412, 413, 422, 503)
def desbloquear(headers, body):
    """Lift a hold (SUPERVISOR only): the spool returns to its estado_previo."""
    return _run(Accion.DESBLOQUEAR, headers, body)
