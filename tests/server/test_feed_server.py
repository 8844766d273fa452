"""The long-poll feed on the real gunicorn + gevent server (SPEC §6)."""

from __future__ import annotations

import http.client
import json
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime

import pytest
import requests

from tests.conftest import nothing_changed

pytestmark = pytest.mark.server


def cursor_of(server):
    return requests.get(f"{server.url}/api/health", timeout=10).json()["cursor"]


def hold(server, since, timeout=25, started: threading.Barrier | None = None):
    """A long poll; returns (seconds it took, body)."""
    with requests.Session() as session:
        if started is not None:
            started.wait()
        t0 = time.monotonic()
        response = session.get(
            f"{server.url}/api/changes", params={"since": since, "timeout": timeout}, timeout=timeout + 10
        )
        assert response.status_code == 200, response.text
        return time.monotonic() - t0, response.json(), time.monotonic()


def libre(server):
    spools = requests.get(f"{server.url}/api/spools", params={"estado": "DISPONIBLE"}, timeout=10).json()
    return spools["spools"][0]["tag_spool"]


def wait_for_waiters(server, n, within=20.0):
    """Return once the server reports ``n`` requests held (its own count, in /api/health)."""
    deadline = time.monotonic() + within
    while (held := requests.get(f"{server.url}/api/health", timeout=10).json()["waiters"]) < n:
        assert time.monotonic() < deadline, f"only {held} of {n} waiters arrived"
        time.sleep(0.05)  # polling an observable condition, bounded by the deadline


def test_one_command_releases_every_waiter_within_a_second(live_server):
    cursor, tag = cursor_of(live_server), libre(live_server)
    n = 200
    started = threading.Barrier(n + 1)
    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(hold, live_server, cursor, 25, started) for _ in range(n)]
        started.wait()
        wait_for_waiters(live_server, n)
        answer = requests.post(
            f"{live_server.url}/api/tomar-accion",
            json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"},
            timeout=10,
        )
        done = time.monotonic()
        assert answer.status_code == 200
        results = [f.result() for f in futures]
    lags = sorted(end - done for _took, _body, end in results)
    assert all(body["changed"] and [s["tag_spool"] for s in body["spools"]] == [tag] for _t, body, _e in results)
    assert all(body["spools"][0]["ocupado_por"] == 1 for _t, body, _e in results)
    assert lags[-1] < 1.0, lags[-5:]


def test_timeout_two_answers_nothing_changed_after_about_two_seconds(live_server):
    cursor = cursor_of(live_server)
    took, body, _ = hold(live_server, cursor, timeout=2)
    assert body == nothing_changed(cursor)
    assert 1.5 <= took <= 2.5


def test_garbage_cursor_resets_at_once(live_server):
    took, body, _ = hold(live_server, "not-a-cursor", timeout=25)
    assert body["reset"] is True and len(body["spools"]) == 63
    assert took < 2


def test_a_cursor_from_before_a_restart_holds_if_data_unchanged_or_resets_at_once(live_server):
    before = cursor_of(live_server)
    live_server.restart()
    # Same data in a new process: the cursor still describes it, so the request holds.
    took, body, _ = hold(live_server, before, timeout=2)
    assert body["changed"] is False and body["cursor"] == before and took >= 1.5
    # Data changed while the server was down: the old cursor is unknown there, so reset now.
    live_server.stop()
    with sqlite3.connect(live_server.db) as db:
        db.execute("UPDATE operaciones SET version = 'office-edit' WHERE posicion = 1")
    live_server.start()
    took, body, _ = hold(live_server, before, timeout=25)
    assert body["reset"] is True and body["cursor"] != before and took < 2


def test_sigterm_answers_held_requests_instead_of_cutting_them(live_server):
    cursor = cursor_of(live_server)
    started = threading.Barrier(11)
    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(hold, live_server, cursor, 25, started) for _ in range(10)]
        started.wait()
        wait_for_waiters(live_server, 10)
        t0 = time.monotonic()
        live_server.proc.send_signal(signal.SIGTERM)
        results = [f.result() for f in futures]
    # Answered, with nothing changed, and asked not to come back at once to a server that is going away.
    assert all(body == {**nothing_changed(cursor), "retry_after_ms": 1000} for _t, body, _e in results)
    assert max(end for _t, _b, end in results) - t0 < 5
    assert live_server.proc.wait(30) == 0


def test_a_change_by_another_process_reaches_waiters_within_one_poll(live_server):
    cursor = cursor_of(live_server)
    tag = libre(live_server)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(hold, live_server, cursor, 25)
        with sqlite3.connect(live_server.db) as db:  # e.g. the CLI or a second worker process
            db.execute(
                "UPDATE operaciones SET ocupado_por = 2, timestamp_ocupacion = '2026-01-01T00:00:00Z', "
                "version = 'other-process' WHERE tag_spool = ?",
                (tag,),
            )
        written = time.monotonic()
        _took, body, end = future.result()
    assert [s["tag_spool"] for s in body["spools"]] == [tag]
    assert body["spools"][0]["ocupado_por_nombre"] == "Pedro González"
    # The poller reads every 2 s while commands flow and 5 s otherwise: within one interval.
    assert end - written <= 5.5


def test_a_released_poll_is_a_whole_http_answer_and_the_connection_goes_on(live_server):
    """Released waiters get one prebuilt answer written straight to their socket: it must be the
    answer a client expects (status, headers, exact length, a Date it can correct its clock with)
    and leave the keep-alive connection ready for the next poll."""
    cursor, tag = cursor_of(live_server), libre(live_server)
    conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=30)
    with ThreadPoolExecutor(1) as pool:
        conn.request("GET", f"/api/changes?since={cursor}&timeout=20")
        wait_for_waiters(live_server, 1)
        pool.submit(
            requests.post,
            f"{live_server.url}/api/tomar-accion",
            json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"},
            timeout=10,
        ).result()
        response = conn.getresponse()
        body = response.read()
    assert response.status == 200 and response.version == 11
    assert response.getheader("Content-Type") == "application/json"
    assert response.getheader("Cache-Control") == "no-store"
    assert int(response.getheader("Content-Length")) == len(body)
    assert abs(parsedate_to_datetime(response.getheader("Date")).timestamp() - time.time()) < 5
    answer = json.loads(body)
    assert answer["changed"] is True and [s["tag_spool"] for s in answer["spools"]] == [tag]
    # The same connection carries the next poll, answered at once with nothing new.
    conn.request("GET", f"/api/changes?since={answer['cursor']}&timeout=0")
    again = conn.getresponse()
    assert again.status == 200 and json.loads(again.read()) == nothing_changed(answer["cursor"])
    conn.close()
