"""The PostgreSQL schema (SPEC §12) as an ordered list of migrations, and the one function that applies them.

A database records the migrations it has in ``schema_version``. Every process that opens the store
brings the schema up to date before its first read, under a transaction-scoped advisory lock, so
several processes and instances starting together apply each migration exactly once (the others
wait for the lock, then find nothing left to do). ``flask --app wsgi db upgrade`` does the same on
demand. A database newer than this release is refused: old code must not write a schema it does
not know.
"""

from __future__ import annotations

import dataclasses

import psycopg
from psycopg.rows import tuple_row

# The channel every change is announced on (SPEC §12 fan-out); the payload is the spool's tag, or
# EVERYTHING when a change reaches every spool (the workers' names show on every card) or a tag is
# too long for a notification.
CHANNEL = "zeues_changes"
EVERYTHING = ""  # never a tag: operaciones refuses an empty tag_spool

# pg_advisory_xact_lock key held while migrating: "ZEUES" in ASCII, a number no other tool picks.
_LOCK_KEY = 0x5A45554553


@dataclasses.dataclass(frozen=True)
class Migration:
    """One step of the schema: applied once, in order, inside the upgrade's transaction."""

    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "spools, workers, the append-only event log and idempotency records",
        """
        CREATE TABLE operaciones (
            posicion bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- row order, as in the sheet
            tag_spool text NOT NULL UNIQUE CHECK (tag_spool <> ''),
            ocupado_por integer,
            timestamp_ocupacion text,
            version text,
            armador integer,
            fecha_armado text,
            soldador integer,
            fecha_soldadura text,
            metrologo integer,
            fecha_metrologia text,
            resultado_metrologia text,
            reparacion_ciclo integer NOT NULL DEFAULT 0
        );
        CREATE TABLE trabajadores (
            id integer PRIMARY KEY,
            nombre text NOT NULL,
            apellido text NOT NULL,
            roles text[] NOT NULL,
            activo boolean NOT NULL
        );
        CREATE TABLE metadata (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- append order
            id text NOT NULL UNIQUE,
            timestamp text NOT NULL,
            evento_tipo text NOT NULL,
            tag_spool text NOT NULL,
            worker_id integer NOT NULL,
            worker_nombre text NOT NULL,
            operacion text NOT NULL,
            accion text NOT NULL,
            fecha_operacion text NOT NULL,
            -- json, not jsonb: the text is kept as written, keys in their order, so a replayed
            -- answer is byte for byte the first one.
            metadata_json json NOT NULL CHECK (json_typeof(metadata_json) = 'object')
        );
        CREATE INDEX metadata_por_spool ON metadata (tag_spool, seq);
        -- The key is the primary key: a second command with it, from any process or instance,
        -- cannot commit.
        CREATE TABLE idempotencia (
            clave text PRIMARY KEY,
            event_id text NOT NULL REFERENCES metadata (id),
            spool jsonb NOT NULL  -- the spool as the command left it, for the replayed answer
        );
        -- The log is append-only, whoever connects: the database itself refuses edits.
        CREATE FUNCTION metadata_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'metadata is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
        END $$;
        CREATE TRIGGER metadata_append_only BEFORE UPDATE OR DELETE ON metadata
            FOR EACH ROW EXECUTE FUNCTION metadata_append_only();
        CREATE TRIGGER metadata_no_truncate BEFORE TRUNCATE ON metadata
            FOR EACH STATEMENT EXECUTE FUNCTION metadata_append_only();
        """,
    ),
    Migration(
        2,
        "announce every change to a spool or a worker on the zeues_changes channel",
        f"""
        -- A notification is delivered when its transaction commits, so a command's announcement and
        -- its write are one; plain SQL typed by anyone announces itself the same way.
        CREATE FUNCTION notify_spool_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- 8000 bytes is NOTIFY's payload limit: a longer tag announces everything instead.
            IF TG_OP <> 'INSERT' THEN
                PERFORM pg_notify('{CHANNEL}', CASE WHEN octet_length(OLD.tag_spool) < 8000
                                                   THEN OLD.tag_spool ELSE '{EVERYTHING}' END);
            END IF;
            IF TG_OP <> 'DELETE' THEN
                PERFORM pg_notify('{CHANNEL}', CASE WHEN octet_length(NEW.tag_spool) < 8000
                                                   THEN NEW.tag_spool ELSE '{EVERYTHING}' END);
            END IF;
            RETURN NULL;
        END $$;
        CREATE FUNCTION notify_everything_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '{EVERYTHING}');
            RETURN NULL;
        END $$;
        CREATE TRIGGER operaciones_notify AFTER INSERT OR DELETE ON operaciones
            FOR EACH ROW EXECUTE FUNCTION notify_spool_change();
        -- An upsert that rewrites a row with the same values (a repeated import) changes nothing.
        CREATE TRIGGER operaciones_notify_update AFTER UPDATE ON operaciones
            FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION notify_spool_change();
        CREATE TRIGGER operaciones_notify_truncate AFTER TRUNCATE ON operaciones
            FOR EACH STATEMENT EXECUTE FUNCTION notify_everything_changed();
        CREATE TRIGGER trabajadores_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON trabajadores
            FOR EACH STATEMENT EXECUTE FUNCTION notify_everything_changed();
        """,
    ),
    Migration(
        3,
        "holds (SPEC §13): the bloqueo columns of operaciones and the motivos table with its default reasons",
        """
        -- Empty on every existing row: no spool is on hold until someone puts it there.
        ALTER TABLE operaciones
            ADD COLUMN bloqueo_motivo text,
            ADD COLUMN bloqueo_desde text,
            ADD COLUMN bloqueo_nota text;
        CREATE TABLE motivos (
            posicion bigint GENERATED ALWAYS AS IDENTITY UNIQUE,  -- table order, as in the sheet
            codigo text PRIMARY KEY CHECK (codigo <> ''),
            descripcion text NOT NULL,
            activo boolean NOT NULL DEFAULT true
        );
        -- The reasons this release starts every shop with (written out: a migration never changes).
        INSERT INTO motivos (codigo, descripcion) VALUES
            ('MATERIAL', 'Falta material'),
            ('PLANO', 'Plano en revisión'),
            ('CALIDAD', 'Retenido por calidad'),
            ('EQUIPO', 'Equipo no disponible'),
            ('OTRO', 'Otro motivo (ver nota)');
        """,
    ),
    Migration(
        4,
        "a counter of changes to trabajadores, so a process reads its cached workers again only when they changed",
        """
        CREATE TABLE table_versions (name text PRIMARY KEY, version bigint NOT NULL);
        INSERT INTO table_versions (name, version) VALUES ('trabajadores', 0);
        CREATE FUNCTION count_trabajadores_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE table_versions SET version = version + 1 WHERE name = 'trabajadores';
            RETURN NULL;
        END $$;
        CREATE TRIGGER trabajadores_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON trabajadores
            FOR EACH STATEMENT EXECUTE FUNCTION count_trabajadores_change();
        """,
    ),
    Migration(
        5,
        "identity and access: PIN hashes, sessions, API tokens and failed sign-ins",
        """
        -- The PIN's salted slow hash, never the PIN (SPEC §11).
        ALTER TABLE trabajadores ADD COLUMN pin_hash text;
        -- Tokens are kept as their SHA-256 only: a copy of the database hands out no session.
        CREATE TABLE sesiones (
            token_hash text PRIMARY KEY,
            worker_id integer NOT NULL,
            pin_ref text NOT NULL,  -- which PIN it was opened with: a new PIN ends it
            created_at double precision NOT NULL,
            expires_at double precision NOT NULL
        );
        CREATE INDEX sesiones_por_trabajador ON sesiones (worker_id);
        CREATE TABLE api_tokens (
            name text PRIMARY KEY,
            token_hash text NOT NULL UNIQUE,
            scopes text[] NOT NULL,
            created_at double precision NOT NULL,
            last_used_at double precision
        );
        CREATE TABLE pin_failures (
            worker_id integer NOT NULL,
            at double precision NOT NULL
        );
        CREATE INDEX pin_failures_por_trabajador ON pin_failures (worker_id, at);
        """,
    ),
)

LATEST = MIGRATIONS[-1].version


class SchemaTooNew(Exception):
    """The database was migrated by a newer release than this one."""


def current_version(conn: psycopg.Connection) -> int:
    """The last migration the database has (0 for an empty database)."""
    with conn.cursor(row_factory=tuple_row) as cursor:
        if cursor.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
            return 0
        return cursor.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def upgrade(conn: psycopg.Connection, target: int = LATEST) -> list[Migration]:
    """Apply the migrations the database lacks up to ``target``, all in one transaction under the
    advisory lock; return those applied (none when another process got there first)."""
    with conn.transaction():
        # Bounded, but well past the service's per-statement limit: a migration may rewrite a long
        # log, and the processes starting beside the one migrating wait here for it.
        conn.execute("SET LOCAL statement_timeout = '5min'")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY, description text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        actual = current_version(conn)
        if actual > LATEST:
            raise SchemaTooNew(too_new_message(actual))
        pendientes = [m for m in MIGRATIONS if actual < m.version <= target]
        for migration in pendientes:
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                (migration.version, migration.description),
            )
    return pendientes


def too_new_message(version: int) -> str:
    """The one line that refuses a database migrated by a newer release."""
    return (
        f"the database schema is at version {version}, newer than this release knows ({LATEST}): "
        "run the release that migrated it"
    )
