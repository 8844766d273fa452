"""The real gunicorn + gevent server in a subprocess: races, idempotency and restarts."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

pytestmark = pytest.mark.server

TOMADORES = (1, 2, 3, 4)  # every active ARMADOR of the demo shop


def spools(server, **filtros):
    return requests.get(f"{server.url}/api/spools", params=filtros, timeout=10).json()["spools"]


def historial(server, tag):
    return requests.get(f"{server.url}/api/spools/{tag}/historial", timeout=10).json()["events"]


def test_thirty_concurrent_tomar_on_one_spool_one_wins(live_server):
    tag = spools(live_server, estado="DISPONIBLE")[0]["tag_spool"]
    barrier = threading.Barrier(30)

    def tomar(i: int) -> requests.Response:
        with requests.Session() as session:
            payload = {"tag_spool": tag, "worker_id": TOMADORES[i % len(TOMADORES)], "operacion": "ARM"}
            barrier.wait()  # all thirty leave together
            return session.post(f"{live_server.url}/api/tomar-accion", json=payload, timeout=30)

    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(tomar, range(30)))

    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [409] * 29
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"SPOOL_OCCUPIED"}
    winner = next(r.json() for r in answers if r.status_code == 200)
    assert [e["id"] for e in historial(live_server, tag)] == [winner["event"]["id"]]
    assert (
        requests.get(f"{live_server.url}/api/spools/{tag}", timeout=10).json()["ocupado_por"]
        == (winner["spool"]["ocupado_por"])
    )


def test_concurrent_retries_of_one_idempotent_tap_apply_once(live_server):
    tag = spools(live_server, estado="DISPONIBLE")[1]["tag_spool"]
    payload = {"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}
    barrier = threading.Barrier(10)

    def tap(_: int) -> requests.Response:
        barrier.wait()
        return requests.post(
            f"{live_server.url}/api/tomar-accion", json=payload, headers={"Idempotency-Key": "tap-123"}, timeout=30
        )

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(tap, range(10)))
    assert {r.status_code for r in answers} == {200}
    assert len({r.text for r in answers}) == 1
    assert len(historial(live_server, tag)) == 1


def test_restart_on_the_same_file_loses_nothing_and_keeps_idempotency(live_server):
    tag = spools(live_server, estado="DISPONIBLE")[0]["tag_spool"]
    literal = '=IMPORTXML("http://x") Ñandú – 日本'
    payload = {"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}
    primera = requests.post(
        f"{live_server.url}/api/tomar-accion",
        json=payload,
        headers={"Idempotency-Key": literal.encode().hex()},
        timeout=10,
    )
    assert primera.status_code == 200
    antes = requests.get(f"{live_server.url}/api/spools", timeout=10).json()

    live_server.restart()

    despues = requests.get(f"{live_server.url}/api/spools", timeout=10).json()
    assert despues["spools"] == antes["spools"]
    assert despues["cursor"] == antes["cursor"]  # same data, same cursor, in a new process
    segunda = requests.post(
        f"{live_server.url}/api/tomar-accion",
        json=payload,
        headers={"Idempotency-Key": literal.encode().hex()},
        timeout=10,
    )
    assert segunda.status_code == 200 and segunda.json() == primera.json()
    assert len(historial(live_server, tag)) == 1


def test_errors_from_the_real_server_are_problem_json(live_server):
    response = requests.get(f"{live_server.url}/nada", timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    big = requests.post(
        f"{live_server.url}/api/tomar-accion",
        data=b"{" + b" " * 100_000 + b"}",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert big.status_code == 413 and big.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_server_log_has_no_warning_or_traceback(live_server):
    # gevent's MonkeyPatchWarning (an ssl import before patching) would surface here, not in pytest.
    requests.get(f"{live_server.url}/api/spools", timeout=10)
    requests.get(f"{live_server.url}/api/changes", params={"since": "x"}, timeout=10)
    live_server.stop()
    log = live_server.log.read_text()
    assert "Booting worker" in log
    assert "Warning" not in log and "Traceback" not in log and "[ERROR]" not in log
