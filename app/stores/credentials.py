"""Where sign-in state lives (SPEC §11): open sessions, API tokens and failed PIN attempts.

Every process and instance must see a sign-out, a revoked token or a lockout at once, so this state
is kept where they all look: the SQLite file (``ZEUES_DB``; with a Google Sheet too, whose only
share of this state is the ``pin_hash`` column) or the PostgreSQL database. Tokens are kept only
as a hash: a copy of the database hands out no session and no token. PIN hashes live with the
workers, in the store (``Store.set_pin_hash``).
"""

from __future__ import annotations

import abc
import dataclasses
import sqlite3
import threading
from contextlib import AbstractContextManager

from . import sqlite


@dataclasses.dataclass(frozen=True, slots=True)
class SessionRecord:
    """An open session: whose, opened with which PIN, until when (seconds since the epoch)."""

    worker_id: int
    pin_ref: str  # a fingerprint of the PIN hash it was opened with: a new PIN ends it
    expires_at: float


@dataclasses.dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as ``tokens list`` shows it: never its secret."""

    name: str
    scopes: tuple[str, ...]
    created_at: float
    last_used_at: float | None


class CredentialStore(abc.ABC):
    """The port: sessions, API tokens and failed attempts, shared by every process. Token arguments
    are always hashes."""

    @abc.abstractmethod
    def add_session(self, token_hash: str, worker_id: int, pin_ref: str, created_at: float, expires_at: float) -> None:
        """Record a new session (and forget the sessions that expired before ``created_at``)."""

    @abc.abstractmethod
    def session(self, token_hash: str) -> SessionRecord | None:
        """The session behind a token, or None (never opened, or ended)."""

    @abc.abstractmethod
    def end_session(self, token_hash: str) -> bool:
        """Sign out: the token is refused from now on; False when there was no such session."""

    @abc.abstractmethod
    def end_sessions(self, worker_id: int) -> int:
        """End every session of one worker (a new PIN); how many there were."""

    @abc.abstractmethod
    def take_attempt(self, worker_id: int, now: float, window_s: float, limit: int) -> float | None:
        """Count a sign-in attempt as failed until ``clear_attempts``, atomically with the check: None
        when it was recorded, or the moment the lockout ends when ``limit`` failures already lie in
        the last ``window_s`` seconds (then nothing is recorded)."""

    @abc.abstractmethod
    def clear_attempts(self, worker_id: int) -> None:
        """Forget the worker's failed attempts (a successful sign-in)."""

    @abc.abstractmethod
    def add_token(self, name: str, token_hash: str, scopes: tuple[str, ...], created_at: float) -> bool:
        """Record a new API token; False when a token of that name exists."""

    @abc.abstractmethod
    def token(self, token_hash: str) -> TokenRecord | None:
        """The token with that secret, or None (unknown or revoked)."""

    @abc.abstractmethod
    def tokens(self) -> list[TokenRecord]:
        """Every token, by name."""

    @abc.abstractmethod
    def revoke_token(self, name: str) -> bool:
        """Delete a token; False when there was none of that name."""

    @abc.abstractmethod
    def touch_token(self, name: str, when: float) -> None:
        """Record when a token was last used."""

    def close(self) -> None:  # noqa: B027 - optional hook: a shared pool is closed by its owner
        """Release connections."""


SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS sesiones (
    token_hash TEXT PRIMARY KEY,  -- SHA-256 of the bearer token, never the token
    worker_id INTEGER NOT NULL,
    pin_ref TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sesiones_por_trabajador ON sesiones (worker_id);
CREATE TABLE IF NOT EXISTS api_tokens (
    name TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,  -- comma separated
    created_at REAL NOT NULL,
    last_used_at REAL
);
CREATE TABLE IF NOT EXISTS pin_failures (
    worker_id INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pin_failures_por_trabajador ON pin_failures (worker_id, at);
"""


class SqliteCredentials(CredentialStore):
    """Sign-in state in a SQLite file: the shop's own file, or beside a Google Sheet a local one."""

    def __init__(self, path: str, synchronous: str = "FULL", busy_timeout_ms: int = 5000) -> None:
        # A sign-out must survive a power cut as surely as a command: FULL unless the shop chose otherwise.
        self._conn = sqlite.connect(path, synchronous, busy_timeout_ms)
        self._lock = threading.RLock()
        self._conn.executescript(SQLITE_SCHEMA)

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        # The writer's lock at once: counting and adding are one.
        return sqlite.transaction(self._conn, self._lock, "IMMEDIATE")

    def add_session(self, token_hash: str, worker_id: int, pin_ref: str, created_at: float, expires_at: float) -> None:
        """Record a new session; drop the expired ones."""
        with self._transaction() as db:
            db.execute("DELETE FROM sesiones WHERE expires_at <= ?", (created_at,))
            db.execute(
                "INSERT INTO sesiones (token_hash, worker_id, pin_ref, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (token_hash, worker_id, pin_ref, created_at, expires_at),
            )

    def session(self, token_hash: str) -> SessionRecord | None:
        """The session behind a token."""
        with self._lock:
            row = self._conn.execute(
                "SELECT worker_id, pin_ref, expires_at FROM sesiones WHERE token_hash = ?", (token_hash,)
            ).fetchone()
        return SessionRecord(*row) if row else None

    def end_session(self, token_hash: str) -> bool:
        """Delete the session."""
        with self._transaction() as db:
            return db.execute("DELETE FROM sesiones WHERE token_hash = ?", (token_hash,)).rowcount == 1

    def end_sessions(self, worker_id: int) -> int:
        """Delete every session of the worker."""
        with self._transaction() as db:
            return db.execute("DELETE FROM sesiones WHERE worker_id = ?", (worker_id,)).rowcount

    def take_attempt(self, worker_id: int, now: float, window_s: float, limit: int) -> float | None:
        """Count and record in one write transaction, so parallel attempts cannot all slip under the limit."""
        with self._transaction() as db:
            db.execute("DELETE FROM pin_failures WHERE at <= ?", (now - window_s,))
            recent = [
                at
                for (at,) in db.execute(
                    "SELECT at FROM pin_failures WHERE worker_id = ? ORDER BY at DESC LIMIT ?", (worker_id, limit)
                )
            ]
            if len(recent) >= limit:
                return recent[-1] + window_s
            db.execute("INSERT INTO pin_failures (worker_id, at) VALUES (?, ?)", (worker_id, now))
            return None

    def clear_attempts(self, worker_id: int) -> None:
        """Forget the worker's failures."""
        with self._transaction() as db:
            db.execute("DELETE FROM pin_failures WHERE worker_id = ?", (worker_id,))

    def add_token(self, name: str, token_hash: str, scopes: tuple[str, ...], created_at: float) -> bool:
        """Insert the token unless its name is taken."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO api_tokens (name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (name, token_hash, ",".join(scopes), created_at),
            )
            return cursor.rowcount == 1

    def token(self, token_hash: str) -> TokenRecord | None:
        """The token with that hash."""
        with self._lock:
            row = self._conn.execute(
                "SELECT name, scopes, created_at, last_used_at FROM api_tokens WHERE token_hash = ?", (token_hash,)
            ).fetchone()
        return _token(row) if row else None

    def tokens(self) -> list[TokenRecord]:
        """Every token by name."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, scopes, created_at, last_used_at FROM api_tokens ORDER BY name"
            ).fetchall()
        return [_token(row) for row in rows]

    def revoke_token(self, name: str) -> bool:
        """Delete the token."""
        with self._transaction() as db:
            return db.execute("DELETE FROM api_tokens WHERE name = ?", (name,)).rowcount == 1

    def touch_token(self, name: str, when: float) -> None:
        """Record its last use."""
        with self._transaction() as db:
            db.execute("UPDATE api_tokens SET last_used_at = ? WHERE name = ?", (when, name))

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


def _token(row: tuple) -> TokenRecord:
    name, scopes, created_at, last_used_at = row
    return TokenRecord(name, tuple(s for s in scopes.split(",") if s), created_at, last_used_at)
