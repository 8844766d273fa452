"""Two real gunicorn instances (two gevent workers each) on one PostgreSQL database, alone and behind
the real nginx running deploy/nginx.conf (SPEC §12)."""

from __future__ import annotations

import os
import signal
import socketserver
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests

from tests.conftest import LiveServer, nothing_changed
from tests.nginx_server import Nginx
from tests.server.conftest import OPEN

pytestmark = pytest.mark.server

TOMADORES = (1, 2, 3, 4)  # every active ARMADOR of the demo shop


@pytest.fixture(scope="module")
def instances(postgres_server, tmp_path_factory):
    """Instances A and B on one database loaded with the demo shop."""
    url = postgres_server.create_database()
    tmp = tmp_path_factory.mktemp("instances")
    # Default poll cadence: what one process learns of another's commands comes from the database's
    # change announcements (LISTEN), not from polling.
    servers = [LiveServer(tmp, {"ZEUES_WORKERS": "2", **OPEN}, database_url=url, name=f"instance-{n}") for n in "ab"]
    servers[0].load_demo()
    with psycopg.connect(url, autocommit=True) as office:  # free spools enough for every test here
        office.cursor().executemany(
            "INSERT INTO operaciones (tag_spool, version) VALUES (%s, %s)",
            [(f"MK-9000-CW-00000-{n:03d}", f"libre-{n}") for n in range(30)],
        )
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(LiveServer.start, servers))
        yield servers
    finally:
        for server in servers:
            server.stop()
        postgres_server.drop_database(url)


@pytest.fixture(scope="module")
def libres(instances):
    """Free spools of the demo shop, one for each test that takes one (an instance's snapshot may
    not show yet what another instance took a moment ago: asking it again could hand out a taken one)."""
    spools = requests.get(f"{instances[0].url}/api/spools", params={"estado": "DISPONIBLE"}, timeout=10).json()
    return iter([s["tag_spool"] for s in spools["spools"]])


def historial(base_url: str, tag: str) -> list[dict]:
    return requests.get(f"{base_url}/api/spools/{tag}/historial", timeout=10).json()["events"]


def test_thirty_concurrent_tomar_across_two_instances_one_wins(instances, libres):
    tag = next(libres)
    barrier = threading.Barrier(30)

    def tomar(i: int) -> requests.Response:
        payload = {"tag_spool": tag, "worker_id": TOMADORES[i % len(TOMADORES)], "operacion": "ARM"}
        with requests.Session() as session:
            barrier.wait()  # all thirty leave together, half to each instance
            return session.post(f"{instances[i % 2].url}/api/tomar-accion", json=payload, timeout=30)

    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(tomar, range(30)))

    assert sorted(r.status_code for r in answers) == [200] + [409] * 29
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"SPOOL_OCCUPIED"}
    winner = next(r.json() for r in answers if r.status_code == 200)
    for server in instances:
        assert [e["id"] for e in historial(server.url, tag)] == [winner["event"]["id"]]


def test_one_idempotency_key_sent_to_both_instances_applies_once(instances, libres):
    tag = next(libres)
    payload = {"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}
    barrier = threading.Barrier(10)

    def tap(i: int) -> requests.Response:
        barrier.wait()
        return requests.post(
            f"{instances[i % 2].url}/api/tomar-accion", json=payload, headers={"Idempotency-Key": "tap-ab"}, timeout=30
        )

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(tap, range(10)))

    assert {r.status_code for r in answers} == {200}
    assert len({r.text for r in answers}) == 1
    assert [e["id"] for e in historial(instances[1].url, tag)] == [answers[0].json()["event"]["id"]]


# --- behind nginx ----------------------------------------------------------------------------------


@pytest.fixture
def nginx(instances):
    """The deploy configuration in front of A and B."""
    proxy = Nginx(tuple(f"127.0.0.1:{s.port}" for s in instances))
    proxy.start()
    yield proxy
    proxy.stop()


def held_poll(base_url: str, timeout: int, deadline_s: float = 20.0) -> tuple[str, requests.Response, float]:
    """Follow the feed as a client does until a poll is held: each of the four worker processes
    answers from its own snapshot, and one that has not read the latest change yet answers at once
    with a delta or a reset. Returns the cursor sent, the held answer and how long it was held."""
    cursor = requests.get(f"{base_url}/api/changes", timeout=10).json()["cursor"]
    deadline = time.monotonic() + deadline_s
    while True:
        start = time.monotonic()
        answer = requests.get(f"{base_url}/api/changes", params={"since": cursor, "timeout": timeout}, timeout=40)
        elapsed = time.monotonic() - start
        if not answer.json()["changed"] or time.monotonic() > deadline:
            return cursor, answer, elapsed
        cursor = answer.json()["cursor"]


def test_reads_and_commands_pass_through_nginx(instances, libres, nginx):
    tag = next(libres)
    listado = requests.get(f"{nginx.url}/api/spools", timeout=10)
    tomado = requests.post(
        f"{nginx.url}/api/tomar-accion", json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}, timeout=10
    )
    assert listado.status_code == 200 and tag in [s["tag_spool"] for s in listado.json()["spools"]]
    assert tomado.status_code == 200
    assert tomado.json()["spool"]["estado"] == "OCUPADO_ARM"
    assert [e["id"] for e in historial(nginx.url, tag)] == [tomado.json()["event"]["id"]]


def test_a_long_poll_is_held_through_nginx_for_its_whole_timeout_and_never_cached(instances, libres, nginx):
    cursor, held, elapsed = held_poll(nginx.url, timeout=3)
    assert held.status_code == 200
    assert held.json() == nothing_changed(cursor)
    assert 2.0 <= elapsed < 3.5
    assert held.headers["Cache-Control"] == "no-store"

    tag = next(libres)
    requests.post(
        f"{nginx.url}/api/tomar-accion", json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}, timeout=10
    ).raise_for_status()
    # The same request again: an answer kept by the proxy would say nothing changed.
    again = requests.get(f"{nginx.url}/api/changes", params={"since": cursor, "timeout": 8}, timeout=15).json()
    assert again["changed"] is True
    assert tag in [s["tag_spool"] for s in again["spools"]]


class Dropper(socketserver.ThreadingTCPServer):
    """An instance that dies after receiving a request: reads it, then closes without answering."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.received = 0
        super().__init__(("127.0.0.1", 0), _DropHandler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def address(self) -> str:
        """host:port for the upstream list."""
        return f"127.0.0.1:{self.server_address[1]}"


class _DropHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while self.rfile.readline() not in (b"\r\n", b""):
            pass
        self.server.received += 1


@pytest.mark.parametrize(
    ("method", "key", "retried"),
    [("POST", "tap-retry-1", True), ("POST", None, False), ("GET", None, True)],
    ids=["keyed-command-retried", "unkeyed-command-not-retried", "read-retried"],
)
def test_nginx_sends_a_request_to_the_other_instance_only_when_that_is_safe(instances, libres, method, key, retried):
    tag = next(libres)
    dropper = Dropper()
    # The dropper is first in the list: nginx's round robin starts there.
    proxy = Nginx((dropper.address, f"127.0.0.1:{instances[1].port}"))
    try:
        proxy.start()
        if method == "POST":
            answer = requests.post(
                f"{proxy.url}/api/tomar-accion",
                json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"},
                headers={"Idempotency-Key": key} if key else {},
                timeout=10,
            )
        else:
            answer = requests.get(f"{proxy.url}/api/spools/{tag}", timeout=10)
    finally:
        proxy.stop(keep_files=True)  # nginx writes a request's log line after answering: read it once stopped
        dropper.shutdown()
        dropper.server_close()
    [line] = [row for row in proxy.access_log() if tag in row or "tomar-accion" in row]
    proxy.stop()

    assert dropper.received == 1
    tried = line.split("upstreams=")[1].split(", ")
    eventos = historial(instances[1].url, tag)
    if retried:
        assert answer.status_code == 200
        assert tried == [dropper.address, f"127.0.0.1:{instances[1].port}"]
        assert len(eventos) == (1 if method == "POST" else 0)
    else:
        # Nothing says whether the first instance applied it: the client is told to retry, in the
        # API's own error shape, and nothing was applied twice.
        assert answer.status_code == 503
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json()["code"] == "SOURCE_UNAVAILABLE" and answer.headers["Retry-After"] == "5"
        assert (answer.headers["X-Frame-Options"], answer.headers["X-Content-Type-Options"]) == ("DENY", "nosniff")
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert tried == [dropper.address]
        assert eventos == []


# --- fan-out: every process hears every commit ------------------------------------------------------


def wait_until(condition, deadline_s: float, what: str):
    """Poll ``condition()`` (an observable state of a server) until it is truthy; its value."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)  # probing a server's state, not standing in for synchronisation
    raise AssertionError(f"not within {deadline_s} s: {what}")


def holding(server: LiveServer) -> bool:
    """Whether one of the server's worker processes holds a long poll now (each health request
    reaches one worker: ask a few times)."""
    return any(requests.get(f"{server.url}/api/health", timeout=5).json()["waiters"] for _ in range(8))


def release_after(server: LiveServer, cursor: str, action) -> tuple[dict, float]:
    """Hold a poll on ``server`` at ``cursor``, run ``action`` once it is held: the answer, and how long
    after ``action`` returned it came."""
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(
            lambda: (requests.get(f"{server.url}/api/changes", params={"since": cursor, "timeout": 20}, timeout=30))
        )
        wait_until(lambda: holding(server), 10, "the poll is held")
        action()
        done = time.monotonic()
        answer = future.result()
        return answer.json(), time.monotonic() - done


def settled_cursor(server: LiveServer, tag: str, estado: str) -> str:
    """A cursor of ``server`` once it shows ``tag`` in ``estado`` (both of its workers agree)."""

    def agreed() -> str | None:
        seen = {requests.get(f"{server.url}/api/spools", timeout=5).json()["cursor"] for _ in range(6)}
        spool = requests.get(f"{server.url}/api/spools/{tag}", timeout=5).json()
        return seen.pop() if len(seen) == 1 and spool["estado"] == estado else None

    return wait_until(agreed, 10, f"{tag} {estado} everywhere on {server.url}")


def test_a_waiter_on_one_instance_is_released_within_a_second_of_a_command_on_the_other(instances, libres):
    a, b = instances
    tag = next(libres)
    cursor = settled_cursor(b, tag, "DISPONIBLE")

    def tomar_on_a() -> None:
        payload = {"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}
        requests.post(f"{a.url}/api/tomar-accion", json=payload, timeout=10).raise_for_status()

    body, after = release_after(b, cursor, tomar_on_a)
    assert body["changed"] is True and body["reset"] is False
    assert [s["tag_spool"] for s in body["spools"]] == [tag] and body["spools"][0]["estado"] == "OCUPADO_ARM"
    assert after < 1.0


def test_a_change_made_with_plain_sql_reaches_a_waiter_within_a_second(instances, libres, postgres_server):
    a, _ = instances
    tag = next(libres)
    cursor = settled_cursor(a, tag, "DISPONIBLE")

    def office_edit() -> None:
        with psycopg.connect(a.env["ZEUES_DATABASE_URL"], autocommit=True) as conn:
            conn.execute("UPDATE operaciones SET fecha_armado = '2026-05-04' WHERE tag_spool = %s", (tag,))

    body, after = release_after(a, cursor, office_edit)
    assert [(s["tag_spool"], s["estado"]) for s in body["spools"]] == [(tag, "ARM_COMPLETADO")]
    assert after < 1.0


@pytest.fixture
def lone(postgres_server, tmp_path):
    """One single-worker instance on a database of its own (its announcements can be cut alone)."""
    url = postgres_server.create_database()
    server = LiveServer(tmp_path, OPEN, database_url=url, name="lone")
    server.load_demo()
    server.start()
    yield server
    server.stop()
    postgres_server.drop_database(url)


def notify(server: LiveServer) -> bool | None:
    return requests.get(f"{server.url}/api/health", timeout=5).json()["notify"]


def test_a_lost_listen_connection_falls_back_to_polling_then_comes_back(lone, postgres_server):
    url = lone.env["ZEUES_DATABASE_URL"]
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    wait_until(lambda: notify(lone) is True, 10, "the listener is connected")
    tag = requests.get(f"{lone.url}/api/spools", params={"estado": "DISPONIBLE"}, timeout=5).json()["spools"][0]
    with psycopg.connect(url, autocommit=True) as office, postgres_server.admin() as admin:
        # No new connection may reach this database: the listener cannot come back until allowed again
        # (the connections the instance already holds keep serving).
        admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = 'zeues-listener'",
                (dbname,),
            )
            wait_until(lambda: notify(lone) is False, 5, "health says notify: false")
            cursor = requests.get(f"{lone.url}/api/spools", timeout=5).json()["cursor"]

            def edit() -> None:
                office.execute(
                    "UPDATE operaciones SET fecha_armado = '2026-05-04' WHERE tag_spool = %s", (tag["tag_spool"],)
                )

            body, after = release_after(lone, cursor, edit)
            assert [s["tag_spool"] for s in body["spools"]] == [tag["tag_spool"]]
            assert after < 5.0 + 1.0  # within one poll at the §6 cadence
            assert notify(lone) is False
        finally:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
        back = time.monotonic()
        wait_until(lambda: notify(lone) is True, 16, "notify: true again")
        assert time.monotonic() - back < 15.0


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (gunicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_a_follower_behind_nginx_survives_kill_9_of_its_instance_with_no_reset(instances, libres, nginx):
    tags = [next(libres) for _ in range(6)]
    first = requests.get(f"{nginx.url}/api/changes", timeout=10).json()
    copy = {s["tag_spool"]: s for s in first["spools"]}
    cursor, answers, stop = first["cursor"], [], threading.Event()

    def follow() -> None:
        nonlocal cursor
        while not stop.is_set():
            body = requests.get(f"{nginx.url}/api/changes", params={"since": cursor, "timeout": 3}, timeout=15).json()
            answers.append(body)
            if body["reset"]:
                copy.clear()
            copy.update({s["tag_spool"]: s for s in body["spools"]})
            for tag in body["removed"]:
                copy.pop(tag, None)
            cursor = body["cursor"]

    follower = threading.Thread(target=follow)
    follower.start()
    victim = None
    try:
        for n, tag in enumerate(tags):
            payload = {"tag_spool": tag, "worker_id": TOMADORES[n % len(TOMADORES)], "operacion": "ARM"}
            requests.post(
                f"{nginx.url}/api/tomar-accion", json=payload, headers={"Idempotency-Key": f"follow-{tag}"}, timeout=10
            ).raise_for_status()
            seen = lambda tag=tag: tag in copy and copy[tag]["estado"] == "OCUPADO_ARM"  # noqa: E731
            wait_until(seen, 10, f"the follower sees {tag}")
            if n == 2:
                # Kill, without a chance to answer, whichever instance holds the follower's poll now.
                victim = wait_until(lambda: next((s for s in instances if holding(s)), None), 10, "a held poll")
                for pid in [*children(victim.proc.pid), victim.proc.pid]:
                    os.kill(pid, signal.SIGKILL)
                victim.proc.wait(10)
    finally:
        stop.set()
        follower.join(20)
        if victim is not None:
            victim.start()  # the module's other tests keep both instances
    assert not any(body["reset"] for body in answers)
    assert copy == {s["tag_spool"]: s for s in requests.get(f"{nginx.url}/api/spools", timeout=10).json()["spools"]}
