"""The report figures (SPEC §14) against hand-computed expectations on small event logs."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

import pytest

from app import reports
from app.domain.machine import TRANSICIONES
from app.domain.model import Event, Resultado, Rol, Spool, Worker

SANTIAGO = ZoneInfo("America/Santiago")
WORKERS = {
    w.id: w
    for w in (
        Worker(1, "Juan", "Pérez", (Rol.ARMADOR,), True),
        Worker(2, "Pedro", "González", (Rol.ARMADOR,), True),
        Worker(5, "Carlos", "Rojas", (Rol.SOLDADOR,), True),
        Worker(6, "Diego", "Díaz", (Rol.SOLDADOR,), True),
        Worker(8, "María", "Contreras", (Rol.METROLOGIA,), True),
        Worker(11, "Patricia", "Sepúlveda", (Rol.SUPERVISOR,), True),
    )
}
_TIPOS = {tipo: (str(a), str(o)) for a, o, _s, _d, tipo, *_ in TRANSICIONES}
_ids = itertools.count()


def ev(local: str, tipo: str, worker: int, tag: str = "S1", zona: tzinfo = UTC, operacion: str = "", **meta) -> Event:
    """An event at plant time ``local`` ("2026-05-04 08:00"), dated in ``zona`` as the service dates it."""
    momento = datetime.fromisoformat(local).replace(tzinfo=zona)
    accion, op = _TIPOS.get(tipo, (tipo, operacion))
    nombre = WORKERS[worker].nombre_completo if worker in WORKERS else "Sistema"
    return Event(
        id=f"e{next(_ids)}",
        timestamp=momento.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        evento_tipo=tipo,
        tag_spool=tag,
        worker_id=worker,
        worker_nombre=nombre,
        operacion=op,
        accion=accion,
        fecha_operacion=momento.date().isoformat(),
        metadata_json=meta,
    )


def plant(local: str, zona: tzinfo = UTC) -> datetime:
    """A plant-time instant."""
    return datetime.fromisoformat(local).replace(tzinfo=zona)


# --- the logs --------------------------------------------------------------------------------------

# Fit-up paused by one fitter and finished by another, then welded after a wait.
PAUSADO = [
    ev("2026-05-04 08:00", "TOMAR_ARM", 1),
    ev("2026-05-04 10:00", "PAUSAR_ARM", 1),
    ev("2026-05-04 11:00", "TOMAR_ARM", 2),
    ev("2026-05-04 12:30", "COMPLETAR_ARM", 2),
    ev("2026-05-04 14:00", "TOMAR_SOLD", 5),
    ev("2026-05-04 16:00", "COMPLETAR_SOLD", 5),
]

# A supervisor and the system release welders' spools; their intervals are the holders'.
LIBERADO = [
    ev("2026-05-04 08:00", "TOMAR_SOLD", 5, "S2"),
    ev("2026-05-04 09:00", "PAUSAR_SOLD", 11, "S2", ocupado_por=5, supervisor=True, motivo="se fue"),
    ev("2026-05-04 10:00", "TOMAR_SOLD", 5, "S2"),
    ev("2026-05-04 14:00", "PAUSAR_SOLD", 0, "S2", motivo="FIN_DE_TURNO", ocupado_por=5),
    ev("2026-05-04 15:00", "TOMAR_SOLD", 6, "S2"),
    ev("2026-05-04 16:00", "COMPLETAR_SOLD", 11, "S2", ocupado_por=6, supervisor=True, motivo="olvidó"),
]

# S3 rejected, repaired and approved; S4 approved at once. Carlos welded S3, Diego S4.
REPARADO = [
    ev("2026-05-04 08:00", "TOMAR_SOLD", 5, "S3"),
    ev("2026-05-04 09:00", "COMPLETAR_SOLD", 5, "S3"),
    ev("2026-05-04 08:00", "TOMAR_SOLD", 6, "S4"),
    ev("2026-05-04 09:30", "COMPLETAR_SOLD", 6, "S4"),
    ev("2026-05-04 10:00", "TOMAR_METROLOGIA", 8, "S3"),
    ev("2026-05-04 10:30", "COMPLETAR_METROLOGIA_RECHAZADO", 8, "S3", resultado="RECHAZADO"),
    ev("2026-05-04 11:00", "TOMAR_METROLOGIA", 8, "S4"),
    ev("2026-05-04 11:15", "COMPLETAR_METROLOGIA_APROBADO", 8, "S4", resultado="APROBADO"),
    ev("2026-05-04 12:30", "INICIAR_REPARACION", 5, "S3"),
    ev("2026-05-04 14:30", "COMPLETAR_REPARACION", 5, "S3"),
    ev("2026-05-05 09:00", "TOMAR_METROLOGIA", 8, "S3"),
    ev("2026-05-05 10:00", "COMPLETAR_METROLOGIA_APROBADO", 8, "S3", resultado="APROBADO"),
]

# Put on hold by its holder (released), taken off hold by a supervisor, finished; S6 held by a
# welder is put on hold by a supervisor and stays there.
BLOQUEADO = [
    ev("2026-05-04 08:00", "TOMAR_ARM", 1, "S5"),
    ev("2026-05-04 10:00", "BLOQUEAR", 1, "S5", operacion="ARM", motivo="MATERIAL"),
    ev("2026-05-04 15:00", "DESBLOQUEAR", 11, "S5"),
    ev("2026-05-04 16:00", "TOMAR_ARM", 1, "S5"),
    ev("2026-05-04 17:00", "COMPLETAR_ARM", 1, "S5"),
    ev("2026-05-04 08:00", "TOMAR_SOLD", 5, "S6"),
    ev("2026-05-04 09:00", "BLOQUEAR", 11, "S6", operacion="SOLD", motivo="PLANO", ocupado_por=5),
]

# Welding from 22:00 to 02:00, plant time, in Santiago (UTC−4 in May), and a spool held across the
# first day of daylight saving time (6 Sep 2026 has 23 hours there).
MEDIANOCHE = [
    ev("2026-05-04 22:00", "TOMAR_SOLD", 5, "S7", SANTIAGO),
    ev("2026-05-05 02:00", "COMPLETAR_SOLD", 5, "S7", SANTIAGO),
    ev("2026-09-05 20:00", "TOMAR_SOLD", 6, "S8", SANTIAGO),
    ev("2026-09-07 04:00", "PAUSAR_SOLD", 6, "S8", SANTIAGO),
]

# An inspection still under way when the report is asked for.
ABIERTO = [ev("2026-05-04 10:00", "TOMAR_METROLOGIA", 8, "S9")]


def cifras(events, desde: str, hasta: str, ahora: datetime, zona: tzinfo = UTC) -> dict[str, object]:
    """Every figure of both range reports, flat: ``ARM.horas_activas``, ``w5.SOLD.completadas``..."""
    registro = reports.analizar(events)
    rango = reports.Rango.de(date.fromisoformat(desde), date.fromisoformat(hasta), zona)
    planas: dict[str, object] = {}
    for fila in reports.resumen(registro, [], rango, zona, ahora)["operaciones"]:
        planas.update({f"{fila['operacion']}.{k}": v for k, v in fila.items() if k != "operacion"})
    for w in reports.trabajadores(registro, WORKERS, rango, zona, ahora)["trabajadores"]:
        for op in w["operaciones"]:
            planas.update({f"w{w['worker_id']}.{op['operacion']}.{k}": v for k, v in op.items() if k != "operacion"})
        planas[f"w{w['worker_id']}.soldaduras"] = (w["soldaduras_inspeccionadas"], w["soldaduras_rechazadas"])
    return planas


CASOS = [
    pytest.param(
        PAUSADO,
        ("2026-05-04", "2026-05-04", plant("2026-05-04 18:00"), UTC),
        {
            "ARM.completadas": 1,
            "ARM.horas_activas": 3.5,  # 2 h by Juan + 1.5 h by Pedro; the hour paused does not count
            "ARM.mediana_horas_por_spool": 3.5,
            "ARM.horas_espera_mediana": None,  # nothing comes before fit-up
            "w1.ARM.horas_activas": 2.0,
            "w1.ARM.completadas": 0,
            "w2.ARM.horas_activas": 1.5,
            "w2.ARM.completadas": 1,
            "SOLD.horas_espera_mediana": 1.5,  # COMPLETAR ARM 12:30 -> TOMAR SOLD 14:00
            "SOLD.mediana_horas_por_spool": 2.0,
            "w5.soldaduras": (0, 0),  # a welder, none of whose welds was inspected
            "w1.soldaduras": (None, None),  # not a welder
        },
        id="paused and resumed",
    ),
    pytest.param(
        LIBERADO,
        ("2026-05-04", "2026-05-04", plant("2026-05-04 18:00"), UTC),
        {
            "SOLD.horas_activas": 6.0,
            "w5.SOLD.horas_activas": 5.0,  # 08–09 closed by the supervisor, 10–14 by the system
            "w6.SOLD.horas_activas": 1.0,
            "w6.SOLD.completadas": 1,  # credited to the holder, not to the supervisor who closed it
            "SOLD.completadas": 1,
            "SOLD.mediana_horas_por_spool": 6.0,  # all the welding that went into it: Carlos' 5 h, Diego's 1 h
        },
        id="supervisor and system releases",
    ),
    pytest.param(
        REPARADO,
        ("2026-05-04", "2026-05-05", plant("2026-05-05 18:00"), UTC),
        {
            "METROLOGIA.completadas": 3,
            "METROLOGIA.rechazos": 1,
            "METROLOGIA.primera_pasada": 0.5,  # S4 yes, S3 no; S3's second inspection does not count
            "METROLOGIA.primera_pasada_spools": 2,
            "METROLOGIA.horas_espera_mediana": 1.5,  # waits of 1 h, 1.5 h (S4) and 18.5 h after the repair
            "REPARACION.completadas": 1,
            "REPARACION.horas_activas": 2.0,
            "REPARACION.horas_espera_mediana": 2.0,  # rejected 10:30, repair taken 12:30
            "w5.soldaduras": (2, 1),  # both inspections of S3, one rejected
            "w6.soldaduras": (1, 0),
            "w5.REPARACION.completadas": 1,
            "w8.METROLOGIA.horas_activas": 1.75,  # 0.5 + 0.25 + 1
        },
        id="repair and first-pass yield",
    ),
    pytest.param(
        REPARADO,
        ("2026-05-05", "2026-05-05", plant("2026-05-05 18:00"), UTC),
        {
            "METROLOGIA.completadas": 1,
            "METROLOGIA.rechazos": 0,
            "METROLOGIA.primera_pasada": None,  # S3's first inspection was the day before
            "METROLOGIA.primera_pasada_spools": 0,
            "METROLOGIA.horas_espera_mediana": 18.5,
            "w5.soldaduras": (1, 0),
        },
        id="a spool counts once, on the day of its first inspection",
    ),
    pytest.param(
        BLOQUEADO,
        ("2026-05-04", "2026-05-04", plant("2026-05-04 18:00"), UTC),
        {
            "ARM.horas_activas": 3.0,  # 08–10 until the hold, 16–17 after it
            "ARM.completadas": 1,
            "ARM.mediana_horas_por_spool": 3.0,
            "w1.ARM.horas_activas": 3.0,
            "SOLD.horas_activas": 1.0,  # the supervisor's hold closed Carlos' interval at 09:00
            "w5.SOLD.horas_activas": 1.0,
        },
        id="on hold",
    ),
    pytest.param(
        MEDIANOCHE,
        ("2026-05-04", "2026-05-04", plant("2026-05-06 12:00", SANTIAGO), SANTIAGO),
        {"SOLD.horas_activas": 2.0, "SOLD.completadas": 0, "SOLD.mediana_horas_por_spool": None},
        id="the evening before midnight, Santiago",
    ),
    pytest.param(
        MEDIANOCHE,
        ("2026-05-05", "2026-05-05", plant("2026-05-06 12:00", SANTIAGO), SANTIAGO),
        {"SOLD.horas_activas": 2.0, "SOLD.completadas": 1, "SOLD.mediana_horas_por_spool": 4.0},
        id="the night after midnight, Santiago",
    ),
    pytest.param(
        MEDIANOCHE,
        ("2026-09-06", "2026-09-06", plant("2026-09-08 12:00", SANTIAGO), SANTIAGO),
        {"SOLD.horas_activas": 23.0, "w6.SOLD.horas_activas": 23.0},
        id="a 23-hour day, Santiago",
    ),
    pytest.param(
        MEDIANOCHE,
        ("2026-05-04", "2026-09-30", plant("2026-09-30 12:00", SANTIAGO), SANTIAGO),
        {"SOLD.horas_activas": 4.0 + 4.0 + 23.0 + 4.0},
        id="every hour once over a long range, Santiago",
    ),
    pytest.param(
        ABIERTO,
        ("2026-05-04", "2026-05-04", plant("2026-05-04 13:30"), UTC),
        {"METROLOGIA.horas_activas": 3.5, "w8.METROLOGIA.horas_activas": 3.5, "METROLOGIA.completadas": 0},
        id="an open interval counts up to now",
    ),
    pytest.param(
        ABIERTO,
        ("2026-05-03", "2026-05-03", plant("2026-05-04 13:30"), UTC),
        {"METROLOGIA.horas_activas": 0.0},
        id="an open interval adds nothing before it began",
    ),
    pytest.param(
        ABIERTO,
        ("2026-05-04", "2026-05-10", plant("2026-05-05 10:00"), UTC),
        {"METROLOGIA.horas_activas": 24.0},
        id="a range reaching past now stops at now",
    ),
]


@pytest.mark.parametrize(("events", "pedido", "esperado"), CASOS)
def test_figures_match_hand_computed_expectations(events, pedido, esperado):
    desde, hasta, ahora, zona = pedido
    planas = cifras(events, desde, hasta, ahora, zona)
    assert {k: planas[k] for k in esperado} == esperado


def test_supervisors_and_the_system_are_credited_with_nothing():
    registro = reports.analizar(LIBERADO + BLOQUEADO)
    rango = reports.Rango.de(date(2026, 5, 4), date(2026, 5, 4), UTC)
    filas = reports.trabajadores(registro, WORKERS, rango, UTC, plant("2026-05-04 18:00"))["trabajadores"]
    assert [w["worker_id"] for w in filas] == [1, 2, 5, 6, 8]  # active floor workers; not 0 nor 11
    assert filas[0]["nombre"] == "Juan Pérez" and filas[0]["roles"] == ["ARMADOR"]


def test_work_begun_before_the_log_counts_as_done_but_not_in_hours():
    # Imported occupied: the log never saw the TOMAR, so the first stretch has no known length.
    events = [
        ev("2026-05-04 09:00", "PAUSAR_ARM", 11, "S1", ocupado_por=1, supervisor=True),
        ev("2026-05-04 10:00", "TOMAR_ARM", 2, "S1"),
        ev("2026-05-04 11:00", "COMPLETAR_ARM", 2, "S1"),
        ev("2026-05-04 10:00", "TOMAR_ARM", 1, "S2"),
        ev("2026-05-04 14:00", "COMPLETAR_ARM", 1, "S2"),
    ]
    planas = cifras(events, "2026-05-04", "2026-05-04", plant("2026-05-04 18:00"))
    assert planas["ARM.completadas"] == 2
    assert planas["ARM.horas_activas"] == 5.0
    assert planas["ARM.mediana_horas_por_spool"] == 4.0  # S2 only: S1's work is not all in the log


def test_work_in_progress_by_state_with_its_age():
    spools = [
        Spool("S5", armador=1, fecha_armado="2026-05-04"),
        Spool("S6", armador=1, fecha_armado="2026-05-04"),  # on hold, says the log
        Spool(
            "S9",
            fecha_armado="2026-05-03",
            fecha_soldadura="2026-05-03",
            ocupado_por=8,
            timestamp_ocupacion="2026-05-04T10:00:00Z",
        ),
        # Occupied when imported: no event, the row says since when.
        Spool("S10", fecha_armado="2026-05-02", ocupado_por=5, timestamp_ocupacion="2026-05-04T12:00:00Z"),
        Spool("S11"),  # never touched: no age
        Spool("S12", fecha_armado="2026-05-01", fecha_soldadura="2026-05-01", resultado_metrologia=Resultado.APROBADO),
    ]
    registro = reports.analizar(BLOQUEADO + ABIERTO)
    rango = reports.Rango.de(date(2026, 5, 4), date(2026, 5, 4), UTC)
    en_curso = reports.resumen(registro, spools, rango, UTC, plant("2026-05-04 18:00"))["en_curso"]
    assert [f["estado"] for f in en_curso] == [
        "DISPONIBLE",
        "OCUPADO_ARM",
        "ARM_COMPLETADO",
        "OCUPADO_SOLD",
        "SOLD_COMPLETADO",
        "OCUPADO_METROLOGIA",
        "RECHAZADO",
        "EN_REPARACION",
        "BLOQUEADO",
    ]
    por_estado = {
        f["estado"]: (f["spools"], f["edad_horas_mediana"], f["edad_horas_max"], f["tag_mas_antiguo"])
        for f in en_curso
        if f["spools"]
    }
    assert por_estado == {
        "DISPONIBLE": (1, None, None, None),
        "ARM_COMPLETADO": (1, 1.0, 1.0, "S5"),  # completed at 17:00
        "OCUPADO_SOLD": (1, 6.0, 6.0, "S10"),
        "OCUPADO_METROLOGIA": (1, 8.0, 8.0, "S9"),  # taken at 10:00
        "BLOQUEADO": (1, 9.0, 9.0, "S6"),  # on hold since 09:00
    }


def test_a_spools_timeline_is_its_log_as_time_spent_in_each_state():
    events = [e for e in BLOQUEADO if e.tag_spool == "S5"]
    linea = reports.linea_de_tiempo(
        Spool("S5", armador=1, fecha_armado="2026-05-04"), events, plant("2026-05-04 18:00")
    )
    assert [(t["estado"], t["desde"], t["hasta"], t["horas"], t["worker_id"]) for t in linea["tramos"]] == [
        ("OCUPADO_ARM", "2026-05-04T08:00:00Z", "2026-05-04T10:00:00Z", 2.0, 1),
        ("BLOQUEADO", "2026-05-04T10:00:00Z", "2026-05-04T15:00:00Z", 5.0, 1),
        ("DISPONIBLE", "2026-05-04T15:00:00Z", "2026-05-04T16:00:00Z", 1.0, 11),  # released by the hold
        ("OCUPADO_ARM", "2026-05-04T16:00:00Z", "2026-05-04T17:00:00Z", 1.0, 1),
        ("ARM_COMPLETADO", "2026-05-04T17:00:00Z", None, 1.0, 1),  # until now
    ]
    assert linea["horas_por_estado"] == [
        {"estado": "DISPONIBLE", "horas": 1.0},
        {"estado": "OCUPADO_ARM", "horas": 3.0},
        {"estado": "ARM_COMPLETADO", "horas": 1.0},
        {"estado": "BLOQUEADO", "horas": 5.0},
    ]
    assert linea["estado"] == "ARM_COMPLETADO"
    retenido = reports.linea_de_tiempo(
        Spool("S6", armador=1, fecha_armado="2026-05-01"),
        [e for e in BLOQUEADO if e.tag_spool == "S6"],
        plant("2026-05-04 18:00"),
    )
    assert retenido["estado"] == "BLOQUEADO"
    assert [(t["estado"], t["horas"]) for t in retenido["tramos"]] == [("OCUPADO_SOLD", 1.0), ("BLOQUEADO", 9.0)]


def test_completions_per_day_and_first_pass_yield_per_week():
    registro = reports.analizar(REPARADO)
    rango = reports.Rango.de(date(2026, 5, 1), date(2026, 5, 31), UTC)
    figuras = reports.resumen(registro, [], rango, UTC, plant("2026-05-31 18:00"))
    assert figuras["completadas_por_dia"] == [
        {"fecha": "2026-05-04", "ARM": 0, "SOLD": 2, "METROLOGIA": 2, "REPARACION": 1},
        {"fecha": "2026-05-05", "ARM": 0, "SOLD": 0, "METROLOGIA": 1, "REPARACION": 0},
    ]
    assert figuras["primera_pasada_por_semana"] == [
        {"semana": "2026-05-04", "spools": 2, "aprobados": 1, "primera_pasada": 0.5}
    ]
    assert (figuras["desde"], figuras["hasta"], figuras["zona"]) == ("2026-05-01", "2026-05-31", "UTC")


def test_without_dates_a_report_covers_the_last_30_plant_days():
    ahora = datetime(2026, 5, 5, 2, 0, tzinfo=UTC)  # still the 4th in Santiago
    rango = reports.Rango.por_defecto(ahora, SANTIAGO)
    assert (rango.desde, rango.hasta) == ("2026-04-05", "2026-05-04")
    assert reports.Rango.por_defecto(ahora, SANTIAGO, hasta=date(2026, 3, 31)).desde == "2026-03-02"


def test_a_timestamp_nobody_can_read_is_left_out():
    roto = ev("2026-05-04 09:00", "TOMAR_ARM", 1, "S1")
    roto = Event(**{**roto.as_dict(), "timestamp": "ayer a las nueve"})
    planas = cifras([roto, *PAUSADO[1:]], "2026-05-04", "2026-05-04", plant("2026-05-04 18:00"))
    assert planas["w1.ARM.horas_activas"] == 0.0 and planas["w2.ARM.horas_activas"] == 1.5


def test_a_long_log_is_digested_in_pauses_with_the_same_figures():
    events = [
        ev(f"2026-05-04 {8 + i % 8:02d}:{i % 60:02d}", tipo, 1, f"S{i}")
        for i in range(1500)
        for tipo in ("TOMAR_ARM", "COMPLETAR_ARM")
    ]
    pausas: list[int] = []
    registro = reports.analizar(events, pausa=lambda: pausas.append(len(pausas)))
    assert len(pausas) == 3  # one every thousand events: a caller on an event loop serves others there
    rango = reports.Rango.de(date(2026, 5, 4), date(2026, 5, 4), UTC)
    ahora = plant("2026-05-04 18:00")
    con_pausas = reports.resumen(registro, [], rango, UTC, ahora, pausa=lambda: pausas.append(len(pausas)))
    assert len(pausas) > 3
    assert con_pausas == reports.resumen(reports.analizar(events), [], rango, UTC, ahora)
    assert con_pausas["operaciones"][0]["completadas"] == 1500


def test_the_benchmarks_plant_year_is_a_log_the_domain_accepts(tmp_path):
    """bench/reports.py's year of a plant, a few days of it: every event decided by the domain's current
    rules (a supervisor's morning release names its reason), so the benchmark keeps running."""
    import sys

    from tests.conftest import ROOT

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import plant_year
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from app.stores.sqlite import SqliteStore

    plant_year.generar(tmp_path / "year.sqlite3", eventos=4000)
    store = SqliteStore(str(tmp_path / "year.sqlite3"))
    try:
        log = list(store.all_events())
    finally:
        store.close()
    assert len(log) == 4000
    releases = [e for e in log if e.metadata_json.get("supervisor")]
    assert releases and all(e.metadata_json["motivo"] for e in releases)
