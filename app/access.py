"""Who each request is (SPEC §11), worked out before anything reads its body: the bearer credentials, the
one-line marks that say what a view needs, and the worker a command acts as.

A view says what it needs with one decorator under its route::

    @blp.route("/tomar-accion", methods=["POST"])
    @access.command
    ...

- ``command``: a worker's session, or a token with the command (or supervise) scope; in open mode
  (``ZEUES_AUTH=open``) nothing, though credentials sent are still checked;
- ``supervise``: a SUPERVISOR's session, or a token with the supervise scope;
- ``signed_in``: a worker's session (signing out);
- ``reads``: with ``ZEUES_READ_AUTH=token``, a session or a token with the read scope;
- ``public``: nothing (signing in, the health check).

A view without a mark needs ``reads`` for GET and HEAD and ``command`` for any other method, so a new
endpoint is closed until someone opens it on purpose. The check runs in the app's first
``before_request`` hook: no credentials (or bad ones) answer 401 before any body is parsed (400, 413,
422 come after), and credentials that do not allow the view answer 403 ``FORBIDDEN``.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, g, request

from .auth import ABIERTO, COMMAND, READ, SUPERVISE, Caller
from .blueprints.docs import problems
from .domain.errors import Forbidden, Unauthenticated
from .errors import ValidationError
from .extensions import api, zeues

V = TypeVar("V", bound=Callable[..., Any])

BEARER = "bearer"  # the OpenAPI security schemes
QUERY_TOKEN = "token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class Need(enum.Enum):
    """What a view needs from the credentials of a request."""

    PUBLIC = "public"
    READ = READ
    COMMAND = COMMAND
    SUPERVISE = SUPERVISE
    SESSION = "session"


_SECURITY = {
    Need.READ: [{}, {BEARER: []}, {QUERY_TOKEN: []}],  # {}: nothing, unless ZEUES_READ_AUTH=token
    Need.COMMAND: [{BEARER: []}],
    Need.SUPERVISE: [{BEARER: []}],
    Need.SESSION: [{BEARER: []}],
}


def requires(need: Need) -> Callable[[V], V]:
    """Mark a view with what it needs (checked before its body is read) and document it in the OpenAPI
    document: the security it takes and the 401 / 403 it answers."""

    def mark(view: V) -> V:
        view.zeues_need = need  # type: ignore[attr-defined]
        if need is Need.PUBLIC:
            return view
        apidoc = copy.deepcopy(getattr(view, "_apidoc", {}))
        apidoc.setdefault("manual_doc", {})["security"] = _SECURITY[need]
        view._apidoc = apidoc  # type: ignore[attr-defined]
        return problems(codes={401: ("UNAUTHENTICATED",), 403: ("FORBIDDEN",)})(view)

    return mark


public = requires(Need.PUBLIC)
reads = requires(Need.READ)
command = requires(Need.COMMAND)
supervise = requires(Need.SUPERVISE)
signed_in = requires(Need.SESSION)


def bearer() -> str | None:
    """The request's token: ``Authorization: Bearer <token>``, or on a read ``?token=`` (a board's URL)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.method in _SAFE:
        return request.args.get("token") or None
    return None


def caller() -> Caller:
    """Who sent this request (set by the check for every view that needs credentials)."""
    return g.zeues_caller


def acting_worker(worker_id: int | None) -> int:
    """The worker a command acts as: a session's own worker (``worker_id`` may be left out; another one
    is 403 FORBIDDEN); with a token or without credentials, the ``worker_id`` the body names (422 without it)."""
    who = caller()
    if who.worker_id is not None:
        if worker_id is not None and worker_id != who.worker_id:
            raise Forbidden(
                f"Esta sesión es del trabajador {who.worker_id}: no puede actuar como el trabajador {worker_id}."
            )
        return who.worker_id
    if worker_id is None:
        message = "Obligatorio sin una sesión de trabajador."
        raise ValidationError(f"worker_id: {message}", errors={"json": {"worker_id": [message]}})
    return worker_id


def _need() -> Need | None:
    """What the matched view needs; None when routing will answer (404, 405) or for CORS preflight."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if view is None or request.method == "OPTIONS":
        return None
    need = getattr(view, "zeues_need", None)
    if need is not None:
        return need
    if request.endpoint == "static":  # the pages' scripts and styles: code, not data
        return Need.PUBLIC
    return Need.READ if request.method in _SAFE else Need.COMMAND


def check() -> None:
    """Refuse a request whose credentials do not allow its view (401, then 403), before its body is read."""
    need = _need()
    if need is None or need is Need.PUBLIC:
        return
    auth = zeues().auth
    if need is Need.READ and auth.settings.reads == "open":
        return
    token = bearer()
    if token is None:
        if need is Need.COMMAND and auth.settings.mode == "open":
            g.zeues_caller = ABIERTO
            return
        raise Unauthenticated("Falta la credencial: envíe Authorization: Bearer <token>.")
    who = auth.caller(token)
    if need is Need.SESSION:
        if not who.es_sesion:
            raise Forbidden("Solo una sesión de trabajador se cierra así; un token se revoca con `tokens revoke`.")
    elif not who.may(need.value):
        raise Forbidden(f"Estas credenciales no tienen el alcance {need.value}.")
    g.zeues_caller = who


def init_app(app: Flask) -> None:
    """Run the check before every other hook, and name the security schemes in the OpenAPI document."""
    app.before_request_funcs.setdefault(None, []).insert(0, check)
    api.spec.components.security_scheme(
        BEARER,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A worker's session token (`POST /api/sesiones`) or an API token "
            "(`flask --app wsgi tokens create`).",
        },
    )
    api.spec.components.security_scheme(
        QUERY_TOKEN,
        {
            "type": "apiKey",
            "in": "query",
            "name": "token",
            "description": "The same tokens on a read's URL, for a wall board (with ZEUES_READ_AUTH=token).",
        },
    )
