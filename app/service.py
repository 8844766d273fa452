"""The command service: read fresh → the machine decides → one atomic commit → publish."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from .domain.errors import (
    IdempotencyKeyReused,
    InvalidTransition,
    NotHolder,
    SourceUnavailable,
    SpoolBlocked,
    SpoolOccupied,
    VersionConflict,
    ZeuesError,
)
from .domain.machine import IDEMPOTENCY_KEY, REQUEST_HASH, VIA, VIA_SISTEMA, Comando, Decision, decidir, iso_utc
from .domain.model import FIN_DE_TURNO, SISTEMA, Accion, Event, Spool, Worker
from .feed import Feed
from .stores.base import IdempotencyRecord, StaleWrite, Store

# Errors raised once the spool is known carry it, so a client can refresh without another request.
_CON_SPOOL = (VersionConflict, SpoolOccupied, SpoolBlocked, InvalidTransition, NotHolder)

log = logging.getLogger(__name__)

# What the shift end's releases are recorded under, in place of an endpoint (see cerrar_turno).
FIN_DE_TURNO_ENDPOINT = "fin-de-turno"

# A conditional commit that loses a race is decided again on fresh data; the second decision
# answers SPOOL_OCCUPIED / VERSION_CONFLICT, so a few rounds always settle.
_ROUNDS = 5


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """A command's answer: the spool as it left it, the event it appended, and the workers naming them."""

    spool: Spool
    event: Event
    workers: Mapping[int, Worker]
    replayed: bool = False  # answered from the record of an earlier run with the same Idempotency-Key


def request_hash(endpoint: str, body: dict[str, Any]) -> str:
    """Fingerprint of endpoint + body, so a reused Idempotency-Key with another request is caught."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{endpoint}\n{canonical}".encode()).hexdigest()


class CommandService:
    """Runs TOMAR / PAUSAR / COMPLETAR / BLOQUEAR / DESBLOQUEAR commands against a store."""

    def __init__(
        self,
        store: Store,
        feed: Feed,
        zona: tzinfo = UTC,
        reloj: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store, self.feed, self.zona, self.reloj = store, feed, zona, reloj
        # Commands on one spool run one at a time in this process (under gevent, threading's
        # locks are monkey-patched into gevent locks); across processes the conditional commit
        # decides.
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
        self._locks_guard = threading.Lock()

    def _lock(self, tag: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(tag)
            if lock is None:
                lock = self._locks[tag] = threading.Lock()
            return lock

    def ejecutar(
        self,
        comando: Comando,
        endpoint: str,
        body: dict[str, Any],
        idempotency_key: str | None = None,
        via: str | None = None,
    ) -> Outcome:
        """Run ``comando``; a retried Idempotency-Key answers what the first run did, writing nothing.
        ``via`` (who sent it, SPEC §11) is recorded in the event."""
        digest = request_hash(endpoint, body)
        comando = dataclasses.replace(comando, tag_spool=self.feed.canonical_tag(comando.tag_spool))
        with self._lock(comando.tag_spool):
            for _ in range(_ROUNDS):
                # Checked every round: a duplicate from another process may have committed while
                # we decided, which surfaces here as a stale write.
                if idempotency_key is not None and (recorded := self.store.idempotency(idempotency_key)):
                    return self._replay(recorded, digest)
                try:
                    decision, workers = self._decidir(comando, idempotency_key, digest, via)
                except _CON_SPOOL:
                    # Another process may have committed this very key between the check above and
                    # the fresh read (a retry sent to a second instance): its answer is the one.
                    if idempotency_key is not None and (recorded := self.store.idempotency(idempotency_key)):
                        return self._replay(recorded, digest)
                    raise
                try:
                    self.store.commit(decision)
                except StaleWrite:  # DuplicateIdempotencyKey included: decide again on fresh data
                    continue
                self.feed.publish(decision.despues, workers)
                return Outcome(decision.despues, decision.event, workers)
        raise VersionConflict(f"El spool {comando.tag_spool} cambia demasiado rápido; reintente.")

    def cerrar_turno(self, fin: datetime) -> tuple[int, int, int]:
        """Release, as SISTEMA, every spool taken before the shift end ``fin`` and still held (SPEC §13);
        return (spools this process released, spools another process released first, spools left to
        release because the source failed).

        Every process of every instance runs this at each shift end, and may run it again; each spool
        is still released once. The release is a PAUSAR conditioned on the version the holder's TOMAR
        left, so of two processes one commits and the other, deciding again on fresh data, finds the
        spool free; and it carries an Idempotency-Key made of the shift end, the spool and that TOMAR
        (holder and time), which every store records once, so the loser is answered with the winner's
        release (on a Google Sheet, which has no conditional write, the key alone refuses a second
        one). A TOMAR at or after ``fin`` belongs to the next shift and is left alone.
        """
        cuando = iso_utc(fin)
        liberados, ajenos, pendientes = 0, 0, 0
        for spool in self.store.snapshot().spools:
            if not spool.ocupado or spool.bloqueado or not _tomado_antes(spool, fin):
                continue
            holder, desde = spool.ocupado_por, spool.timestamp_ocupacion or ""
            body = {"fin_de_turno": cuando, "tag_spool": spool.tag_spool, "ocupado_por": holder, "desde": desde}
            comando = Comando(
                Accion.PAUSAR,
                spool.operacion_actual,
                spool.tag_spool,
                SISTEMA.id,
                version=spool.version,
                motivo=FIN_DE_TURNO,
                sistema=True,
            )
            key = f"{FIN_DE_TURNO} {cuando} {spool.tag_spool} {holder} {desde}"
            try:
                outcome = self.ejecutar(comando, FIN_DE_TURNO_ENDPOINT, body, key, via=VIA_SISTEMA)
            except SourceUnavailable as exc:
                log.warning("shift end %s: %s not released yet (%s)", cuando, spool.tag_spool, exc.detail)
                pendientes += 1
                continue
            except ZeuesError as exc:  # released, paused or taken again meanwhile: nothing left to do
                log.info("shift end %s: %s left as it is (%s)", cuando, spool.tag_spool, exc.detail)
                continue
            if outcome.replayed:
                ajenos += 1
            else:
                liberados += 1
        return liberados, ajenos, pendientes

    def _replay(self, recorded: IdempotencyRecord, digest: str) -> Outcome:
        """What the first command with this key did; refused when the key came with another request."""
        if recorded.request_hash != digest:
            raise IdempotencyKeyReused(
                "Esta Idempotency-Key ya se usó con otra solicitud; genere una nueva para cada acción."
            )
        return Outcome(recorded.spool, recorded.event, self.store.workers(), replayed=True)

    def _decidir(
        self, comando: Comando, key: str | None, digest: str, via: str | None
    ) -> tuple[Decision, Mapping[int, Worker]]:
        """Decide on fresh data; a refusal once the spool is known carries it, for the client to refresh."""
        spool, workers = self.store.fresh(comando.tag_spool)
        metadata: dict[str, Any] = {IDEMPOTENCY_KEY: key, REQUEST_HASH: digest} if key is not None else {}
        if via is not None:
            metadata[VIA] = via
        # The reasons are read only when a hold is asked for or names one: every other command skips them.
        needed = comando.accion == Accion.BLOQUEAR or (spool is not None and spool.bloqueado)
        motivos = {m.codigo: m for m in self.store.motivos()} if needed else None
        try:
            decision = decidir(comando, spool, workers, self.reloj(), self.zona, metadata=metadata, motivos=motivos)
            return decision, workers
        except _CON_SPOOL as exc:
            if spool is not None:
                exc.spool = (spool, workers)
            raise


def _tomado_antes(spool: Spool, fin: datetime) -> bool:
    """Whether the spool was taken before ``fin``; a time nobody can read counts as before (the spool is
    held, and no TOMAR of the next shift could have written it)."""
    try:
        desde = datetime.fromisoformat(spool.timestamp_ocupacion or "")
    except ValueError:
        return True
    return (desde if desde.tzinfo else desde.replace(tzinfo=UTC)) < fin
