"""The spool state machine (SPEC §4) and the ordered guards of SPEC §5, as one pure decision."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from typing import Any

from transitions import Machine, MachineError
from transitions.core import EventData

from .errors import (
    Forbidden,
    InvalidReason,
    InvalidTransition,
    NotFound,
    NotHolder,
    RoleNotAuthorized,
    SpoolBlocked,
    SpoolOccupied,
    VersionConflict,
    WorkerInactive,
)
from .model import (
    MOTIVO_CON_NOTA,
    ROLES_POR_OPERACION,
    SISTEMA,
    Accion,
    Estado,
    Event,
    Motivo,
    Operacion,
    Resultado,
    Rol,
    Spool,
    Worker,
)

A, Op, E = Accion, Operacion, Estado

# The states a spool may be put on hold from (SPEC §13): any but a finished one, or one already held.
RETENIBLES: tuple[Estado, ...] = tuple(e for e in Estado if e not in (E.APROBADO, E.BLOQUEADO))

# (accion, operacion, from, to, evento_tipo, condition, effects): the thirteen rows of SPEC §4, then
# the holds of SPEC §13, which name no operation. A hold releases the spool and overlays its progress;
# lifting it returns the spool to the state its progress gives (the row whose ``to`` is that state).
Transicion = tuple[Accion, Operacion | None, Estado, Estado, str, str | None, tuple[str, ...]]
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
    *((A.BLOQUEAR, None, e, E.BLOQUEADO, "BLOQUEAR", None, ("liberar", "retener")) for e in RETENIBLES),
    *((A.DESBLOQUEAR, None, E.BLOQUEADO, e, "DESBLOQUEAR", "vuelve_al_destino", ("reanudar",)) for e in RETENIBLES),
)


def trigger_de(accion: Accion, operacion: Operacion | None) -> str:
    """The machine trigger of an action, e.g. ``tomar_arm``; a hold names no operation (``bloquear``)."""
    return f"{accion}_{operacion}".lower() if operacion is not None else str(accion).lower()


# metadata_json keys the service writes with every event (SPEC §3, §7).
IDEMPOTENCY_KEY = "idempotency_key"
REQUEST_HASH = "request_hash"  # endpoint + body of the keyed request: a retry after a restart is told apart
VERSION = "version"  # the version the event produced: rows are checked against the log (SPEC §7)
VIA = "via"  # who sent the command (SPEC §11): "sesion", "token:NAME", "abierto" without credentials
VIA_SISTEMA = "sistema"  # the service itself (the shift end)

_EVENTO_TIPO = {(trigger_de(a, o), dst): tipo for a, o, _src, dst, tipo, _c, _fx in TRANSICIONES}


@dataclasses.dataclass(frozen=True, slots=True)
class Comando:
    """A worker's request: TOMAR / PAUSAR / COMPLETAR an operation on a spool, or BLOQUEAR / DESBLOQUEAR it."""

    accion: Accion
    operacion: Operacion | None  # None for BLOQUEAR / DESBLOQUEAR
    tag_spool: str
    worker_id: int
    resultado: Resultado | None = None
    version: str | None = None  # from the body: a stale one answers 409
    if_match: tuple[str, ...] | None = None  # from the header: a stale one answers 412
    # BLOQUEAR: the reason's code. PAUSAR / COMPLETAR: why a supervisor releases someone else's spool.
    motivo: str | None = None
    nota: str | None = None  # BLOQUEAR / DESBLOQUEAR: a free text note
    # Set only by the service itself (the shift end): the command acts as SISTEMA. The API never sets it.
    sistema: bool = False
    # Whether the caller's credentials carry a SUPERVISOR's rights (SPEC §11): a supervisor's own
    # session does; an API token only with the supervise scope.
    puede_supervisar: bool = True

    @property
    def trigger(self) -> str:
        """The machine trigger this command fires, e.g. ``tomar_arm``."""
        return trigger_de(self.accion, self.operacion)


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

    def preparar(self, spool: Spool, actor: Worker | None, comando: Comando, ahora: str, fecha: str) -> None:
        """Load one decision's facts (models are reused: see ``_modelo``)."""
        self.spool, self.actor, self.comando = spool, actor, comando
        self.ahora, self.fecha = ahora, fecha
        self.cambios: dict[str, Any] = {}

    # The machine sends every condition and effect its EventData (send_event): a lifted hold needs
    # the row's destination to know whether it is the state the spool returns to.
    def es_aprobado(self, event: EventData) -> bool:
        return self.comando.resultado == Resultado.APROBADO

    def es_rechazado(self, event: EventData) -> bool:
        return self.comando.resultado == Resultado.RECHAZADO

    def vuelve_al_destino(self, event: EventData) -> bool:
        return self.spool.estado_previo == event.transition.dest

    def ocupar(self, event: EventData) -> None:
        self.cambios.update(ocupado_por=self.actor.id, timestamp_ocupacion=self.ahora)

    def liberar(self, event: EventData) -> None:
        self.cambios.update(ocupado_por=None, timestamp_ocupacion=None)

    # The work is credited to the worker who held the spool, also when a supervisor closes it.
    def registrar_armado(self, event: EventData) -> None:
        self.cambios.update(armador=self.spool.ocupado_por, fecha_armado=self.fecha)

    def registrar_soldadura(self, event: EventData) -> None:
        self.cambios.update(soldador=self.spool.ocupado_por, fecha_soldadura=self.fecha)

    def registrar_metrologia(self, event: EventData) -> None:
        self.cambios.update(
            metrologo=self.spool.ocupado_por, fecha_metrologia=self.fecha, resultado_metrologia=self.comando.resultado
        )

    def cerrar_reparacion(self, event: EventData) -> None:
        # Back to inspection, not to fit-up: the repair re-does the weld, not the whole spool.
        self.cambios.update(resultado_metrologia=None, reparacion_ciclo=self.spool.reparacion_ciclo + 1)

    def retener(self, event: EventData) -> None:
        comando = self.comando
        self.cambios.update(bloqueo_motivo=comando.motivo, bloqueo_desde=self.ahora, bloqueo_nota=comando.nota)

    def reanudar(self, event: EventData) -> None:
        self.cambios.update(bloqueo_motivo=None, bloqueo_desde=None, bloqueo_nota=None)


MACHINE = Machine(
    model=None,
    states=Estado,
    initial=Estado.DISPONIBLE,
    auto_transitions=False,
    send_event=True,
    transitions=[
        {
            "trigger": trigger_de(a, o),
            "source": src,
            "dest": dst,
            "conditions": [cond] if cond else [],
            "before": list(effects),
        }
        for a, o, src, dst, _tipo, cond, effects in TRANSICIONES
    ],
)

_TRIGGERS = {trigger_de(a, o): (a, o) for a, o, *_ in TRANSICIONES}

# Models already added to MACHINE, ready for reuse: add_model binds a method per trigger, state and
# may_* check to the model, which costs more than the decision itself. A decision never yields, so
# a model is back in the pool before another greenlet can ask; real threads each pop their own.
_LIBRES: list[_Paso] = []


@contextmanager
def _modelo(
    estado: Estado, spool: Spool, actor: Worker | None, comando: Comando, ahora: str, fecha: str
) -> Iterator[_Paso]:
    """A model in ``estado`` loaded with one decision's facts, taken from the pool."""
    try:
        paso = _LIBRES.pop()
    except IndexError:
        paso = _Paso()
        MACHINE.add_model(paso, initial=estado)
    paso.preparar(spool, actor, comando, ahora, fecha)
    MACHINE.set_state(estado, model=paso)
    try:
        yield paso
    finally:
        _LIBRES.append(paso)


# Facts that make each conditional row fire at least once: every resultado, and a held spool whose
# hold lifts back to DISPONIBLE.
_MUESTRAS: tuple[tuple[Spool, Resultado | None], ...] = (
    *((Spool(tag_spool=""), resultado) for resultado in (None, *Resultado)),
    (Spool(tag_spool="", bloqueo_motivo="?"), None),
)


def _acciones_desde(estado: Estado) -> tuple[dict[str, str | None], ...]:
    """The (accion, operacion) pairs the machine may fire from ``estado``, asked through ``may_*``."""
    acciones = []
    for trigger in MACHINE.get_triggers(estado):
        accion, operacion = _TRIGGERS[trigger]
        permitido = False
        for spool, resultado in _MUESTRAS:
            comando = Comando(accion, operacion, "", 0, resultado=resultado)
            with _modelo(estado, spool, None, comando, "", "") as probe:
                permitido = permitido or probe.may_trigger(trigger)
        if permitido:
            acciones.append({"accion": str(accion), "operacion": str(operacion) if operacion else None})
    return tuple(acciones)


# Computed once: the allowed pairs depend only on the state ("whoever asks").
ACCIONES: dict[Estado, tuple[dict[str, str | None], ...]] = {estado: _acciones_desde(estado) for estado in Estado}


def acciones(spool: Spool) -> list[dict[str, str | None]]:
    """The actions allowed next on ``spool``, as ``[{accion, operacion}]`` (a hold names no operation)."""
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
    motivos: Mapping[str, Motivo] | None = None,
) -> Decision:
    """Check the guards in the SPEC §5 order against fresh ``spool``, then fire the transition.

    ``motivos`` (by code) is needed to put a spool on hold, and names the reason of a held one.
    """
    motivos = motivos or {}
    if comando.accion == Accion.BLOQUEAR:
        _motivo_valido(comando, motivos)  # part of the body: refused before anything is looked up
    if spool is None:
        raise NotFound(f"El spool {comando.tag_spool} no existe.")
    actor = SISTEMA if comando.sistema else workers.get(comando.worker_id)
    if actor is None:
        raise NotFound(f"El trabajador {comando.worker_id} no existe.")
    if not actor.activo:
        raise WorkerInactive(f"El trabajador {actor.id} ({actor.nombre_completo}) está inactivo.")
    if comando.accion == Accion.TOMAR and not actor.tiene_rol(*ROLES_POR_OPERACION[comando.operacion]):
        roles = " o ".join(sorted(ROLES_POR_OPERACION[comando.operacion]))
        raise RoleNotAuthorized(f"{comando.operacion} requiere el rol {roles}.")
    if comando.accion == Accion.DESBLOQUEAR:
        if not actor.tiene_rol(Rol.SUPERVISOR):
            raise RoleNotAuthorized("Solo un supervisor puede desbloquear un spool.")
        _supervisando(comando, "Desbloquear un spool")
    if comando.version is not None and not _version_vigente(spool, comando.version):
        raise VersionConflict(f"El spool {spool.tag_spool} cambió desde que se leyó.", status=409)
    if (
        comando.if_match is not None
        and "*" not in comando.if_match
        and not any(_version_vigente(spool, v) for v in comando.if_match)
    ):
        raise VersionConflict(f"If-Match no coincide con la versión de {spool.tag_spool}.", status=412)

    # A held spool is free, and only lifting its hold is possible: whatever else was asked, the answer
    # names the hold (a stale card's PAUSAR tells the worker why as plainly as a TOMAR does).
    if spool.bloqueado and comando.accion != Accion.DESBLOQUEAR:
        motivo = motivos.get(spool.bloqueo_motivo or "")
        razon = f"{motivo.descripcion} ({spool.bloqueo_motivo})" if motivo else spool.bloqueo_motivo
        raise SpoolBlocked(
            f"El spool {spool.tag_spool} está bloqueado: {razon}; solo un supervisor puede desbloquearlo.",
            motivo=spool.bloqueo_motivo,
        )
    extra = _guardia_de_ocupacion(comando, spool, actor, workers)

    momento, fecha = iso_utc(ahora), ahora.astimezone(zona).date().isoformat()
    with _modelo(spool.estado, spool, actor, comando, momento, fecha) as paso:
        try:
            disparado = paso.trigger(comando.trigger)
        except MachineError:  # no such transition from this state
            disparado = False
        cambios, destino = paso.cambios, paso.state
    if not disparado:
        que = f"{comando.accion} {comando.operacion}" if comando.operacion else str(comando.accion)
        raise InvalidTransition(f"{que} no es posible con el spool en {spool.estado}.")

    if comando.resultado is not None:
        extra = {"resultado": str(comando.resultado), **extra}
    if comando.accion in (Accion.BLOQUEAR, Accion.DESBLOQUEAR):
        extra = {**_datos_del_bloqueo(comando, spool), **extra}
    elif comando.motivo is not None:
        extra = {"motivo": comando.motivo, **extra}
    despues = spool.con(version=nuevo_id(), **cambios)
    # A hold records the operation it interrupts, if any; lifting it names none.
    operacion = spool.operacion_actual if comando.accion == Accion.BLOQUEAR else comando.operacion
    event = Event(
        id=nuevo_id(),
        timestamp=momento,
        evento_tipo=_EVENTO_TIPO[(comando.trigger, destino)],
        tag_spool=spool.tag_spool,
        worker_id=actor.id,
        worker_nombre=actor.nombre_completo,
        operacion=str(operacion or ""),
        accion=str(comando.accion),
        fecha_operacion=fecha,
        # Keys sorted, as the SQLite and Sheets logs store them: a replayed answer is the first one, byte for byte.
        metadata_json=dict(sorted({**extra, **(metadata or {}), VERSION: despues.version}.items())),
    )
    return Decision(antes=spool, despues=despues, event=event)


def _motivo_valido(comando: Comando, motivos: Mapping[str, Motivo]) -> None:
    """A hold names an active reason, and OTRO says why in a nota (422 otherwise)."""
    motivo = motivos.get(comando.motivo or "")
    if motivo is None or not motivo.activo:
        validos = ", ".join(m.codigo for m in motivos.values() if m.activo)
        raise InvalidReason(f"motivo {comando.motivo!r} no es un motivo vigente ({validos}).", field="motivo")
    if motivo.codigo == MOTIVO_CON_NOTA and not (comando.nota or "").strip():
        raise InvalidReason(f"El motivo {MOTIVO_CON_NOTA} necesita una nota que diga por qué.", field="nota")


def _supervisando(comando: Comando, que: str) -> None:
    """A supervisor's right used through credentials that do not carry it (an API token without the
    supervise scope acting for a supervisor) is refused (SPEC §11)."""
    if not comando.puede_supervisar:
        raise Forbidden(f"{que} requiere derechos de supervisor: el token no tiene el alcance supervise.")


def _guardia_de_ocupacion(
    comando: Comando, spool: Spool, actor: Worker, workers: Mapping[int, Worker]
) -> dict[str, Any]:
    """Who may act on the spool as it is held now (SPEC §5, §13); returns what the event's
    metadata_json then records about the holder."""
    if comando.accion == Accion.TOMAR:
        if spool.ocupado:
            quien = workers.get(spool.ocupado_por)  # type: ignore[arg-type]
            nombre = quien.nombre_completo if quien else "otro trabajador"
            raise SpoolOccupied(f"El spool {spool.tag_spool} está ocupado por {nombre} ({spool.ocupado_por}).")
        return {}
    if comando.accion in (Accion.PAUSAR, Accion.COMPLETAR):
        if not spool.ocupado:
            raise InvalidTransition(f"El spool {spool.tag_spool} no está ocupado ({spool.estado}).")
        if spool.ocupado_por == actor.id:
            return {}
        if actor is SISTEMA:  # the shift end releases whoever holds it
            return {"ocupado_por": spool.ocupado_por}
        if not actor.tiene_rol(Rol.SUPERVISOR):
            raise NotHolder(f"El spool {spool.tag_spool} lo tiene el trabajador {spool.ocupado_por}.")
        _supervisando(comando, "Liberar el spool de otro trabajador")
        if not (comando.motivo or "").strip():
            raise InvalidReason(
                f"Para liberar el spool de otro trabajador ({spool.ocupado_por}) indique el motivo.", field="motivo"
            )
        return {"ocupado_por": spool.ocupado_por, "supervisor": True}
    if comando.accion == Accion.BLOQUEAR:
        if spool.ocupado_por == actor.id:
            return {}
        if actor.tiene_rol(Rol.SUPERVISOR):
            _supervisando(comando, "Bloquear un spool que no se tiene")
            return {"ocupado_por": spool.ocupado_por, "supervisor": True} if spool.ocupado else {}
        raise NotHolder(f"Solo quien tiene el spool {spool.tag_spool} o un supervisor puede bloquearlo.")
    return {}


def _datos_del_bloqueo(comando: Comando, spool: Spool) -> dict[str, Any]:
    """What a hold's event records: the reason and the note; lifting it also says since when it held."""
    if comando.accion == Accion.BLOQUEAR:
        datos: dict[str, Any] = {"motivo": comando.motivo}
    else:
        datos = {"motivo": spool.bloqueo_motivo, "bloqueo_desde": spool.bloqueo_desde}
    if comando.nota:
        datos["nota"] = comando.nota
    return datos
