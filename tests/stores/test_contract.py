"""The store port's contract: every adapter (SQLite, PostgreSQL, Google Sheets) passes this suite unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.machine import RETENIBLES, Comando, decidir
from app.domain.model import MOTIVOS_POR_DEFECTO, Accion, Estado, Operacion, Rol, Spool, Worker
from app.stores.base import DuplicateIdempotencyKey, IdempotencyRecord, StaleWrite
from tests.domain.test_machine import spool_en

AHORA = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
WORKERS = (
    Worker(1, "Juan", "Pérez", (Rol.ARMADOR,), True),
    Worker(2, "Ñandú – 日本", '=IMPORTXML("http://x")', (Rol.ARMADOR, Rol.SOLDADOR), True),
    Worker(3, "Ina", "Activa", (Rol.ARMADOR,), False),
    Worker(4, "Patricia", "Sepúlveda", (Rol.SUPERVISOR,), True),
)
SPOOLS = (
    Spool("MK-1335-CW-25238-011", version="v-a"),
    Spool('=IMPORTXML("http://x")', version="v-b"),
    Spool("MK-1335-CW-25238-013", version="v-c", fecha_armado="2026-05-01", armador=1, reparacion_ciclo=2),
    Spool("MK-1335-CW-25238-014", version="v-d", ocupado_por=1, timestamp_ocupacion="2026-05-04T10:00:00Z"),
)


@pytest.fixture
def store(make_shop):
    """A store holding SPOOLS and WORKERS."""
    return make_shop(SPOOLS, WORKERS).extensions["zeues"].store


def decide(store, tag, accion=Accion.TOMAR, operacion=Operacion.ARM, worker=1, metadata=None, motivos=None, **kw):
    comando = Comando(accion, operacion, tag, worker, **kw)
    return decidir(comando, store.spool(tag), store.workers(), AHORA, UTC, metadata=metadata, motivos=motivos)


def test_snapshot_has_every_spool_in_row_order_and_every_worker(store):
    snapshot = store.snapshot()
    assert snapshot.spools == SPOOLS
    assert sorted(snapshot.workers, key=lambda w: w.id) == list(WORKERS)


def test_spool_reads_one_row_and_none_for_an_unknown_tag(store):
    assert store.spool("MK-1335-CW-25238-013") == SPOOLS[2]
    assert store.spool("MK-0000-XX-00000-000") is None


def test_workers_are_keyed_by_id_with_roles_and_activo(store):
    assert store.workers() == {w.id: w for w in WORKERS}


def test_commit_writes_the_row_and_appends_one_event(store):
    decision = decide(store, "MK-1335-CW-25238-011")
    store.commit(decision)
    assert store.spool("MK-1335-CW-25238-011") == decision.despues
    assert store.events("MK-1335-CW-25238-011") == [decision.event]
    # Other rows are untouched.
    assert store.snapshot().spools[1:] == SPOOLS[1:]


def test_commit_on_a_stale_version_writes_nothing(store):
    primera = decide(store, "MK-1335-CW-25238-011")
    segunda = decide(store, "MK-1335-CW-25238-011", worker=2)
    store.commit(primera)
    with pytest.raises(StaleWrite):
        store.commit(segunda)
    assert store.spool("MK-1335-CW-25238-011") == primera.despues
    assert store.events("MK-1335-CW-25238-011") == [primera.event]


def test_events_are_oldest_first_and_per_spool(store):
    tag = "MK-1335-CW-25238-011"
    hechas = []
    for accion in (Accion.TOMAR, Accion.PAUSAR, Accion.TOMAR, Accion.COMPLETAR):
        decision = decide(store, tag, accion=accion)
        store.commit(decision)
        hechas.append(decision.event)
    otra = decide(store, "MK-1335-CW-25238-013", operacion=Operacion.SOLD, worker=2)
    store.commit(otra)
    assert store.events(tag) == hechas
    assert [e.evento_tipo for e in store.events(tag)] == ["TOMAR_ARM", "PAUSAR_ARM", "TOMAR_ARM", "COMPLETAR_ARM"]
    assert store.events("MK-1335-CW-25238-013") == [otra.event]
    assert store.spool(tag).estado == Estado.ARM_COMPLETADO


def keyed(key, request_hash="hash-1"):
    return {"idempotency_key": key, "request_hash": request_hash}


def test_idempotency_record_is_kept_with_the_commit(store):
    decision = decide(store, "MK-1335-CW-25238-011", metadata=keyed("k-1"))
    assert store.idempotency("k-1") is None
    store.commit(decision)
    assert store.idempotency("k-1") == IdempotencyRecord("k-1", "hash-1", decision.event, decision.despues)


def test_the_idempotency_record_outlives_the_process(make_shop, reopen):
    app = make_shop(SPOOLS, WORKERS)
    decision = decide(app.extensions["zeues"].store, "MK-1335-CW-25238-011", metadata=keyed("k-1"))
    app.extensions["zeues"].store.commit(decision)
    restarted = reopen(app).extensions["zeues"].store
    assert restarted.idempotency("k-1") == IdempotencyRecord("k-1", "hash-1", decision.event, decision.despues)


def test_a_second_commit_with_the_same_key_writes_nothing(store):
    store.commit(decide(store, "MK-1335-CW-25238-011", metadata=keyed("k-2")))
    otra = decide(store, "MK-1335-CW-25238-013", operacion=Operacion.SOLD, worker=2, metadata=keyed("k-2"))
    with pytest.raises(DuplicateIdempotencyKey):
        store.commit(otra)
    assert store.spool("MK-1335-CW-25238-013") == SPOOLS[2]
    assert store.events("MK-1335-CW-25238-013") == []


def test_text_round_trips_literally(store):
    tag = '=IMPORTXML("http://x")'
    decision = decide(store, tag, worker=2, metadata={"idempotency_key": "=1+1 Ñandú – 日本"})
    store.commit(decision)
    assert store.spool(tag) == decision.despues
    [event] = store.events(tag)
    assert event.worker_nombre == 'Ñandú – 日本 =IMPORTXML("http://x")'
    assert event.metadata_json == {"idempotency_key": "=1+1 Ñandú – 日本", "version": decision.despues.version}
    assert event.tag_spool == tag


def test_all_events_is_the_whole_log_each_spools_in_order(make_shop, reopen):
    app = make_shop(SPOOLS, WORKERS)
    store = app.extensions["zeues"].store
    assert list(store.all_events()) == []
    hechas = []
    for tag, accion, operacion, worker in [
        ("MK-1335-CW-25238-011", Accion.TOMAR, Operacion.ARM, 1),
        ("MK-1335-CW-25238-013", Accion.TOMAR, Operacion.SOLD, 2),
        ("MK-1335-CW-25238-011", Accion.PAUSAR, Operacion.ARM, 1),
        ("MK-1335-CW-25238-013", Accion.COMPLETAR, Operacion.SOLD, 2),
        ("MK-1335-CW-25238-011", Accion.TOMAR, Operacion.ARM, 2),
    ]:
        decision = decide(store, tag, accion=accion, operacion=operacion, worker=worker)
        store.commit(decision)
        hechas.append(decision.event)
    for events in (list(store.all_events()), list(reopen(app).extensions["zeues"].store.all_events())):
        assert sorted(events, key=lambda e: e.id) == sorted(hechas, key=lambda e: e.id)
        for tag in {e.tag_spool for e in hechas}:
            assert [e for e in events if e.tag_spool == tag] == [e for e in hechas if e.tag_spool == tag]


# --- holds (SPEC §13) ---------------------------------------------------------------------------------

MOTIVOS = {m.codigo: m for m in MOTIVOS_POR_DEFECTO}


def test_every_store_starts_with_the_default_reasons(store):
    assert store.motivos() == list(MOTIVOS_POR_DEFECTO)


def test_a_hold_and_its_release_are_written_with_their_events(store):
    tag = "MK-1335-CW-25238-014"  # held by worker 1
    nota = '=IMPORTXML("http://x") Ñandú – 日本'
    comando = Comando(Accion.BLOQUEAR, None, tag, 4, motivo="OTRO", nota=nota)
    hold = decidir(comando, store.spool(tag), store.workers(), AHORA, UTC, motivos=MOTIVOS)
    store.commit(hold)
    assert store.spool(tag) == hold.despues
    assert (hold.despues.estado, hold.despues.bloqueo_nota, hold.despues.ocupado_por) == (Estado.BLOQUEADO, nota, None)
    lift = decidir(Comando(Accion.DESBLOQUEAR, None, tag, 4), store.spool(tag), store.workers(), AHORA, UTC)
    store.commit(lift)
    assert store.spool(tag) == lift.despues and lift.despues.estado == Estado.DISPONIBLE
    assert store.events(tag) == [hold.event, lift.event]
    [held, lifted] = store.events(tag)
    assert held.metadata_json["nota"] == nota and held.metadata_json["ocupado_por"] == 1
    assert (held.operacion, lifted.operacion, lifted.evento_tipo) == ("ARM", "", "DESBLOQUEAR")
    assert store.snapshot().spools[3] == lift.despues


def test_every_hold_and_its_release_round_trips_on_every_state(make_shop, subtests):
    spools = [spool_en(estado, holder=1).con(tag_spool=f"MK-1-CW-1-{i:03d}") for i, estado in enumerate(RETENIBLES)]
    store = make_shop(spools, WORKERS).extensions["zeues"].store
    for spool in spools:
        with subtests.test(estado=spool.estado):
            hold = decidir(
                Comando(Accion.BLOQUEAR, None, spool.tag_spool, 4, motivo="CALIDAD"),
                store.spool(spool.tag_spool),
                store.workers(),
                AHORA,
                UTC,
                motivos=MOTIVOS,
            )
            store.commit(hold)
            held = store.spool(spool.tag_spool)
            assert held == hold.despues and held.estado == Estado.BLOQUEADO
            assert held.estado_previo == spool.con(ocupado_por=None).estado
            lift = decidir(Comando(Accion.DESBLOQUEAR, None, spool.tag_spool, 4), held, store.workers(), AHORA, UTC)
            store.commit(lift)
            assert store.spool(spool.tag_spool) == lift.despues and lift.despues.estado == held.estado_previo
            assert [e.evento_tipo for e in store.events(spool.tag_spool)] == ["BLOQUEAR", "DESBLOQUEAR"]


def test_a_hold_decided_on_a_stale_version_writes_nothing(store):
    tag = "MK-1335-CW-25238-014"
    hold = decide(store, tag, accion=Accion.BLOQUEAR, operacion=None, worker=4, motivos=MOTIVOS, motivo="EQUIPO")
    pause = decide(store, tag, accion=Accion.PAUSAR, worker=1)
    store.commit(pause)
    with pytest.raises(StaleWrite):
        store.commit(hold)
    assert store.spool(tag) == pause.despues and store.events(tag) == [pause.event]
