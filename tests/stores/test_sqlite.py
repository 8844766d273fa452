"""SQLite-only guarantees: several processes on one file, durable settings, the append-only log,
workers changed by another connection seen at once."""

from __future__ import annotations

import dataclasses
import multiprocessing
import sqlite3

import pytest

from app import create_app, demo
from app.domain.model import Estado, Rol, Spool, Worker
from app.stores.base import StaleWrite
from app.stores.sqlite import SqliteStore
from tests.conftest import make_sqlite_app


def _tomar_en_otro_proceso(db: str, tag: str, worker: int, start, results, key: str | None = None) -> None:
    """A separate process with its own app on the same file."""
    app = create_app({"DB": db})
    client = app.test_client()
    headers = {"Idempotency-Key": key} if key else {}
    start.wait()
    response = client.post(
        "/api/tomar-accion", json={"tag_spool": tag, "worker_id": worker, "operacion": "ARM"}, headers=headers
    )
    results.put((response.status_code, response.json.get("code"), response.json.get("event", {}).get("id")))


def test_several_processes_on_one_file_one_tomar_wins_and_distinct_spools_all_commit(tmp_path):
    db = str(tmp_path / "shared.sqlite3")
    app = create_app({"DB": db})
    store = app.extensions["zeues"].store
    store.load(demo.spools(), demo.WORKERS)
    libres = [s.tag_spool for s in store.snapshot().spools if s.estado == Estado.DISPONIBLE]
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(8), ctx.Queue()
    # Four processes race for one spool; four others each take their own.
    jobs = [(libres[0], 1 + i % 3) for i in range(4)] + [(libres[1 + i], 1 + i % 3) for i in range(4)]
    procs = [ctx.Process(target=_tomar_en_otro_proceso, args=(db, tag, w, start, results)) for tag, w in jobs]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
    assert sorted(o[:2] for o in outcomes) == sorted([(200, None)] * 5 + [(409, "SPOOL_OCCUPIED")] * 3)
    assert len(store.events(libres[0])) == 1
    assert all(len(store.events(tag)) == 1 for tag in libres[1:5])
    store.close()


def test_wal_and_full_synchronous_are_in_force(app):
    store = app.extensions["zeues"].store
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_the_event_log_refuses_edits_and_deletes(app):
    with sqlite3.connect(app.config["DB"]) as db:
        db.execute(
            "INSERT INTO metadata (id, timestamp, evento_tipo, tag_spool, worker_id, worker_nombre, operacion,"
            " accion, fecha_operacion, metadata_json) VALUES ('e1', 't', 'TOMAR_ARM', 'T', 1, 'n', 'ARM',"
            " 'TOMAR', 'f', '{}')"
        )
    for sql in ("UPDATE metadata SET worker_id = 2", "DELETE FROM metadata"):
        with sqlite3.connect(app.config["DB"]) as db, pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)


def test_the_same_idempotent_tap_from_several_processes_applies_once(tmp_path):
    db = str(tmp_path / "shared.sqlite3")
    app = create_app({"DB": db})
    store = app.extensions["zeues"].store
    store.load(demo.spools(), demo.WORKERS)
    tag = next(s.tag_spool for s in store.snapshot().spools if s.estado == Estado.DISPONIBLE)
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_tomar_en_otro_proceso, args=(db, tag, 1, start, results, "tap-9")) for _ in range(4)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
    [event] = store.events(tag)
    assert outcomes == [(200, None, event.id)] * 4
    store.close()


JUAN = Worker(1, "Juan", "Pérez", (Rol.ARMADOR,), True)
SPOOL = Spool("MK-1335-CW-25238-011", version="v-a")


def test_a_worker_changed_by_another_process_is_seen_on_the_next_read(tmp_path):
    db = tmp_path / "zeues.sqlite3"
    server = SqliteStore(str(db))
    server.load([SPOOL], [JUAN])
    assert server.workers()[1].activo  # read once, so a stale copy would be kept
    cli = SqliteStore(str(db))  # another connection, as `flask import` in another process
    try:
        cli.load([], [dataclasses.replace(JUAN, activo=False), Worker(2, "Ana", "Soto", (Rol.SOLDADOR,), True)])
        workers = server.workers()
    finally:
        cli.close()
        server.close()
    assert not workers[1].activo
    assert workers[2].nombre_completo == "Ana Soto"


def test_a_worker_changed_by_this_store_is_seen_on_the_next_read(tmp_path):
    store = SqliteStore(str(tmp_path / "zeues.sqlite3"))
    try:
        store.load([SPOOL], [JUAN])
        assert store.workers()[1].roles == (Rol.ARMADOR,)
        store.load([], [dataclasses.replace(JUAN, roles=(Rol.SOLDADOR,))])
        assert store.workers()[1].roles == (Rol.SOLDADOR,)
    finally:
        store.close()


def test_a_caller_changing_the_workers_it_got_does_not_change_the_store(tmp_path):
    store = SqliteStore(str(tmp_path / "zeues.sqlite3"))
    try:
        store.load([SPOOL], [JUAN])
        store.workers().clear()
        assert list(store.workers()) == [1]
    finally:
        store.close()


def test_a_worker_deactivated_from_the_cli_is_refused_by_the_running_service(tmp_path):
    app = make_sqlite_app(tmp_path, demo.spools(), demo.WORKERS)
    client = app.test_client()
    libres = [s.tag_spool for s in app.extensions["zeues"].store.snapshot().spools if s.estado == Estado.DISPONIBLE]
    primera = {"tag_spool": libres[0], "worker_id": 1, "operacion": "ARM"}
    assert client.post("/api/tomar-accion", json=primera).status_code == 200  # workers read while active
    cli = SqliteStore(app.config["DB"])
    try:
        cli.load([], [dataclasses.replace(demo.WORKERS[0], activo=False)])
    finally:
        cli.close()

    answer = client.post("/api/tomar-accion", json={**primera, "tag_spool": libres[1]})

    app.extensions["zeues"].store.close()
    assert answer.status_code == 403
    assert answer.json["code"] == "WORKER_INACTIVE"


def test_load_replaces_a_row_only_while_it_holds_the_version_the_caller_read(tmp_path):
    store = SqliteStore(str(tmp_path / "zeues.sqlite3"))
    try:
        store.load([SPOOL], [JUAN])
        armado = dataclasses.replace(SPOOL, armador=1, fecha_armado="2026-11-03", version="v-b")
        with pytest.raises(StaleWrite):
            store.load([armado], [], {SPOOL.tag_spool: "v-read-before-a-command"})
        assert store.spool(SPOOL.tag_spool) == SPOOL

        store.load([armado], [], {SPOOL.tag_spool: "v-a"})
        assert store.spool(SPOOL.tag_spool) == armado
    finally:
        store.close()


def test_load_that_would_add_an_existing_tag_writes_nothing_at_all(tmp_path):
    store = SqliteStore(str(tmp_path / "zeues.sqlite3"))
    try:
        store.load([SPOOL], [JUAN])
        before = store.snapshot()
        nuevo, ana = Spool("MK-1335-CW-25238-012", version="v-n"), Worker(2, "Ana", "Soto", (Rol.SOLDADOR,), True)
        with pytest.raises(StaleWrite):
            store.load([nuevo, dataclasses.replace(SPOOL, armador=1, version="v-b")], [ana])
        assert store.snapshot() == before
        assert 2 not in store.workers()
    finally:
        store.close()


