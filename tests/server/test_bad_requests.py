"""Bad requests on the real gunicorn + gevent server: a problem+json answer, never HTML, never a traceback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import LiveServer
from tests.server.conftest import OPEN

pytestmark = pytest.mark.server

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code"}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    """One server for the module: refused requests change nothing, and the one command takes its own spool."""
    live = LiveServer(tmp_path_factory.mktemp("bad-requests"), OPEN)
    live.load_demo()
    live.start()
    yield live
    live.stop()


def log_since(server: LiveServer, offset: int) -> str:
    """What the server logged after ``offset`` bytes."""
    return server.log.read_bytes()[offset:].decode("utf-8", "replace")


def assert_problem(status: int, content_type: str, body: bytes, expected: int, code: str) -> dict:
    """An answer is the SPEC §5 problem+json for ``expected``/``code``."""
    assert status == expected, body[:300]
    assert content_type == "application/problem+json"
    problem = json.loads(body)
    assert set(problem) >= PROBLEM_MEMBERS
    assert (problem["status"], problem["code"]) == (expected, code)
    return problem


def assert_problem_response(response: requests.Response, expected: int, code: str) -> dict:
    """``response`` is the SPEC §5 problem+json for ``expected``/``code``."""
    return assert_problem(response.status_code, response.headers["Content-Type"], response.content, expected, code)


def libre(server: LiveServer) -> str:
    spools = requests.get(f"{server.url}/api/spools", params={"estado": "DISPONIBLE"}, timeout=10).json()
    return spools["spools"][0]["tag_spool"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 964 + b"]" * 964, id="nested-964-lists"),
        pytest.param(b'{"a":' * 3000 + b"1" + b"}" * 3000, id="nested-3000-objects"),
        pytest.param(b"1" * 4301, id="integer-of-4301-digits"),
        pytest.param(b'{"worker_id": ' + b"9" * 5000 + b"}", id="worker-id-of-5000-digits"),
        pytest.param(b"", id="empty"),
    ],
)
def test_json_the_server_cannot_read_is_400_without_a_traceback(server, body):
    offset = server.log.stat().st_size
    answer = requests.post(
        f"{server.url}/api/tomar-accion", data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert_problem_response(answer, 400, "VALIDATION_ERROR")
    assert "Traceback" not in log_since(server, offset)


def chunked(body: bytes) -> Iterator[bytes]:
    """``body`` sent without Content-Length (Transfer-Encoding: chunked), 8 KB a chunk."""
    for start in range(0, len(body), 8192):
        yield body[start : start + 8192]


def test_a_chunked_body_is_held_to_64_kb_like_any_other(server):
    command = json.dumps({"tag_spool": libre(server), "worker_id": 1, "operacion": "ARM"}).encode()
    at_the_limit = command[:-1] + b" " * (64 * 1024 - len(command)) + b"}"

    too_large = requests.post(
        f"{server.url}/api/tomar-accion",
        data=chunked(at_the_limit[:-1] + b" }"),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert too_large.request.headers.get("Transfer-Encoding") == "chunked"
    assert_problem_response(too_large, 413, "PAYLOAD_TOO_LARGE")

    served = requests.post(
        f"{server.url}/api/tomar-accion",
        data=chunked(at_the_limit),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert served.status_code == 200, served.text
    assert served.json()["spool"]["ocupado_por"] == 1


def raw_exchange(server: LiveServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as bytes on a fresh connection; the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):  # gunicorn closes the connection after its own errors
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        pytest.param(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Tag: a\x00b\r\n\r\n", 400, id="nul-in-header"),
        pytest.param(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Tag: a\rb\r\n\r\n", 400, id="cr-in-header"),
        pytest.param(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Tag: a\nb\r\n\r\n", 400, id="lf-in-header"),
        pytest.param(
            b"POST /api/tomar-accion HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 12x\r\n\r\n{}",
            400,
            id="bad-content-length",
        ),
        pytest.param(b"GET /api/spools/" + b"A" * 4080 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, id="4080-char-tag"),
        pytest.param(
            b"POST /api/tomar-accion HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Idempotency-Key: " + b"k" * 10240 + b"\r\nContent-Length: 2\r\n\r\n{}",
            431,
            id="10-kb-idempotency-key",
        ),
        pytest.param(b"NOT HTTP AT ALL\r\n\r\n", 400, id="garbage-request-line"),
    ],
)
def test_requests_gunicorn_refuses_are_problem_json(server, request_bytes, status):
    offset = server.log.stat().st_size
    got, headers, body = raw_exchange(server, request_bytes)
    problem = assert_problem(got, headers.get("content-type", ""), body, status, "VALIDATION_ERROR")
    assert int(headers["content-length"]) == len(body)
    assert problem["detail"]
    assert "Traceback" not in log_since(server, offset)
    # The worker that answered is still serving.
    assert requests.get(f"{server.url}/api/health", timeout=10).ok
