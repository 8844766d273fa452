"""The three commands: ``POST /api/tomar-accion``, ``/api/pausar-accion``, ``/api/completar-accion``."""

from __future__ import annotations

from typing import Any

from flask import request

from ..domain.errors import ValidationError
from ..domain.machine import Comando
from ..domain.model import Accion, Operacion, Resultado
from ..extensions import zeues
from ..request_body import Blueprint
from ..schemas import ComandoSchema, CompletarSchema, ResultadoComandoSchema

blp = Blueprint("commands", __name__, description="TOMAR / PAUSAR / COMPLETAR")


@blp.before_request
def _json_only() -> None:
    """A body that is not JSON is malformed (400), before any schema sees it."""
    if request.method == "POST" and not request.is_json:
        raise ValidationError("El cuerpo debe ser JSON (Content-Type: application/json).", status=400)


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 128 and key.isprintable()):
        raise ValidationError("Idempotency-Key debe tener entre 1 y 128 caracteres imprimibles.", status=400)
    return key


def _if_match() -> tuple[str, ...] | None:
    """If-Match values, quoted or bare (``*`` matches any version)."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    valores = []
    for parte in header.split(","):
        parte = parte.strip()
        if parte.startswith("W/"):
            parte = parte[2:]
        valores.append(parte[1:-1] if len(parte) >= 2 and parte[0] == parte[-1] == '"' else parte)
    return tuple(valores)


def _run(accion: Accion, body: dict[str, Any]) -> dict[str, Any]:
    comando = Comando(
        accion=accion,
        operacion=Operacion(body["operacion"]),
        tag_spool=body["tag_spool"],
        worker_id=body["worker_id"],
        resultado=Resultado(body["resultado"]) if body.get("resultado") else None,
        version=body.get("version"),
        if_match=_if_match(),
    )
    return zeues().service.ejecutar(comando, request.path, body, _idempotency_key())


@blp.route("/tomar-accion", methods=["POST"])
@blp.arguments(ComandoSchema)
@blp.response(200, ResultadoComandoSchema)
def tomar(body):
    """Take physical possession of a spool for an operation."""
    return _run(Accion.TOMAR, body)


@blp.route("/pausar-accion", methods=["POST"])
@blp.arguments(ComandoSchema)
@blp.response(200, ResultadoComandoSchema)
def pausar(body):
    """Release a spool with the operation unfinished."""
    return _run(Accion.PAUSAR, body)


@blp.route("/completar-accion", methods=["POST"])
@blp.arguments(CompletarSchema)
@blp.response(200, ResultadoComandoSchema)
def completar(body):
    """Finish the operation (METROLOGIA with a resultado) and release the spool."""
    return _run(Accion.COMPLETAR, body)
