"""The security headers every answer carries (SPEC §11), pages, API, errors and static files alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

# default-src 'self' with no 'unsafe-inline': a script or style injected into a page (a spool tag or
# a name typed into the sheet) never runs; the pages load only their own files. frame-ancestors and
# X-Frame-Options keep the station out of another site's frame (no tap-jacking a TOMAR).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),  # a board's ?token= never leaves in a Referer
)


def with_security_headers(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """WSGI middleware adding ``SECURITY_HEADERS`` to every answer, including those sent after a long
    poll's hold and Flask's own error pages.

    A closure rather than a class with ``__call__``: Python runs a call to a plain function in the same
    C frame, while calling an object goes through C and back, and that C frame is part of what each
    greenlet keeps while thousands of long polls wait beneath it."""

    def secured(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [*headers, *SECURITY_HEADERS]
            # exc_info is passed on only when given: some servers' start_response takes two arguments.
            return start_response(status, headers) if exc_info is None else start_response(status, headers, exc_info)

        return app(environ, start)

    return secured
