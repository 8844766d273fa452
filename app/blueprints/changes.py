"""``GET /api/changes``: the long-poll change feed (SPEC §6)."""

import functools
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, current_app

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

    def __init__(self, wait: Callable[[], Answer], render: Callable[[Answer], bytes], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._wait, self._render = wait, render

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        # WSGI lets an application call start_response from inside its body iterator, as long as
        # it is before the first chunk: the status and Content-Length are known only after the wait.
        # Thousands of waiters are released together: send the bytes as they are, without a second
        # pass through werkzeug's response machinery for each.
        answer = self._wait()
        body = self._render(answer)
        headers = [*self.headers.to_wsgi_list(), ("Content-Length", str(len(body)))]
        if answer.turned_away:
            # A client turned away at the waiter limit would keep its idle keep-alive connection for the
            # seconds it waits, and thousands of them would fill the worker's connections as holds do.
            # (The project's gunicorn worker honours this header; gunicorn alone drops it.)
            headers.append(("Connection", "close"))
        start_response(self.status, headers)
        yield body


def render(answer: Answer, dumps: Callable[[Any], str]) -> bytes:
    """The answer's JSON (its spools are already in their wire shape), worked out once for all the
    waiters one change releases."""
    if answer.rendered is None:
        answer.rendered = dumps(answer).encode()
    return answer.rendered


@blp.route("/changes")
@blp.arguments(ChangesQuerySchema, location="query", as_kwargs=True, error_status_code=400)
@blp.response(200, ChangesSchema)
@problems(400)
def changes(timeout, since=None):
    """Spools changed since ``since``; holds up to ``timeout`` seconds when nothing has."""
    feed = zeues().feed
    # Compact: the same answer goes to every tablet on the floor.
    dumps = functools.partial(current_app.json.dumps, separators=(",", ":"))
    headers = {"Cache-Control": "no-store"}
    answer = feed.answer_now(since)
    if answer is not None:
        return Response(render(answer, dumps), mimetype="application/json", headers=headers)
    return HeldAnswer(
        lambda: feed.wait(since, timeout),
        lambda held: render(held, dumps),
        mimetype="application/json",
        headers=headers,
    )
