"""The report endpoints (SPEC §14) on every store: figures of a scenario driven through the API agree
with /historial, CSV says the same as JSON, bad dates answer 422."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.model import Estado, Rol, Spool, Worker
from tests.conftest import tag_en

SANTIAGO = ZoneInfo("America/Santiago")
ARMADOR, OTRO_ARMADOR, SOLDADOR, METROLOGO, SUPERVISOR = 1, 2, 5, 8, 11
PROBLEM = "application/problem+json"


class Reloj:
    """The service's clock, moved by the test: commands are logged at these plant times."""

    def __init__(self) -> None:
        self.ahora = datetime(2026, 5, 4, 21, 0, tzinfo=SANTIAGO)

    def __call__(self) -> datetime:
        return self.ahora.astimezone(UTC)

    def a_las(self, local: str) -> None:
        self.ahora = datetime.fromisoformat(local).replace(tzinfo=SANTIAGO)


# (plant time, endpoint, worker, operacion, extra): a spool's day and a half, across midnight, with a
# pause, a supervisor's release, a rejection and a repair; the last inspection is still under way.
ESCENA = [
    ("2026-05-04 21:00", "tomar", ARMADOR, "ARM", {}),
    ("2026-05-04 23:00", "pausar", ARMADOR, "ARM", {}),
    ("2026-05-05 08:00", "tomar", OTRO_ARMADOR, "ARM", {}),
    ("2026-05-05 10:30", "completar", OTRO_ARMADOR, "ARM", {}),
    ("2026-05-05 11:00", "tomar", SOLDADOR, "SOLD", {}),
    ("2026-05-05 12:00", "pausar", SUPERVISOR, "SOLD", {"motivo": "Turno de noche sin soldador"}),
    ("2026-05-05 13:00", "tomar", SOLDADOR, "SOLD", {}),
    ("2026-05-05 15:00", "completar", SOLDADOR, "SOLD", {}),
    ("2026-05-05 15:30", "tomar", METROLOGO, "METROLOGIA", {}),
    ("2026-05-05 16:00", "completar", METROLOGO, "METROLOGIA", {"resultado": "RECHAZADO"}),
    ("2026-05-05 16:30", "tomar", SOLDADOR, "REPARACION", {}),
    ("2026-05-05 17:30", "completar", SOLDADOR, "REPARACION", {}),
    ("2026-05-05 18:00", "tomar", METROLOGO, "METROLOGIA", {}),
]
AHORA = "2026-05-05 19:00"


@pytest.fixture
def escena(make_shop):
    """An app on the demo shop in Santiago where ESCENA happened to one spool; (client, tag)."""
    app = make_shop(TIMEZONE="America/Santiago")
    reloj = app.extensions["zeues"].service.reloj = Reloj()
    client = app.test_client()
    tag = tag_en(app, Estado.DISPONIBLE)
    for local, endpoint, worker, operacion, extra in ESCENA:
        reloj.a_las(local)
        body = {"tag_spool": tag, "worker_id": worker, "operacion": operacion, **extra}
        response = client.post(f"/api/{endpoint}-accion", json=body)
        assert response.status_code == 200, response.json
    reloj.a_las(AHORA)
    return client, tag


def operaciones(client, **query) -> dict[str, dict]:
    """The summary's rows by operation."""
    response = client.get("/api/reportes/resumen", query_string=query)
    assert response.status_code == 200, response.json
    return {fila["operacion"]: fila for fila in response.json["operaciones"]}


def test_the_summary_of_a_scenario_driven_through_the_api(escena):
    client, _ = escena
    dia = operaciones(client, desde="2026-05-05", hasta="2026-05-05")
    assert dia["ARM"] == {
        "operacion": "ARM",
        "completadas": 1,
        "horas_activas": 2.5,  # 08:00–10:30; the evening before is the 4th
        "mediana_horas_por_spool": 4.5,  # the spool's whole fit-up: 2 h the evening before + 2.5 h
        "horas_espera_mediana": None,
        "primera_pasada": None,
        "primera_pasada_spools": None,
        "rechazos": None,
    }
    assert (dia["SOLD"]["completadas"], dia["SOLD"]["horas_activas"], dia["SOLD"]["horas_espera_mediana"]) == (
        1,
        3.0,  # 11–12 until the supervisor's release, 13–15
        0.5,
    )
    metrologia = dia["METROLOGIA"]
    assert (metrologia["completadas"], metrologia["rechazos"]) == (1, 1)
    assert (metrologia["primera_pasada"], metrologia["primera_pasada_spools"]) == (0.0, 1)
    assert metrologia["horas_activas"] == 1.5  # 15:30–16:00, and 18:00 until now (19:00)
    assert dia["REPARACION"]["horas_activas"] == 1.0 and dia["REPARACION"]["horas_espera_mediana"] == 0.5
    anterior = operaciones(client, desde="2026-05-04", hasta="2026-05-04")
    assert (anterior["ARM"]["horas_activas"], anterior["ARM"]["completadas"]) == (2.0, 0)


def test_figures_agree_with_the_historial(escena):
    client, tag = escena
    events = client.get(f"/api/spools/{tag}/historial").json["events"]
    ahora = datetime(2026, 5, 5, 19, 0, tzinfo=SANTIAGO)
    # Worked out here from the log as /historial shows it: each TOMAR to the event after it.
    momentos = [datetime.fromisoformat(e["timestamp"]) for e in events] + [ahora]
    horas: dict[str, float] = {}
    for i, event in enumerate(events):
        if event["accion"] == "TOMAR":
            horas[event["operacion"]] = horas.get(event["operacion"], 0) + (momentos[i + 1] - momentos[i]) / timedelta(
                hours=1
            )
    completadas = {op: sum(e["accion"] == "COMPLETAR" and e["operacion"] == op for e in events) for op in horas}
    resumen = operaciones(client, desde="2026-05-04", hasta="2026-05-05")
    assert {op: resumen[op]["horas_activas"] for op in horas} == horas
    assert {op: resumen[op]["completadas"] for op in horas} == completadas

    linea = client.get(f"/api/reportes/spools/{tag}").json
    assert [(t["desde"], t["evento_tipo"], t["worker_id"], t["worker_nombre"]) for t in linea["tramos"]] == [
        (e["timestamp"], e["evento_tipo"], e["worker_id"], e["worker_nombre"]) for e in events
    ]
    assert [t["hasta"] for t in linea["tramos"]] == [e["timestamp"] for e in events[1:]] + [None]
    assert [t["horas"] for t in linea["tramos"]] == [
        round((momentos[i + 1] - momentos[i]) / timedelta(hours=1), 2) for i in range(len(events))
    ]
    spool = client.get(f"/api/spools/{tag}").json
    assert linea["estado"] == spool["estado"] == linea["tramos"][-1]["estado"] == "OCUPADO_METROLOGIA"


def test_the_workers_report_credits_the_holders(escena):
    client, _ = escena
    response = client.get("/api/reportes/trabajadores", query_string={"desde": "2026-05-04", "hasta": "2026-05-05"})
    assert response.status_code == 200
    filas = {w["worker_id"]: w for w in response.json["trabajadores"]}
    horas = {
        (w, op["operacion"]): (op["completadas"], op["horas_activas"]) for w in filas for op in filas[w]["operaciones"]
    }
    assert horas[(ARMADOR, "ARM")] == (0, 2.0)
    assert horas[(OTRO_ARMADOR, "ARM")] == (1, 2.5)
    assert horas[(SOLDADOR, "SOLD")] == (1, 3.0)
    assert horas[(SOLDADOR, "REPARACION")] == (1, 1.0)
    assert horas[(METROLOGO, "METROLOGIA")] == (1, 1.5)
    assert (filas[SOLDADOR]["soldaduras_inspeccionadas"], filas[SOLDADOR]["soldaduras_rechazadas"]) == (1, 1)
    assert filas[ARMADOR]["soldaduras_inspeccionadas"] is None
    assert SUPERVISOR not in filas and 12 not in filas  # a supervisor holds nothing; Roberto is inactive
    assert filas[ARMADOR]["nombre"] == "Juan Pérez"


def read_csv(response) -> list[dict[str, str]]:
    """A CSV answer as its header's dicts, checking it is what a spreadsheet program needs."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="zeues-')
    assert response.data.startswith(b"\xef\xbb\xbf")  # the BOM
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def cell(value) -> str:
    """A JSON figure as its CSV cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def test_csv_says_what_json_says(escena):
    client, tag = escena
    rango = {"desde": "2026-05-04", "hasta": "2026-05-05"}

    resumen = client.get("/api/reportes/resumen", query_string=rango).json
    filas = read_csv(client.get("/api/reportes/resumen", query_string={**rango, "formato": "csv"}))
    assert list(filas[0]) == ["seccion", "clave", "indicador", "valor"]
    esperado = [("periodo", "", k, resumen[k]) for k in ("desde", "hasta", "zona")]
    for seccion, clave in [
        ("operaciones", "operacion"),
        ("en_curso", "estado"),
        ("completadas_por_dia", "fecha"),
        ("primera_pasada_por_semana", "semana"),
    ]:
        esperado += [(seccion, f[clave], k, v) for f in resumen[seccion] for k, v in f.items() if k != clave]
    assert [(f["seccion"], f["clave"], f["indicador"], f["valor"]) for f in filas] == [
        (s, c, i, cell(v)) for s, c, i, v in esperado
    ]

    trabajadores = client.get("/api/reportes/trabajadores", query_string=rango).json["trabajadores"]
    filas = read_csv(client.get("/api/reportes/trabajadores", query_string={**rango, "formato": "csv"}))
    assert [f["nombre"] for f in filas] == [w["nombre"] for w in trabajadores]  # "Juan Pérez", accents intact
    for fila, w in zip(filas, trabajadores, strict=True):
        esperado = {
            "worker_id": w["worker_id"],
            "nombre": w["nombre"],
            "roles": ",".join(w["roles"]),
            "activo": w["activo"],
            **{f"completadas_{op['operacion']}": op["completadas"] for op in w["operaciones"]},
            **{f"horas_activas_{op['operacion']}": op["horas_activas"] for op in w["operaciones"]},
            "soldaduras_inspeccionadas": w["soldaduras_inspeccionadas"],
            "soldaduras_rechazadas": w["soldaduras_rechazadas"],
        }
        assert fila == {k: cell(v) for k, v in esperado.items()}

    linea = client.get(f"/api/reportes/spools/{tag}").json
    filas = read_csv(client.get(f"/api/reportes/spools/{tag}", query_string={"formato": "csv"}))
    assert filas == [{"tag_spool": tag, **{k: cell(v) for k, v in t.items()}} for t in linea["tramos"]]


def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_stays_text(make_shop):
    tag = '=IMPORTXML("http://x")'
    app = make_shop([Spool(tag, version="v1")], [Worker(1, "Ñandú", "=1+1", (Rol.ARMADOR,), True)])
    client = app.test_client()
    assert (
        client.post("/api/tomar-accion", json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}).status_code == 200
    )
    [fila] = read_csv(client.get(f"/api/reportes/spools/{tag}", query_string={"formato": "csv"}))
    assert fila["tag_spool"] == "'" + tag and fila["worker_nombre"] == "Ñandú =1+1"
    assert client.get(f"/api/reportes/spools/{tag}").json["tag_spool"] == tag  # JSON as it is


@pytest.mark.parametrize(
    ("path", "query", "campo"),
    [
        ("resumen", {"desde": "2026-13-01"}, "desde"),
        ("resumen", {"hasta": "05/05/2026"}, "hasta"),
        ("resumen", {"desde": "20260505"}, "desde"),
        ("resumen", {"desde": "2026-02-30"}, "desde"),
        ("resumen", {"hasta": "0001-01-01", "formato": "csv"}, "hasta"),  # the calendar's edge: was a 500
        ("trabajadores", {"desde": "9999-12-31"}, "desde"),
        ("resumen", {"desde": "2026-05-06", "hasta": "2026-05-05"}, "desde"),
        ("trabajadores", {"desde": "2026-05-06", "hasta": "2026-05-05"}, "desde"),
        ("trabajadores", {"hasta": ""}, "hasta"),
        ("resumen", {"formato": "xlsx"}, "formato"),
        ("resumen", {"semana": "19"}, "semana"),
        ("spools/MK-1335-CW-25238-001", {"desde": "2026-05-01"}, "desde"),
    ],
)
def test_bad_dates_and_unknown_parameters_answer_422(shop_app, path, query, campo):
    response = shop_app.test_client().get(f"/api/reportes/{path}", query_string=query)
    assert response.status_code == 422
    assert response.content_type == PROBLEM
    assert response.json["code"] == "VALIDATION_ERROR"
    assert campo in response.json["errors"]["query"]


def test_an_unknown_spool_answers_404(shop_app):
    response = shop_app.test_client().get("/api/reportes/spools/MK-0000-XX-00000-000")
    assert response.status_code == 404 and response.json["code"] == "NOT_FOUND"


def test_without_dates_the_summary_covers_the_last_30_plant_days(escena):
    client, _ = escena
    resumen = client.get("/api/reportes/resumen").json
    assert (resumen["desde"], resumen["hasta"], resumen["zona"]) == ("2026-04-06", "2026-05-05", "America/Santiago")
    assert resumen["generado"] == "2026-05-05T23:00:00Z"


def test_the_reports_are_in_the_openapi_document_with_their_csv(client):
    doc = client.get("/api/openapi.json").json
    for path in ("/api/reportes/resumen", "/api/reportes/trabajadores", "/api/reportes/spools/{tag}"):
        operation = doc["paths"][path]["get"]
        assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
        assert "422" in operation["responses"]
        assert "formato" in {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    rango = {p["name"] for p in doc["paths"]["/api/reportes/resumen"]["get"]["parameters"] if p["in"] == "query"}
    assert rango == {"desde", "hasta", "formato"}
    assert "404" in doc["paths"]["/api/reportes/spools/{tag}"]["get"]["responses"]
    assert {"Resumen", "TrabajadoresReporte", "SpoolReporte"} <= set(doc["components"]["schemas"])


def test_a_hold_driven_through_the_api_ends_the_work_and_shows_as_time_on_hold(make_shop):
    app = make_shop(TIMEZONE="America/Santiago")
    reloj = app.extensions["zeues"].service.reloj = Reloj()
    client = app.test_client()
    tag = tag_en(app, Estado.DISPONIBLE)
    for local, endpoint, body in [
        ("2026-05-04 08:00", "tomar", {"worker_id": ARMADOR, "operacion": "ARM"}),
        ("2026-05-04 10:00", "bloquear", {"worker_id": ARMADOR, "motivo": "MATERIAL"}),
        ("2026-05-04 15:00", "desbloquear", {"worker_id": SUPERVISOR}),
        ("2026-05-04 16:00", "tomar", {"worker_id": ARMADOR, "operacion": "ARM"}),
        ("2026-05-04 17:00", "completar", {"worker_id": ARMADOR, "operacion": "ARM"}),
    ]:
        reloj.a_las(local)
        response = client.post(f"/api/{endpoint}-accion", json={"tag_spool": tag, **body})
        assert response.status_code == 200, response.json
    reloj.a_las("2026-05-04 18:00")
    linea = client.get(f"/api/reportes/spools/{tag}").json
    assert [(t["estado"], t["horas"]) for t in linea["tramos"]] == [
        ("OCUPADO_ARM", 2.0),
        ("BLOQUEADO", 5.0),
        ("DISPONIBLE", 1.0),  # the hold released it; the supervisor lifted it to where it was
        ("OCUPADO_ARM", 1.0),
        ("ARM_COMPLETADO", 1.0),
    ]
    arm = operaciones(client, desde="2026-05-04", hasta="2026-05-04")["ARM"]
    assert (arm["completadas"], arm["horas_activas"]) == (1, 3.0)  # the hold ended the first interval
