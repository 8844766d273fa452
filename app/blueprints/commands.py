"""The commands: ``POST /api/tomar-accion``, ``/api/pausar-accion``, ``/api/completar-accion``, and the
holds of SPEC §13, ``/api/bloquear-accion`` and ``/api/desbloquear-accion``."""

from __future__ import annotations

from typing import Any

from flask import request

from .. import access
from ..domain.machine import Comando
from ..domain.model import Accion, Operacion, Resultado
from ..extensions import zeues
from ..request_body import Blueprint, json_only
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
blp.before_request(json_only)

# The 403 codes of the guards (SPEC §5); FORBIDDEN (SPEC §11) is documented by ``access.command``.
GUARDS_403 = {403: ("WORKER_INACTIVE", "ROLE_NOT_AUTHORIZED", "NOT_HOLDER")}


def _if_match(headers: dict[str, str]) -> tuple[str, ...] | None:
    """If-Match versions, quoted or bare (``*`` matches any version); None without the header."""
    if "if_match" not in headers:
        return None
    etags = request.if_match
    return ("*",) if etags.star_tag else tuple(etags.as_set(include_weak=True))


def _run(accion: Accion, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    # The acting worker is settled before the service sees the body: a session's own (403 for another),
    # so the request hash of a keyed retry is the same with worker_id sent or left out.
    body = {**body, "worker_id": access.acting_worker(body.get("worker_id"))}
    caller = access.caller()
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
        puede_supervisar=caller.puede_supervisar,
    )
    outcome = zeues().service.ejecutar(comando, request.path, body, headers.get("idempotency_key"), via=caller.via)
    return {"spool": (outcome.spool, outcome.workers), "event": outcome.event}


@blp.route("/tomar-accion", methods=["POST"])
@access.command
@blp.arguments(CommandHeadersSchema, location="headers", error_status_code=400)
@blp.arguments(ComandoSchema)
@blp.response(200, ResultadoComandoSchema)
@problems(400, 404, 409, 412, 413, 422, 503, codes=GUARDS_403)
def tomar(headers, body):
    """Take physical possession of a spool for an operation."""
    return _run(Accion.TOMAR, headers, body)


@blp.route("/pausar-accion", methods=["POST"])
@access.command
@blp.arguments(CommandHeadersSchema, location="headers", error_status_code=400)
@blp.arguments(LiberarSchema)
@blp.response(200, ResultadoComandoSchema)
@problems(400, 404, 409, 412, 413, 422, 503, codes=GUARDS_403)
def pausar(headers, body):
    """Release a spool with the operation unfinished (a supervisor releasing someone else's says why)."""
    return _run(Accion.PAUSAR, headers, body)


@blp.route("/completar-accion", methods=["POST"])
@access.command
@blp.arguments(CommandHeadersSchema, location="headers", error_status_code=400)
@blp.arguments(CompletarSchema)
@blp.response(200, ResultadoComandoSchema)
@problems(400, 404, 409, 412, 413, 422, 503, codes=GUARDS_403)
def completar(headers, body):
    """Finish the operation (METROLOGIA with a resultado) and release the spool."""
    return _run(Accion.COMPLETAR, headers, body)


@blp.route("/bloquear-accion", methods=["POST"])
@access.command
@blp.arguments(CommandHeadersSchema, location="headers", error_status_code=400)
@blp.arguments(BloquearSchema)
@blp.response(200, ResultadoComandoSchema)
@problems(400, 404, 409, 412, 413, 422, 503, codes=GUARDS_403)
def bloquear(headers, body):
    """Put a spool on hold for a reason: its holder (the spool is released) or a SUPERVISOR (any state but APROBADO)."""
    return _run(Accion.BLOQUEAR, headers, body)


@blp.route("/desbloquear-accion", methods=["POST"])
@access.command
@blp.arguments(CommandHeadersSchema, location="headers", error_status_code=400)
@blp.arguments(DesbloquearSchema)
@blp.response(200, ResultadoComandoSchema)
@problems(400, 404, 409, 412, 413, 422, 503, codes=GUARDS_403)
def desbloquear(headers, body):
    """Lift a hold (SUPERVISOR only): the spool returns to its estado_previo."""
    return _run(Accion.DESBLOQUEAR, headers, body)
