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


class SecurityHeaders:
    """WSGI middleware adding ``SECURITY_HEADERS`` to every answer, including those sent after a long
    poll's hold and Flask's own error pages."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Call the app with a ``start_response`` that adds the headers."""

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [*headers, *SECURITY_HEADERS]
            # exc_info is passed on only when given: some servers' start_response takes two arguments.
            return start_response(status, headers) if exc_info is None else start_response(status, headers, exc_info)

        return self.app(environ, start)
