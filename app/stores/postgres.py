"""The PostgreSQL store (SPEC §12): a connection pool per process, one transaction per command, and
a LISTEN connection that hears every commit made by any process on any host.

psycopg picks its way of waiting on sockets when it is first imported: gevent's once the process is
monkey-patched. This module is imported by ``open_store`` inside the gunicorn worker, after the
patching, and the pool is opened on first use in the process that uses it, never in a process that
forks afterwards (gunicorn's master).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg.types.json import Json, Jsonb
from psycopg_pool import ConnectionPool

from ..config import ConfigError
from ..domain.errors import SourceUnavailable
from ..domain.machine import REQUEST_HASH, Decision
from ..domain.model import EVENT_FIELDS, TRACKING_FIELDS, Event, Motivo, Resultado, Spool, Worker, parse_roles
from . import postgres_schema
from .base import DuplicateIdempotencyKey, IdempotencyRecord, Snapshot, StaleWrite, Store
from .postgres_schema import CHANNEL, EVERYTHING, SchemaTooNew

log = logging.getLogger(__name__)

_SPOOL_COLUMNS = ("tag_spool", *TRACKING_FIELDS)
_SPOOLS = f"SELECT {', '.join(_SPOOL_COLUMNS)} FROM operaciones"
_WORKERS = "SELECT id, nombre, apellido, roles, activo, pin_hash FROM trabajadores"
# A command's write: the conditional update, its event and its key, each only if the one before it was
# written. (Data-modifying CTEs run once whether or not they are read; the WHERE EXISTS makes them wait
# for the update's answer.)
_COMMIT = f"""
WITH updated AS (
    UPDATE operaciones SET {', '.join(f'{c} = %s' for c in TRACKING_FIELDS)}
    WHERE tag_spool = %s AND version IS NOT DISTINCT FROM %s RETURNING 1
), logged AS (
    INSERT INTO metadata ({', '.join(EVENT_FIELDS)})
    SELECT {', '.join(['%s'] * len(EVENT_FIELDS))} WHERE EXISTS (SELECT 1 FROM updated) RETURNING id
), keyed AS (
    INSERT INTO idempotencia (clave, event_id, spool)
    SELECT %s::text, %s::text, %s::jsonb WHERE EXISTS (SELECT 1 FROM logged) AND %s::text IS NOT NULL
    ON CONFLICT DO NOTHING RETURNING 1
)
SELECT (SELECT count(*) FROM updated) AS updated, (SELECT count(*) FROM keyed) AS keyed
"""
_WORKERS_VERSION = "SELECT version FROM table_versions WHERE name = 'trabajadores'"
# A command's fresh read: the spool's row (all nulls when there is no such spool) and the workers' counter.
_FRESH = (
    f"SELECT {', '.join(f'o.{c}' for c in _SPOOL_COLUMNS)}, ({_WORKERS_VERSION}) AS workers_version "
    "FROM (SELECT 1) AS one LEFT JOIN operaciones o ON o.tag_spool = %s"
)
_EVENTS = f"SELECT {', '.join(f'm.{c}' for c in EVENT_FIELDS)} FROM metadata m"

# A connection the server itself refuses for one of these reasons is refused on every retry: the
# setting is wrong, not the network. libpq reports no SQLSTATE for a failed connection, only the
# server's message (English unless the server is set to another language: then the refusal is
# taken for an outage, logged and answered with 503, never mistaken the other way round).
_MISCONFIGURED = ("password authentication failed", "does not exist", "no pg_hba.conf entry", "permission denied")

_UNAVAILABLE = "PostgreSQL no responde. Reintente en unos segundos."
IDLE_CHECK_S = 10.0  # a pooled connection idle longer than this is checked before use
_CHUNK = 2000  # rows of the log fetched at a time by a report


def _spool(row: Mapping[str, Any]) -> Spool:
    # An idempotency record written before migration 3 lacks the hold columns: they were empty then.
    datos = {name: row[name] for name in _SPOOL_COLUMNS if name in row}
    if datos["resultado_metrologia"]:
        datos["resultado_metrologia"] = Resultado(datos["resultado_metrologia"])
    return Spool(**datos)


def _spool_values(spool: Spool) -> dict[str, Any]:
    """The spool's columns as the database stores them (enums as their text)."""
    valores = {"tag_spool": spool.tag_spool, **spool.tracking()}
    if valores["resultado_metrologia"] is not None:
        valores["resultado_metrologia"] = str(valores["resultado_metrologia"])
    return valores


def _worker(row: Mapping[str, Any]) -> Worker:
    return Worker(
        id=row["id"],
        nombre=row["nombre"],
        apellido=row["apellido"],
        roles=parse_roles(row["roles"]),
        activo=row["activo"],
        pin_hash=row["pin_hash"],
    )


def _check_if_idle(conn: psycopg.Connection) -> None:
    """Check a pooled connection before handing it out only when it sat idle for a while: a command
    takes three of them, and checking each cost a round trip to the server; a connection that served a
    request a moment ago is alive (if the server went away since, that request answers 503 and the
    pool drops the broken connection)."""
    if time.monotonic() - getattr(conn, "info_used_at", 0.0) > IDLE_CHECK_S:
        ConnectionPool.check_connection(conn)


def _event(row: Mapping[str, Any]) -> Event:
    return Event(**{name: row[name] for name in EVENT_FIELDS})


def _dumps(value: Any) -> str:
    """JSON as people read it in psql: accents and other scripts as themselves."""
    return json.dumps(value, ensure_ascii=False)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PostgresStore(Store):
    """One PostgreSQL database shared by every worker process of every instance."""

    name = "postgres"
    announces_changes = True

    def __init__(
        self,
        url: str,
        pool_size: int = 10,
        pool_timeout: float = 5.0,
        connect_timeout: int = 5,
        statement_timeout: float = 5.0,
    ) -> None:
        try:
            conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(f"ZEUES_DATABASE_URL is not a PostgreSQL URL: {_first_line(exc)}") from exc
        self.pool_size, self.pool_timeout = pool_size, pool_timeout
        params = conninfo_to_dict(url)
        self.location = f"database {params.get('dbname', '?')} on {params.get('host', 'localhost')}"
        # Every call is bounded: the connection attempt, each statement (a row lock held by a
        # stuck transaction included), the wait for a pooled connection, and a transaction left open.
        timeout_ms = max(1, round(statement_timeout * 1000))
        self._conninfo = make_conninfo(
            url,
            connect_timeout=max(2, int(connect_timeout)),  # libpq treats anything under 2 s as 2 s
            application_name="zeues",
            options=f"-c statement_timeout={timeout_ms} -c idle_in_transaction_session_timeout={4 * timeout_ms}",
        )
        self._listener_conninfo = make_conninfo(
            url,
            connect_timeout=max(2, int(connect_timeout)),
            application_name="zeues-listener",
            # The listener only reads: without keepalives a host that vanished (no FIN, no RST)
            # would leave it waiting forever instead of raising within about half a minute.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
        self._guard = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._pool_pid: int | None = None
        self._schema_ready = False
        self._workers_cache: tuple[int, dict[int, Worker]] | None = None  # (change counter, workers)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PostgresStore:
        """The store ``ZEUES_DATABASE_URL`` and the ``ZEUES_DATABASE_*`` settings describe."""
        return cls(
            config["DATABASE_URL"],
            pool_size=int(config["DATABASE_POOL_SIZE"]),
            pool_timeout=float(config["DATABASE_POOL_TIMEOUT"]),
            connect_timeout=int(config["DATABASE_CONNECT_TIMEOUT"]),
            statement_timeout=float(config["DATABASE_STATEMENT_TIMEOUT"]),
        )

    # --- connections ------------------------------------------------------------------------------

    def _get_pool(self) -> ConnectionPool:
        """This process's pool, opened on first use. A pool inherited through fork belongs to the
        parent: its sockets are left alone (closing them would end the parent's sessions)."""
        pid = os.getpid()
        with self._guard:
            if self._pool is None or self._pool_pid != pid:
                pool = ConnectionPool(
                    self._conninfo,
                    min_size=1,
                    max_size=self.pool_size,
                    timeout=self.pool_timeout,
                    # A connection the server dropped while idle (a restart, a failover) is
                    # replaced before it is handed out, instead of failing one request each.
                    check=_check_if_idle,
                    kwargs={"row_factory": dict_row},
                    name="zeues",
                    open=False,
                )
                pool.open(wait=False)
                self._pool, self._pool_pid = pool, pid
            return self._pool

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection inside one transaction (committed on success, rolled back on any
        exception); the database unreachable, slow or gone away is SourceUnavailable (503)."""
        try:
            with self._get_pool().connection() as conn:
                if not self._schema_ready:
                    self._ensure_schema(conn)
                yield conn
                conn.info_used_at = time.monotonic()  # type: ignore[attr-defined]
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            log.warning("PostgreSQL call failed: %s", _first_line(exc))
            raise SourceUnavailable(_UNAVAILABLE, retry_after=2) from exc

    def _ensure_schema(self, conn: psycopg.Connection) -> None:
        """Bring the schema up to date once per process (see postgres_schema)."""
        version = postgres_schema.current_version(conn)
        conn.commit()
        if version > postgres_schema.LATEST:
            raise SchemaTooNew(postgres_schema.too_new_message(version))
        if version < postgres_schema.LATEST:
            for migration in postgres_schema.upgrade(conn):
                log.warning("database schema migrated to version %d: %s", migration.version, migration.description)
        self._schema_ready = True

    # --- the port -----------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Every spool and worker from one read-only snapshot of the database."""
        with self._connection() as db:
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            spools = tuple(_spool(r) for r in db.execute(f"{_SPOOLS} ORDER BY posicion"))
            workers = tuple(_worker(r) for r in db.execute(f"{_WORKERS} ORDER BY id"))
        return Snapshot(spools=spools, workers=workers)

    def spool(self, tag: str) -> Spool | None:
        """One spool, fresh."""
        with self._connection() as db:
            row = db.execute(f"{_SPOOLS} WHERE tag_spool = %s", (tag,)).fetchone()
        return _spool(row) if row else None

    def fresh(self, tag: str) -> tuple[Spool | None, dict[int, Worker]]:
        """The spool and the workers' change counter in one round trip; the workers themselves are read
        again only when the counter moved (any process, the CLI or plain SQL moves it)."""
        with self._connection() as db:
            row = db.execute(_FRESH, (tag,)).fetchone()
            return (_spool(row) if row["tag_spool"] is not None else None), self._workers_at(db, row["workers_version"])

    def workers(self) -> dict[int, Worker]:
        """Every worker, fresh (from the cache while the workers' change counter has not moved)."""
        with self._connection() as db:
            version = db.execute(_WORKERS_VERSION).fetchone()["version"]
            return self._workers_at(db, version)

    def _workers_at(self, db: psycopg.Connection, version: int) -> dict[int, Worker]:
        """The workers as of change ``version``: cached, or read once more."""
        cached = self._workers_cache
        if cached is None or cached[0] != version:
            cached = self._workers_cache = (version, {w.id: w for w in map(_worker, db.execute(_WORKERS))})
        return dict(cached[1])

    def motivos(self) -> list[Motivo]:
        """Every reason, in table order."""
        with self._connection() as db:
            rows = db.execute("SELECT codigo, descripcion, activo FROM motivos ORDER BY posicion").fetchall()
        return [Motivo(r["codigo"], r["descripcion"], r["activo"]) for r in rows]

    def commit(self, decision: Decision) -> None:
        """Conditional update on ``version`` + event insert (+ idempotency record), one transaction.

        Under READ COMMITTED a second UPDATE of the row waits for the first transaction, then
        re-checks ``version`` against the committed row: of two racing commands one updates, the
        other matches nothing. The row's trigger announces the change on commit.
        """
        changes = _spool_values(decision.despues)
        del changes["tag_spool"]
        event = decision.event.as_dict()
        event["metadata_json"] = Json(event["metadata_json"], dumps=_dumps)
        key = decision.idempotency_key
        record = Jsonb(_spool_values(decision.despues)) if key is not None else None
        with self._connection() as db:
            # One statement, one round trip: the event and the key are written only if the row was.
            # A concurrent transaction holding the same key makes its insert wait for it; if that one
            # commits, the key is taken and this whole transaction is rolled back.
            row = db.execute(
                _COMMIT,
                (
                    *changes.values(),
                    decision.antes.tag_spool,
                    decision.antes.version,
                    *event.values(),
                    key,
                    decision.event.id,
                    record,
                    key,
                ),
            ).fetchone()
            if row["updated"] != 1:
                raise StaleWrite(decision.antes.tag_spool)
            if key is not None and row["keyed"] != 1:
                raise DuplicateIdempotencyKey(key)

    def set_pin_hash(self, worker_id: int, pin_hash: str | None) -> bool:
        """Replace the worker's PIN hash (None clears it); False when no worker has that id."""
        with self._connection() as db:
            cursor = db.execute("UPDATE trabajadores SET pin_hash = %s WHERE id = %s", (pin_hash, worker_id))
            return cursor.rowcount == 1

    def events(self, tag: str) -> list[Event]:
        """The spool's events in append order."""
        with self._connection() as db:
            return [_event(r) for r in db.execute(f"{_EVENTS} WHERE m.tag_spool = %s ORDER BY m.seq", (tag,))]

    def all_events(self) -> Iterator[Event]:
        """The whole log in append order, streamed from a server-side cursor on a connection of its own:
        a report that pauses between chunks (to let the event loop serve the floor) holds no pooled
        connection, and its REPEATABLE READ transaction sees one moment while commands go on."""
        try:
            with psycopg.connect(self._conninfo, row_factory=dict_row) as db:
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                with db.cursor(name="zeues_all_events") as cursor:
                    cursor.itersize = _CHUNK
                    cursor.execute(f"{_EVENTS} ORDER BY m.seq")
                    yield from map(_event, cursor)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            log.warning("PostgreSQL call failed: %s", _first_line(exc))
            raise SourceUnavailable(_UNAVAILABLE, retry_after=2) from exc

    def idempotency(self, key: str) -> IdempotencyRecord | None:
        """The command that carried ``key``: its event and the spool as it left it."""
        with self._connection() as db:
            row = db.execute(
                f"SELECT {', '.join(f'm.{c}' for c in EVENT_FIELDS)}, i.spool AS idempotencia_spool "
                "FROM idempotencia i JOIN metadata m ON m.id = i.event_id WHERE i.clave = %s",
                (key,),
            ).fetchone()
        if row is None:
            return None
        event = _event(row)
        return IdempotencyRecord(
            key=key,
            request_hash=event.metadata_json.get(REQUEST_HASH, ""),
            event=event,
            spool=_spool(row["idempotencia_spool"]),
        )

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
        assignments = ", ".join(f"{c} = %s" for c in TRACKING_FIELDS)
        with self._connection() as db, db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO trabajadores (id, nombre, apellido, roles, activo) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET nombre = excluded.nombre, apellido = excluded.apellido, "
                "roles = excluded.roles, activo = excluded.activo",
                [(w.id, w.nombre, w.apellido, [str(r) for r in w.roles], w.activo) for w in workers],
            )
            # A reason the shop already has (reworded, switched off) stays as it is.
            cursor.executemany(
                "INSERT INTO motivos (codigo, descripcion, activo) VALUES (%s, %s, %s) ON CONFLICT (codigo) DO NOTHING",
                [(m.codigo, m.descripcion, m.activo) for m in motivos],
            )
            for spool in spools:
                values = tuple(_spool_values(spool).values())
                if spool.tag_spool in versions:
                    cursor.execute(
                        f"UPDATE operaciones SET {assignments} "
                        "WHERE tag_spool = %s AND version IS NOT DISTINCT FROM %s",
                        (*values[1:], spool.tag_spool, versions[spool.tag_spool]),
                    )
                    if cursor.rowcount != 1:
                        raise StaleWrite(spool.tag_spool)
                    continue
                # A tag added since the caller's snapshot matches nothing here: the load is stale.
                cursor.execute(
                    f"INSERT INTO operaciones ({columns}) VALUES ({', '.join(['%s'] * len(values))}) "
                    "ON CONFLICT (tag_spool) DO NOTHING",
                    values,
                )
                if cursor.rowcount != 1:
                    raise StaleWrite(spool.tag_spool)

    def check(self) -> list[str]:
        """Connect once and bring the schema up to date. A wrong URL, role, password or database
        name, or a schema newer than this release, is a problem line; an unreachable server is
        SourceUnavailable (the service starts and answers 503 until it is back)."""
        try:
            with psycopg.connect(self._conninfo) as conn:
                self._ensure_schema(conn)
        except SchemaTooNew as exc:
            return [str(exc)]
        except psycopg.OperationalError as exc:
            reason = _first_line(exc).rpartition("FATAL:")[2].strip()
            if any(m in reason for m in _MISCONFIGURED):
                return [f"ZEUES_DATABASE_URL: the server refuses the connection: {reason}"]
            raise SourceUnavailable(f"PostgreSQL no responde: {_first_line(exc)}") from exc
        return []

    def listener(self) -> NotifyListener:
        """A new LISTEN connection on the change channel (raises SourceUnavailable if it cannot connect)."""
        return NotifyListener(self._listener_conninfo)

    def close(self) -> None:
        """Close this process's pool."""
        with self._guard:
            pool, self._pool = self._pool, None
            if pool is not None and self._pool_pid == os.getpid():
                pool.close()

    # --- schema -----------------------------------------------------------------------------------

    def upgrade(self) -> list[postgres_schema.Migration]:
        """Apply the migrations the database lacks (``flask db upgrade``); return those applied."""
        try:
            with psycopg.connect(self._conninfo) as conn:
                applied = postgres_schema.upgrade(conn)
        except psycopg.OperationalError as exc:
            raise SourceUnavailable(f"PostgreSQL no responde: {_first_line(exc)}") from exc
        self._schema_ready = False  # this process re-checks on its next use
        return applied

    def schema_version(self) -> int:
        """The version the database is at (``flask db status``), without migrating it."""
        try:
            with psycopg.connect(self._conninfo) as conn:
                return postgres_schema.current_version(conn)
        except psycopg.OperationalError as exc:
            raise SourceUnavailable(f"PostgreSQL no responde: {_first_line(exc)}") from exc


class NotifyListener:
    """The change announcements of one database, on a dedicated autocommit connection that
    LISTENs on the change channel. One greenlet (or thread) waits on it at a time.

    Announcements made before the LISTEN are not heard: after opening one (and after replacing a
    lost one) read the store once, then follow ``wait``.
    """

    def __init__(self, conninfo: str) -> None:
        try:
            self._conn = psycopg.connect(conninfo, autocommit=True)
            self._conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            raise SourceUnavailable(f"PostgreSQL no responde: {_first_line(exc)}") from exc

    @property
    def backend_pid(self) -> int:
        """The server process serving this connection (what pg_terminate_backend takes)."""
        return self._conn.info.backend_pid

    def wait(self, timeout: float) -> list[str] | None:
        """Block up to ``timeout`` seconds for announcements. Returns the tags of the spools that
        changed, in commit order, each once; None when everything may have changed (a worker, a
        truncate: reload all); an empty list on timeout. A lost connection raises SourceUnavailable;
        the listener is then closed."""
        payloads: dict[str, None] = {}  # ordered: a follower that replays them in order passes
        try:  # through the same states as the process that committed them, and knows their cursors
            for notify in self._conn.notifies(timeout=timeout, stop_after=1):
                payloads[notify.payload] = None
            if payloads:
                # A commit of many rows arrives in several packets: take what is already here.
                for notify in self._conn.notifies(timeout=0):
                    payloads[notify.payload] = None
        except psycopg.Error as exc:
            self.close()
            raise SourceUnavailable(f"the change listener lost its connection: {_first_line(exc)}") from exc
        return None if EVERYTHING in payloads else list(payloads)

    def close(self) -> None:
        """Close the connection (the server stops queueing announcements for it)."""
        self._conn.close()
