"""Chaos on the real gunicorn + gevent server: the worker process is killed (SIGKILL) again and again while
tablets send commands with Idempotency-Keys and retry lost answers with the same key, as the page does.
Nothing acknowledged is lost or applied twice, no event is without its row change, and the file stays sound."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

pytestmark = pytest.mark.server

TABLETS = (1, 2, 3, 4)  # the demo shop's active ARMADORes, one per tablet
SPOOLS_PER_TABLET = 1
KILLS = 6


class Tablet:
    """One tablet cycling TOMAR → PAUSAR ARM on its own spools; every command is retried with the same key
    until an answer arrives."""

    def __init__(self, url: str, worker_id: int, tags: list[str], stop: threading.Event) -> None:
        self.url, self.worker_id, self.tags, self.stop = url, worker_id, tags, stop
        self.acknowledged: dict[str, dict] = {}  # Idempotency-Key -> the event of its 200
        self.lost_answers = 0
        self.session = requests.Session()

    def send(self, accion: str, tag: str) -> None:
        key = f"chaos-{self.worker_id}-{uuid.uuid4()}"
        body = {"tag_spool": tag, "worker_id": self.worker_id, "operacion": "ARM"}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                response = self.session.post(
                    f"{self.url}/api/{accion}-accion", json=body, headers={"Idempotency-Key": key}, timeout=10
                )
            except requests.RequestException:
                response = None
            if response is not None and response.status_code < 500:
                assert response.status_code == 200, response.text  # each tablet owns its spools: no conflict
                self.acknowledged[key] = response.json()["event"]
                return
            self.lost_answers += 1
            self.session.close()  # the worker died under this connection: the next try opens a new one
            self.session = requests.Session()
            time.sleep(0.05)  # the tablet's retry pause; the server is respawning its worker meanwhile
        raise AssertionError(f"no answer for {accion} {tag} within 30 s")

    def run(self) -> None:
        while not self.stop.is_set():
            for tag in self.tags:
                self.send("tomar", tag)
            for tag in self.tags:
                self.send("pausar", tag)
        self.session.close()


def serving_worker(server, other_than: int | None, within: float = 20.0) -> int:
    """The pid of a worker that answers requests, once it is not ``other_than``."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        pids = server.worker_pids()
        if len(pids) == 1 and pids[0] != other_than:
            try:
                if requests.get(f"{server.url}/api/health", timeout=2).ok:
                    return pids[0]
            except requests.RequestException:
                pass
        time.sleep(0.05)  # polling an observable condition, bounded by the deadline
    raise AssertionError(f"no new worker answered within {within} s")


def acknowledged_count(tablets: list[Tablet]) -> int:
    return sum(len(t.acknowledged) for t in tablets)


def test_killing_the_worker_loses_no_acknowledged_command_and_applies_none_twice(live_server):
    disponibles = requests.get(f"{live_server.url}/api/spools", params={"estado": "DISPONIBLE"}, timeout=10).json()
    tags = [s["tag_spool"] for s in disponibles["spools"]][: len(TABLETS) * SPOOLS_PER_TABLET]
    assert len(tags) == len(TABLETS) * SPOOLS_PER_TABLET
    stop = threading.Event()
    tablets = [
        Tablet(live_server.url, worker, tags[i * SPOOLS_PER_TABLET : (i + 1) * SPOOLS_PER_TABLET], stop)
        for i, worker in enumerate(TABLETS)
    ]
    kills = 0
    with ThreadPoolExecutor(len(tablets)) as pool:
        running = [pool.submit(t.run) for t in tablets]
        try:
            worker = serving_worker(live_server, other_than=None)
            for _ in range(KILLS):
                # Kill only once commands are flowing through this worker, so each kill lands among them.
                progress = acknowledged_count(tablets) + 10
                deadline = time.monotonic() + 15
                while acknowledged_count(tablets) < progress:
                    assert time.monotonic() < deadline, "commands stopped flowing"
                    assert not any(f.done() for f in running), [f.exception() for f in running if f.done()]
                    time.sleep(0.01)  # polling an observable condition, bounded by the deadline
                os.kill(worker, signal.SIGKILL)
                kills += 1
                worker = serving_worker(live_server, other_than=worker)
            progress = acknowledged_count(tablets) + 10
            deadline = time.monotonic() + 15
            while acknowledged_count(tablets) < progress:  # the last worker serves commands too
                assert time.monotonic() < deadline, "commands stopped flowing after the last kill"
                time.sleep(0.01)  # polling an observable condition, bounded by the deadline
        finally:
            stop.set()
        for future in running:
            future.result()
    live_server.stop()

    assert kills == KILLS
    assert sum(t.lost_answers for t in tablets) >= KILLS  # the kills did cut commands in flight
    acknowledged = {key: event for t in tablets for key, event in t.acknowledged.items()}
    with sqlite3.connect(live_server.db) as db:
        db.row_factory = sqlite3.Row
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        events = db.execute(
            f"SELECT * FROM metadata WHERE tag_spool IN ({','.join('?' * len(tags))}) ORDER BY seq", tags
        ).fetchall()
        rows = {r["tag_spool"]: r for r in db.execute("SELECT * FROM operaciones")}
    logged: dict[str, list[str]] = {}
    for event in events:
        logged.setdefault(json.loads(event["metadata_json"])["idempotency_key"], []).append(event["id"])
    # Every acknowledged command is in the log exactly once, as the event its answer carried; and every
    # command in the log was acknowledged (the tablets retried each one until it was).
    assert {key: [event["id"]] for key, event in acknowledged.items()} == logged
    # No event without its row change: replaying each spool's events gives its row.
    for tag in tags:
        ocupado_por, version = None, None
        for event in (e for e in events if e["tag_spool"] == tag):
            ocupado_por = event["worker_id"] if event["evento_tipo"] == "TOMAR_ARM" else None
            assert event["evento_tipo"] in ("TOMAR_ARM", "PAUSAR_ARM")
            version = json.loads(event["metadata_json"])["version"]
        assert (rows[tag]["ocupado_por"], rows[tag]["version"]) == (ocupado_por, version), tag
