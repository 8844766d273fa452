"""Reports from the event log (SPEC §14): where the time goes, first-pass yield, per worker, per spool.

Pure: figures from events, spools, workers, the plant's zone and "now"; no I/O. The definitions,
which the README repeats for the people who read the figures:

- An **interval** is a worker's possession of a spool: from a TOMAR (``INICIAR_REPARACION`` for
  REPARACION) to the spool's next PAUSAR, COMPLETAR or BLOQUEAR, whoever sent it. A supervisor's or
  the system's release closes the holder's interval and credits the holder, as the sheet does. An
  interval still open counts up to now. A release the log never saw taken (a spool imported or typed
  in occupied) has no known start and adds no hours.
- A **date range** ``desde``–``hasta`` is inclusive and in plant dates (``ZEUES_TIMEZONE``): from
  ``desde`` 00:00 to the midnight that ends ``hasta``, plant time. Events are taken by their
  ``fecha_operacion`` (the plant date written with them, as in ``fecha_armado``): completions,
  rejections, first inspections and waits (by the TOMAR that ends them). Hours are clipped: only the
  part of an interval inside the range counts.
- ``horas_activas``: the sum of the intervals of that operation, clipped to the range.
- ``mediana_horas_por_spool``: for each completion in the range, the hours its spool was held for
  that operation since the operation's previous completion on that spool (pauses between intervals
  excluded, no clipping); the median of those. A spool inspected twice counts twice: each inspection
  is a piece of work. A completion whose work began before the log did is left out.
- ``horas_espera_mediana``: how long a spool waited for the operation, from the event that made it
  ready to the first TOMAR of the operation after it: COMPLETAR ARM → SOLD; COMPLETAR SOLD or
  COMPLETAR REPARACION → METROLOGIA; a rejection → REPARACION. ARM has no previous operation (null).
  Time on hold counts as waiting. Spools still waiting are work in progress, not in the median.
- ``primera_pasada`` (METROLOGIA): of the spools whose first inspection in the log falls in the
  range, the share approved at it; a spool counts once, however many inspections follow.
  ``rechazos``: rejections in the range.
- **Work in progress**: every spool now, by state (APROBADO is done and left out; a spool on hold is
  BLOQUEADO), with the age of each: since the event that put it in that state, or since its
  ``timestamp_ocupacion`` when the log does not say; a spool whose state the log does not explain has
  no age.
- **Per worker**: completions and hours credited to the holder; for welders, the inspections in the
  range of spools whose welding (the last COMPLETAR SOLD before the inspection) they did, and how
  many of those were rejections; a repair does not change who welded.
- **Per spool**: one stretch per event of its log, in the state that event left it in, until the
  next event (the last one until now).

Holds (SPEC §13): BLOQUEAR closes any interval open on the spool and puts it in BLOQUEADO;
DESBLOQUEAR returns it to the state it had, released.
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from .domain.machine import TRANSICIONES, iso_utc
from .domain.model import Accion, Estado, Event, Operacion, Spool, Worker

OPERACIONES: tuple[Operacion, ...] = tuple(Operacion)
BLOQUEADO = "BLOQUEADO"  # the hold of SPEC §13: not one of the derived states of §4 yet
BLOQUEAR, DESBLOQUEAR = "BLOQUEAR", "DESBLOQUEAR"
RANGO_POR_DEFECTO_DIAS = 30  # what a report without dates covers: the last 30 days, today included

# From the machine itself, as plain strings (see Intervalo): evento_tipo -> (accion, operacion, the
# state it leaves the spool in).
_TIPOS: dict[str, tuple[str, str, str]] = {
    tipo: (str(a), str(o), str(dst))
    for a, o, _s, dst, tipo, _c, _f in TRANSICIONES
    if a in (Accion.TOMAR, Accion.PAUSAR, Accion.COMPLETAR)  # holds are read by their own rules below
}
# The state a held spool returns to when its holder lets go (PAUSAR): where DESBLOQUEAR takes it.
_LIBERADO: dict[str, str] = {str(src): str(dst) for a, _o, src, dst, *_ in TRANSICIONES if a == Accion.PAUSAR}
# The operation a state waits for: a completion leaving a spool there makes it ready for that TOMAR.
_ESPERA: dict[str, str] = {str(src): str(o) for a, o, src, *_ in TRANSICIONES if a == Accion.TOMAR}
# Work in progress, in flow order: every state but the finished one, then holds.
ESTADOS_EN_CURSO: tuple[str, ...] = tuple(str(e) for e in Estado if e != Estado.APROBADO) + (
    () if BLOQUEADO in Estado.__members__ else (BLOQUEADO,)
)
# A spool's timeline, in flow order: every state, then holds.
ESTADOS_LINEA: tuple[str, ...] = tuple(str(e) for e in Estado) + (
    () if BLOQUEADO in Estado.__members__ else (BLOQUEADO,)
)
_METROLOGIA_RECHAZADO = "COMPLETAR_METROLOGIA_RECHAZADO"


# --- ranges and numbers ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Rango:
    """Plant dates ``desde``–``hasta``, inclusive, and the UTC instants (epoch seconds) that bound them."""

    desde: str  # YYYY-MM-DD, as fecha_operacion is written: dates compare as text
    hasta: str
    inicio: float  # desde 00:00, plant time
    fin: float  # the midnight after hasta, plant time

    @classmethod
    def de(cls, desde: date, hasta: date, zona: tzinfo) -> Rango:
        """The range of plant dates ``desde``–``hasta`` in ``zona`` (a midnight lost to a DST jump is
        the first instant of its day)."""
        inicio = datetime.combine(desde, time(0), tzinfo=zona)
        fin = datetime.combine(hasta + timedelta(days=1), time(0), tzinfo=zona)
        return cls(desde.isoformat(), hasta.isoformat(), inicio.timestamp(), fin.timestamp())

    @classmethod
    def por_defecto(cls, ahora: datetime, zona: tzinfo, desde: date | None = None, hasta: date | None = None) -> Rango:
        """The range asked for; a missing ``hasta`` is today, a missing ``desde`` 30 days before ``hasta``."""
        hasta = hasta or ahora.astimezone(zona).date()
        return cls.de(desde or hasta - timedelta(days=RANGO_POR_DEFECTO_DIAS - 1), hasta, zona)

    def contiene(self, fecha: str) -> bool:
        """Whether the plant date ``fecha`` (YYYY-MM-DD) is in the range."""
        return self.desde <= fecha <= self.hasta


def horas(segundos: float) -> float:
    """Seconds as hours, to the hundredth (36 s)."""
    return round(segundos / 3600, 2)


def _mediana_horas(segundos: Sequence[float]) -> float | None:
    return horas(statistics.median(segundos)) if segundos else None


def _cuota(parte: int, total: int) -> float | None:
    return round(parte / total, 4) if total else None


def momento(timestamp: str) -> float | None:
    """An event's ISO 8601 timestamp as epoch seconds, or None when the cell holds no timestamp (a row
    typed by hand into a sheet's Metadata)."""
    try:
        instante = datetime.fromisoformat(timestamp)
    except (TypeError, ValueError):
        return None
    return (instante if instante.tzinfo else instante.replace(tzinfo=UTC)).timestamp()


def _holder(event: Event) -> int:
    """Whose work an event closes: the holder a supervisor or the system released, else the sender."""
    holder = event.metadata_json.get("ocupado_por")
    return holder if isinstance(holder, int) and not isinstance(holder, bool) else event.worker_id


Pausa = Callable[[], None]
_CADA = 1000  # items between two pauses: a chunk of the log is a few milliseconds of work


def _con_pausas(items: Iterable[Any], pausa: Pausa | None) -> Iterable[Any]:
    """``items``, calling ``pausa`` every ``_CADA`` of them: where a caller on an event loop lets the
    loop's other work run (see ``blueprints/reports.py``)."""
    if pausa is None:
        yield from items
        return
    for n, item in enumerate(items, 1):
        if n % _CADA == 0:
            pausa()
        yield item


# --- one pass over the log ---------------------------------------------------------------------------
# The records are plain tuples of plain values (no enum members, no NamedTuple): CPython's collector
# stops tracking such tuples, so a year's digest (~100,000 records) is not scanned by every full
# collection. As objects, those collections held the event loop for 0.1–0.2 s at a time.

# (tag_spool, operacion, worker_id, inicio, fin): a worker's possession of a spool; fin None while it lasts
Intervalo = tuple[str, str, int, float, float | None]
# (tag_spool, operacion, worker_id, fecha, segundos, rechazado): a COMPLETAR credited to the holder;
# segundos the work it took, None when it began before the log
Completado = tuple[str, str, int, str, float | None, bool]
# (operacion, fecha, segundos): a ready spool's wait for the TOMAR of operacion, dated by that TOMAR
Espera = tuple[str, str, float]
# (tag_spool, fecha, aprobada, primera, soldador): an inspection, whether it was the spool's first,
# and who welded what it judged
Inspeccion = tuple[str, str, bool, bool, int | None]


class _Vida:
    """What the pass remembers of one spool."""

    __slots__ = ("abierto", "bloqueado", "desde", "estado", "inspeccionado", "listo", "previo", "soldador", "trabajo")

    def __init__(self) -> None:
        self.abierto: Intervalo | None = None
        # operacion -> seconds held since its last completion; None when that work began before the log
        self.trabajo: dict[str, float | None] = {}
        self.listo: tuple[str, float] | None = None  # (operacion, since) the spool waits for
        self.soldador: int | None = None
        self.inspeccionado = False
        self.estado: str | None = None  # the state the last event left it in
        self.previo: str | None = None  # on hold: the state DESBLOQUEAR returns it to
        self.bloqueado = False
        self.desde = 0.0  # when it entered ``estado``

    def soltar(self, t: float) -> Intervalo | None:
        """Close the interval open on the spool at ``t`` and add it to its operation's work; None when
        none was open."""
        if self.abierto is None:
            return None
        tag, operacion, worker_id, inicio, _ = self.abierto
        self.abierto = None
        hecho = self.trabajo.get(operacion, 0.0)
        if hecho is not None:
            self.trabajo[operacion] = hecho + max(0.0, t - inicio)
        return (tag, operacion, worker_id, inicio, t)


def _liberado(estado: str | None) -> str | None:
    """The state a spool in ``estado`` is left in when put on hold and later released."""
    return _LIBERADO.get(estado, estado) if estado is not None else None


def _estado_tras(vida: _Vida, event: Event) -> str | None:
    """The state ``event`` leaves the spool in, given the one it was in."""
    if event.evento_tipo in _TIPOS:
        return _TIPOS[event.evento_tipo][2]
    if event.evento_tipo == BLOQUEAR:
        return BLOQUEADO
    if event.evento_tipo == DESBLOQUEAR:
        previo = vida.previo or event.metadata_json.get("estado_previo")
        return str(previo) if previo else None
    return vida.estado


@dataclasses.dataclass(slots=True)
class Registro:
    """The log digested once: intervals, completions, waits, inspections, and each spool's state now."""

    intervalos: list[Intervalo]  # closed ones, then those still open (``fin`` None)
    completados: list[Completado]
    esperas: list[Espera]
    inspecciones: list[Inspeccion]
    vidas: dict[str, _Vida]
    nombres: dict[int, str]  # worker id -> the name the log last gave them


def analizar(events: Iterable[Event], pausa: Pausa | None = None) -> Registro:
    """Digest the log (every spool's events in append order) in one pass, pausing now and then."""
    intervalos: list[Intervalo] = []
    completados: list[Completado] = []
    esperas: list[Espera] = []
    inspecciones: list[Inspeccion] = []
    vidas: dict[str, _Vida] = {}
    nombres: dict[int, str] = {}
    for event in _con_pausas(events, pausa):
        t = momento(event.timestamp)
        if t is None:
            continue
        vida = vidas.get(event.tag_spool)
        if vida is None:
            vida = vidas[event.tag_spool] = _Vida()
        nombres[event.worker_id] = event.worker_nombre
        tipo = event.evento_tipo
        accion, operacion, _ = _TIPOS.get(tipo, (None, None, None))
        if accion == Accion.TOMAR:
            # Only a log that never released the spool has one open: the new TOMAR ends it.
            if (cerrado := vida.soltar(t)) is not None:
                intervalos.append(cerrado)
            vida.abierto = (event.tag_spool, operacion, event.worker_id, t, None)
            if vida.listo is not None and vida.listo[0] == operacion:
                esperas.append((operacion, event.fecha_operacion, max(0.0, t - vida.listo[1])))
                vida.listo = None
        elif accion is not None or tipo == BLOQUEAR:
            cerrado = vida.soltar(t)
            if cerrado is not None:
                intervalos.append(cerrado)
                holder = cerrado[2]
            else:
                holder = _holder(event)
                if operacion is not None:
                    vida.trabajo[operacion] = None  # work the log never saw taken: its length is unknown
            if accion == Accion.COMPLETAR:
                segundos = vida.trabajo.pop(operacion, 0.0)
                rechazado = tipo == _METROLOGIA_RECHAZADO
                completados.append((event.tag_spool, operacion, holder, event.fecha_operacion, segundos, rechazado))
                if operacion == Operacion.SOLD:
                    vida.soldador = holder
                elif operacion == Operacion.METROLOGIA:
                    primera = not vida.inspeccionado
                    inspecciones.append((event.tag_spool, event.fecha_operacion, not rechazado, primera, vida.soldador))
                    vida.inspeccionado = True
                siguiente = _ESPERA.get(_TIPOS[tipo][2])
                vida.listo = (siguiente, t) if siguiente is not None else None
        estado = _estado_tras(vida, event)
        if tipo == BLOQUEAR:
            vida.previo = _liberado(vida.estado)
            vida.bloqueado = True
        elif tipo == DESBLOQUEAR:
            vida.bloqueado = False
        if estado != vida.estado:
            vida.estado, vida.desde = estado, t
    intervalos += [vida.abierto for vida in vidas.values() if vida.abierto is not None]
    return Registro(intervalos, completados, esperas, inspecciones, vidas, nombres)


# --- the reports -------------------------------------------------------------------------------------


def _horas_por(registro: Registro, rango: Rango, ahora: float, pausa: Pausa | None) -> dict[tuple[int, str], float]:
    """Seconds of every interval inside the range and before ``ahora`` (an open one lasts until then),
    summed by (worker_id, operacion)."""
    suma: dict[tuple[int, str], float] = defaultdict(float)
    desde, hasta = rango.inicio, min(rango.fin, ahora)
    for _tag, operacion, worker_id, inicio, fin in _con_pausas(registro.intervalos, pausa):
        inicio = max(inicio, desde)
        fin = hasta if fin is None else min(fin, hasta)
        if fin > inicio:
            suma[(worker_id, operacion)] += fin - inicio
    return suma


@functools.lru_cache(maxsize=4096)
def _lunes(fecha: str) -> str:
    """The Monday of the week of ``fecha`` (YYYY-MM-DD)."""
    dia = date.fromisoformat(fecha)
    return (dia - timedelta(days=dia.weekday())).isoformat()


def _en_curso(registro: Registro, spools: Iterable[Spool], ahora: float) -> list[dict[str, Any]]:
    """Every unfinished spool by state, with the hours since it entered it."""
    edades: dict[str, list[tuple[float, str]]] = {estado: [] for estado in ESTADOS_EN_CURSO}
    cuantos: Counter[str] = Counter()
    for spool in spools:
        vida = registro.vidas.get(spool.tag_spool)
        estado = BLOQUEADO if vida is not None and vida.bloqueado else str(spool.estado)
        if estado not in edades:
            continue
        cuantos[estado] += 1
        if vida is not None and vida.estado == estado:
            desde: float | None = vida.desde
        else:
            desde = momento(spool.timestamp_ocupacion) if spool.ocupado and spool.timestamp_ocupacion else None
        if desde is not None:
            edades[estado].append((max(0.0, ahora - desde), spool.tag_spool))
    filas = []
    for estado in ESTADOS_EN_CURSO:
        lista = edades[estado]
        mas_antiguo = max(lista) if lista else None
        filas.append(
            {
                "estado": estado,
                "spools": cuantos[estado],
                "edad_horas_mediana": _mediana_horas([s for s, _ in lista]),
                "edad_horas_max": horas(mas_antiguo[0]) if mas_antiguo else None,
                "tag_mas_antiguo": mas_antiguo[1] if mas_antiguo else None,
            }
        )
    return filas


def _cabecera(rango: Rango, zona: tzinfo, ahora: datetime) -> dict[str, Any]:
    return {
        "desde": rango.desde,
        "hasta": rango.hasta,
        "zona": str(zona),
        "generado": iso_utc(ahora),
    }


def resumen(
    registro: Registro,
    spools: Iterable[Spool],
    rango: Rango,
    zona: tzinfo,
    ahora: datetime,
    pausa: Pausa | None = None,
) -> dict[str, Any]:
    """``GET /api/reportes/resumen``: per operation, work in progress, completions per day, first-pass
    yield per week."""
    t = ahora.timestamp()
    horas_op: dict[str, float] = defaultdict(float)
    for (_worker, operacion), segundos in _horas_por(registro, rango, t, pausa).items():
        horas_op[operacion] += segundos
    desde, hasta = rango.desde, rango.hasta
    duraciones: dict[str, list[float]] = {op: [] for op in OPERACIONES}  # of completions whose work is known
    completadas: Counter[str] = Counter()
    por_dia: dict[str, Counter[str]] = defaultdict(Counter)
    rechazos = 0
    for _tag, operacion, _worker, fecha, segundos, rechazado in _con_pausas(registro.completados, pausa):
        if desde <= fecha <= hasta:
            completadas[operacion] += 1
            por_dia[fecha][operacion] += 1
            rechazos += rechazado
            if segundos is not None:
                duraciones[operacion].append(segundos)
    esperas: dict[str, list[float]] = {op: [] for op in OPERACIONES}
    for operacion, fecha, segundos in _con_pausas(registro.esperas, pausa):
        if desde <= fecha <= hasta:
            esperas[operacion].append(segundos)
    semanas: dict[str, list[bool]] = defaultdict(list)  # Monday -> approved?, per first inspection
    for _tag, fecha, aprobada, primera, _soldador in _con_pausas(registro.inspecciones, pausa):
        if primera and desde <= fecha <= hasta:
            semanas[_lunes(fecha)].append(aprobada)
    primeras = [aprobada for semana in semanas.values() for aprobada in semana]
    operaciones = []
    for op in OPERACIONES:
        fila: dict[str, Any] = {
            "operacion": str(op),
            "completadas": completadas[op],
            "horas_activas": horas(horas_op[op]),
            "mediana_horas_por_spool": _mediana_horas(duraciones[op]),
            "horas_espera_mediana": _mediana_horas(esperas[op]),
            "primera_pasada": None,
            "primera_pasada_spools": None,
            "rechazos": None,
        }
        if op == Operacion.METROLOGIA:
            fila["primera_pasada"] = _cuota(sum(primeras), len(primeras))
            fila["primera_pasada_spools"] = len(primeras)
            fila["rechazos"] = rechazos
        operaciones.append(fila)
    return {
        **_cabecera(rango, zona, ahora),
        "operaciones": operaciones,
        "en_curso": _en_curso(registro, spools, t),
        "completadas_por_dia": [
            {"fecha": fecha, **{str(op): por_dia[fecha][op] for op in OPERACIONES}} for fecha in sorted(por_dia)
        ],
        "primera_pasada_por_semana": [
            {
                "semana": lunes,
                "spools": len(semanas[lunes]),
                "aprobados": sum(semanas[lunes]),
                "primera_pasada": _cuota(sum(semanas[lunes]), len(semanas[lunes])),
            }
            for lunes in sorted(semanas)
        ],
    }


def trabajadores(
    registro: Registro,
    workers: Mapping[int, Worker],
    rango: Rango,
    zona: tzinfo,
    ahora: datetime,
    pausa: Pausa | None = None,
) -> dict[str, Any]:
    """``GET /api/reportes/trabajadores``: per worker, completions and hours per operation; for
    welders, the inspections of their welds and the rejections among them."""
    horas_wo = _horas_por(registro, rango, ahora.timestamp(), pausa)
    hechas: Counter[tuple[int, str]] = Counter()
    soldadores: set[int] = set()
    for _tag, operacion, worker_id, fecha, _segundos, _rechazado in _con_pausas(registro.completados, pausa):
        if rango.contiene(fecha):
            hechas[(worker_id, operacion)] += 1
        if operacion == Operacion.SOLD:
            soldadores.add(worker_id)
    inspecciones: Counter[int] = Counter()
    rechazadas: Counter[int] = Counter()
    for _tag, fecha, aprobada, _primera, soldador in _con_pausas(registro.inspecciones, pausa):
        if soldador is not None and rango.contiene(fecha):
            inspecciones[soldador] += 1
            rechazadas[soldador] += not aprobada
    activos = {w.id for w in workers.values() if w.activo and set(w.roles) - {"SUPERVISOR"}}
    ids = sorted(activos | {w for w, _ in horas_wo} | {w for w, _ in hechas} | set(inspecciones))
    filas = []
    for worker_id in ids:
        worker = workers.get(worker_id)
        suelda = worker_id in soldadores or (worker is not None and "SOLDADOR" in worker.roles)
        filas.append(
            {
                "worker_id": worker_id,
                "nombre": worker.nombre_completo if worker else registro.nombres.get(worker_id, ""),
                "roles": [str(r) for r in worker.roles] if worker else [],
                "activo": worker.activo if worker else False,
                "operaciones": [
                    {
                        "operacion": str(op),
                        "completadas": hechas[(worker_id, op)],
                        "horas_activas": horas(horas_wo.get((worker_id, op), 0.0)),
                    }
                    for op in OPERACIONES
                ],
                "soldaduras_inspeccionadas": inspecciones[worker_id] if suelda else None,
                "soldaduras_rechazadas": rechazadas[worker_id] if suelda else None,
            }
        )
    return {**_cabecera(rango, zona, ahora), "trabajadores": filas}


def linea_de_tiempo(spool: Spool, events: Sequence[Event], ahora: datetime) -> dict[str, Any]:
    """``GET /api/reportes/spools/<tag>``: the spool's log as stretches of time in each state."""
    vida = _Vida()
    tramos: list[dict[str, Any]] = []
    inicios: list[float] = []
    for event in events:
        t = momento(event.timestamp)
        if t is None:
            continue
        estado = _estado_tras(vida, event)
        if event.evento_tipo == BLOQUEAR:
            vida.previo = _liberado(vida.estado)
        vida.estado = estado
        tramos.append(
            {
                "estado": estado,
                "desde": event.timestamp,
                "hasta": None,
                "horas": None,
                "evento_tipo": event.evento_tipo,
                "worker_id": event.worker_id,
                "worker_nombre": event.worker_nombre,
            }
        )
        inicios.append(t)
    por_estado: dict[str, float] = defaultdict(float)
    fines = [*inicios[1:], ahora.timestamp()]  # each stretch ends where the next begins, the last now
    siguientes = [*(t["desde"] for t in tramos[1:]), None]
    for tramo, inicio, fin, hasta in zip(tramos, inicios, fines, siguientes, strict=True):
        segundos = max(0.0, fin - inicio)
        tramo["hasta"], tramo["horas"] = hasta, horas(segundos)
        por_estado[tramo["estado"] or ""] += segundos
    orden = [e for e in ESTADOS_LINEA if e in por_estado] + sorted(e for e in por_estado if e not in ESTADOS_LINEA)
    actual = BLOQUEADO if tramos and tramos[-1]["estado"] == BLOQUEADO else str(spool.estado)
    return {
        "tag_spool": spool.tag_spool,
        "estado": actual,
        "generado": iso_utc(ahora),
        "tramos": tramos,
        "horas_por_estado": [{"estado": e or None, "horas": horas(por_estado[e])} for e in orden],
    }


# --- the same figures as tables (CSV) -----------------------------------------------------------------

Tabla = tuple[list[str], list[list[Any]]]


def tabla_resumen(figuras: Mapping[str, Any]) -> Tabla:
    """The summary as one long table (seccion, clave, indicador, valor): every figure on its own row."""
    filas: list[list[Any]] = [["periodo", "", nombre, figuras[nombre]] for nombre in ("desde", "hasta", "zona")]
    for fila in figuras["operaciones"]:
        filas += [["operaciones", fila["operacion"], k, v] for k, v in fila.items() if k != "operacion"]
    for fila in figuras["en_curso"]:
        filas += [["en_curso", fila["estado"], k, v] for k, v in fila.items() if k != "estado"]
    for fila in figuras["completadas_por_dia"]:
        filas += [["completadas_por_dia", fila["fecha"], k, v] for k, v in fila.items() if k != "fecha"]
    for fila in figuras["primera_pasada_por_semana"]:
        filas += [["primera_pasada_por_semana", fila["semana"], k, v] for k, v in fila.items() if k != "semana"]
    return ["seccion", "clave", "indicador", "valor"], filas


def tabla_trabajadores(figuras: Mapping[str, Any]) -> Tabla:
    """One row per worker: completions and hours per operation side by side, then the welding figures."""
    cabecera = ["worker_id", "nombre", "roles", "activo"]
    for op in OPERACIONES:
        cabecera += [f"completadas_{op}", f"horas_activas_{op}"]
    cabecera += ["soldaduras_inspeccionadas", "soldaduras_rechazadas"]
    filas = []
    for w in figuras["trabajadores"]:
        fila: list[Any] = [w["worker_id"], w["nombre"], ",".join(w["roles"]), w["activo"]]
        for op in w["operaciones"]:
            fila += [op["completadas"], op["horas_activas"]]
        filas.append([*fila, w["soldaduras_inspeccionadas"], w["soldaduras_rechazadas"]])
    return cabecera, filas


def tabla_spool(figuras: Mapping[str, Any]) -> Tabla:
    """One row per stretch of the spool's timeline."""
    cabecera = ["tag_spool", "estado", "desde", "hasta", "horas", "evento_tipo", "worker_id", "worker_nombre"]
    filas = [[figuras["tag_spool"], *(t[k] for k in cabecera[1:])] for t in figuras["tramos"]]
    return cabecera, filas
