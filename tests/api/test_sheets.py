"""The service on the Google Sheets store, over HTTP: quota budget, faults, feed, restart, CLI, config."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from app import create_app, demo
from app.config import ConfigError
from app.domain.model import EVENT_FIELDS, Estado, Spool
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


# -- lost answers and the logged event (SPEC §7) ------------------------------------------------------


def logged_events(app, emulator) -> list[dict]:
    """Every Metadata row as the answer shows an event: worker_id an int, metadata_json an object."""
    return [
        {**r, "worker_id": int(r["worker_id"]), "metadata_json": json.loads(r["metadata_json"])}
        for r in emulator.records(app.config["SPREADSHEET_ID"], "Metadata")
    ]


def row_of(app, emulator, tag) -> dict[str, str]:
    """The spool's Operaciones row as the office sees it, wherever it is."""
    [row] = [r for r in emulator.records(app.config["SPREADSHEET_ID"], "Operaciones") if r["TAG SPOOL"] == tag]
    return row


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_a_write_whose_connection_drops_after_it_left_is_found_applied_and_never_sent_twice(
    app, client, emulator, reset
):
    tag = tag_en(app, Estado.DISPONIBLE)
    emulator.reset_counts()
    # Google applies the batchUpdate, then the connection closes (or is reset) before any answer.
    emulator.hang_up_after_write(reset=reset)
    response = client.post(
        "/api/tomar-accion", json=body(tag, ARMADOR, "ARM"), headers={"Idempotency-Key": "tablet-2-tap-5"}
    )
    assert response.status_code == 200, response.json
    assert [e["id"] for e in logged_events(app, emulator)] == [response.json["event"]["id"]]
    assert emulator.log.count(("write", "spreadsheets.batchUpdate")) == 1  # looked for, found, not re-sent
    fila = row_of(app, emulator, tag)
    assert (fila["ocupado_por"], fila["version"]) == (str(ARMADOR), response.json["spool"]["version"])


def test_the_logged_event_is_exactly_the_answered_event(app, client, emulator):
    tag = tag_en(app, Estado.DISPONIBLE)
    response = client.post(
        "/api/tomar-accion", json=body(tag, ARMADOR, "ARM"), headers={"Idempotency-Key": "tablet-3-tap-9"}
    )
    assert response.status_code == 200, response.json
    [logged] = logged_events(app, emulator)
    assert logged == response.json["event"]
    assert logged["metadata_json"]["idempotency_key"] == "tablet-3-tap-9"
    assert len(logged["metadata_json"]["request_hash"]) == 64
    assert logged["metadata_json"]["version"] == response.json["spool"]["version"]


# -- rows checked against the log, and repaired (SPEC §7) ---------------------------------------------


OFFICE = ("Cliente", "Notas de oficina", "Prioridad")  # the office's own columns in the test shop


def reverse_sort(app, reverse=True):
    """An office edit: sort Operaciones by tag, descending (every row of the demo shop, in ascending
    order, moves but the middle one), or back in ascending order."""
    return lambda e: e.sort(app.config["SPREADSHEET_ID"], "Operaciones", "TAG SPOOL", reverse=reverse)


def victim_of_reverse_sort(app, emulator, tag) -> str:
    """The spool whose row sits where ``tag``'s row was once Operaciones is sorted in reverse."""
    tags = [r["TAG SPOOL"] for r in emulator.records(app.config["SPREADSHEET_ID"], "Operaciones")]
    return tags[::-1][tags.index(tag)]


def by_tag(app, emulator) -> dict[str, dict[str, str]]:
    """Every Operaciones row as the office sees it, keyed by tag (whatever its position)."""
    return {r["TAG SPOOL"]: r for r in emulator.records(app.config["SPREADSHEET_ID"], "Operaciones")}


def inconsistencias(client) -> dict:
    return client.get("/api/health").json["inconsistencias"]


def sort_lands_a_write_on_another_spools_row(app, client, emulator):
    """TOMAR ARM on a free spool while the office sorts the sheet between the command's fresh read and
    its write: the write lands on the row that moved into place. Returns (tag, victim, answer, rows before)."""
    tag = tag_en(app, Estado.DISPONIBLE)
    victima = victim_of_reverse_sort(app, emulator, tag)
    assert victima != tag
    antes = by_tag(app, emulator)
    emulator.on_next("write", reverse_sort(app))
    answer = client.post("/api/tomar-accion", json=body(tag, ARMADOR, "ARM"))
    assert answer.status_code == 200, answer.json
    # The write landed on the victim's row: the Sheets API has no conditional write.
    assert by_tag(app, emulator)[victima]["version"] == answer.json["spool"]["version"]
    assert by_tag(app, emulator)[tag]["version"] == antes[tag]["version"]
    return tag, victima, answer.json, antes


def assert_rows_right(app, emulator, antes, tag, answer):
    """The spool's row carries what its command answered; every other row is as it was."""
    despues = by_tag(app, emulator)
    fila = despues[tag]
    assert (fila["ocupado_por"], fila["timestamp_ocupacion"], fila["version"]) == (
        str(answer["spool"]["ocupado_por"]),
        answer["spool"]["timestamp_ocupacion"],
        answer["spool"]["version"],
    )
    assert {t: r for t, r in despues.items() if t != tag} == {t: r for t, r in antes.items() if t != tag}
    assert [e["id"] for e in logged_events(app, emulator)] == [answer["event"]["id"]]


def test_a_write_that_landed_on_a_moved_row_is_repaired_from_the_log_within_two_polls(app, client, emulator, caplog):
    poller = app.extensions["zeues"].poller
    tag, victima, answer, antes = sort_lands_a_write_on_another_spools_row(app, client, emulator)

    # Until the repair, a command on either spool would act on a row the log says is not its own:
    # refused, nothing written.
    emulator.reset_counts()
    for otro in (
        client.post("/api/pausar-accion", json=body(tag, ARMADOR, "ARM")),
        client.post("/api/tomar-accion", json=body(victima, ARMADOR, "ARM")),
    ):
        assert otro.status_code == 503, otro.json
        assert otro.json["code"] == "SOURCE_UNAVAILABLE"
        assert int(otro.headers["Retry-After"]) >= 1
    assert emulator.counts["write"] == 0

    with caplog.at_level(logging.WARNING, logger="app.stores.sheets.store"):
        poller.poll_once()  # finds both rows, says so once, repairs them
        assert inconsistencias(client) == {"count": 2, "tags": sorted([tag, victima])}
        assert emulator.counts["write"] == 1
        poller.poll_once()  # finds them right, and has nothing more to write
    assert inconsistencias(client) == {"count": 0, "tags": []}
    assert emulator.counts["write"] == 1
    [linea] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert tag in linea and victima in linea and "repairing" in linea

    assert_rows_right(app, emulator, antes, tag, answer)
    # The feed showed the log's truth throughout, and both spools take commands again.
    assert client.get(f"/api/spools/{victima}").json["version"] == antes[victima]["version"]
    assert client.post("/api/pausar-accion", json=body(tag, ARMADOR, "ARM")).status_code == 200


def test_a_repair_confirms_the_rows_right_before_writing_and_waits_when_they_moved_again(app, client, emulator):
    poller = app.extensions["zeues"].poller
    tag, _, answer, antes = sort_lands_a_write_on_another_spools_row(app, client, emulator)
    # The office sorts back just as the repair reads the rows it will write: it must not write them.
    emulator.on_next("read", lambda e: e.on_next("read", reverse_sort(app, reverse=False)))
    emulator.reset_counts()
    poller.poll_once()
    assert emulator.counts["write"] == 0
    assert inconsistencias(client)["count"] == 2
    for _ in range(2):
        poller.poll_once()
    assert inconsistencias(client) == {"count": 0, "tags": []}
    assert_rows_right(app, emulator, antes, tag, answer)


def test_a_repair_that_lands_on_moved_rows_is_repaired_in_turn(app, client, emulator):
    poller = app.extensions["zeues"].poller
    tag, _, answer, antes = sort_lands_a_write_on_another_spools_row(app, client, emulator)
    # The office sorts back between the repair's confirmation and its write: it lands on the wrong rows.
    emulator.on_next("write", reverse_sort(app, reverse=False))
    poller.poll_once()
    assert by_tag(app, emulator)[tag]["version"] != answer["spool"]["version"]
    for _ in range(2):
        poller.poll_once()
    assert inconsistencias(client) == {"count": 0, "tags": []}
    assert_rows_right(app, emulator, antes, tag, answer)


def test_a_row_whose_last_good_state_is_unknown_is_reported_and_never_guessed(app, client, emulator, caplog):
    tag, victima, answer, antes = sort_lands_a_write_on_another_spools_row(app, client, emulator)
    # A restart before any poll: the new process never saw the victim's row before the bad write.
    reiniciada = create_app({**app.config, "TESTING": True})
    with caplog.at_level(logging.WARNING, logger="app.stores.sheets.store"):
        for _ in range(2):
            reiniciada.extensions["zeues"].poller.poll_once()
    restarted = reiniciada.test_client()
    assert inconsistencias(restarted) == {"count": 1, "tags": [victima]}
    [linea] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert f"cannot repair {victima}" in linea
    # The spool the write was meant for gets the cells it carried (its last event's version); the
    # victim's row is left as it is, and refused until the office puts it right.
    despues = by_tag(app, emulator)
    assert despues[tag]["version"] == answer["spool"]["version"]
    assert despues[victima] == {**despues[tag], "TAG SPOOL": victima, **{k: antes[victima][k] for k in OFFICE}}
    refused = restarted.post("/api/tomar-accion", json=body(victima, ARMADOR, "ARM"))
    assert refused.status_code == 503
    assert [e["id"] for e in logged_events(app, emulator)] == [answer["event"]["id"]]


# -- group commit (SPEC §7) ----------------------------------------------------------------------------

GOOGLE_QUOTA = {"SHEETS_READS_PER_MINUTE": 60, "SHEETS_WRITES_PER_MINUTE": 60}


def test_50_concurrent_commands_on_50_spools_share_at_most_10_writes_at_googles_quota(tmp_path, emulator):
    spools = [Spool(f"MK-2001-GC-{n:05d}-001", version=f"inicial-{n}") for n in range(50)]
    app = make_sheets_app(tmp_path, spools, demo.WORKERS, emulator=emulator, **QUIET_FEED, **GOOGLE_QUOTA)
    app.test_client().get("/api/spools")
    emulator.set_quota(reads_per_minute=60, writes_per_minute=60)  # over it Google answers 429
    emulator.reset_counts()
    answers: dict[str, object] = {}
    start = threading.Barrier(len(spools))

    def tap(tag: str) -> None:
        start.wait()
        answers[tag] = app.test_client().post(
            "/api/tomar-accion", json=body(tag, ARMADOR, "ARM"), headers={"Idempotency-Key": f"tap-{tag}"}
        )

    taps = [threading.Thread(target=tap, args=(s.tag_spool,)) for s in spools]
    for thread in taps:
        thread.start()
    for thread in taps:
        thread.join(timeout=60)
    assert {tag: r.status_code for tag, r in answers.items()} == {s.tag_spool: 200 for s in spools}
    assert emulator.counts["write"] <= 10, emulator.log
    assert emulator.counts["quota_exceeded"] == 0
    # Every command got its own answer, its own event exactly once, and its own row.
    logged = {e["id"]: e for e in logged_events(app, emulator)}
    assert len(logged) == len(spools) == len(emulator.records(app.config["SPREADSHEET_ID"], "Metadata"))
    for tag, response in answers.items():
        assert response.json["spool"]["tag_spool"] == tag and response.json["spool"]["ocupado_por"] == ARMADOR
        assert logged[response.json["event"]["id"]] == response.json["event"]
        assert row_of(app, emulator, tag)["version"] == response.json["spool"]["version"]
