"""``GET /api/changes``: the long-poll change feed (SPEC §6)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from typing import Any

from flask import Response

from .. import access
from ..extensions import zeues
from ..feed import Answer
from ..request_body import Blueprint
from ..schemas import ChangesQuerySchema, ChangesSchema
from .docs import problems

blp = Blueprint("changes", __name__, description="Change feed (long poll)")


class HeldAnswer(Response):
    """A long poll that holds *after* Flask has finished with the request.

    Flask pops its request context once the view's response is returned to the server, and only
    then does the server iterate the body: the wait happens there, with just the server's frames
    under the greenlet. Each held tablet then keeps far less memory, and a change releases every
    waiter without running Flask's response handling and teardown 2,000 times.
    """

    def __init__(self, wait: Callable[[], Answer], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wait = wait

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Held:
        # Only what the answer needs outlives this call: not this response, its Headers or the environ.
        return Held(self.wait, self.status, self.headers.to_wsgi_list(), start_response)


class Held:
    """The body of a held poll, as the server iterates it: wait, then answer. WSGI lets an application
    call start_response from inside its body iterator, as long as it is before the first chunk: the
    status and Content-Length are known only after the wait. Thousands are held at once: slots, and
    nothing else kept."""

    __slots__ = ("_headers", "start_response", "status", "wait")

    def __init__(
        self,
        wait: Callable[[], Answer],
        status: str,
        headers: list[tuple[str, str]],
        start_response: Callable[..., Any],
    ) -> None:
        self.wait, self.status, self._headers, self.start_response = wait, status, headers, start_response

    def headers(self, answer: Answer) -> list[tuple[str, str]]:
        """The answer's headers: the view's (and the app's after_request), and its length."""
        headers = [*self._headers, ("Content-Length", str(len(answer.json())))]
        if answer.turned_away:
            # A client turned away at the waiter limit would keep its idle keep-alive connection for the
            # seconds it waits, and thousands of them would fill the worker's connections as holds do.
            # (The project's gunicorn worker honours this header; gunicorn alone drops it.)
            headers.append(("Connection", "close"))
        return headers

    def __iter__(self) -> Iterator[bytes]:
        answer = self.wait()
        self.start_response(self.status, self.headers(answer))
        yield answer.json()


_date: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header for now (worked out once a second: thousands of answers go out in one)."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


def send_released_whole(wsgi_app: Callable[..., Any]) -> Callable[..., Any]:
    """WSGI middleware for gunicorn: a held poll, once released, is written to its socket as one
    prebuilt HTTP answer — status line, headers and body worked out once for every waiter the same
    change releases — instead of each waiter going through the server's header handling and two
    writes. This is most of what a release costs per tablet (docs/BENCHMARKS.md). Anything else, and
    any server but gunicorn, goes through the usual WSGI path."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        result = wsgi_app(environ, start_response)
        sock = environ.get("gunicorn.socket")
        keep_alive = environ.get("SERVER_PROTOCOL") == "HTTP/1.1" and "close" not in environ.get(
            "HTTP_CONNECTION", ""
        ).lower()
        if not isinstance(result, Held) or sock is None or not keep_alive:
            return result
        answer = result.wait()  # Flask is done with the request: only this frame is held
        if answer.turned_away:
            result.start_response(result.status, result.headers(answer))
            return [answer.json()]
        sock.sendall(_whole(answer, result))
        # The answer is complete (Content-Length): gunicorn reads the connection's next request.
        from gunicorn.workers.base_async import ALREADY_HANDLED

        return ALREADY_HANDLED

    return app


def _whole(answer: Answer, held: Held) -> bytes:
    """The whole HTTP answer, kept on the answer for every waiter that gets it within the same second."""
    head = (held.status, http_date(), *held.headers(answer))
    if answer.http is not None and answer.http_head == head:
        return answer.http
    lines = [f"HTTP/1.1 {head[0]}", f"Date: {head[1]}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in head[2:]]
    answer.http, answer.http_head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + answer.json(), head
    return answer.http


@blp.route("/changes")
@access.reads
@blp.arguments(ChangesQuerySchema, location="query", as_kwargs=True, error_status_code=400)
@blp.response(200, ChangesSchema)
@problems(400)
def changes(timeout, since=None):
    """Spools changed since ``since``; holds up to ``timeout`` seconds when nothing has."""
    feed = zeues().feed
    headers = {"Cache-Control": "no-store"}
    answer = feed.answer_now(since)
    if answer is not None:
        return Response(answer.json(), mimetype="application/json", headers=headers)
    return HeldAnswer(lambda: feed.wait(since, timeout), mimetype="application/json", headers=headers)
