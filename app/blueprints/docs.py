"""What views answer besides their success, for the OpenAPI document: their problem+json errors, the codes
each error status carries and the headers they send (SPEC §5, §11)."""

from __future__ import annotations

import copy
import http
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from ..schemas import ProblemSchema

V = TypeVar("V", bound=Callable[..., Any])

ETAG = {"ETag": {"description": "The quoted version (one spool) or cursor (a list).", "schema": {"type": "string"}}}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}
WWW_AUTHENTICATE = {
    "WWW-Authenticate": {"description": "`Bearer`: send `Authorization: Bearer <token>`.", "schema": {"type": "string"}}
}

# Statuses whose answer carries a header the registered components cannot describe.
_HEADERS = {401: WWW_AUTHENTICATE, 429: RETRY_AFTER, 503: RETRY_AFTER}
_DESCRIPTIONS = {503: "The source of truth cannot be reached; nothing was written."}


def problems(*statuses: int, codes: Mapping[int, Iterable[str]] | None = None) -> Callable[[V], V]:
    """Document the error statuses a view may answer, each a problem+json body (``ProblemSchema``), and
    the SPEC codes ``codes`` names for a status (added to those other decorators documented)."""
    codes = codes or {}

    def document(view: V) -> V:
        apidoc = copy.deepcopy(getattr(view, "_apidoc", {}))
        known = apidoc.setdefault("problem_codes", {})
        for status in {*statuses, *codes}:
            named = known.setdefault(status, [])
            named.extend(c for c in codes.get(status, ()) if c not in named)
            responses = apidoc.setdefault("response", {}).setdefault("responses", {})
            responses[status] = [_response(status, named)]
        view._apidoc = apidoc  # type: ignore[attr-defined]
        return view

    return document


def _response(status: int, codes: list[str]) -> Any:
    """One status's response: the registered component, or an inline one saying its codes and headers."""
    if not codes and status not in _HEADERS:
        return http.HTTPStatus(status).name
    description = _DESCRIPTIONS.get(status, http.HTTPStatus(status).phrase)
    if codes:
        description = f"{description}: `code` is one of {', '.join(codes)}"
    response: dict[str, Any] = {
        "description": description,
        "schema": ProblemSchema,
        "content_type": "application/problem+json",
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response
