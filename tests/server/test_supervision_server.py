"""SPEC §13 on the real gunicorn + gevent server: holds reach long-polling clients at once, and the shift
end releases every held spool once with several worker processes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from app import demo
from tests.conftest import LiveServer
from tests.server.test_feed_server import cursor_of, hold, wait_for_waiters

pytestmark = pytest.mark.server

SUPERVISOR = 11
PLANT = "America/Santiago"


def held_release(server, cursor, post) -> tuple[float, dict]:
    """Hold a long poll on ``cursor``, then ``post()`` a command: (seconds from the answer to the command
    to the poll's answer, the poll's body)."""
    with ThreadPoolExecutor(1) as pool:
        waiter = pool.submit(hold, server, cursor, 25)
        wait_for_waiters(server, 1)
        answer = post()
        done = time.monotonic()
        assert answer.status_code == 200, answer.text
        _took, body, end = waiter.result()
    return end - done, body


def test_a_hold_and_its_release_reach_a_waiting_client_within_a_second(live_server):
    tag = requests.get(f"{live_server.url}/api/spools", params={"estado": "OCUPADO_SOLD"}, timeout=10).json()
    tag = tag["spools"][0]["tag_spool"]

    def command(accion: str, **body):
        payload = {"tag_spool": tag, "worker_id": SUPERVISOR, **body}
        return lambda: requests.post(f"{live_server.url}/api/{accion}-accion", json=payload, timeout=10)

    lag, body = held_release(live_server, cursor_of(live_server), command("bloquear", motivo="EQUIPO"))
    assert lag < 1.0
    [spool] = body["spools"]
    assert (spool["tag_spool"], spool["estado"], spool["bloqueo_motivo"], spool["estado_previo"]) == (
        tag,
        "BLOQUEADO",
        "EQUIPO",
        "ARM_COMPLETADO",
    )

    lag, body = held_release(live_server, body["cursor"], command("desbloquear"))
    assert lag < 1.0
    [spool] = body["spools"]
    assert (spool["estado"], spool["bloqueo_motivo"]) == ("ARM_COMPLETADO", None)


# --- the shift end with several processes -------------------------------------------------------------


def shift_end_in(seconds: int) -> tuple[datetime, str]:
    """A shift end ``seconds`` from now (before now when negative), and ZEUES_SHIFT_ENDS naming it in plant
    time (to the second)."""
    fin = (datetime.now(UTC) + timedelta(seconds=seconds)).astimezone(ZoneInfo(PLANT)).replace(microsecond=0)
    return fin, fin.strftime("%H:%M:%S")


def occupied(server) -> dict[str, int]:
    spools = requests.get(f"{server.url}/api/spools", timeout=10).json()["spools"]
    return {s["tag_spool"]: s["ocupado_por"] for s in spools if s["ocupado_por"]}


def releases(server, tag: str) -> list[dict]:
    events = requests.get(f"{server.url}/api/spools/{tag}/historial", timeout=10).json()["events"]
    return [e for e in events if e["metadata_json"].get("motivo") == "FIN_DE_TURNO"]


def shift_end_lines(servers, fin: datetime) -> list[int]:
    """What each worker process that has run this shift end says it released itself."""
    line = re.escape(f"shift end {fin.isoformat()}: ") + r"(\d+) spools released here"
    return [int(n) for server in servers for n in re.findall(line, server.log.read_text())]


def assert_released_once(servers: list[LiveServer], held: dict[str, int], fin: datetime, processes: int) -> None:
    """Wait until every process has run the shift end, then check each spool was released exactly once."""
    deadline = time.monotonic() + 60
    while len(shift_end_lines(servers, fin)) < processes:
        assert time.monotonic() < deadline, [s.log.read_text()[-2000:] for s in servers]
        time.sleep(0.2)  # polling the servers' logs for an observable condition, bounded by the deadline
    released_here = shift_end_lines(servers, fin)
    assert len(released_here) == processes and sum(released_here) == len(held)
    for tag, holder in held.items():
        [event] = releases(servers[0], tag)
        assert (event["worker_id"], event["worker_nombre"], event["accion"]) == (0, "Sistema", "PAUSAR")
        assert event["metadata_json"]["ocupado_por"] == holder
        assert event["timestamp"] >= fin.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Every process's feed shows it: at once where it committed, by its next poll (or announcement) elsewhere.
    for server in servers:
        while occupied(server):
            assert time.monotonic() < deadline
            time.sleep(0.2)  # polling an observable condition, bounded by the deadline


# The shift ends here passed a moment before the servers start: every process catches a missed shift end
# up at start, all at once, which is the race exactly-once has to win (the scheduled run, on an
# injected clock, is tested in tests/test_turnos.py).
HELD = {s.tag_spool: s.ocupado_por for s in demo.spools() if s.ocupado}


def test_the_shift_end_releases_each_spool_once_with_two_workers_on_sqlite(tmp_path):
    fin, setting = shift_end_in(-1)
    server = LiveServer(tmp_path, {"ZEUES_WORKERS": "2", "ZEUES_SHIFT_ENDS": setting, "ZEUES_TIMEZONE": PLANT})
    server.load_demo()
    server.start()
    try:
        assert len(HELD) >= 12
        assert_released_once([server], HELD, fin, processes=2)
    finally:
        server.stop()


def test_the_shift_end_releases_each_spool_once_with_two_instances_of_two_workers_on_postgres(
    tmp_path, postgres_url
):
    fin, setting = shift_end_in(-1)
    env = {"ZEUES_WORKERS": "2", "ZEUES_SHIFT_ENDS": setting, "ZEUES_TIMEZONE": PLANT}
    servers = [LiveServer(tmp_path, env, database_url=postgres_url, name=f"instance-{n}") for n in "ab"]
    servers[0].load_demo()
    started = threading.Barrier(2)

    def start(server: LiveServer) -> None:
        started.wait()
        server.start()

    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(start, servers))
        assert_released_once(servers, HELD, fin, processes=4)
    finally:
        for server in servers:
            server.stop()
