"""A year of a 100-worker plant, simulated shift by shift, every event decided by the domain's
``decidir()`` and committed through the SQLite store: the event log the report benchmark reads.

The plant (America/Santiago, Monday to Friday, 08:00–17:30 with lunch 13:00–14:00): 38 fitters, 38
welders, 4 who do both, 15 inspectors and 5 supervisors. New spools arrive every morning. A worker
takes the oldest spool waiting for their operation (welders repair rejected spools first), works a
log-normal time on it (fit-up ~4.5 h, welding ~5.5 h, inspection ~0.8 h, repair ~2.5 h), pauses it
for lunch and at the end of the shift and takes it again after; about 3 % of the time they forget to
pause it at the end of the shift and a supervisor releases it the next morning. Inspections reject
8 % of first inspections and 3 % after a repair. The run stops at the requested number of events,
leaving the spools in progress as they were.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from app.demo import tag
from app.domain.machine import Comando, decidir
from app.domain.model import Accion, Operacion, Resultado, Rol, Spool, Worker
from app.stores.sqlite import SqliteStore

ZONA = ZoneInfo("America/Santiago")
PRIMER_DIA = date(2025, 1, 6)  # a Monday
ENTRADA, ALMUERZO, REGRESO, SALIDA = time(8, 0), time(13, 0), time(14, 0), time(17, 30)
LIBERACION = time(7, 30)  # supervisors release what was left occupied overnight
MEDIANA_H = {Operacion.ARM: 9.0, Operacion.SOLD: 11.0, Operacion.METROLOGIA: 1.0, Operacion.REPARACION: 3.0}
OLVIDO = 0.03
RECHAZO_PRIMERA, RECHAZO_TRAS_REPARACION = 0.08, 0.03
SPOOLS_POR_DIA = 21
ESPERA_SIN_TRABAJO = timedelta(minutes=20)
OTRAS_TAREAS_MIN = (10, 150)  # after a completion: cleaning up, material, meetings (minutes)

NOMBRES = [
    "Juan",
    "Pedro",
    "Francisca",
    "Luis",
    "Carlos",
    "Diego",
    "Andrés",
    "María",
    "Camila",
    "Jorge",
    "Patricia",
    "Roberto",
    "Ignacio",
    "Valentina",
    "Sebastián",
    "Constanza",
    "Matías",
    "Javiera",
]
APELLIDOS = [
    "Pérez",
    "González",
    "Rodríguez",
    "Muñoz",
    "Rojas",
    "Díaz",
    "Soto",
    "Contreras",
    "Silva",
    "Martínez",
    "Sepúlveda",
    "Morales",
    "Fuentes",
    "Núñez",
    "Araya",
    "Espinoza",
    "Tapia",
    "Reyes",
]


def plantilla() -> tuple[Worker, ...]:
    """100 workers: ids 1–38 fitters, 39–76 welders, 77–80 both, 81–95 inspectors, 96–100 supervisors."""
    roles = (
        [(Rol.ARMADOR,)] * 38
        + [(Rol.SOLDADOR,)] * 38
        + [(Rol.ARMADOR, Rol.SOLDADOR)] * 4
        + [(Rol.METROLOGIA,)] * 15
        + [(Rol.SUPERVISOR,)] * 5
    )
    return tuple(
        Worker(i, NOMBRES[i % len(NOMBRES)], APELLIDOS[(i * 7) % len(APELLIDOS)], r, True)
        for i, r in enumerate(roles, 1)
    )


class Fin(Exception):
    """The log has the events asked for."""


class Planta:
    """The simulated floor: queues of spools waiting per operation, and the workers taking them."""

    def __init__(self, store: SqliteStore, eventos: int, semilla: int) -> None:
        self.store, self.objetivo, self.rng = store, eventos, random.Random(semilla)
        self.workers = {w.id: w for w in plantilla()}
        self.spools: dict[str, Spool] = {}
        self.colas: dict[Operacion, deque[str]] = {op: deque() for op in Operacion}
        self.propio: dict[int, tuple[str, Operacion, float]] = {}  # worker -> paused work they resume
        self.olvidados: dict[int, tuple[str, Operacion, float]] = {}  # left occupied overnight
        self.eventos = 0
        self.numero = itertools.count()
        self.orden = itertools.count()
        store.load([], self.workers.values())

    def actuar(self, accion: Accion, op: Operacion, tag_spool: str, worker: int, ahora: datetime, **extra) -> None:
        """One command, decided by the domain and committed like the service does."""
        comando = Comando(accion, op, tag_spool, worker, **extra)
        decision = decidir(comando, self.spools[tag_spool], self.workers, ahora, ZONA)
        self.store.commit(decision)
        self.spools[tag_spool] = decision.despues
        self.eventos += 1
        if self.eventos >= self.objetivo:
            raise Fin

    def llegan(self, n: int) -> None:
        """``n`` new spools, waiting for fit-up."""
        nuevos = [Spool(tag(next(self.numero)), version="nuevo") for _ in range(n)]
        self.store.load(nuevos, [])
        for spool in nuevos:
            self.spools[spool.tag_spool] = spool
            self.colas[Operacion.ARM].append(spool.tag_spool)

    def elegir(self, worker: Worker) -> tuple[str, Operacion, float] | None:
        """The work a free worker takes next: their own paused spool, else the oldest that waits."""
        if worker.id in self.propio:
            return self.propio.pop(worker.id)
        if worker.tiene_rol(Rol.METROLOGIA):
            preferidas = [Operacion.METROLOGIA]
        elif worker.tiene_rol(Rol.SOLDADOR):
            preferidas = [Operacion.REPARACION, Operacion.SOLD, Operacion.ARM]
        else:
            preferidas = [Operacion.ARM]
        for op in preferidas:
            if op == Operacion.ARM and not worker.tiene_rol(Rol.ARMADOR):
                continue
            if self.colas[op]:
                duracion = self.rng.lognormvariate(0, 0.5) * MEDIANA_H[op]
                return self.colas[op].popleft(), op, duracion
        return None

    def dia(self, dia: date) -> None:
        """One working day."""

        def a(hora: time) -> datetime:
            return datetime.combine(dia, hora, tzinfo=ZONA)

        supervisores = [w.id for w in self.workers.values() if w.tiene_rol(Rol.SUPERVISOR)]
        liberaciones = sorted(
            (a(LIBERACION) + timedelta(minutes=self.rng.uniform(0, 20)), worker_id) for worker_id in self.olvidados
        )
        for instante, worker_id in liberaciones:
            tag_spool, op, resta = self.olvidados[worker_id]
            self.actuar(
                Accion.PAUSAR, op, tag_spool, self.rng.choice(supervisores), instante, motivo="Quedó tomado de la noche"
            )
            self.propio[worker_id] = (tag_spool, op, resta)
        self.olvidados.clear()
        self.llegan(self.rng.randint(SPOOLS_POR_DIA - 6, SPOOLS_POR_DIA + 6))
        agenda: list[tuple[datetime, int, int, str, tuple]] = []

        def luego(instante: datetime, worker_id: int, que: str, trabajo: tuple = ()) -> None:
            heapq.heappush(agenda, (instante, next(self.orden), worker_id, que, trabajo))

        for worker in self.workers.values():
            if not worker.tiene_rol(Rol.SUPERVISOR):
                luego(a(ENTRADA) + timedelta(minutes=self.rng.uniform(0, 12)), worker.id, "libre")
        while agenda:
            instante, _, worker_id, que, trabajo = heapq.heappop(agenda)
            worker = self.workers[worker_id]
            if que == "libre":
                if instante >= a(SALIDA):
                    continue
                if a(ALMUERZO) <= instante < a(REGRESO):
                    luego(a(REGRESO), worker_id, "libre")
                    continue
                elegido = self.elegir(worker)
                if elegido is None:
                    luego(instante + ESPERA_SIN_TRABAJO, worker_id, "libre")
                    continue
                tag_spool, op, resta = elegido
                self.actuar(Accion.TOMAR, op, tag_spool, worker_id, instante)
                pausa = a(ALMUERZO) if instante < a(ALMUERZO) else a(SALIDA)
                termina = instante + timedelta(hours=resta)
                if termina <= pausa:
                    luego(termina, worker_id, "completar", (tag_spool, op))
                else:
                    luego(
                        pausa, worker_id, "pausar", (tag_spool, op, resta - (pausa - instante).total_seconds() / 3600)
                    )
            elif que == "pausar":
                tag_spool, op, resta = trabajo
                if instante >= a(SALIDA) and self.rng.random() < OLVIDO:
                    self.olvidados[worker_id] = trabajo
                    continue
                self.actuar(Accion.PAUSAR, op, tag_spool, worker_id, instante)
                self.propio[worker_id] = trabajo  # taken again after lunch, or the next morning
                if instante < a(SALIDA):
                    luego(a(REGRESO), worker_id, "libre")
            else:  # completar
                tag_spool, op = trabajo
                resultado = None
                if op == Operacion.METROLOGIA:
                    ciclo = self.spools[tag_spool].reparacion_ciclo
                    rechazo = RECHAZO_PRIMERA if ciclo == 0 else RECHAZO_TRAS_REPARACION
                    resultado = Resultado.RECHAZADO if self.rng.random() < rechazo else Resultado.APROBADO
                self.actuar(Accion.COMPLETAR, op, tag_spool, worker_id, instante, resultado=resultado)
                siguiente = {
                    Operacion.ARM: Operacion.SOLD,
                    Operacion.SOLD: Operacion.METROLOGIA,
                    Operacion.REPARACION: Operacion.METROLOGIA,
                }.get(op)
                if resultado == Resultado.RECHAZADO:
                    siguiente = Operacion.REPARACION
                if siguiente is not None:
                    self.colas[siguiente].append(tag_spool)
                luego(instante + timedelta(minutes=self.rng.uniform(*OTRAS_TAREAS_MIN)), worker_id, "libre")


def generar(db: Path, eventos: int = 100_000, semilla: int = 13) -> tuple[date, date]:
    """Write a plant's log of ``eventos`` events into a new SQLite file; the first and last plant dates."""
    store = SqliteStore(str(db), synchronous="OFF")
    try:
        planta = Planta(store, eventos, semilla)
        dia = PRIMER_DIA
        try:
            while True:
                if dia.weekday() < 5:
                    planta.dia(dia)
                dia += timedelta(days=1)
        except Fin:
            pass
        return PRIMER_DIA, dia
    finally:
        store.close()
