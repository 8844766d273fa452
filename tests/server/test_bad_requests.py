"""Bad request bodies on the real gunicorn + gevent server: a problem+json answer, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import LiveServer

pytestmark = pytest.mark.server

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code"}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    """One server for the module: refused requests change nothing, and the one command takes its own spool."""
    live = LiveServer(tmp_path_factory.mktemp("bad-requests"))
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
