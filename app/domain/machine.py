"""The spool state machine (SPEC §4) and the ordered guards of SPEC §5, as one pure decision."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from typing import Any

from transitions import Machine, MachineError

from .errors import (
    InvalidTransition,
    NotFound,
    NotHolder,
    RoleNotAuthorized,
    SpoolOccupied,
    VersionConflict,
    WorkerInactive,
)
from .model import ROLES_POR_OPERACION, Accion, Estado, Event, Operacion, Resultado, Rol, Spool, Worker

A, Op, E = Accion, Operacion, Estado

# (accion, operacion, from, to, evento_tipo, condition, effects) — the thirteen rows of SPEC §4.
Transicion = tuple[Accion, Operacion, Estado, Estado, str, str | None, tuple[str, ...]]
TRANSICIONES: tuple[Transicion, ...] = (
    (A.TOMAR, Op.ARM, E.DISPONIBLE, E.OCUPADO_ARM, "TOMAR_ARM", None, ("ocupar",)),
    (A.PAUSAR, Op.ARM, E.OCUPADO_ARM, E.DISPONIBLE, "PAUSAR_ARM", None, ("liberar",)),
    (A.COMPLETAR, Op.ARM, E.OCUPADO_ARM, E.ARM_COMPLETADO, "COMPLETAR_ARM", None, ("liberar", "registrar_armado")),
    (A.TOMAR, Op.SOLD, E.ARM_COMPLETADO, E.OCUPADO_SOLD, "TOMAR_SOLD", None, ("ocupar",)),
    (A.PAUSAR, Op.SOLD, E.OCUPADO_SOLD, E.ARM_COMPLETADO, "PAUSAR_SOLD", None, ("liberar",)),
    (
        A.COMPLETAR,
        Op.SOLD,
        E.OCUPADO_SOLD,
        E.SOLD_COMPLETADO,
        "COMPLETAR_SOLD",
        None,
        ("liberar", "registrar_soldadura"),
    ),
    (A.TOMAR, Op.METROLOGIA, E.SOLD_COMPLETADO, E.OCUPADO_METROLOGIA, "TOMAR_METROLOGIA", None, ("ocupar",)),
    (A.PAUSAR, Op.METROLOGIA, E.OCUPADO_METROLOGIA, E.SOLD_COMPLETADO, "PAUSAR_METROLOGIA", None, ("liberar",)),
    (
        A.COMPLETAR,
        Op.METROLOGIA,
        E.OCUPADO_METROLOGIA,
        E.APROBADO,
        "COMPLETAR_METROLOGIA_APROBADO",
        "es_aprobado",
        ("liberar", "registrar_metrologia"),
    ),
    (
        A.COMPLETAR,
        Op.METROLOGIA,
        E.OCUPADO_METROLOGIA,
        E.RECHAZADO,
        "COMPLETAR_METROLOGIA_RECHAZADO",
        "es_rechazado",
        ("liberar", "registrar_metrologia"),
    ),
    (A.TOMAR, Op.REPARACION, E.RECHAZADO, E.EN_REPARACION, "INICIAR_REPARACION", None, ("ocupar",)),
    (A.PAUSAR, Op.REPARACION, E.EN_REPARACION, E.RECHAZADO, "PAUSAR_REPARACION", None, ("liberar",)),
    (
        A.COMPLETAR,
        Op.REPARACION,
        E.EN_REPARACION,
        E.SOLD_COMPLETADO,
        "COMPLETAR_REPARACION",
        None,
        ("liberar", "cerrar_reparacion"),
    ),
)

# metadata_json keys the service writes with every event (SPEC §3, §7).
IDEMPOTENCY_KEY = "idempotency_key"
REQUEST_HASH = "request_hash"  # endpoint + body of the keyed request: a retry after a restart is told apart
VERSION = "version"  # the version the event produced: rows are checked against the log (SPEC §7)

_EVENTO_TIPO = {(f"{a}_{o}".lower(), dst): tipo for a, o, _src, dst, tipo, _c, _fx in TRANSICIONES}


@dataclasses.dataclass(frozen=True, slots=True)
class Comando:
    """A worker's request: TOMAR / PAUSAR / COMPLETAR an operation on a spool."""

    accion: Accion
    operacion: Operacion
    tag_spool: str
    worker_id: int
    resultado: Resultado | None = None
    version: str | None = None  # from the body: a stale one answers 409
    if_match: tuple[str, ...] | None = None  # from the header: a stale one answers 412

    @property
    def trigger(self) -> str:
        """The machine trigger this command fires, e.g. ``tomar_arm``."""
        return f"{self.accion}_{self.operacion}".lower()


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """What a successful command does: the spool afterwards and the one event to append."""

    antes: Spool
    despues: Spool
    event: Event

    @property
    def idempotency_key(self) -> str | None:
        """The Idempotency-Key the command carried, recorded in its event."""
        key = self.event.metadata_json.get(IDEMPOTENCY_KEY)
        return key if isinstance(key, str) else None


class _Paso:
    """The model the machine drives for one decision; its callbacks only compute changes."""

    def preparar(self, spool: Spool, actor: Worker | None, resultado: Resultado | None, ahora: str, fecha: str) -> None:
        """Load one decision's facts (models are reused: see ``_modelo``)."""
        self.spool, self.actor, self.resultado = spool, actor, resultado
        self.ahora, self.fecha = ahora, fecha
        self.cambios: dict[str, Any] = {}

    def es_aprobado(self) -> bool:
        return self.resultado == Resultado.APROBADO

    def es_rechazado(self) -> bool:
        return self.resultado == Resultado.RECHAZADO

    def ocupar(self) -> None:
        self.cambios.update(ocupado_por=self.actor.id, timestamp_ocupacion=self.ahora)

    def liberar(self) -> None:
        self.cambios.update(ocupado_por=None, timestamp_ocupacion=None)

    # The work is credited to the worker who held the spool, also when a supervisor closes it.
    def registrar_armado(self) -> None:
        self.cambios.update(armador=self.spool.ocupado_por, fecha_armado=self.fecha)

    def registrar_soldadura(self) -> None:
        self.cambios.update(soldador=self.spool.ocupado_por, fecha_soldadura=self.fecha)

    def registrar_metrologia(self) -> None:
        self.cambios.update(
            metrologo=self.spool.ocupado_por, fecha_metrologia=self.fecha, resultado_metrologia=self.resultado
        )

    def cerrar_reparacion(self) -> None:
        # Back to inspection, not to fit-up: the repair re-does the weld, not the whole spool.
        self.cambios.update(resultado_metrologia=None, reparacion_ciclo=self.spool.reparacion_ciclo + 1)


MACHINE = Machine(
    model=None,
    states=Estado,
    initial=Estado.DISPONIBLE,
    auto_transitions=False,
    transitions=[
        {
            "trigger": f"{a}_{o}".lower(),
            "source": src,
            "dest": dst,
            "conditions": [cond] if cond else [],
            "before": list(effects),
        }
        for a, o, src, dst, _tipo, cond, effects in TRANSICIONES
    ],
)

_TRIGGERS = {f"{a}_{o}".lower(): (a, o) for a, o, *_ in TRANSICIONES}

# Models already added to MACHINE, ready for reuse: add_model binds a method per trigger, state and
# may_* check to the model, which costs more than the decision itself. A decision never yields, so
# a model is back in the pool before another greenlet can ask; real threads each pop their own.
_LIBRES: list[_Paso] = []


@contextmanager
def _modelo(
    estado: Estado, spool: Spool, actor: Worker | None, resultado: Resultado | None, ahora: str, fecha: str
) -> Iterator[_Paso]:
    """A model in ``estado`` loaded with one decision's facts, taken from the pool."""
    try:
        paso = _LIBRES.pop()
    except IndexError:
        paso = _Paso()
        MACHINE.add_model(paso, initial=estado)
    paso.preparar(spool, actor, resultado, ahora, fecha)
    MACHINE.set_state(estado, model=paso)
    try:
        yield paso
    finally:
        _LIBRES.append(paso)


def _acciones_desde(estado: Estado) -> tuple[dict[str, str], ...]:
    """The (accion, operacion) pairs the machine may fire from ``estado``, asked through ``may_*``."""
    acciones = []
    for trigger in MACHINE.get_triggers(estado):
        permitido = False
        for resultado in (None, *Resultado):
            with _modelo(estado, Spool(tag_spool=""), None, resultado, "", "") as probe:
                permitido = permitido or probe.may_trigger(trigger)
        if permitido:
            accion, operacion = _TRIGGERS[trigger]
            acciones.append({"accion": str(accion), "operacion": str(operacion)})
    return tuple(acciones)


# Computed once: the allowed pairs depend only on the state ("whoever asks").
ACCIONES: dict[Estado, tuple[dict[str, str], ...]] = {estado: _acciones_desde(estado) for estado in Estado}


def acciones(spool: Spool) -> list[dict[str, str]]:
    """The actions allowed next on ``spool``, as ``[{accion, operacion}]``."""
    return [dict(par) for par in ACCIONES[spool.estado]]


def _version_vigente(spool: Spool, dada: str) -> bool:
    return (spool.version or "") == dada


def iso_utc(momento: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, to the second."""
    return momento.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def decidir(
    comando: Comando,
    spool: Spool | None,
    workers: Mapping[int, Worker],
    ahora: datetime,
    zona: tzinfo,
    metadata: Mapping[str, Any] | None = None,
    nuevo_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Decision:
    """Check the guards in the SPEC §5 order against fresh ``spool``, then fire the transition."""
    if spool is None:
        raise NotFound(f"El spool {comando.tag_spool} no existe.")
    actor = workers.get(comando.worker_id)
    if actor is None:
        raise NotFound(f"El trabajador {comando.worker_id} no existe.")
    if not actor.activo:
        raise WorkerInactive(f"El trabajador {actor.id} ({actor.nombre_completo}) está inactivo.")
    if comando.accion == Accion.TOMAR and not actor.tiene_rol(*ROLES_POR_OPERACION[comando.operacion]):
        roles = " o ".join(sorted(ROLES_POR_OPERACION[comando.operacion]))
        raise RoleNotAuthorized(f"{comando.operacion} requiere el rol {roles}.")
    if comando.version is not None and not _version_vigente(spool, comando.version):
        raise VersionConflict(f"El spool {spool.tag_spool} cambió desde que se leyó.", status=409)
    if (
        comando.if_match is not None
        and "*" not in comando.if_match
        and not any(_version_vigente(spool, v) for v in comando.if_match)
    ):
        raise VersionConflict(f"If-Match no coincide con la versión de {spool.tag_spool}.", status=412)

    extra: dict[str, Any] = {}
    if comando.accion == Accion.TOMAR:
        if spool.ocupado:
            quien = workers.get(spool.ocupado_por)  # type: ignore[arg-type]
            nombre = quien.nombre_completo if quien else "otro trabajador"
            raise SpoolOccupied(f"El spool {spool.tag_spool} está ocupado por {nombre} ({spool.ocupado_por}).")
    else:
        if not spool.ocupado:
            raise InvalidTransition(f"El spool {spool.tag_spool} no está ocupado ({spool.estado}).")
        if spool.ocupado_por != actor.id:
            if not actor.tiene_rol(Rol.SUPERVISOR):
                raise NotHolder(f"El spool {spool.tag_spool} lo tiene el trabajador {spool.ocupado_por}.")
            extra = {"ocupado_por": spool.ocupado_por, "supervisor": True}

    momento, fecha = iso_utc(ahora), ahora.astimezone(zona).date().isoformat()
    with _modelo(spool.estado, spool, actor, comando.resultado, momento, fecha) as paso:
        try:
            disparado = paso.trigger(comando.trigger)
        except MachineError:  # no such transition from this state
            disparado = False
        cambios, destino = paso.cambios, paso.state
    if not disparado:
        raise InvalidTransition(f"{comando.accion} {comando.operacion} no es posible con el spool en {spool.estado}.")

    if comando.resultado is not None:
        extra = {"resultado": str(comando.resultado), **extra}
    despues = spool.con(version=nuevo_id(), **cambios)
    event = Event(
        id=nuevo_id(),
        timestamp=momento,
        evento_tipo=_EVENTO_TIPO[(comando.trigger, destino)],
        tag_spool=spool.tag_spool,
        worker_id=actor.id,
        worker_nombre=actor.nombre_completo,
        operacion=str(comando.operacion),
        accion=str(comando.accion),
        fecha_operacion=fecha,
        metadata_json={**extra, **(metadata or {}), VERSION: despues.version},
    )
    return Decision(antes=spool, despues=despues, event=event)
