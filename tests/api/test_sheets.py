"""The service on the Google Sheets store, over HTTP: quota budget, faults, feed, restart, CLI, config."""

from __future__ import annotations

import threading

import pytest

from app import create_app, demo
from app.config import ConfigError
from app.domain.model import EVENT_FIELDS, Estado
from tests.conftest import LiveServer, tag_en
from tests.sheets_emulator import SheetsEmulator
from tests.sheets_shop import make_sheets_app

ARMADOR, SOLDADOR, METROLOGO = 1, 5, 8
# No poll falls due by itself during a test: every read the stand-in counts is one the test caused.
QUIET_FEED = {"FEED_POLL_S": 3600, "FEED_BUSY_POLL_S": 3600, "FEED_IDLE_POLL_S": 3600}


@pytest.fixture
def emulator():
    """A stand-in of its own, so counts and faults belong to this test only."""
    emulator = SheetsEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def app(tmp_path, emulator):
    """The demo shop in a spreadsheet, the app warmed up by its first read."""
    app = make_sheets_app(tmp_path, demo.spools(), demo.WORKERS, emulator=emulator, **QUIET_FEED)
    app.test_client().get("/api/spools")
    emulator.reset_counts()
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def body(tag, worker, operacion, **extra):
    return {"tag_spool": tag, "worker_id": worker, "operacion": operacion, **extra}


def sheet_rows(app, emulator, tab):
    return emulator.rows(app.config["SPREADSHEET_ID"], tab)


def test_full_flow_costs_at_most_one_read_and_one_write_per_command(app, client, emulator):
    tag = tag_en(app, Estado.DISPONIBLE)
    emulator.reset_counts()
    pasos = [
        ("tomar", ARMADOR, "ARM", {}),
        ("completar", ARMADOR, "ARM", {}),
        ("tomar", SOLDADOR, "SOLD", {}),
        ("completar", SOLDADOR, "SOLD", {}),
        ("tomar", METROLOGO, "METROLOGIA", {}),
        ("completar", METROLOGO, "METROLOGIA", {"resultado": "RECHAZADO"}),
        ("tomar", SOLDADOR, "REPARACION", {}),
        ("completar", SOLDADOR, "REPARACION", {}),
        ("tomar", METROLOGO, "METROLOGIA", {}),
        ("completar", METROLOGO, "METROLOGIA", {"resultado": "APROBADO"}),
    ]
    for endpoint, worker, operacion, extra in pasos:
        emulator.reset_counts()
        response = client.post(f"/api/{endpoint}-accion", json=body(tag, worker, operacion, **extra))
        assert response.status_code == 200, response.json
        assert emulator.counts["read"] <= 1, (endpoint, operacion, emulator.log)
        assert emulator.counts["write"] == 1, (endpoint, operacion, emulator.log)
        # A tablet showing the card and its history spends no quota: both come from the snapshot.
        emulator.reset_counts()
        assert client.get(f"/api/spools/{tag}").json == response.json["spool"]
        assert client.get(f"/api/spools/{tag}/historial").json["events"][-1] == response.json["event"]
        assert emulator.log == []
    assert response.json["spool"]["estado"] == "APROBADO"

    # One poll of the feed is exactly one request, and it sees what the commands wrote.
    emulator.reset_counts()
    app.extensions["zeues"].poller.poll_once()
    assert emulator.log == [("read", "values.batchGet")]
    [spool] = [s for s in client.get("/api/spools").json["spools"] if s["tag_spool"] == tag]
    assert (spool["estado"], spool["reparacion_ciclo"], spool["metrologo"]) == ("APROBADO", 1, METROLOGO)
    eventos = [r for r in sheet_rows(app, emulator, "Metadata")[1:] if r[EVENT_FIELDS.index("tag_spool")] == tag]
    assert len(eventos) == len(pasos)


def test_a_429_storm_answers_503_with_retry_after_and_writes_nothing(app, client, emulator):
    tag = tag_en(app, Estado.DISPONIBLE)
    antes = sheet_rows(app, emulator, "Operaciones"), sheet_rows(app, emulator, "Metadata")
    emulator.reset_counts()
    emulator.fail(429, times=100, kind="write")
    response = client.post("/api/tomar-accion", json=body(tag, ARMADOR, "ARM"))
    assert response.status_code == 503
    assert response.json["code"] == "SOURCE_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) >= 1
    assert emulator.counts["write"] == app.config["SHEETS_ATTEMPTS"]  # bounded
    assert (sheet_rows(app, emulator, "Operaciones"), sheet_rows(app, emulator, "Metadata")) == antes

    # A full storm: reads fail too. The feed keeps its last snapshot and says it is stale.
    emulator.storm(429)
    poller = app.extensions["zeues"].poller
    poller.poll_once()
    assert client.get("/api/health").json["stale"] is True
    assert client.get("/api/changes").json["retry_after_ms"] > 0
    assert len(client.get("/api/spools").json["spools"]) == len(demo.spools())

    # The storm ends: the service recovers by itself, and the retried command runs.
    emulator.calm()
    poller.poll_once()
    assert client.get("/api/health").json["stale"] is False
    retry = client.post("/api/tomar-accion", json=body(tag, ARMADOR, "ARM"))
    assert retry.status_code == 200, retry.json
    assert retry.json["spool"]["ocupado_por"] == ARMADOR


def test_with_300_ms_per_call_every_request_is_answered_and_the_feed_stays_live(app, client, emulator):
    tag = tag_en(app, Estado.DISPONIBLE)
    cursor = client.get("/api/changes").json["cursor"]
    emulator.latency = 0.3
    recibido = {}

    def esperar():
        recibido.update(app.test_client().get(f"/api/changes?since={cursor}&timeout=20").json)

    waiter = threading.Thread(target=esperar)
    waiter.start()
    respuestas = [
        client.post("/api/tomar-accion", json=body(tag, ARMADOR, "ARM")),
        client.post("/api/completar-accion", json=body(tag, ARMADOR, "ARM")),
        client.get(f"/api/spools/{tag}"),
    ]
    waiter.join(timeout=20)
    assert [r.status_code for r in respuestas] == [200, 200, 200]
    assert recibido["changed"] is True
    assert [s["tag_spool"] for s in recibido["spools"]] == [tag]
    app.extensions["zeues"].poller.poll_once()
    assert client.get("/api/health").json["stale"] is False
    assert client.get("/api/spools?estado=ARM_COMPLETADO").json["spools"][0]["tag_spool"] == tag


def test_a_retried_key_after_a_restart_answers_the_first_answer_and_writes_nothing(app, client, emulator, tmp_path):
    tag = tag_en(app, Estado.DISPONIBLE)
    headers = {"Idempotency-Key": "tablet-7-tap-31"}
    first = client.post("/api/tomar-accion", json=body(tag, ARMADOR, "ARM"), headers=headers)
    assert first.status_code == 200

    reiniciada = create_app({**app.config, "TESTING": True})
    emulator.reset_counts()
    again = reiniciada.test_client().post("/api/tomar-accion", json=body(tag, ARMADOR, "ARM"), headers=headers)
    assert again.status_code == 200
    assert again.json == first.json
    assert emulator.counts["write"] == 0
    otro = reiniciada.test_client().post("/api/tomar-accion", json=body(tag, 2, "ARM"), headers=headers)
    assert otro.status_code == 422
    assert otro.json["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_sheets_check_and_init_on_a_sheet_with_missing_moved_and_duplicate_headers(tmp_path, emulator):
    emulator.create(
        "hoja-desordenada",
        {
            "Operaciones": [
                ["Cliente", "version", "TAG SPOOL", "Ocupado Por", "Armador", "Fecha Armado", "ARMADOR"],
                ["Astillero Sur", "", "MK-1335-CW-25238-011"],
            ],
            "Trabajadores": [["id", "nombre", "apellido", "roles", "activo"]],
        },
    )
    app = create_app(
        {"TESTING": True, "SPREADSHEET_ID": "hoja-desordenada", "SHEETS_EMULATOR_HOST": emulator.host, "DB": ":memory:"}
    )
    runner = app.test_cli_runner()

    check = runner.invoke(args=["sheets-check"])
    assert check.exit_code == 1
    assert "Operaciones: header armador is repeated (columns E, G)" in check.output
    assert "Operaciones: missing header soldador" in check.output
    assert "Metadata: missing tab" in check.output

    init = runner.invoke(args=["sheets-init"])
    assert "Metadata: tab created with its headers" in init.output
    assert init.exit_code == 1  # the duplicate is still there: only the office knows which one is right
    header = emulator.rows("hoja-desordenada", "Operaciones")[0]
    assert header[:7] == ["Cliente", "version", "TAG SPOOL", "Ocupado Por", "Armador", "Fecha Armado", "ARMADOR"]
    assert "soldador" in header[7:] and "reparacion_ciclo" in header[7:]

    emulator.rename_header("hoja-desordenada", "Operaciones", "ARMADOR", "Armador (oficina)")
    final = runner.invoke(args=["sheets-check"])
    assert final.exit_code == 0, final.output
    assert "every tab and header" in final.output


def test_sheets_commands_refuse_to_run_on_sqlite(tmp_path):
    result = (
        create_app({"TESTING": True, "DB": str(tmp_path / "z.sqlite3")}).test_cli_runner().invoke(args=["sheets-check"])
    )
    assert result.exit_code != 0
    assert "ZEUES_SPREADSHEET_ID is not set" in result.output


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"SPREADSHEET_ID": "1AbC-dEf_2"}, "GOOGLE_APPLICATION_CREDENTIALS is not"),
        ({"SPREADSHEET_ID": "1AbC", "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"}, "not a readable file"),
        ({"SPREADSHEET_ID": "https://docs.google.com/x", "SHEETS_EMULATOR_HOST": "h:1"}, "not a spreadsheet id"),
        ({"SPREADSHEET_ID": "1AbC", "SHEETS_EMULATOR_HOST": "h:1", "SHEETS_TIMEOUT": 0}, "ZEUES_SHEETS_TIMEOUT"),
    ],
)
def test_a_misconfigured_spreadsheet_stops_the_start_with_one_line(tmp_path, config, message, capsys):
    with pytest.raises(ConfigError) as caught:
        create_app({"TESTING": True, "DB": str(tmp_path / "z.sqlite3"), **config})
    assert message in caught.value.message


@pytest.mark.server
def test_gunicorn_stops_at_start_on_a_sheet_missing_headers(tmp_path, emulator):
    emulator.create("sin-encabezados", {"Operaciones": [["TAG_SPOOL", "Cliente"]], "Trabajadores": [["id"]]})
    server = LiveServer(
        tmp_path, env={"ZEUES_SPREADSHEET_ID": "sin-encabezados", "SHEETS_EMULATOR_HOST": emulator.host}
    )
    with pytest.raises(RuntimeError, match="gunicorn exited"):
        server.start()
    log = server.log.read_text()
    [linea] = [line for line in log.splitlines() if "configuration error" in line]
    assert "Operaciones: missing header ocupado_por" in linea
    assert "Metadata: missing tab" in linea
    assert "Traceback" not in log
