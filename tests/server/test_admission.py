"""Admission control on the real gunicorn + gevent server: however many tablets wait on the feed,
commands and reads still find a connection (SPEC §6), and the worker's connections fit its open-file limit."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import LiveServer
from tests.server.conftest import OPEN
from tests.server.test_feed_server import cursor_of, hold, libre, wait_for_waiters

pytestmark = pytest.mark.server

MAX_WAITERS, CONNECTIONS = 20, 30


@pytest.fixture
def small_server(tmp_path):
    """A server that holds at most 20 polls in 30 connections."""
    server = LiveServer(
        tmp_path,
        env={**OPEN, "ZEUES_MAX_WAITERS": str(MAX_WAITERS), "ZEUES_WORKER_CONNECTIONS": str(CONNECTIONS)},
    )
    server.load_demo()
    server.start()
    yield server
    server.stop()


def timed(call):
    """(seconds the call took, its result)."""
    t0 = time.monotonic()
    result = call()
    return time.monotonic() - t0, result


def test_with_the_waiter_limit_held_reads_and_commands_still_answer_and_extra_polls_come_back_later(small_server):
    url, cursor, tag = small_server.url, cursor_of(small_server), libre(small_server)
    extra = 2 * CONNECTIONS  # more tablets than the worker has connections
    started = threading.Barrier(MAX_WAITERS + 1)
    sessions = [requests.Session() for _ in range(extra)]
    try:
        with ThreadPoolExecutor(MAX_WAITERS) as pool:
            held = [pool.submit(hold, small_server, cursor, 25, started) for _ in range(MAX_WAITERS)]
            started.wait()
            wait_for_waiters(small_server, MAX_WAITERS)

            # Each extra tablet polls once on a keep-alive session it keeps open: were those connections
            # kept, they alone would fill the worker until its keep-alive timer (5 s) closed them.
            def poll(session):
                return timed(lambda: session.get(f"{url}/api/changes", params={"since": cursor}, timeout=30))

            with ThreadPoolExecutor(16) as tablets:
                extras = list(tablets.map(poll, sessions))
            took, health = timed(lambda: requests.get(f"{url}/api/health", timeout=30))
            comando = {"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}
            took_command, answer = timed(lambda: requests.post(f"{url}/api/tomar-accion", json=comando, timeout=30))
            released = [f.result() for f in held]
    finally:
        for session in sessions:
            session.close()

    # Turned away at once, never refused: nothing changed, and a wait of a few seconds, different for
    # each tablet so that they do not all come back together.
    assert all(response.status_code == 200 for _took, response in extras)
    assert max(took for took, _response in extras) < 2
    bodies = [response.json() for _took, response in extras]
    assert all(b["changed"] is False and b["cursor"] == cursor and b["spools"] == [] for b in bodies)
    waits = [b["retry_after_ms"] for b in bodies]
    assert min(waits) >= 1000 and max(waits) <= 10_000 and len(set(waits)) > 1
    assert {response.headers["Connection"] for _took, response in extras} == {"close"}
    # Reads and commands were not locked out.
    assert health.status_code == 200 and took < 2
    assert health.json()["waiters"] == MAX_WAITERS and health.json()["max_waiters"] == MAX_WAITERS
    assert answer.status_code == 200 and took_command < 2
    # The held tablets still got the change.
    assert all(body["changed"] and [s["tag_spool"] for s in body["spools"]] == [tag] for _t, body, _e in released)


def open_files_of(pid: int) -> tuple[int, int]:
    """(soft, hard) RLIMIT_NOFILE of a running process."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError(f"no open-file limit for {pid}")


def test_a_low_soft_open_file_limit_is_raised_for_the_connections_asked_for(tmp_path):
    server = LiveServer(tmp_path, env={"ZEUES_WORKER_CONNECTIONS": "1000"}, open_files=(256, 4096))
    server.load_demo()
    server.start()
    try:
        [worker] = server.worker_pids()
        soft, hard = open_files_of(worker)
        health = requests.get(f"{server.url}/api/health", timeout=10).json()
    finally:
        server.stop()
    assert soft >= 1000 + 100 and hard == 4096
    assert health["max_waiters"] == 750


def test_the_default_connections_are_lowered_to_what_the_open_file_limit_holds(tmp_path):
    server = LiveServer(tmp_path, open_files=(256, 640))
    server.env.pop("ZEUES_WORKER_CONNECTIONS", None)  # the default, 4000, which 640 files cannot hold
    server.load_demo()
    server.start()
    try:
        [worker] = server.worker_pids()
        limits = open_files_of(worker)
        health = requests.get(f"{server.url}/api/health", timeout=10).json()
    finally:
        server.stop()
    assert limits == (640, 640)
    # 640 files less the worker's own leave 512 connections, three quarters of them for waiting tablets.
    assert health["max_waiters"] == 384
    lines = [line for line in server.log.read_text().splitlines() if "worker connections lowered" in line]
    assert lines == [
        "zeues: worker connections lowered from 4000 to 512: this process may open at most 640 files "
        "(ulimit -Hn; LimitNOFILE= in a systemd unit)"
    ]
