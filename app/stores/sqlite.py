"""The embedded store (SPEC §8): one SQLite file in WAL mode, one transaction per command."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from ..domain.machine import REQUEST_HASH, Decision
from ..domain.model import (
    EVENT_FIELDS,
    MOTIVOS_POR_DEFECTO,
    TRACKING_FIELDS,
    Event,
    Motivo,
    Resultado,
    Spool,
    Worker,
    parse_roles,
)
from ..offload import GroupCommit, SerialThread
from .base import DuplicateIdempotencyKey, IdempotencyRecord, Snapshot, StaleWrite, Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS operaciones (
    posicion INTEGER PRIMARY KEY AUTOINCREMENT,  -- row order, as in the sheet
    tag_spool TEXT NOT NULL UNIQUE,
    ocupado_por INTEGER,
    timestamp_ocupacion TEXT,
    version TEXT,
    armador INTEGER,
    fecha_armado TEXT,
    soldador INTEGER,
    fecha_soldadura TEXT,
    metrologo INTEGER,
    fecha_metrologia TEXT,
    resultado_metrologia TEXT,
    reparacion_ciclo INTEGER NOT NULL DEFAULT 0,
    bloqueo_motivo TEXT,
    bloqueo_desde TEXT,
    bloqueo_nota TEXT
);
CREATE TABLE IF NOT EXISTS trabajadores (
    id INTEGER PRIMARY KEY,
    nombre TEXT NOT NULL,
    apellido TEXT NOT NULL,
    roles TEXT NOT NULL,
    activo INTEGER NOT NULL,
    pin_hash TEXT  -- SPEC §11: the PIN's salted slow hash, never the PIN
);
CREATE TABLE IF NOT EXISTS metadata (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- append order
    id TEXT NOT NULL UNIQUE,
    timestamp TEXT NOT NULL,
    evento_tipo TEXT NOT NULL,
    tag_spool TEXT NOT NULL,
    worker_id INTEGER NOT NULL,
    worker_nombre TEXT NOT NULL,
    operacion TEXT NOT NULL,
    accion TEXT NOT NULL,
    fecha_operacion TEXT NOT NULL,
    metadata_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metadata_por_spool ON metadata (tag_spool, seq);
CREATE TABLE IF NOT EXISTS idempotencia (
    clave TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    event_id TEXT NOT NULL REFERENCES metadata (id),
    respuesta TEXT NOT NULL
);
-- A counter per table whose rows the service caches, moved by every change (from any connection).
CREATE TABLE IF NOT EXISTS table_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL);
INSERT OR IGNORE INTO table_versions (name, version) VALUES ('trabajadores', 0);
CREATE TRIGGER IF NOT EXISTS trabajadores_insertados AFTER INSERT ON trabajadores
BEGIN UPDATE table_versions SET version = version + 1 WHERE name = 'trabajadores'; END;
CREATE TRIGGER IF NOT EXISTS trabajadores_cambiados AFTER UPDATE ON trabajadores
BEGIN UPDATE table_versions SET version = version + 1 WHERE name = 'trabajadores'; END;
CREATE TRIGGER IF NOT EXISTS trabajadores_borrados AFTER DELETE ON trabajadores
BEGIN UPDATE table_versions SET version = version + 1 WHERE name = 'trabajadores'; END;
-- The log is append-only: the service never edits or deletes an event.
CREATE TRIGGER IF NOT EXISTS metadata_sin_update BEFORE UPDATE ON metadata
BEGIN SELECT RAISE(ABORT, 'metadata is append-only'); END;
CREATE TRIGGER IF NOT EXISTS metadata_sin_delete BEFORE DELETE ON metadata
BEGIN SELECT RAISE(ABORT, 'metadata is append-only'); END;
"""

# Added in place to a file an older release made (see SqliteStore._upgrade); a new file has them from SCHEMA.
MOTIVOS_TABLE = """
CREATE TABLE motivos (
    posicion INTEGER PRIMARY KEY AUTOINCREMENT,  -- table order, as in the sheet
    codigo TEXT NOT NULL UNIQUE,
    descripcion TEXT NOT NULL,
    activo INTEGER NOT NULL DEFAULT 1
)
"""
_ADDED_COLUMNS = {"bloqueo_motivo": "TEXT", "bloqueo_desde": "TEXT", "bloqueo_nota": "TEXT"}

_SPOOL_COLUMNS = ("tag_spool", *TRACKING_FIELDS)
_CHUNK = 1000  # events per fetch of all_events: a chunk is parsed between two yields of its reader


def _spool(row: sqlite3.Row | dict[str, Any]) -> Spool:
    # An idempotency record written by an older release lacks the newer columns: they were empty then.
    present = set(row.keys())
    datos = {name: row[name] for name in _SPOOL_COLUMNS if name in present}
    if datos["resultado_metrologia"]:
        datos["resultado_metrologia"] = Resultado(datos["resultado_metrologia"])
    return Spool(**datos)


def _worker(row: sqlite3.Row) -> Worker:
    return Worker(
        id=row["id"],
        nombre=row["nombre"],
        apellido=row["apellido"],
        roles=parse_roles(row["roles"].split(",")),
        activo=bool(row["activo"]),
        pin_hash=row["pin_hash"],
    )


def _event(row: sqlite3.Row) -> Event:
    datos = {name: row[name] for name in EVENT_FIELDS}
    datos["metadata_json"] = json.loads(datos["metadata_json"])
    return Event(**datos)


def connect(path: str, synchronous: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection to the file at ``path`` (its folder made if missing) that waits ``busy_timeout_ms`` for
    other writers, in WAL mode — readers (other workers, the CLI) run beside the writer — and with
    ``synchronous`` (FULL fsyncs the WAL at every commit, so an answer survives a power cut). The shop's
    store and the credentials share the file and this setting-up."""
    if path != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    _switch_to_wal(conn, busy_timeout_ms)
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


def _switch_to_wal(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """Put the file in WAL mode (it stays so). On a file in the old rollback mode, processes opening it
    together race for the switch, and SQLite answers "locked" at once instead of calling the busy
    handler (waiting could deadlock there): try again until the busy timeout."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # another process is switching the file right now


@contextmanager
def transaction(
    conn: sqlite3.Connection, lock: threading.RLock, mode: str = "DEFERRED"
) -> Iterator[sqlite3.Connection]:
    """``conn`` in one transaction (``BEGIN mode``), under ``lock``: committed, or rolled back on any error."""
    with lock:
        conn.execute(f"BEGIN {mode}")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


class SqliteStore(Store):
    """A SQLite file shared safely by every worker process and the CLI."""

    name = "sqlite"

    def __init__(self, path: str, synchronous: str = "FULL", busy_timeout_ms: int = 5000) -> None:
        self.path = self.location = path
        self._synchronous, self._busy_timeout_ms = synchronous, busy_timeout_ms
        # Reads and the CLI's loads use this connection, on the event loop (sqlite3 never yields to
        # another greenlet; the lock keeps a transaction whole should a future driver yield).
        self._conn = self._connect()
        self._lock = threading.RLock()
        # Commands commit on a connection of their own, on a native thread under gevent: a COMMIT's
        # fsync (and a WAL checkpoint now and then) waits there while the loop serves other requests.
        # An in-memory database exists only in its one connection, which then writes too.
        # Commands that arrive while a commit is on the disk go together in the next transaction.
        self._writes = SerialThread() if path != ":memory:" else None
        self._group: GroupCommit[Decision] | None = (
            GroupCommit(self._commit_batch, self._writes.call) if self._writes is not None else None
        )
        self._writer: sqlite3.Connection | None = None
        # Workers cached under the trabajadores counter (see workers()).
        self._workers: dict[int, Worker] | None = None
        self._workers_version: int | None = None
        self._conn.executescript(SCHEMA)
        self._upgrade()

    def _connect(self) -> sqlite3.Connection:
        conn = connect(self.path, self._synchronous, self._busy_timeout_ms)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _upgrade(self) -> None:
        """Bring a file made by an older release up to date in place: the hold columns, the Motivos
        table with its default reasons, the workers' PIN hashes. In one write transaction, so processes
        opening the file together do it once; on an up-to-date file it changes nothing."""
        with self._transaction("IMMEDIATE") as db:
            present = {row["name"] for row in db.execute("PRAGMA table_info(operaciones)")}
            for name, kind in _ADDED_COLUMNS.items():
                if name not in present:
                    db.execute(f"ALTER TABLE operaciones ADD COLUMN {name} {kind}")
            if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'motivos'").fetchone() is None:
                db.execute(MOTIVOS_TABLE)
                _add_motivos(db, MOTIVOS_POR_DEFECTO)
            columns = {row["name"] for row in db.execute("PRAGMA table_info(trabajadores)")}
            if "pin_hash" not in columns:
                db.execute("ALTER TABLE trabajadores ADD COLUMN pin_hash TEXT")

    def _transaction(self, mode: str = "DEFERRED") -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._conn, self._lock, mode)

    def snapshot(self) -> Snapshot:
        """Every spool and worker from one read transaction (a consistent WAL snapshot)."""
        with self._transaction() as db:
            spools = tuple(_spool(r) for r in db.execute("SELECT * FROM operaciones ORDER BY posicion"))
            workers = tuple(_worker(r) for r in db.execute("SELECT * FROM trabajadores ORDER BY id"))
        return Snapshot(spools=spools, workers=workers)

    def spool(self, tag: str) -> Spool | None:
        """One spool, fresh."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM operaciones WHERE tag_spool = ?", (tag,)).fetchone()
        return _spool(row) if row else None

    def workers(self) -> dict[int, Worker]:
        """Every worker, fresh: re-read only when the trabajadores table changed since the last read."""
        with self._lock:
            # Reading and parsing every worker was ~10% of a command's CPU. The counter moves with
            # every change of the table, by any connection or process (a trigger keeps it).
            version = self._conn.execute(
                "SELECT version FROM table_versions WHERE name = 'trabajadores'"
            ).fetchone()[0]
            if self._workers is None or version != self._workers_version:
                self._workers = {w.id: w for w in map(_worker, self._conn.execute("SELECT * FROM trabajadores"))}
                self._workers_version = version
            return dict(self._workers)

    def motivos(self) -> list[Motivo]:
        """Every reason, in table order."""
        with self._lock:
            rows = self._conn.execute("SELECT codigo, descripcion, activo FROM motivos ORDER BY posicion").fetchall()
        return [Motivo(r["codigo"], r["descripcion"], bool(r["activo"])) for r in rows]

    def commit(self, decision: Decision) -> None:
        """Conditional update on ``version`` + event insert (+ idempotency record), one transaction."""
        if self._group is None:
            with self._transaction("IMMEDIATE") as db:
                self._write(db, decision)
        else:
            self._group.submit(decision)

    def _commit_batch(self, decisions: Sequence[Decision]) -> list[BaseException | None]:
        """On the writer's thread: the commands that queued up meanwhile, in one transaction (one fsync
        for all of them), each under a savepoint of its own, so one that lost its race (StaleWrite) or
        repeats a key rolls back alone. Should the transaction itself fail, none is written."""
        if self._writer is None:
            self._writer = self._connect()
        db = self._writer
        outcomes: list[BaseException | None] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for decision in decisions:
                db.execute("SAVEPOINT command")
                try:
                    self._write(db, decision)
                except Exception as exc:
                    db.execute("ROLLBACK TO command")  # raises, failing the batch, if SQLite ended it
                    outcomes.append(exc)
                else:
                    outcomes.append(None)
                db.execute("RELEASE command")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return outcomes

    def _write(self, db: sqlite3.Connection, decision: Decision) -> None:
        """The statements of one command, inside the caller's transaction."""
        changes = decision.despues.tracking()
        assignments = ", ".join(f"{name} = ?" for name in changes)
        event = decision.event.as_dict()
        event["metadata_json"] = json.dumps(event["metadata_json"], ensure_ascii=False, sort_keys=True)
        cursor = db.execute(
            f"UPDATE operaciones SET {assignments} WHERE tag_spool = ? AND version IS ?",
            (*changes.values(), decision.antes.tag_spool, decision.antes.version),
        )
        if cursor.rowcount != 1:
            raise StaleWrite(decision.antes.tag_spool)
        db.execute(
            f"INSERT INTO metadata ({', '.join(EVENT_FIELDS)}) VALUES ({', '.join('?' * len(EVENT_FIELDS))})",
            tuple(event.values()),
        )
        key = decision.idempotency_key
        if key is not None:
            try:
                db.execute(
                    "INSERT INTO idempotencia (clave, request_hash, event_id, respuesta) VALUES (?, ?, ?, ?)",
                    (
                        key,
                        decision.event.metadata_json.get(REQUEST_HASH, ""),
                        decision.event.id,
                        # The spool as the command left it, for the replayed answer.
                        json.dumps({"spool": _spool_values(decision.despues)}, ensure_ascii=False),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateIdempotencyKey(key) from exc

    def set_pin_hash(self, worker_id: int, pin_hash: str | None) -> bool:
        """Replace the worker's PIN hash (None clears it); False when no worker has that id."""
        with self._transaction("IMMEDIATE") as db:
            self._workers = None  # this connection's own writes do not move data_version
            cursor = db.execute("UPDATE trabajadores SET pin_hash = ? WHERE id = ?", (pin_hash, worker_id))
            return cursor.rowcount == 1

    def events(self, tag: str) -> list[Event]:
        """The spool's events in append order."""
        with self._lock:
            rows = self._conn.execute("SELECT * FROM metadata WHERE tag_spool = ? ORDER BY seq", (tag,)).fetchall()
        return [_event(r) for r in rows]

    def all_events(self) -> Iterator[Event]:
        """The whole log in append order (the table's own key order, no sort), read in chunks on a
        connection of its own: WAL keeps its snapshot consistent while commands go on through the
        shared one, so a long report never holds up the floor."""
        with self._reader() as db:
            cursor = db.execute(f"SELECT {', '.join(EVENT_FIELDS)} FROM metadata ORDER BY seq")
            while rows := cursor.fetchmany(_CHUNK):
                for row in rows:
                    yield Event(*row[:9], _metadata(row[9]))

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection of its own (the shared one, under the lock, for an in-memory database,
        which a second connection could not see)."""
        if self.path == ":memory:":
            with self._lock:
                yield self._conn
            return
        db = sqlite3.connect(f"{Path(self.path).absolute().as_uri()}?mode=ro", uri=True)
        try:
            yield db
        finally:
            db.close()

    def idempotency(self, key: str) -> IdempotencyRecord | None:
        """The command that carried ``key``: its event and the spool as it left it."""
        with self._lock:
            row = self._conn.execute(
                "SELECT i.request_hash AS request_hash, i.respuesta AS respuesta, m.* "
                "FROM idempotencia i JOIN metadata m ON m.id = i.event_id WHERE i.clave = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        # Files written before 1.1 keep the whole first answer here; its spool has the same fields.
        spool = json.loads(row["respuesta"])["spool"]
        return IdempotencyRecord(key=key, request_hash=row["request_hash"], event=_event(row), spool=_spool(spool))

    def load(
        self,
        spools: Iterable[Spool],
        workers: Iterable[Worker],
        versions: Mapping[str, str | None] | None = None,
        motivos: Iterable[Motivo] = (),
    ) -> None:
        """Upsert workers, add new spools and replace those in ``versions`` on their version, add new
        reasons, in one transaction."""
        versions = versions or {}
        columns = ", ".join(_SPOOL_COLUMNS)
        assignments = ", ".join(f"{name} = ?" for name in TRACKING_FIELDS)
        with self._transaction("IMMEDIATE") as db:
            self._workers = None  # under the lock, so no reader caches the rows being replaced
            db.executemany(
                "INSERT INTO trabajadores (id, nombre, apellido, roles, activo) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET nombre = excluded.nombre, apellido = excluded.apellido, "
                "roles = excluded.roles, activo = excluded.activo",
                [(w.id, w.nombre, w.apellido, ",".join(w.roles), int(w.activo)) for w in workers],
            )
            _add_motivos(db, motivos)
            for spool in spools:
                values = _row_values(spool)
                if spool.tag_spool in versions:
                    cursor = db.execute(
                        f"UPDATE operaciones SET {assignments} WHERE tag_spool = ? AND version IS ?",
                        (*values[1:], spool.tag_spool, versions[spool.tag_spool]),
                    )
                    if cursor.rowcount != 1:
                        raise StaleWrite(spool.tag_spool)
                    continue
                try:
                    db.execute(f"INSERT INTO operaciones ({columns}) VALUES ({', '.join('?' * len(values))})", values)
                except sqlite3.IntegrityError as exc:  # the tag was added since the caller's snapshot
                    raise StaleWrite(spool.tag_spool) from exc

    def close(self) -> None:
        """Close the connections."""
        if self._writes is not None and self._writer is not None:
            self._writes.call(self._writer.close)
        with self._lock:
            self._conn.close()


_decode = json.JSONDecoder().raw_decode


def _metadata(text: str) -> dict[str, Any]:
    """A metadata_json cell as written by ``commit`` (compact, no surrounding space): ``raw_decode``
    skips the two whitespace scans of ``json.loads``, which were half its cost on a year's log."""
    try:
        return _decode(text)[0]
    except ValueError:
        return json.loads(text)


def _add_motivos(db: sqlite3.Connection, motivos: Iterable[Motivo]) -> None:
    """Add the reasons whose code is new; an existing one is the shop's and stays as it is."""
    db.executemany(
        "INSERT INTO motivos (codigo, descripcion, activo) VALUES (?, ?, ?) ON CONFLICT (codigo) DO NOTHING",
        [(m.codigo, m.descripcion, int(m.activo)) for m in motivos],
    )


def _spool_values(spool: Spool) -> dict[str, Any]:
    """The spool's columns as SQLite stores them."""
    values = {"tag_spool": spool.tag_spool, **spool.tracking()}
    if values["resultado_metrologia"] is not None:
        values["resultado_metrologia"] = str(values["resultado_metrologia"])
    return values


def _row_values(spool: Spool) -> tuple[Any, ...]:
    return tuple(_spool_values(spool).values())
