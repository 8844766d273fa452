"""gunicorn's gevent worker, answering gunicorn's own errors as problem+json and halting on a refused start.

Outside the ``app`` package on purpose: the master imports the worker class, and importing ``app``
there would load Flask and the whole app into the master, where every later worker (also after a
``kill -HUP`` meant to load new code) would inherit it. The app's modules are imported only inside
the worker, once it has loaded the app.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from gunicorn import util
from gunicorn.arbiter import Arbiter
from gunicorn.http import wsgi
from gunicorn.workers.ggevent import GeventWorker

# Spanish sentences by status, as the app's own details; gunicorn's English reason follows them.
_DETAILS = {
    414: "La línea de la solicitud (método, ruta y consulta) supera el límite del servidor",
    431: "Las cabeceras de la solicitud superan el límite del servidor",
}
_MALFORMED = "Solicitud HTTP mal formada"
# gunicorn's reason can quote what the client sent: enough of it to debug, not a page of it.
_REASON_CHARS = 200


class _Recorder:
    """Stands in for the client socket while gunicorn writes its HTML error page, keeping the bytes."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.written = bytearray()

    def sendall(self, data: bytes) -> None:
        """Keep the page instead of sending it."""
        self.written += data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _OneSendResponse(wsgi.Response):
    """gunicorn's Response, sending the headers and a body given whole (what Flask answers: one piece, its
    length known) in one ``send``: gunicorn sends them apart, and the second send (with gevent's socket
    work around each) was a tenth of a command's CPU. Anything else, a body in pieces, a chunked or a
    bodiless answer, goes the way gunicorn writes it."""

    def write(self, arg: bytes) -> None:
        """Write ``arg``; the first, whole body goes out with the headers."""
        if (
            self.headers_sent
            or self.chunked
            or getattr(self, "_omits_body", True)  # HEAD, 204, 304: gunicorn's rules, and an unknown gunicorn
            or not isinstance(arg, bytes)
            or self.response_length != len(arg)
        ):
            super().write(arg)
            return
        # gunicorn's send_headers, with the body after the blank line.
        head = "".join([*self.default_headers(), *(f"{name}: {value}\r\n" for name, value in self.headers), "\r\n"])
        self.headers_sent = True
        self.sent += len(arg)
        util.write(self.sock, head.encode("latin-1") + arg)


def _serving(wsgi_app: Any) -> Any:
    """``wsgi_app``, whose answers gunicorn sends in one piece when it can (``_OneSendResponse``), and whose
    ``Connection: close`` response header makes gunicorn close the connection after that answer (gunicorn
    drops the application's hop-by-hop headers and would keep it alive)."""

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        # gunicorn's start_response is a method of its Response.
        resp = getattr(start_response, "__self__", None)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if any(name.lower() == "connection" and value.lower() == "close" for name, value in headers):
                # gunicorn then writes "Connection: close" and ends the keep-alive loop.
                force_close = getattr(resp, "force_close", None)
                if force_close is not None:
                    force_close()
            return start_response(status, headers, exc_info)

        if type(resp) is wsgi.Response:
            # The same object, with one method more: no per-request wrapper, no reference cycle.
            resp.__class__ = _OneSendResponse
        return wsgi_app(environ, start)

    return serve


class ProblemJsonWorker(GeventWorker):
    """The gevent worker, whose own error answers are problem+json (SPEC §5) like the app's."""

    def load_wsgi(self) -> None:
        """Load the app, send its answers in one piece, and let it end a connection with a
        ``Connection: close`` answer (the change feed does so for a poll it has no room to hold)."""
        super().load_wsgi()
        # The Flask app, which post_worker_init reads (its extensions); gunicorn calls self.wsgi for every
        # request, now the app's WSGI function itself: calling the Flask object would cost a C frame in
        # every greenlet, and thousands of long polls each keep theirs while they wait.
        self.flask_app = self.wsgi
        self.wsgi = _serving(self.flask_app.wsgi_app)

    def init_process(self) -> None:
        """Boot as gunicorn does; a refused start prints its one line and halts the master."""
        try:
            super().init_process()
        except SystemExit as exc:
            # A SystemExit carrying a message while the app loads (app.config.ConfigError, also from
            # post_worker_init) is a setting that cannot work: print it, then exit with gunicorn's
            # "App failed to load" status so the master stops instead of respawning a worker that
            # would fail the same way, forever.
            if self.booted or not isinstance(exc.code, str):
                raise
            print(exc.code, file=sys.stderr, flush=True)
            sys.exit(Arbiter.APP_LOAD_ERROR)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Let gunicorn log the request it could not serve and choose its status, then answer problem+json."""
        page = _Recorder(client)
        super().handle_error(req, page, addr, exc)
        # gunicorn writes "HTTP/1.1 <status> <reason>\r\n...": its choice of status, kept as is.
        status_line = bytes(page.written).split(b"\r\n", 1)[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            return  # nothing recorded: gunicorn wrote its page some other way, straight to the client
        try:
            util.write_nonblock(client, self._problem_response(int(parts[1]), parts[2], exc))
        except Exception:
            self.log.debug("Failed to send error message.")

    def _problem_response(self, status: int, reason: str, exc: BaseException) -> bytes:
        """The whole HTTP answer for gunicorn's ``status``, with the app's problem body."""
        from app.domain.errors import ZeuesError
        from app.errors import INTERNAL_DETAIL, PROBLEM_JSON, ValidationError, problem_body
        from app.security import SECURITY_HEADERS

        if status >= 500 and status != 501:
            error = ZeuesError(INTERNAL_DETAIL)
        else:
            # 501 is gunicorn's answer to a Transfer-Encoding it does not implement: the client's request.
            cause = str(exc)[:_REASON_CHARS]
            error = ValidationError(f"{_DETAILS.get(status, _MALFORMED)}: {cause}", status=status)
        body = json.dumps(problem_body(error)).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\n"
            "Connection: close\r\n"
            f"Content-Type: {PROBLEM_JSON}\r\n"
            f"Content-Length: {len(body)}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS)
            + "\r\n"
        )
        return head.encode("latin-1") + body
