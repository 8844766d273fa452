"""One error shape for every path and method: RFC 9457 problem+json with a SPEC §5 code."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from .domain.errors import (
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    SourceUnavailable,
    ValidationError,
    ZeuesError,
)

log = logging.getLogger(__name__)

PROBLEM_TYPE = "https://zeues.invalid/problems/"
PROBLEM_JSON = "application/problem+json"
INTERNAL_DETAIL = "Error interno; el equipo fue notificado en el registro del servidor."


def problem_body(error: ZeuesError) -> dict[str, Any]:
    """The problem+json members for ``error`` (also written by the gunicorn worker, outside Flask)."""
    return {
        "type": PROBLEM_TYPE + error.code.lower().replace("_", "-"),
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
        **error.extra,
    }


def problem(error: ZeuesError) -> Response:
    """The problem+json response for ``error``."""
    response = Response(json.dumps(problem_body(error)), status=error.status, mimetype=PROBLEM_JSON)
    if isinstance(error, SourceUnavailable):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _messages(data: dict[str, Any] | None) -> str:
    """Flatten webargs' ``{"json": {"field": ["msg"]}}`` into one readable line."""
    messages = (data or {}).get("messages") or {}
    partes = []
    for _location, campos in messages.items():
        if isinstance(campos, dict):
            for campo, textos in campos.items():
                texto = "; ".join(textos) if isinstance(textos, list) else str(textos)
                partes.append(f"{campo}: {texto}")
        else:
            partes.append("; ".join(campos) if isinstance(campos, list) else str(campos))
    return " | ".join(partes)


def from_http(exc: HTTPException) -> ZeuesError:
    """Map Flask/werkzeug's own errors (404, 405, 413, webargs' 400/422, …) to domain errors."""
    code = exc.code or 500
    if code == 404:
        return NotFound(f"No existe {request.path}.")
    if code == 405:
        return MethodNotAllowed(f"{request.method} no se admite en {request.path}.")
    if code == 413:
        return PayloadTooLarge("El cuerpo de la solicitud supera el límite.")
    if code in (400, 422):
        detalle = _messages(getattr(exc, "data", None)) or "Solicitud mal formada."
        return ValidationError(detalle, status=code, errors=(getattr(exc, "data", None) or {}).get("messages", {}))
    if code == 503:
        return SourceUnavailable(exc.description or "Servicio no disponible.")
    error = ZeuesError(exc.description or "Error.")
    error.status, error.title = code, exc.name
    error.code = "INTERNAL" if code >= 500 else "VALIDATION_ERROR"
    return error


def init_app(app: Flask) -> None:
    """Register the handlers (after flask-smorest's, so ours win)."""

    @app.errorhandler(ZeuesError)
    def _zeues(error: ZeuesError) -> Response:
        return problem(error)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        response = problem(from_http(exc))
        if exc.code == 405 and exc.response is None:
            allow = getattr(exc, "valid_methods", None)
            if allow:
                response.headers["Allow"] = ", ".join(allow)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The traceback goes to the log, never to the client.
        log.exception("unexpected error on %s %s", request.method, request.path)
        return problem(ZeuesError(INTERNAL_DETAIL))
