"""One error shape for every path and method: RFC 9457 problem+json with a SPEC §5 code."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from .domain.errors import NotFound, SourceUnavailable, TooManyAttempts, ZeuesError
from .schemas import spool_json

log = logging.getLogger(__name__)

PROBLEM_TYPE = "https://zeues.invalid/problems/"
PROBLEM_JSON = "application/problem+json"
INTERNAL_DETAIL = "Error interno; el equipo fue notificado en el registro del servidor."


class ValidationError(ZeuesError):
    """The request is malformed (400) or breaks the schema (422)."""

    code = "VALIDATION_ERROR"
    status = 422
    title = "Solicitud no válida"

    def __init__(self, detail: str, status: int = 422, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.status = status


class PayloadTooLarge(ZeuesError):
    """The request body is over the limit."""

    code = "PAYLOAD_TOO_LARGE"
    status = 413
    title = "Cuerpo demasiado grande"


class MethodNotAllowed(ZeuesError):
    """The path exists but not with this method."""

    code = "METHOD_NOT_ALLOWED"
    status = 405
    title = "Método no permitido"


def problem_body(error: ZeuesError) -> dict[str, Any]:
    """The problem+json members for ``error`` (also written by the gunicorn worker, outside Flask)."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + error.code.lower().replace("_", "-"),
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
        **error.extra,
    }
    if error.spool is not None:
        body["spool"] = spool_json(*error.spool)
    return body


def problem(error: ZeuesError) -> Response:
    """The problem+json response for ``error``."""
    response = Response(json.dumps(problem_body(error)), status=error.status, mimetype=PROBLEM_JSON)
    if isinstance(error, SourceUnavailable | TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:  # RFC 9110: a 401 names the scheme that would be accepted
        response.headers["WWW-Authenticate"] = 'Bearer realm="zeues"'
    return response


def _messages(data: dict[str, Any] | None) -> str:
    """Flatten webargs' ``{"json": {"field": ["msg"]}}`` into one readable line."""
    messages = (data or {}).get("messages") or {}
    parts = []
    for _location, fields in messages.items():
        if isinstance(fields, dict):
            for field, texts in fields.items():
                text = "; ".join(texts) if isinstance(texts, list) else str(texts)
                parts.append(f"{field}: {text}")
        else:
            parts.append("; ".join(fields) if isinstance(fields, list) else str(fields))
    return " | ".join(parts)


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
        detail = _messages(getattr(exc, "data", None)) or "Solicitud mal formada."
        return ValidationError(detail, status=code, errors=(getattr(exc, "data", None) or {}).get("messages", {}))
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
