"""The state machine and its guards (SPEC §4, §5), table-driven, with no I/O."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.domain import errors
from app.domain.machine import RETENIBLES, TRANSICIONES, VERSION, Comando, acciones, decidir
from app.domain.model import (
    MOTIVOS_POR_DEFECTO,
    Accion,
    Estado,
    Motivo,
    Operacion,
    Resultado,
    Rol,
    Spool,
    Worker,
)

AHORA = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
A, Op, E, R = Accion, Operacion, Estado, Rol

WORKERS = {
    w.id: w
    for w in (
        Worker(1, "Ana", "Armadora", (R.ARMADOR,), True),
        Worker(2, "Sol", "Soldador", (R.SOLDADOR,), True),
        Worker(3, "Meta", "Metróloga", (R.METROLOGIA,), True),
        Worker(4, "Todo", "Terreno", (R.ARMADOR, R.SOLDADOR, R.METROLOGIA), True),
        Worker(5, "Super", "Visora", (R.SUPERVISOR,), True),
        Worker(6, "Ina", "Activa", (R.ARMADOR, R.SOLDADOR, R.METROLOGIA), False),
        Worker(7, "Otro", "Todo", (R.ARMADOR, R.SOLDADOR, R.METROLOGIA), True),
    )
}
TODO, OTRO, SUPER = 4, 7, 5
# The default reasons, and one the office switched off.
MOTIVOS = {m.codigo: m for m in (*MOTIVOS_POR_DEFECTO, Motivo("GRUA", "Grúa en mantención", activo=False))}
HOLD = {"bloqueo_motivo": "MATERIAL", "bloqueo_desde": "2026-03-01T12:00:00Z", "bloqueo_nota": "brida"}


def spool_en(estado: Estado, holder: int = TODO, previo: Estado = E.DISPONIBLE) -> Spool:
    """A spool whose facts derive to ``estado``; occupied ones are held by ``holder``; a BLOQUEADO one is
    on hold (MATERIAL) over ``previo`` (an occupied ``previo`` is office data: the service's holds release)."""
    if estado == E.BLOQUEADO:
        spool = spool_en(previo, holder).con(**HOLD)
        assert (spool.estado, spool.estado_previo) == (E.BLOQUEADO, previo)
        return spool
    hechos: dict = {"tag_spool": "MK-1-CW-1-001", "version": "v0"}
    if estado not in (E.DISPONIBLE, E.OCUPADO_ARM):
        hechos.update(armador=1, fecha_armado="2026-03-01")
    if estado in (E.SOLD_COMPLETADO, E.OCUPADO_METROLOGIA, E.APROBADO, E.RECHAZADO, E.EN_REPARACION):
        hechos.update(soldador=2, fecha_soldadura="2026-03-01")
    if estado == E.APROBADO:
        hechos.update(metrologo=3, fecha_metrologia="2026-03-01", resultado_metrologia=Resultado.APROBADO)
    if estado in (E.RECHAZADO, E.EN_REPARACION):
        hechos.update(metrologo=3, fecha_metrologia="2026-03-01", resultado_metrologia=Resultado.RECHAZADO)
    if estado in (E.OCUPADO_ARM, E.OCUPADO_SOLD, E.OCUPADO_METROLOGIA, E.EN_REPARACION):
        hechos.update(ocupado_por=holder, timestamp_ocupacion="2026-03-02T01:00:00Z")
    spool = Spool(**hechos)
    assert spool.estado == estado
    return spool


def run(estado: Estado, accion: Accion, operacion: Operacion, worker: int = TODO, spool: Spool | None = None, **kw):
    """Decide ``accion operacion`` by ``worker`` on a spool in ``estado`` (METROLOGIA defaults to APROBADO)."""
    if operacion == Op.METROLOGIA and accion == A.COMPLETAR:
        kw.setdefault("resultado", Resultado.APROBADO)
    comando = Comando(accion, operacion, "MK-1-CW-1-001", worker, **kw)
    return decidir(comando, spool or spool_en(estado), WORKERS, AHORA, UTC, motivos=MOTIVOS)


# --- derivation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hechos", "estado"),
    [
        ({}, E.DISPONIBLE),
        ({"ocupado_por": 1}, E.OCUPADO_ARM),
        ({"fecha_armado": "d"}, E.ARM_COMPLETADO),
        ({"fecha_armado": "d", "ocupado_por": 2}, E.OCUPADO_SOLD),
        ({"fecha_armado": "d", "fecha_soldadura": "d"}, E.SOLD_COMPLETADO),
        ({"fecha_soldadura": "d", "ocupado_por": 3}, E.OCUPADO_METROLOGIA),
        ({"fecha_soldadura": "d", "resultado_metrologia": Resultado.APROBADO}, E.APROBADO),
        ({"resultado_metrologia": Resultado.APROBADO, "ocupado_por": 3}, E.APROBADO),
        ({"fecha_soldadura": "d", "resultado_metrologia": Resultado.RECHAZADO}, E.RECHAZADO),
        ({"resultado_metrologia": Resultado.RECHAZADO, "ocupado_por": 2}, E.EN_REPARACION),
    ],
)
def test_state_is_derived_from_the_facts_in_spec_order(hechos, estado):
    assert Spool(tag_spool="T", **hechos).estado == estado
    assert Spool(tag_spool="T", **hechos).estado_previo is None


@pytest.mark.parametrize(
    ("hechos", "previo"),
    [
        ({}, E.DISPONIBLE),
        ({"fecha_armado": "d"}, E.ARM_COMPLETADO),
        ({"fecha_soldadura": "d"}, E.SOLD_COMPLETADO),
        ({"fecha_soldadura": "d", "resultado_metrologia": Resultado.RECHAZADO}, E.RECHAZADO),
        ({"fecha_armado": "d", "ocupado_por": 2}, E.OCUPADO_SOLD),  # office data: a hold over a held spool
    ],
)
def test_a_hold_comes_first_and_keeps_the_progress_as_estado_previo(hechos, previo):
    spool = Spool(tag_spool="T", bloqueo_motivo="PLANO", **hechos)
    assert (spool.estado, spool.estado_previo, spool.operacion_actual) == (E.BLOQUEADO, previo, None)


# --- every allowed transition -------------------------------------------------------------------

SPEC_TABLE = [
    (E.DISPONIBLE, A.TOMAR, Op.ARM, None, E.OCUPADO_ARM, "TOMAR_ARM"),
    (E.OCUPADO_ARM, A.PAUSAR, Op.ARM, None, E.DISPONIBLE, "PAUSAR_ARM"),
    (E.OCUPADO_ARM, A.COMPLETAR, Op.ARM, None, E.ARM_COMPLETADO, "COMPLETAR_ARM"),
    (E.ARM_COMPLETADO, A.TOMAR, Op.SOLD, None, E.OCUPADO_SOLD, "TOMAR_SOLD"),
    (E.OCUPADO_SOLD, A.PAUSAR, Op.SOLD, None, E.ARM_COMPLETADO, "PAUSAR_SOLD"),
    (E.OCUPADO_SOLD, A.COMPLETAR, Op.SOLD, None, E.SOLD_COMPLETADO, "COMPLETAR_SOLD"),
    (E.SOLD_COMPLETADO, A.TOMAR, Op.METROLOGIA, None, E.OCUPADO_METROLOGIA, "TOMAR_METROLOGIA"),
    (E.OCUPADO_METROLOGIA, A.PAUSAR, Op.METROLOGIA, None, E.SOLD_COMPLETADO, "PAUSAR_METROLOGIA"),
    (E.OCUPADO_METROLOGIA, A.COMPLETAR, Op.METROLOGIA, Resultado.APROBADO, E.APROBADO, "COMPLETAR_METROLOGIA_APROBADO"),
    (
        E.OCUPADO_METROLOGIA,
        A.COMPLETAR,
        Op.METROLOGIA,
        Resultado.RECHAZADO,
        E.RECHAZADO,
        "COMPLETAR_METROLOGIA_RECHAZADO",
    ),
    (E.RECHAZADO, A.TOMAR, Op.REPARACION, None, E.EN_REPARACION, "INICIAR_REPARACION"),
    (E.EN_REPARACION, A.PAUSAR, Op.REPARACION, None, E.RECHAZADO, "PAUSAR_REPARACION"),
    (E.EN_REPARACION, A.COMPLETAR, Op.REPARACION, None, E.SOLD_COMPLETADO, "COMPLETAR_REPARACION"),
]


# SPEC §13: a hold from every state but APROBADO (and BLOQUEADO itself), lifted back to the state the
# spool's progress gives.
HOLD_TABLE = [
    *((estado, A.BLOQUEAR, None, None, E.BLOQUEADO, "BLOQUEAR") for estado in RETENIBLES),
    *((E.BLOQUEADO, A.DESBLOQUEAR, None, None, estado, "DESBLOQUEAR") for estado in RETENIBLES),
]


def test_machine_has_exactly_the_spec_table():
    assert sorted((t[2], t[0], str(t[1]), t[3], t[4]) for t in TRANSICIONES) == sorted(
        (src, a, str(op), dst, tipo) for src, a, op, _r, dst, tipo in SPEC_TABLE + HOLD_TABLE
    )
    assert E.APROBADO not in RETENIBLES and len(RETENIBLES) == 8


@pytest.mark.parametrize(("desde", "accion", "operacion", "resultado", "hacia", "tipo"), SPEC_TABLE)
def test_every_allowed_transition(desde, accion, operacion, resultado, hacia, tipo):
    decision = run(desde, accion, operacion, resultado=resultado)
    assert decision.despues.estado == hacia
    assert decision.event.evento_tipo == tipo
    assert (decision.event.accion, decision.event.operacion) == (accion, operacion)
    assert decision.event.worker_id == TODO
    assert decision.despues.version not in (None, "v0")


ALLOWED = {(src, a, op) for src, a, op, *_ in SPEC_TABLE}
WORK = (A.TOMAR, A.PAUSAR, A.COMPLETAR)
REFUSED = [
    (estado, accion, operacion)
    for estado, accion, operacion in itertools.product(Estado, WORK, Operacion)
    if (estado, accion, operacion) not in ALLOWED
]


@pytest.mark.parametrize(("estado", "accion", "operacion"), REFUSED)
def test_every_refused_pair_changes_nothing(estado, accion, operacion):
    # The worker has every floor role and holds any occupied spool: only the state can refuse.
    spool = spool_en(estado)
    if estado == E.BLOQUEADO:
        expected = errors.SpoolBlocked  # a held spool names its hold, whatever was asked
    elif accion == A.TOMAR and spool.ocupado:
        expected = errors.SpoolOccupied
    else:
        expected = errors.InvalidTransition
    with pytest.raises(expected):
        run(estado, accion, operacion, spool=spool)


def test_refused_table_covers_all_other_pairs():
    assert len(ALLOWED) == 12 and len(REFUSED) == 10 * 3 * 4 - 12


# --- holds (SPEC §13): every transition and every refusal ---------------------------------------------


# Who may hold from each state: a supervisor always; the holder of an occupied spool (a free one has none).
BLOQUEAR_POR = [(e, SUPER) for e in RETENIBLES] + [(e, TODO) for e in RETENIBLES if spool_en(e).ocupado]


@pytest.mark.parametrize(("estado", "worker"), BLOQUEAR_POR)
def test_bloquear_from_every_state_but_aprobado(estado, worker):
    spool = spool_en(estado)
    decision = run(estado, A.BLOQUEAR, None, worker=worker, motivo="PLANO", nota="rev. C")
    despues, event = decision.despues, decision.event
    assert (despues.estado, despues.estado_previo) == (E.BLOQUEADO, spool.con(ocupado_por=None).estado)
    assert (despues.bloqueo_motivo, despues.bloqueo_desde, despues.bloqueo_nota) == (
        "PLANO",
        "2026-03-02T02:30:00Z",
        "rev. C",
    )
    # The hold releases the spool and keeps every fact of its progress.
    assert despues.ocupado_por is None and despues.timestamp_ocupacion is None
    assert despues.con(**dict.fromkeys(("bloqueo_motivo", "bloqueo_desde", "bloqueo_nota", "version"))) == spool.con(
        ocupado_por=None, timestamp_ocupacion=None, version=None
    )
    assert (event.evento_tipo, event.accion, event.worker_id) == ("BLOQUEAR", "BLOQUEAR", worker)
    assert event.operacion == str(spool.operacion_actual or "")  # the operation it interrupts, or none
    otro = {"ocupado_por": TODO, "supervisor": True} if worker == SUPER and spool.ocupado else {}
    assert event.metadata_json == {"motivo": "PLANO", "nota": "rev. C", **otro, VERSION: despues.version}


@pytest.mark.parametrize("previo", RETENIBLES)
def test_desbloquear_returns_the_spool_to_its_estado_previo(previo):
    spool = spool_en(E.BLOQUEADO, previo=previo)
    decision = run(E.BLOQUEADO, A.DESBLOQUEAR, None, worker=SUPER, spool=spool, nota="llegó la brida")
    assert decision.despues == spool.con(
        bloqueo_motivo=None, bloqueo_desde=None, bloqueo_nota=None, version=decision.despues.version
    )
    assert decision.despues.estado == spool.estado_previo
    event = decision.event
    assert (event.evento_tipo, event.accion, event.operacion) == ("DESBLOQUEAR", "DESBLOQUEAR", "")
    assert event.worker_id == SUPER
    assert event.metadata_json == {
        "motivo": "MATERIAL",
        "bloqueo_desde": "2026-03-01T12:00:00Z",
        "nota": "llegó la brida",
        VERSION: decision.despues.version,
    }


# Every hold refused, and why: (estado, accion, worker, body, error).
HOLD_REFUSALS = [
    (E.APROBADO, A.BLOQUEAR, SUPER, {"motivo": "CALIDAD"}, errors.InvalidTransition),  # finished
    (E.BLOQUEADO, A.BLOQUEAR, SUPER, {"motivo": "CALIDAD"}, errors.SpoolBlocked),  # already held
    (E.BLOQUEADO, A.BLOQUEAR, TODO, {"motivo": "CALIDAD"}, errors.SpoolBlocked),
    *((e, A.DESBLOQUEAR, SUPER, {}, errors.InvalidTransition) for e in Estado if e != E.BLOQUEADO),  # not held
    (E.BLOQUEADO, A.DESBLOQUEAR, TODO, {}, errors.RoleNotAuthorized),  # only a supervisor lifts a hold
    (E.BLOQUEADO, A.DESBLOQUEAR, 3, {}, errors.RoleNotAuthorized),
    (E.DISPONIBLE, A.BLOQUEAR, TODO, {"motivo": "CALIDAD"}, errors.NotHolder),  # not in anyone's hands
    (E.OCUPADO_SOLD, A.BLOQUEAR, OTRO, {"motivo": "CALIDAD"}, errors.NotHolder),  # in someone else's
    (E.OCUPADO_SOLD, A.BLOQUEAR, TODO, {"motivo": "NO_EXISTE"}, errors.InvalidReason),
    (E.OCUPADO_SOLD, A.BLOQUEAR, TODO, {"motivo": "GRUA"}, errors.InvalidReason),  # switched off
    (E.OCUPADO_SOLD, A.BLOQUEAR, TODO, {"motivo": "OTRO"}, errors.InvalidReason),  # OTRO says why
    (E.OCUPADO_SOLD, A.BLOQUEAR, TODO, {"motivo": "OTRO", "nota": "  "}, errors.InvalidReason),
    (E.OCUPADO_SOLD, A.BLOQUEAR, 6, {"motivo": "CALIDAD"}, errors.WorkerInactive),
]


@pytest.mark.parametrize(("estado", "accion", "worker", "body", "error"), HOLD_REFUSALS)
def test_every_refused_hold(estado, accion, worker, body, error):
    with pytest.raises(error):
        run(estado, accion, None, worker=worker, **body)


def test_a_worker_may_hold_only_the_spool_in_hand():
    assert run(E.OCUPADO_ARM, A.BLOQUEAR, None, worker=TODO, motivo="EQUIPO").despues.estado == E.BLOQUEADO
    with pytest.raises(errors.NotHolder):
        run(E.ARM_COMPLETADO, A.BLOQUEAR, None, worker=TODO, motivo="EQUIPO")


def test_otro_with_a_note_is_accepted():
    decision = run(E.OCUPADO_ARM, A.BLOQUEAR, None, worker=TODO, motivo="OTRO", nota="Espera al cliente")
    assert decision.despues.bloqueo_nota == "Espera al cliente"


def test_a_bad_motivo_is_refused_before_anything_is_looked_up():
    # Part of the body (422), so it answers before a missing spool (404) or worker.
    with pytest.raises(errors.InvalidReason) as caught:
        decidir(Comando(A.BLOQUEAR, None, "X", 99, motivo="NADA"), None, WORKERS, AHORA, UTC, motivos=MOTIVOS)
    assert caught.value.status == 422 and caught.value.code == "VALIDATION_ERROR"
    assert caught.value.extra["errors"] == {"json": {"motivo": [caught.value.detail]}}


def test_desbloquear_role_is_checked_after_the_worker_and_before_the_version():
    with pytest.raises(errors.WorkerInactive):
        run(E.BLOQUEADO, A.DESBLOQUEAR, None, worker=6)
    with pytest.raises(errors.RoleNotAuthorized):
        run(E.BLOQUEADO, A.DESBLOQUEAR, None, worker=TODO, version="stale")
    with pytest.raises(errors.VersionConflict):
        run(E.BLOQUEADO, A.DESBLOQUEAR, None, worker=SUPER, version="stale")


def test_the_hold_check_comes_after_the_version_and_before_the_holder():
    with pytest.raises(errors.VersionConflict):
        run(E.BLOQUEADO, A.TOMAR, Op.ARM, version="stale")
    with pytest.raises(errors.SpoolBlocked):
        run(E.BLOQUEADO, A.PAUSAR, Op.ARM, worker=OTRO)  # nobody holds it, and it is on hold: the hold answers


@pytest.mark.parametrize("accion", WORK)
def test_every_command_on_a_held_spool_names_the_reason(accion):
    with pytest.raises(errors.SpoolBlocked, match=r"Falta material \(MATERIAL\)") as caught:
        run(E.BLOQUEADO, accion, Op.ARM)
    assert caught.value.extra == {"motivo": "MATERIAL"} and caught.value.status == 409


def test_tomar_of_a_held_spool_names_the_code_even_without_the_reasons_table():
    comando = Comando(A.TOMAR, Op.ARM, "MK-1-CW-1-001", TODO)
    with pytest.raises(errors.SpoolBlocked, match="MATERIAL"):
        decidir(comando, spool_en(E.BLOQUEADO), WORKERS, AHORA, UTC)


# --- releases with a reason, and the system's (SPEC §13) --------------------------------------------


@pytest.mark.parametrize("accion", [A.PAUSAR, A.COMPLETAR])
def test_a_supervisor_releasing_someone_elses_spool_must_say_why(accion):
    with pytest.raises(errors.InvalidReason) as caught:
        run(E.OCUPADO_SOLD, accion, Op.SOLD, worker=SUPER)
    assert caught.value.status == 422
    decision = run(E.OCUPADO_SOLD, accion, Op.SOLD, worker=SUPER, motivo="Turno terminado")
    assert decision.event.metadata_json == {
        "motivo": "Turno terminado",
        "ocupado_por": TODO,
        "supervisor": True,
        VERSION: decision.despues.version,
    }


def test_the_holder_needs_no_reason_and_may_give_one():
    assert run(E.OCUPADO_SOLD, A.PAUSAR, Op.SOLD).event.metadata_json.keys() == {VERSION}
    decision = run(E.OCUPADO_SOLD, A.PAUSAR, Op.SOLD, motivo="Almuerzo")
    assert decision.event.metadata_json == {"motivo": "Almuerzo", VERSION: decision.despues.version}


def test_the_system_releases_anyones_spool_at_the_shift_end():
    comando = Comando(A.PAUSAR, Op.SOLD, "MK-1-CW-1-001", 0, motivo="FIN_DE_TURNO", sistema=True)
    decision = decidir(comando, spool_en(E.OCUPADO_SOLD), WORKERS, AHORA, UTC)
    event = decision.event
    assert (event.worker_id, event.worker_nombre, event.evento_tipo) == (0, "Sistema", "PAUSAR_SOLD")
    assert event.metadata_json == {"motivo": "FIN_DE_TURNO", "ocupado_por": TODO, VERSION: decision.despues.version}
    assert decision.despues.estado == E.ARM_COMPLETADO


def test_worker_0_is_nobody_when_the_command_comes_from_outside():
    with pytest.raises(errors.NotFound, match="trabajador 0"):
        run(E.OCUPADO_SOLD, A.PAUSAR, Op.SOLD, worker=0, motivo="FIN_DE_TURNO")


# --- effects --------------------------------------------------------------------------------------


def test_tomar_records_holder_and_utc_timestamp():
    despues = run(E.DISPONIBLE, A.TOMAR, Op.ARM).despues
    assert (despues.ocupado_por, despues.timestamp_ocupacion) == (TODO, "2026-03-02T02:30:00Z")


def test_completar_credits_the_holder_and_uses_the_plant_date():
    # 02:30 UTC is still the previous day in Santiago: fecha_* is the plant's local date.
    comando = Comando(A.COMPLETAR, Op.ARM, "MK-1-CW-1-001", 5, motivo="Olvidado")
    decision = decidir(comando, spool_en(E.OCUPADO_ARM), WORKERS, AHORA, ZoneInfo("America/Santiago"))
    assert decision.despues.armador == TODO  # the holder did the work, the supervisor closed it
    assert decision.despues.fecha_armado == "2026-03-01"
    assert decision.despues.ocupado_por is None and decision.despues.timestamp_ocupacion is None
    assert decision.event.worker_id == 5
    assert decision.event.metadata_json == {
        "motivo": "Olvidado",
        "ocupado_por": TODO,
        "supervisor": True,
        VERSION: decision.despues.version,
    }
    assert decision.event.fecha_operacion == "2026-03-01"


@pytest.mark.parametrize("resultado", list(Resultado))
def test_completar_metrologia_records_resultado(resultado):
    decision = run(E.OCUPADO_METROLOGIA, A.COMPLETAR, Op.METROLOGIA, resultado=resultado)
    assert decision.despues.resultado_metrologia == resultado
    assert decision.despues.metrologo == TODO
    assert decision.event.metadata_json == {"resultado": str(resultado), "version": decision.despues.version}


def test_completar_reparacion_clears_resultado_and_counts_the_cycle():
    spool = spool_en(E.EN_REPARACION).con(reparacion_ciclo=2)
    despues = run(E.EN_REPARACION, A.COMPLETAR, Op.REPARACION, spool=spool).despues
    assert despues.resultado_metrologia is None
    assert despues.reparacion_ciclo == 3
    assert despues.estado == E.SOLD_COMPLETADO


def test_tomar_reparacion_is_logged_as_iniciar_reparacion():
    event = run(E.RECHAZADO, A.TOMAR, Op.REPARACION).event
    assert (event.accion, event.evento_tipo) == ("TOMAR", "INICIAR_REPARACION")


def test_completar_metrologia_without_resultado_is_refused():
    with pytest.raises(errors.InvalidTransition):
        run(E.OCUPADO_METROLOGIA, A.COMPLETAR, Op.METROLOGIA, resultado=None)


# --- guards, each on its own and in the SPEC §5 order ----------------------------------------------


@pytest.mark.parametrize(
    ("operacion", "worker", "permitido"),
    [
        (Op.ARM, 1, True),
        (Op.ARM, 2, False),
        (Op.ARM, 3, False),
        (Op.ARM, 5, False),
        (Op.SOLD, 2, True),
        (Op.SOLD, 1, False),
        (Op.METROLOGIA, 3, True),
        (Op.METROLOGIA, 2, False),
        (Op.REPARACION, 1, True),
        (Op.REPARACION, 2, True),
        (Op.REPARACION, 3, False),
    ],
)
def test_tomar_needs_the_operations_role(operacion, worker, permitido):
    desde = {
        Op.ARM: E.DISPONIBLE,
        Op.SOLD: E.ARM_COMPLETADO,
        Op.METROLOGIA: E.SOLD_COMPLETADO,
        Op.REPARACION: E.RECHAZADO,
    }[operacion]
    if permitido:
        assert run(desde, A.TOMAR, operacion, worker=worker).despues.ocupado_por == worker
    else:
        with pytest.raises(errors.RoleNotAuthorized):
            run(desde, A.TOMAR, operacion, worker=worker)


def test_missing_spool_and_missing_worker_are_not_found():
    with pytest.raises(errors.NotFound, match="spool"):
        decidir(Comando(A.TOMAR, Op.ARM, "X", TODO), None, WORKERS, AHORA, UTC)
    with pytest.raises(errors.NotFound, match="trabajador 99"):
        run(E.DISPONIBLE, A.TOMAR, Op.ARM, worker=99)


def test_inactive_worker_is_refused_before_role():
    with pytest.raises(errors.WorkerInactive):
        run(E.DISPONIBLE, A.TOMAR, Op.ARM, worker=6)


def test_role_is_checked_before_version():
    with pytest.raises(errors.RoleNotAuthorized):
        run(E.DISPONIBLE, A.TOMAR, Op.ARM, worker=2, version="stale")


def test_stale_body_version_is_409_and_stale_if_match_is_412():
    with pytest.raises(errors.VersionConflict) as body:
        run(E.DISPONIBLE, A.TOMAR, Op.ARM, version="stale")
    with pytest.raises(errors.VersionConflict) as header:
        run(E.DISPONIBLE, A.TOMAR, Op.ARM, if_match=("stale",))
    assert (body.value.status, header.value.status) == (409, 412)
    assert run(E.DISPONIBLE, A.TOMAR, Op.ARM, version="v0", if_match=("x", "v0")).despues.ocupado
    assert run(E.DISPONIBLE, A.TOMAR, Op.ARM, if_match=("*",)).despues.ocupado


def test_version_is_checked_before_occupancy():
    with pytest.raises(errors.VersionConflict):
        run(E.OCUPADO_ARM, A.TOMAR, Op.SOLD, worker=OTRO, version="stale")


def test_tomar_of_an_occupied_spool_names_the_holder():
    with pytest.raises(errors.SpoolOccupied, match="Todo Terreno"):
        run(E.OCUPADO_ARM, A.TOMAR, Op.ARM, worker=OTRO)


def test_pausar_of_a_free_spool_is_an_invalid_transition_before_holder_check():
    with pytest.raises(errors.InvalidTransition):
        run(E.DISPONIBLE, A.PAUSAR, Op.ARM, worker=OTRO)


@pytest.mark.parametrize("accion", [A.PAUSAR, A.COMPLETAR])
def test_only_the_holder_or_a_supervisor_may_release(accion):
    with pytest.raises(errors.NotHolder):
        run(E.OCUPADO_SOLD, accion, Op.SOLD, worker=OTRO)
    decision = run(E.OCUPADO_SOLD, accion, Op.SOLD, worker=5, motivo="Olvidado")
    assert decision.event.worker_id == 5
    assert decision.event.metadata_json == {
        "motivo": "Olvidado",
        "ocupado_por": TODO,
        "supervisor": True,
        VERSION: decision.despues.version,
    }


def test_holder_check_comes_before_the_state_check():
    # Wrong operation *and* not the holder: the holder check answers first.
    with pytest.raises(errors.NotHolder):
        run(E.OCUPADO_SOLD, A.PAUSAR, Op.ARM, worker=OTRO)
    with pytest.raises(errors.InvalidTransition):
        run(E.OCUPADO_SOLD, A.PAUSAR, Op.ARM, worker=TODO)


def test_idempotency_metadata_and_the_produced_version_are_carried_into_the_event():
    comando = Comando(A.TOMAR, Op.ARM, "MK-1-CW-1-001", TODO)
    decision = decidir(comando, spool_en(E.DISPONIBLE), WORKERS, AHORA, UTC, metadata={"idempotency_key": "k"})
    assert decision.event.metadata_json == {"idempotency_key": "k", "version": decision.despues.version}
    assert decision.idempotency_key == "k"


# --- acciones ------------------------------------------------------------------------------------


@pytest.mark.parametrize("estado", list(Estado))
def test_acciones_lists_exactly_the_pairs_allowed_from_the_state(estado):
    esperadas = sorted({(str(a), str(op)) for src, a, op, *_ in SPEC_TABLE + HOLD_TABLE if src == estado})
    assert sorted((x["accion"], str(x["operacion"])) for x in acciones(spool_en(estado))) == esperadas


def test_completar_metrologia_appears_once():
    assert acciones(spool_en(E.OCUPADO_METROLOGIA)) == [
        {"accion": "PAUSAR", "operacion": "METROLOGIA"},
        {"accion": "COMPLETAR", "operacion": "METROLOGIA"},
        {"accion": "BLOQUEAR", "operacion": None},
    ]


@pytest.mark.parametrize("previo", RETENIBLES)
def test_a_held_spool_offers_only_desbloquear_whatever_it_returns_to(previo):
    assert acciones(spool_en(E.BLOQUEADO, previo=previo)) == [{"accion": "DESBLOQUEAR", "operacion": None}]
