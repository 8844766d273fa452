"""What views answer besides their success, for the OpenAPI document: their problem+json errors and
the headers they send (SPEC §5)."""

from __future__ import annotations

import copy
import http
from collections.abc import Callable
from typing import Any, TypeVar

from ..schemas import ProblemSchema

V = TypeVar("V", bound=Callable[..., Any])

ETAG = {"ETag": {"description": "The quoted version (one spool) or cursor (a list).", "schema": {"type": "string"}}}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}


def problems(*statuses: int) -> Callable[[V], V]:
    """Document the error statuses a view may answer, each a problem+json body (``ProblemSchema``)."""

    def document(view: V) -> V:
        apidoc = copy.deepcopy(getattr(view, "_apidoc", {}))
        responses = apidoc.setdefault("response", {}).setdefault("responses", {})
        for status in statuses:
            if status == 503:  # the registered component cannot say Retry-After
                response: Any = {
                    "description": "The source of truth cannot be reached; nothing was written.",
                    "schema": ProblemSchema,
                    "headers": RETRY_AFTER,
                    "content_type": "application/problem+json",
                }
            else:
                response = http.HTTPStatus(status).name
            responses.setdefault(status, []).append(response)
        view._apidoc = apidoc  # type: ignore[attr-defined]
        return view

    return document
