"""Sign-in state on PostgreSQL (SPEC §11, §12): sessions, API tokens and failed attempts in the shop's
database, through the store's own connection pool, so every process of every instance sees a
sign-out, a revocation or a lockout with its next request."""

from __future__ import annotations

from typing import Any

from .credentials import CredentialStore, SessionRecord, TokenRecord
from .postgres import PostgresStore

# pg_advisory_xact_lock(class, worker id) while counting a worker's failed attempts: "ZE" in ASCII,
# in the two-key space (apart from the migrations' one-key lock).
_ATTEMPTS_LOCK = 0x5A45


class PostgresCredentials(CredentialStore):
    """The credential tables of migration 3, on the store's pool (one transaction per call)."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    def _connection(self) -> Any:
        # The store's pooled transaction: the same timeouts, and 503 SOURCE_UNAVAILABLE when the
        # database is away (a sign-in or a command then fails like any other request).
        return self.store._connection()

    def add_session(self, token_hash: str, worker_id: int, pin_ref: str, created_at: float, expires_at: float) -> None:
        """Record a new session; drop the expired ones."""
        with self._connection() as db:
            db.execute("DELETE FROM sesiones WHERE expires_at <= %s", (created_at,))
            db.execute(
                "INSERT INTO sesiones (token_hash, worker_id, pin_ref, created_at, expires_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (token_hash, worker_id, pin_ref, created_at, expires_at),
            )

    def session(self, token_hash: str) -> SessionRecord | None:
        """The session behind a token."""
        with self._connection() as db:
            row = db.execute(
                "SELECT worker_id, pin_ref, expires_at FROM sesiones WHERE token_hash = %s", (token_hash,)
            ).fetchone()
        return SessionRecord(row["worker_id"], row["pin_ref"], row["expires_at"]) if row else None

    def end_session(self, token_hash: str) -> bool:
        """Delete the session."""
        with self._connection() as db:
            return db.execute("DELETE FROM sesiones WHERE token_hash = %s", (token_hash,)).rowcount == 1

    def end_sessions(self, worker_id: int) -> int:
        """Delete every session of the worker."""
        with self._connection() as db:
            return db.execute("DELETE FROM sesiones WHERE worker_id = %s", (worker_id,)).rowcount

    def take_attempt(self, worker_id: int, now: float, window_s: float, limit: int) -> float | None:
        """Count and record under a per-worker lock held to the commit: parallel attempts on several
        instances take turns, so none slips under the limit."""
        with self._connection() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_ATTEMPTS_LOCK, worker_id))
            db.execute("DELETE FROM pin_failures WHERE at <= %s", (now - window_s,))
            recent = [
                row["at"]
                for row in db.execute(
                    "SELECT at FROM pin_failures WHERE worker_id = %s ORDER BY at DESC LIMIT %s", (worker_id, limit)
                )
            ]
            if len(recent) >= limit:
                return recent[-1] + window_s
            db.execute("INSERT INTO pin_failures (worker_id, at) VALUES (%s, %s)", (worker_id, now))
            return None

    def clear_attempts(self, worker_id: int) -> None:
        """Forget the worker's failures."""
        with self._connection() as db:
            db.execute("DELETE FROM pin_failures WHERE worker_id = %s", (worker_id,))

    def add_token(self, name: str, token_hash: str, scopes: tuple[str, ...], created_at: float) -> bool:
        """Insert the token unless its name is taken."""
        with self._connection() as db:
            cursor = db.execute(
                "INSERT INTO api_tokens (name, token_hash, scopes, created_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (name) DO NOTHING",
                (name, token_hash, list(scopes), created_at),
            )
            return cursor.rowcount == 1

    def token(self, token_hash: str) -> TokenRecord | None:
        """The token with that hash."""
        with self._connection() as db:
            row = db.execute(
                "SELECT name, scopes, created_at, last_used_at FROM api_tokens WHERE token_hash = %s", (token_hash,)
            ).fetchone()
        return _token(row) if row else None

    def tokens(self) -> list[TokenRecord]:
        """Every token by name."""
        with self._connection() as db:
            rows = db.execute("SELECT name, scopes, created_at, last_used_at FROM api_tokens ORDER BY name").fetchall()
        return [_token(row) for row in rows]

    def revoke_token(self, name: str) -> bool:
        """Delete the token."""
        with self._connection() as db:
            return db.execute("DELETE FROM api_tokens WHERE name = %s", (name,)).rowcount == 1

    def touch_token(self, name: str, when: float) -> None:
        """Record its last use."""
        with self._connection() as db:
            db.execute("UPDATE api_tokens SET last_used_at = %s WHERE name = %s", (when, name))


def _token(row: Any) -> TokenRecord:
    return TokenRecord(row["name"], tuple(row["scopes"]), row["created_at"], row["last_used_at"])
