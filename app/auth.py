"""Identity and access (SPEC §11): PINs, worker sessions, API tokens with scopes, and who a request is.

No HTTP here (``access`` reads the headers, the blueprints answer): this module decides who a
bearer token stands for, opens and ends sessions, counts failed sign-ins, and keeps PINs and
tokens only as hashes.

- A PIN is hashed with werkzeug's scrypt (salted, slow), bound to its worker's id: a hash copied
  into another worker's row (by hand in the sheet, or by a sort racing a write) opens nothing.
- Bearer tokens carry 256 random bits, so a fast SHA-256 is enough to keep them: what the
  credential store holds cannot be replayed.
- A session remembers a fingerprint of the PIN hash it was opened with, so a new PIN (from the
  API, the CLI, or typed into the sheet) ends it in every process, with no message between them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from .domain.errors import (
    InvalidCredentials,
    NotFound,
    PinNotSet,
    TooManyAttempts,
    Unauthenticated,
    WorkerInactive,
)
from .domain.machine import iso_utc
from .domain.model import Rol, Worker
from .offload import off_loop
from .stores.base import Store
from .stores.credentials import CredentialStore, TokenRecord

READ, COMMAND, SUPERVISE = "read", "command", "supervise"
SCOPES = (READ, COMMAND, SUPERVISE)
# What metadata_json.via says of a command sent with a worker's session, or without credentials (open mode).
VIA_SESION = "sesion"
VIA_ABIERTO = "abierto"

PIN = re.compile(r"[0-9]{4,8}")
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# API tokens are told from session tokens by this prefix (which also lets secret scanners find them).
TOKEN_PREFIX = "zeues_"
MAX_FAILURES = 5  # wrong PINs within the lockout window before a worker is locked out
_LONGEST_TOKEN = 200  # longer is no token of ours: refused without a lookup
_TOUCH_EVERY_S = 60.0  # "last used" is written at most this often per token and process


def hash_pin(worker_id: int, pin: str) -> str:
    """The salted slow hash of ``pin``, bound to ``worker_id`` (CPU-heavy: call it through ``off_loop``)."""
    return generate_password_hash(f"{worker_id}:{pin}")


def pin_matches(pin_hash: str, worker_id: int, pin: str) -> bool:
    """Whether ``pin`` is ``worker_id``'s PIN (CPU-heavy, like ``hash_pin``)."""
    return check_password_hash(pin_hash, f"{worker_id}:{pin}")


def pin_ref(pin_hash: str) -> str:
    """A fingerprint of a PIN hash, kept with each session (a fresh salt makes every new PIN's differ)."""
    return hashlib.sha256(pin_hash.encode()).hexdigest()[:32]


def token_hash(token: str) -> str:
    """What the credential store keeps of a bearer token."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def check_pin(pin: str) -> None:
    """Refuse a PIN that is not 4 to 8 digits (ValueError with a line for the person choosing it)."""
    if not PIN.fullmatch(pin):
        raise ValueError("a PIN is 4 to 8 digits")


@dataclasses.dataclass(frozen=True)
class AuthSettings:
    """The ``ZEUES_AUTH``, ``ZEUES_READ_AUTH``, ``ZEUES_SESSION_HOURS`` and ``ZEUES_PIN_LOCKOUT_S`` settings."""

    mode: str  # "pin" or "open"
    reads: str  # "open" or "token"
    session_s: float
    lockout_s: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AuthSettings:
        """The settings as ``config.check`` left them."""
        return cls(
            mode=config["AUTH"],
            reads=config["READ_AUTH"],
            session_s=config["SESSION_HOURS"] * 3600,
            lockout_s=config["PIN_LOCKOUT_S"],
        )


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who sent a request: a worker's session, an API token, or nobody (open mode only)."""

    via: str  # recorded in metadata_json.via
    worker_id: int | None = None  # the session's worker; None for a token or nobody
    scopes: frozenset[str] = frozenset()  # a token's
    supervisor: bool = False  # the session's worker is a SUPERVISOR

    @property
    def es_sesion(self) -> bool:
        """Whether a worker's session sent it (it then acts only as that worker)."""
        return self.worker_id is not None

    def may(self, scope: str) -> bool:
        """Whether these credentials allow ``scope``: a session reads and commands (supervises only when
        its worker is a SUPERVISOR); a token has its scopes (supervise includes command); nobody may
        only command, in open mode."""
        if self.es_sesion:
            return scope != SUPERVISE or self.supervisor
        if self.via == VIA_ABIERTO:
            return scope == COMMAND
        return scope in self.scopes or (scope == COMMAND and SUPERVISE in self.scopes)

    @property
    def puede_supervisar(self) -> bool:
        """Whether a command may use a SUPERVISOR's rights (§4): a session always may (the machine checks
        its worker's role), as the open flow does; a token only with the supervise scope."""
        return self.es_sesion or self.via == VIA_ABIERTO or SUPERVISE in self.scopes


ABIERTO = Caller(via=VIA_ABIERTO)


@dataclasses.dataclass(frozen=True)
class Sesion:
    """A session just opened: the bearer token (shown once, kept only as a hash), its worker, its end."""

    token: str
    worker: Worker
    expires_at: str


class Auth:
    """Sessions, tokens, PINs and lockouts over a store (PIN hashes) and a credential store (the rest)."""

    def __init__(
        self,
        store: Store,
        credentials: CredentialStore,
        settings: AuthSettings,
        reloj: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store, self.credentials, self.settings, self.reloj = store, credentials, settings, reloj
        # Slow hashes run on threads, at most one per core: more at once would only share the cores
        # (and 32 MB each) with the event loop they are kept off.
        self._hashing = threading.BoundedSemaphore(os.cpu_count() or 1)
        self._decoy: str | None = None
        self._touched: dict[str, float] = {}  # token name -> monotonic time its last use was written
        self._touched_guard = threading.Lock()

    def _hash(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self._hashing:
            return off_loop(fn, *args)

    def _now(self) -> float:
        return self.reloj().timestamp()

    # -- sessions --------------------------------------------------------------------------------

    def sign_in(self, worker_id: int, pin: str) -> Sesion:
        """Open a session for ``worker_id`` with its PIN; every refusal is a ZeuesError (401, 403, 429)."""
        now = self._now()
        worker = self.store.workers().get(worker_id)
        if worker is not None and not worker.activo:
            raise WorkerInactive(f"El trabajador {worker.id} ({worker.nombre_completo}) está inactivo.")
        if worker is not None and not worker.pin_hash:
            raise PinNotSet(f"El trabajador {worker.id} no tiene PIN; pídalo a su supervisor.")
        # Recorded before the slow check, as a failure until it succeeds: parallel guesses count too.
        until = self.credentials.take_attempt(worker_id, now, self.settings.lockout_s, MAX_FAILURES)
        if until is not None:
            wait = max(1, math.ceil(until - now))
            raise TooManyAttempts(
                f"Demasiados intentos fallidos: espere {math.ceil(wait / 60)} min antes de intentar de nuevo.",
                retry_after=wait,
            )
        # An unknown worker costs the same check as a known one: the answer's timing tells nothing either.
        pin_hash = worker.pin_hash if worker is not None else self._decoy_hash()
        if not self._hash(pin_matches, pin_hash, worker_id, pin) or worker is None or not worker.pin_hash:
            raise InvalidCredentials("Trabajador o PIN incorrecto.")
        self.credentials.clear_attempts(worker_id)
        token = secrets.token_urlsafe(32)
        expires = now + self.settings.session_s
        self.credentials.add_session(token_hash(token), worker.id, pin_ref(worker.pin_hash), now, expires)
        return Sesion(token=token, worker=worker, expires_at=iso_utc(datetime.fromtimestamp(expires, UTC)))

    def _decoy_hash(self) -> str:
        if self._decoy is None:
            self._decoy = self._hash(hash_pin, 0, secrets.token_hex(8))
        return self._decoy

    def sign_out(self, token: str) -> None:
        """End the session of ``token``: refused from now on by every process."""
        self.credentials.end_session(token_hash(token))

    def caller(self, token: str) -> Caller:
        """Who ``token`` stands for; Unauthenticated when it is unknown, expired, revoked, signed out,
        or its worker's PIN changed since."""
        if len(token) > _LONGEST_TOKEN:
            raise Unauthenticated("Token no válido.")
        if token.startswith(TOKEN_PREFIX):
            record = self.credentials.token(token_hash(token))
            if record is None:
                raise Unauthenticated("Token desconocido o revocado.")
            self._touch(record)
            return Caller(via=f"token:{record.name}", scopes=frozenset(record.scopes))
        session = self.credentials.session(token_hash(token))
        if session is None or session.expires_at <= self._now():
            raise Unauthenticated("La sesión terminó; vuelva a ingresar con su PIN.")
        worker = self.store.workers().get(session.worker_id)
        if worker is None or not worker.pin_hash or pin_ref(worker.pin_hash) != session.pin_ref:
            raise Unauthenticated("El PIN cambió; vuelva a ingresar con el nuevo.")
        return Caller(via=VIA_SESION, worker_id=worker.id, supervisor=worker.tiene_rol(Rol.SUPERVISOR))

    def _touch(self, record: TokenRecord) -> None:
        """Write the token's last use, at most once a minute per process (a write per request would
        cost an fsync each)."""
        now = time.monotonic()
        with self._touched_guard:
            last = self._touched.get(record.name)
            if last is not None and now - last < _TOUCH_EVERY_S:
                return
            self._touched[record.name] = now
        self.credentials.touch_token(record.name, self._now())

    # -- PINs ------------------------------------------------------------------------------------

    def set_pin(self, worker_id: int, pin: str) -> None:
        """Give ``worker_id`` a new PIN (4–8 digits): its sessions end, in every process."""
        check_pin(pin)
        if worker_id not in self.store.workers():
            raise NotFound(f"El trabajador {worker_id} no existe.")
        if not self.store.set_pin_hash(worker_id, self._hash(hash_pin, worker_id, pin)):
            raise NotFound(f"El trabajador {worker_id} no existe.")
        # The fingerprint already ends them; deleting them also covers a store whose other
        # processes see the new hash only at their next read (a Google Sheet written by the CLI).
        self.credentials.end_sessions(worker_id)

    # -- API tokens ------------------------------------------------------------------------------

    def create_token(self, name: str, scopes: tuple[str, ...]) -> str:
        """A new API token; returns its secret, which is kept nowhere (ValueError for a bad name or scope,
        or a name in use)."""
        if not TOKEN_NAME.fullmatch(name):
            raise ValueError("a token name is 1 to 64 letters, digits, '.', '_' or '-', from a letter or digit on")
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise ValueError(f"scopes are {', '.join(SCOPES)} (got {', '.join(unknown) or 'none'})")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        ordered = tuple(s for s in SCOPES if s in scopes)
        if not self.credentials.add_token(name, token_hash(secret), ordered, self._now()):
            raise ValueError(f"a token named {name!r} exists: revoke it first or choose another name")
        return secret

    def tokens(self) -> list[TokenRecord]:
        """Every API token (never a secret)."""
        return self.credentials.tokens()

    def revoke_token(self, name: str) -> bool:
        """Revoke a token by name: refused from now on by every process; False if there was none."""
        return self.credentials.revoke_token(name)
