"""PostgreSQL-only guarantees (SPEC §12): the database refuses edits of the log, races between store
instances, idempotency across processes, change announcements, schema migrations, and start-up."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg
import pytest

from app import create_app, demo
from app.config import ConfigError
from app.domain.errors import SourceUnavailable
from app.domain.machine import Comando, decidir
from app.domain.model import MOTIVOS_POR_DEFECTO, Accion, Estado, Motivo, Operacion
from app.stores import postgres_schema, verify_at_start
from app.stores.base import DuplicateIdempotencyKey, StaleWrite
from app.stores.postgres import PostgresStore
from tests.conftest import ROOT, make_postgres_app

AHORA = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(postgres_url):
    """A store on a fresh database holding the demo shop."""
    store = PostgresStore(postgres_url)
    store.load(demo.spools(), demo.WORKERS)
    yield store
    store.close()


def libre(store, index: int = 0) -> str:
    return [s.tag_spool for s in store.snapshot().spools if s.estado == Estado.DISPONIBLE][index]


def tomar(store, tag: str, worker: int = 1, key: str | None = None):
    metadata = {"idempotency_key": key, "request_hash": "h"} if key else None
    comando = Comando(Accion.TOMAR, Operacion.ARM, tag, worker)
    return decidir(comando, store.spool(tag), store.workers(), AHORA, UTC, metadata=metadata)


# --- the append-only log ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql", ["UPDATE metadata SET worker_id = 2", "DELETE FROM metadata", "TRUNCATE metadata CASCADE"]
)
def test_the_database_refuses_edits_of_the_event_log(store, postgres_url, sql):
    tag = libre(store)
    store.commit(tomar(store, tag, key="k-1"))
    with psycopg.connect(postgres_url, autocommit=True) as conn, pytest.raises(psycopg.Error, match="append-only"):
        conn.execute(sql)
    assert len(store.events(tag)) == 1
    assert store.idempotency("k-1") is not None


# --- races between processes -----------------------------------------------------------------------


def test_thirty_store_instances_racing_for_one_spool_commit_once(store, postgres_url):
    tag = libre(store)
    stores = [PostgresStore(postgres_url) for _ in range(30)]
    decisions = [tomar(s, tag, worker=1 + i % 4) for i, s in enumerate(stores)]  # all on the same fresh row
    barrier = threading.Barrier(30)

    def commit(i: int) -> bool:
        barrier.wait()
        try:
            stores[i].commit(decisions[i])
        except StaleWrite:
            return False
        return True

    try:
        with ThreadPoolExecutor(30) as pool:
            won = list(pool.map(commit, range(30)))
    finally:
        for s in stores:
            s.close()
    assert won.count(True) == 1
    winner = decisions[won.index(True)]
    assert store.events(tag) == [winner.event]
    assert store.spool(tag) == winner.despues


def test_one_key_committed_by_two_store_instances_at_once_is_recorded_once(store, postgres_url):
    tags = [libre(store, 0), libre(store, 1)]  # two spools: only the key can collide
    stores = [PostgresStore(postgres_url) for _ in tags]
    decisions = [tomar(s, tag, key="tap-9") for s, tag in zip(stores, tags, strict=True)]
    barrier = threading.Barrier(2)

    def commit(i: int) -> str:
        barrier.wait()
        try:
            stores[i].commit(decisions[i])
        except DuplicateIdempotencyKey:
            return "duplicate"
        return "committed"

    try:
        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(commit, range(2)))
    finally:
        for s in stores:
            s.close()
    assert sorted(outcomes) == ["committed", "duplicate"]
    winner = decisions[outcomes.index("committed")]
    assert store.idempotency("tap-9").event == winner.event
    assert [len(store.events(tag)) for tag in tags] == [int(d is winner) for d in decisions]


def test_the_same_idempotency_key_sent_to_two_apps_applies_once(tmp_path, postgres_url):
    first = make_postgres_app(tmp_path, demo.spools(), demo.WORKERS, DATABASE_URL=postgres_url)
    apps = [first, make_postgres_app(tmp_path, DATABASE_URL=postgres_url)]  # a second process on the same data
    store = apps[0].extensions["zeues"].store
    tag = libre(store)
    barrier = threading.Barrier(2)

    def tap(app):
        client = app.test_client()
        barrier.wait()
        return client.post(
            "/api/tomar-accion",
            json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"},
            headers={"Idempotency-Key": "tap-7"},
        )

    try:
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(tap, apps))
        events = store.events(tag)
    finally:
        for app in apps:
            app.extensions["zeues"].store.close()
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json == answers[1].json
    assert [e.id for e in events] == [answers[0].json["event"]["id"]]


# --- change announcements --------------------------------------------------------------------------


def heard_within(listener, action, timeout: float = 5.0) -> tuple[list[str] | None, float]:
    """Run ``action`` while another thread waits on ``listener``; what it heard and how long after."""
    heard: list = []
    ready = threading.Event()

    def wait() -> None:
        ready.set()
        heard.append(listener.wait(timeout))
        heard.append(time.monotonic())

    waiter = threading.Thread(target=wait)
    waiter.start()
    ready.wait()
    start = time.monotonic()
    action()
    waiter.join(timeout + 1)
    return heard[0], heard[1] - start


def test_a_commit_reaches_the_listener_within_a_second(store):
    listener = store.listener()
    tag = libre(store)
    try:
        heard, after = heard_within(listener, lambda: store.commit(tomar(store, tag)))
    finally:
        listener.close()
    assert heard == [tag]
    assert after < 1.0


def test_a_plain_sql_update_reaches_the_listener_within_a_second(store, postgres_url):
    listener = store.listener()
    tag = libre(store, 1)

    def office_edit() -> None:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("UPDATE operaciones SET fecha_armado = '2026-05-04' WHERE tag_spool = %s", (tag,))

    try:
        heard, after = heard_within(listener, office_edit)
    finally:
        listener.close()
    assert heard == [tag]
    assert after < 1.0


def test_a_change_of_workers_asks_to_reload_everything(store):
    listener = store.listener()
    try:
        heard, _ = heard_within(listener, lambda: store.load([], [dataclasses.replace(demo.WORKERS[0], activo=False)]))
    finally:
        listener.close()
    assert heard is None


def test_nothing_changed_is_an_empty_set_after_the_timeout(store):
    listener = store.listener()
    try:
        start = time.monotonic()
        heard = listener.wait(0.3)
        waited = time.monotonic() - start
    finally:
        listener.close()
    assert heard == []
    assert 0.25 <= waited < 1.0


def test_a_terminated_listener_connection_raises(store, postgres_url):
    listener = store.listener()

    def terminate() -> None:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (listener.backend_pid,))

    errors: list[BaseException] = []

    def wait() -> None:
        try:
            listener.wait(10)
        except SourceUnavailable as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    start = time.monotonic()
    terminate()
    waiter.join(11)
    assert len(errors) == 1 and time.monotonic() - start < 2.0
    with pytest.raises(SourceUnavailable):
        listener.wait(0)


# --- schema migrations -----------------------------------------------------------------------------


@pytest.fixture
def empty_url(postgres_server):
    """A database with no schema at all (a clone of template0)."""
    url = postgres_server.create_database(template="template0")
    yield url
    postgres_server.drop_database(url)


def test_an_empty_database_is_migrated_on_first_use_and_runs_the_demo(tmp_path, empty_url):
    app = create_app({"TESTING": True, "DB": str(tmp_path / "unused.sqlite3"), "DATABASE_URL": empty_url})
    try:
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, result.output
        assert app.extensions["zeues"].store.schema_version() == postgres_schema.LATEST
        spools = app.test_client().get("/api/spools").json["spools"]
    finally:
        app.extensions["zeues"].store.close()
    assert len(spools) == len(demo.spools())


def test_import_loads_csv_files_into_the_database(tmp_path, postgres_url):
    (tmp_path / "trabajadores.csv").write_text("id,nombre,apellido,roles,activo\n7,Ñico,Pérez,ARMADOR,TRUE\n")
    (tmp_path / "spools.csv").write_text("TAG SPOOL,Cliente\nMK-9-CW-9-001,ACME\n")
    app = create_app({"TESTING": True, "DB": str(tmp_path / "unused.sqlite3"), "DATABASE_URL": postgres_url})
    try:
        result = app.test_cli_runner().invoke(
            args=["import", "--spools", str(tmp_path / "spools.csv"), "--workers", str(tmp_path / "trabajadores.csv")]
        )
        assert result.exit_code == 0, result.output
        client = app.test_client()
        tomado = client.post(
            "/api/tomar-accion", json={"tag_spool": "MK-9-CW-9-001", "worker_id": 7, "operacion": "ARM"}
        )
    finally:
        app.extensions["zeues"].store.close()
    assert tomado.status_code == 200
    assert tomado.json["spool"]["ocupado_por_nombre"] == "Ñico Pérez"


def test_a_database_one_migration_behind_is_upgraded_keeping_its_data(empty_url):
    with psycopg.connect(empty_url) as conn:
        postgres_schema.upgrade(conn, target=postgres_schema.LATEST - 1)
        conn.execute("INSERT INTO operaciones (tag_spool, version) VALUES ('MK-1-CW-2-001', 'v1')")
        conn.execute("INSERT INTO trabajadores VALUES (1, 'Juan', 'Pérez', '{ARMADOR}', true)")
        conn.commit()
    store = PostgresStore(empty_url)
    try:
        assert store.schema_version() == postgres_schema.LATEST - 1
        applied = store.upgrade()
        assert [m.version for m in applied] == [postgres_schema.LATEST]
        decision = tomar(store, "MK-1-CW-2-001")
        store.commit(decision)
        assert store.spool("MK-1-CW-2-001") == decision.despues
        assert store.schema_version() == postgres_schema.LATEST
    finally:
        store.close()


def test_migration_3_adds_holds_to_a_database_with_data_and_old_answers_still_replay(empty_url):
    with psycopg.connect(empty_url) as conn:
        postgres_schema.upgrade(conn, target=2)
        # What the previous release wrote: a held spool, its TOMAR, and the recorded answer of that TOMAR,
        # whose spool carries no hold columns.
        conn.execute(
            "INSERT INTO operaciones (tag_spool, ocupado_por, timestamp_ocupacion, version)"
            " VALUES ('MK-1-CW-1-001', 1, '2026-05-04T10:00:00Z', 'v-1')"
        )
        conn.execute("INSERT INTO trabajadores VALUES (1, 'Juan', 'Pérez', '{ARMADOR}', true)")
        conn.execute(
            "INSERT INTO metadata (id, timestamp, evento_tipo, tag_spool, worker_id, worker_nombre, operacion,"
            " accion, fecha_operacion, metadata_json) VALUES ('e-1', '2026-05-04T10:00:00Z', 'TOMAR_ARM',"
            " 'MK-1-CW-1-001', 1, 'Juan Pérez', 'ARM', 'TOMAR', '2026-05-04',"
            " '{\"idempotency_key\": \"k-viejo\", \"request_hash\": \"h\", \"version\": \"v-1\"}')"
        )
        conn.execute(
            "INSERT INTO idempotencia VALUES ('k-viejo', 'e-1', %s)",
            (
                psycopg.types.json.Jsonb(
                    {"tag_spool": "MK-1-CW-1-001", "ocupado_por": 1, "timestamp_ocupacion": "2026-05-04T10:00:00Z"}
                    | {"version": "v-1", "reparacion_ciclo": 0}
                    | dict.fromkeys(("armador", "fecha_armado", "soldador", "fecha_soldadura", "metrologo"))
                    | dict.fromkeys(("fecha_metrologia", "resultado_metrologia")),
                ),
            ),
        )
        conn.commit()
    store = PostgresStore(empty_url)
    try:
        assert [m.version for m in store.upgrade()] == [3, 4, 5]
        assert store.motivos() == list(MOTIVOS_POR_DEFECTO)
        [spool] = store.snapshot().spools
        assert (spool.estado, spool.bloqueo_motivo, spool.bloqueo_desde, spool.bloqueo_nota) == (
            Estado.OCUPADO_ARM,
            None,
            None,
            None,
        )
        assert store.idempotency("k-viejo").spool == spool
        store.load([], [], motivos=[*MOTIVOS_POR_DEFECTO, Motivo("GRUA", "Grúa en mantención", activo=False)])
        assert [m.codigo for m in store.motivos()] == [*(m.codigo for m in MOTIVOS_POR_DEFECTO), "GRUA"]
        assert not store.motivos()[-1].activo
    finally:
        store.close()


def test_processes_starting_together_migrate_once(empty_url):
    stores = [PostgresStore(empty_url) for _ in range(6)]
    barrier = threading.Barrier(len(stores))

    def upgrade(s):
        barrier.wait()
        return [m.version for m in s.upgrade()]

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            applied = list(pool.map(upgrade, stores))
        version = stores[0].schema_version()
    finally:
        for s in stores:
            s.close()
    assert sorted(applied) == [[]] * 5 + [[m.version for m in postgres_schema.MIGRATIONS]]
    assert version == postgres_schema.LATEST


def flask(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The real ``flask --app wsgi`` command with ``env`` added."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_flask_db_upgrade_migrates_then_has_nothing_left(tmp_path, empty_url):
    env = {"ZEUES_DATABASE_URL": empty_url, "ZEUES_DB": str(tmp_path / "unused.sqlite3")}
    status = flask("db", "status", **env)
    assert status.returncode == 1 and "version 0" in status.stdout

    first = flask("db", "upgrade", **env)
    again = flask("db", "upgrade", **env)

    assert first.returncode == 0, first.stderr
    assert [line.split(":")[0] for line in first.stdout.splitlines()[:-1]] == [
        f"Applied migration {m.version}" for m in postgres_schema.MIGRATIONS
    ]
    assert again.returncode == 0 and again.stdout.splitlines() == [
        f"The database schema is at version {postgres_schema.LATEST}, the latest."
    ]


def test_flask_db_upgrade_refuses_to_run_on_sqlite(tmp_path):
    result = flask("db", "upgrade", ZEUES_DB=str(tmp_path / "z.sqlite3"))
    assert result.returncode != 0
    assert "ZEUES_DATABASE_URL is not set" in result.stderr


# --- start-up --------------------------------------------------------------------------------------


def test_a_database_url_beside_a_spreadsheet_stops_the_start_with_one_line(tmp_path, postgres_url):
    proc = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "ZEUES_BIND": "127.0.0.1:0",
            "ZEUES_DATABASE_URL": postgres_url,
            "ZEUES_SPREADSHEET_ID": "1AbC",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert [line for line in proc.stderr.splitlines() if line.startswith("zeues:")] == [
        "zeues: configuration error: ZEUES_DATABASE_URL and ZEUES_SPREADSHEET_ID are both set: "
        "choose one source of truth (PostgreSQL or the Google Sheet)"
    ]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"DATABASE_URL": "mysql://zeues@localhost/zeues"}, "must be a postgresql:// URL"),
        ({"DATABASE_URL": "postgresql://zeues@localhost/zeues?pasword=typo"}, "invalid URI query parameter"),
        ({"DATABASE_POOL_SIZE": 2.5}, "ZEUES_DATABASE_POOL_SIZE=2.5 must be a positive whole number"),
        ({"DATABASE_STATEMENT_TIMEOUT": 0}, "ZEUES_DATABASE_STATEMENT_TIMEOUT=0 must be a positive number"),
    ],
)
def test_a_malformed_database_setting_stops_the_start(tmp_path, config, message):
    config = {"TESTING": True, "DB": str(tmp_path / "z.sqlite3"), "DATABASE_URL": "postgresql://z@h/z", **config}
    with pytest.raises(ConfigError) as caught:
        create_app(config)
    assert message in caught.value.message


def test_a_database_that_does_not_exist_stops_the_start_with_one_line(tmp_path, postgres_server, capsys):
    url = postgres_server.url("no_such_database")
    store = create_app({"TESTING": True, "DB": str(tmp_path / "z"), "DATABASE_URL": url}).extensions["zeues"].store
    with pytest.raises(ConfigError) as caught:
        verify_at_start(store)
    assert caught.value.message.startswith('ZEUES_DATABASE_URL: the server refuses the connection: database "no_such')
    assert "\n" not in caught.value.message  # one line, printed once by whoever stops the start
    assert capsys.readouterr().err == ""


def test_a_database_newer_than_the_release_stops_the_start(tmp_path, postgres_url):
    with psycopg.connect(postgres_url) as conn:
        conn.execute("INSERT INTO schema_version (version, description) VALUES (%s, 'from the future')", (99,))
    app = create_app({"TESTING": True, "DB": str(tmp_path / "z"), "DATABASE_URL": postgres_url})
    with pytest.raises(ConfigError) as caught:
        verify_at_start(app.extensions["zeues"].store)
    assert "schema is at version 99, newer than this release" in caught.value.message


def test_an_unreachable_database_logs_one_line_at_start_and_answers_503(tmp_path, postgres_server, caplog):
    nowhere = postgres_server.url("zeues").replace("port=5432", "port=1")  # no server on that socket
    app = create_app(
        {"TESTING": True, "DB": str(tmp_path / "z"), "DATABASE_URL": nowhere, "DATABASE_POOL_TIMEOUT": 0.3}
    )
    try:
        with caplog.at_level(logging.WARNING, logger="app.stores"):
            verify_at_start(app.extensions["zeues"].store)
        client = app.test_client()
        lectura = client.get("/api/spools")
        comando = client.post("/api/tomar-accion", json={"tag_spool": "MK-1", "worker_id": 1, "operacion": "ARM"})
    finally:
        app.extensions["zeues"].store.close()
    [record] = [r for r in caplog.records if r.name == "app.stores"]
    assert "not reachable at start" in record.getMessage()
    for answer in (lectura, comando):
        assert answer.status_code == 503
        assert answer.mimetype == "application/problem+json"
        assert answer.json["code"] == "SOURCE_UNAVAILABLE"
        assert int(answer.headers["Retry-After"]) >= 1


def test_workers_changed_with_plain_sql_are_seen_by_the_next_command(tmp_path, postgres_url):
    app = make_postgres_app(tmp_path, demo.spools(), demo.WORKERS, DATABASE_URL=postgres_url)
    client, store = app.test_client(), app.extensions["zeues"].store
    try:
        tag = libre(store)
        assert store.fresh(tag)[1][1].activo  # the workers are cached from here on
        with psycopg.connect(postgres_url, autocommit=True) as office:
            office.execute("UPDATE trabajadores SET activo = false WHERE id = 1")
        answer = client.post("/api/tomar-accion", json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"})
        assert answer.status_code == 403 and answer.json["code"] == "WORKER_INACTIVE"
    finally:
        store.close()
