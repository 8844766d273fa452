"""SQLite-only guarantees: several processes on one file, durable settings, the append-only log,
workers changed by another connection seen at once."""

from __future__ import annotations

import dataclasses
import multiprocessing
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest

from app import create_app, demo
from app.domain.machine import IDEMPOTENCY_KEY, Comando, decidir
from app.domain.model import MOTIVOS_POR_DEFECTO, Accion, Estado, Motivo, Operacion, Rol, Spool, Worker
from app.stores.base import DuplicateIdempotencyKey, StaleWrite, Store
from app.stores.sqlite import SqliteStore
from tests.conftest import ROOT, make_sqlite_app


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


# --- files made by the previous release (SPEC §13 added columns and a table) ------------------------------

# The schema of release 1.0, before holds: what a shop's file looks like until this release opens it.
SCHEMA_1_0 = """
CREATE TABLE operaciones (
    posicion INTEGER PRIMARY KEY AUTOINCREMENT, tag_spool TEXT NOT NULL UNIQUE, ocupado_por INTEGER,
    timestamp_ocupacion TEXT, version TEXT, armador INTEGER, fecha_armado TEXT, soldador INTEGER,
    fecha_soldadura TEXT, metrologo INTEGER, fecha_metrologia TEXT, resultado_metrologia TEXT,
    reparacion_ciclo INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE trabajadores (id INTEGER PRIMARY KEY, nombre TEXT NOT NULL, apellido TEXT NOT NULL,
    roles TEXT NOT NULL, activo INTEGER NOT NULL);
CREATE TABLE metadata (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, timestamp TEXT NOT NULL,
    evento_tipo TEXT NOT NULL, tag_spool TEXT NOT NULL, worker_id INTEGER NOT NULL, worker_nombre TEXT NOT NULL,
    operacion TEXT NOT NULL, accion TEXT NOT NULL, fecha_operacion TEXT NOT NULL, metadata_json TEXT NOT NULL
);
CREATE INDEX metadata_por_spool ON metadata (tag_spool, seq);
CREATE TABLE idempotencia (clave TEXT PRIMARY KEY, request_hash TEXT NOT NULL,
    event_id TEXT NOT NULL REFERENCES metadata (id), respuesta TEXT NOT NULL);
CREATE TRIGGER metadata_sin_update BEFORE UPDATE ON metadata
BEGIN SELECT RAISE(ABORT, 'metadata is append-only'); END;
CREATE TRIGGER metadata_sin_delete BEFORE DELETE ON metadata
BEGIN SELECT RAISE(ABORT, 'metadata is append-only'); END;
INSERT INTO trabajadores VALUES (1, 'Juan', 'Pérez', 'ARMADOR', 1), (11, 'Patricia', 'Sepúlveda', 'SUPERVISOR', 1);
INSERT INTO operaciones (tag_spool, ocupado_por, timestamp_ocupacion, version)
    VALUES ('MK-1-CW-1-001', 1, '2026-05-04T10:00:00Z', 'v-1');
INSERT INTO metadata (id, timestamp, evento_tipo, tag_spool, worker_id, worker_nombre, operacion, accion,
    fecha_operacion, metadata_json) VALUES ('e-1', '2026-05-04T10:00:00Z', 'TOMAR_ARM', 'MK-1-CW-1-001', 1,
    'Juan Pérez', 'ARM', 'TOMAR', '2026-05-04', '{"idempotency_key": "k-1", "request_hash": "h", "version": "v-1"}');
INSERT INTO idempotencia VALUES ('k-1', 'h', 'e-1', '{"spool": {"tag_spool": "MK-1-CW-1-001", "ocupado_por": 1,
    "timestamp_ocupacion": "2026-05-04T10:00:00Z", "version": "v-1", "armador": null, "fecha_armado": null,
    "soldador": null, "fecha_soldadura": null, "metrologo": null, "fecha_metrologia": null,
    "resultado_metrologia": null, "reparacion_ciclo": 0}}');
"""


def _open_in_another_process(db: str, start, results) -> None:
    start.wait()
    try:
        SqliteStore(db).close()
        results.put("ok")
    except Exception as exc:  # reported to the test, which shows it
        results.put(repr(exc))


def test_a_file_of_the_previous_release_is_upgraded_in_place_once_by_processes_opening_it_together(tmp_path):
    db = str(tmp_path / "zeues.sqlite3")
    with sqlite3.connect(db) as old:
        old.executescript(SCHEMA_1_0)
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_open_in_another_process, args=(db, start, results)) for _ in range(4)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
    assert outcomes == ["ok"] * 4

    app = create_app({"DB": db})
    store = app.extensions["zeues"].store
    try:
        # The old data is there, the reasons were added once, and an old recorded answer still replays.
        assert store.motivos() == list(MOTIVOS_POR_DEFECTO)
        [spool] = store.snapshot().spools
        assert (spool.estado, spool.bloqueo_motivo) == (Estado.OCUPADO_ARM, None)
        assert store.idempotency("k-1").spool == spool
        held = app.test_client().post(
            "/api/bloquear-accion", json={"tag_spool": spool.tag_spool, "worker_id": 11, "motivo": "EQUIPO"}
        )
        assert held.status_code == 200, held.json
        assert store.spool(spool.tag_spool).estado == Estado.BLOQUEADO
        columns = [r[1] for r in store._conn.execute("PRAGMA table_info(operaciones)")]
        assert columns[-3:] == ["bloqueo_motivo", "bloqueo_desde", "bloqueo_nota"]
    finally:
        store.close()


def test_load_adds_only_reasons_the_shop_lacks(tmp_path):
    store = SqliteStore(str(tmp_path / "zeues.sqlite3"))
    try:
        with store._transaction() as db:  # the shop rewords one reason and switches another off
            db.execute("UPDATE motivos SET descripcion = 'Sin material en bodega' WHERE codigo = 'MATERIAL'")
            db.execute("UPDATE motivos SET activo = 0 WHERE codigo = 'EQUIPO'")
        store.load([], [], motivos=[*MOTIVOS_POR_DEFECTO, Motivo("GRUA", "Grúa en mantención")])
        motivos = {m.codigo: m for m in store.motivos()}
        assert list(motivos) == ["MATERIAL", "PLANO", "CALIDAD", "EQUIPO", "OTRO", "GRUA"]
        assert motivos["MATERIAL"].descripcion == "Sin material en bodega" and not motivos["EQUIPO"].activo
    finally:
        store.close()


def test_a_reason_switched_off_is_not_offered_nor_accepted(tmp_path):
    app = make_sqlite_app(tmp_path, demo.spools(), demo.WORKERS)
    store = app.extensions["zeues"].store
    with store._transaction() as db:
        db.execute("UPDATE motivos SET activo = 0 WHERE codigo = 'PLANO'")
    client = app.test_client()
    assert "PLANO" not in [m["codigo"] for m in client.get("/api/motivos").json["motivos"]]
    tag = next(s.tag_spool for s in store.snapshot().spools if s.estado == Estado.DISPONIBLE)
    refused = client.post("/api/bloquear-accion", json={"tag_spool": tag, "worker_id": 11, "motivo": "PLANO"})
    assert refused.status_code == 422 and refused.json["errors"] == {"json": {"motivo": [refused.json["detail"]]}}
    store.close()


def test_reading_the_whole_log_holds_up_no_command_and_sees_one_moment(tmp_path):
    tag = "MK-1335-CW-25238-011"
    app = make_sqlite_app(tmp_path, [Spool(tag, version="v0")], demo.WORKERS, SQLITE_SYNCHRONOUS="OFF")
    store = app.extensions["zeues"].store

    def command(accion: Accion) -> None:
        comando = Comando(accion, Operacion.ARM, tag, 1)
        store.commit(decidir(comando, store.spool(tag), store.workers(), datetime.now(UTC), UTC))

    for i in range(1500):  # more than one chunk of the reader
        command(Accion.TOMAR if i % 2 == 0 else Accion.PAUSAR)
    reading = store.all_events()
    first = next(reading)  # a report half-way through the log
    finished = threading.Event()
    # Another greenlet or thread commits meanwhile: it must not wait for the report.
    worker = threading.Thread(target=lambda: (command(Accion.TOMAR), finished.set()))
    worker.start()
    assert finished.wait(10), "a command waited for a report reading the log"
    worker.join()
    rest = list(reading)
    assert len([first, *rest]) == 1500  # the report's log is the one of the moment it began reading
    assert len(list(store.all_events())) == 1501
    assert list(Store.all_events(store)) == list(store.all_events())  # the port's fallback, one spool here


def _tomar(store: SqliteStore, tag: str, worker: int = 1, key: str | None = None):
    """The decision of a TOMAR ARM on the spool as the store has it now."""
    comando = Comando(Accion.TOMAR, Operacion.ARM, tag, worker)
    metadata = {IDEMPOTENCY_KEY: key} if key else None
    return decidir(comando, store.spool(tag), store.workers(), datetime.now(UTC), UTC, metadata)


def test_a_batch_of_commands_commits_each_one_that_holds_and_only_those(tmp_path):
    """The writer commits the commands that queued up together, in one transaction; one that lost its race
    or repeats a key rolls back alone, and the others land."""
    tags = [f"MK-{i}" for i in range(4)]
    store = SqliteStore(str(tmp_path / "batch.sqlite3"), synchronous="OFF")
    try:
        store.load([Spool(t, version=f"v-{t}") for t in tags], demo.WORKERS)
        stale = _tomar(store, tags[1])
        store.commit(_tomar(store, tags[1], worker=2))  # another command took MK-1 since it was read
        repeated = _tomar(store, tags[3], key="k-1")
        store.commit(_tomar(store, tags[2], key="k-1"))
        batch = [_tomar(store, tags[0]), stale, repeated]
        outcomes = store._commit_batch(batch)
        assert outcomes[0] is None
        assert isinstance(outcomes[1], StaleWrite) and isinstance(outcomes[2], DuplicateIdempotencyKey)
        assert store.spool(tags[0]).version == batch[0].despues.version
        assert store.spool(tags[1]).ocupado_por == 2  # the other command's, untouched
        assert store.spool(tags[3]).version == f"v-{tags[3]}"
        assert [len(store.events(t)) for t in tags] == [1, 1, 1, 0]
        assert store.idempotency("k-1").event.tag_spool == tags[2]
    finally:
        store.close()


# Twenty commands from twenty greenlets while another process holds the file's write lock: the first
# waits for it on the writer's thread, the nineteen others queue behind, and all go in the next batch.
GROUPED = """
from gevent import monkey
monkey.patch_all()
import subprocess, sys, gevent
from datetime import UTC, datetime
from app import demo
from app.domain.machine import Comando, decidir
from app.domain.model import Accion, Operacion, Spool
from app.stores.sqlite import SqliteStore

path = sys.argv[1]
store = SqliteStore(path)
tags = [f"MK-{i}" for i in range(20)]
store.load([Spool(t, version="v") for t in tags], demo.WORKERS)
other = subprocess.Popen([sys.executable, "-c", (
    "import sqlite3, sys; db = sqlite3.connect(sys.argv[1], isolation_level=None); "
    "db.execute('BEGIN IMMEDIATE'); print('held', flush=True); sys.stdin.readline(); db.execute('COMMIT')"
), path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
assert other.stdout.readline().strip() == "held"

def tomar(tag):
    comando = Comando(Accion.TOMAR, Operacion.ARM, tag, 1)
    store.commit(decidir(comando, store.spool(tag), store.workers(), datetime.now(UTC), UTC))

greenlets = [gevent.spawn(tomar, tag) for tag in tags]
while len(store._group._pending) < 19:  # the first is the batch waiting for the lock
    gevent.sleep(0.005)
other.stdin.write("go\\n")
other.stdin.flush()
gevent.joinall(greenlets, raise_error=True)
other.wait()
events = sum(len(store.events(t)) for t in tags)
print(store._group.batches, events, sum(store.spool(t).ocupado_por is not None for t in tags))
"""


def under_gevent(script: str, db) -> list[str]:
    """Run ``script`` (which patches itself with gevent) on the file ``db``; the words it printed."""
    result = subprocess.run(
        [sys.executable, "-c", script, str(db)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.split()


def test_commands_that_queue_while_a_commit_waits_go_together_in_the_next_one(tmp_path):
    batches, events, taken = under_gevent(GROUPED, tmp_path / "grouped.sqlite3")
    assert (batches, events, taken) == ("2", "20", "20")


# Under gevent a command's COMMIT can wait: on the disk (fsync, a checkpoint) or on another process that
# is writing the file. Here another process holds the write lock for 0.6 s while a greenlet counts its turns.
WAITING_COMMIT = """
from gevent import monkey
monkey.patch_all()
import subprocess, sys, time, gevent
from datetime import UTC, datetime
from app.domain.machine import Comando, decidir
from app.domain.model import Accion, Operacion, Rol, Spool, Worker
from app.stores.sqlite import SqliteStore

path = sys.argv[1]
store = SqliteStore(path)
store.load([Spool("MK-1", version="v")], [Worker(1, "Juan", "Pérez", (Rol.ARMADOR,), True)])
decision = decidir(Comando(Accion.TOMAR, Operacion.ARM, "MK-1", 1), store.spool("MK-1"), store.workers(),
                   datetime.now(UTC), UTC)
other = subprocess.Popen([sys.executable, "-c", (
    "import sqlite3, sys, time; db = sqlite3.connect(sys.argv[1], isolation_level=None); "
    "db.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(0.6); db.execute('COMMIT')"
), path], stdout=subprocess.PIPE, text=True)
assert other.stdout.readline().strip() == "held"
turns = []
def tick():
    while True:
        turns.append(time.monotonic())
        gevent.sleep(0.01)
ticker = gevent.spawn(tick)
start = time.monotonic()
store.commit(decision)
took = time.monotonic() - start
ticker.kill()
other.wait()
during = sum(1 for t in turns if start <= t <= start + took)
print(took, during, store.spool("MK-1").ocupado_por)
"""


def test_a_commit_that_waits_does_not_hold_up_the_event_loop(tmp_path):
    took, turns_during_commit, holder = under_gevent(WAITING_COMMIT, tmp_path / "busy.sqlite3")
    assert float(took) >= 0.3 and holder == "1"  # the commit did wait for the other writer, then landed
    # The loop kept turning every ~10 ms meanwhile (waiting on the loop itself, it would not turn at all).
    assert int(turns_during_commit) >= 15
