"""Holds, releases with a reason and alerts over HTTP, on every store (SPEC §13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.model import Estado
from tests.api.test_errors import problem
from tests.conftest import tag_en, via

ARMADOR, SOLDADOR, METROLOGO, SUPERVISOR = 1, 5, 8, 11
DEFAULTS = ["MATERIAL", "PLANO", "CALIDAD", "EQUIPO", "OTRO"]


@pytest.fixture
def client(shop_app):
    return shop_app.test_client()


def command(client, accion, tag, worker, headers=None, **body):
    """POST one command; the answer as it came."""
    return client.post(f"/api/{accion}-accion", json={"tag_spool": tag, "worker_id": worker, **body}, headers=headers)


def ok(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def historial(client, tag):
    return client.get(f"/api/spools/{tag}/historial").json["events"]


def test_motivos_lists_the_default_reasons(client):
    motivos = client.get("/api/motivos").json["motivos"]
    assert [m["codigo"] for m in motivos] == DEFAULTS
    assert all(set(m) == {"codigo", "descripcion"} and m["descripcion"] for m in motivos)


# Each progress state a hold may be put on, and the state the spool returns to once it is lifted.
RETURNS_TO = {
    Estado.DISPONIBLE: "DISPONIBLE",
    Estado.OCUPADO_ARM: "DISPONIBLE",
    Estado.ARM_COMPLETADO: "ARM_COMPLETADO",
    Estado.OCUPADO_SOLD: "ARM_COMPLETADO",
    Estado.SOLD_COMPLETADO: "SOLD_COMPLETADO",
    Estado.OCUPADO_METROLOGIA: "SOLD_COMPLETADO",
    Estado.RECHAZADO: "RECHAZADO",
    Estado.EN_REPARACION: "RECHAZADO",
}


def test_a_supervisor_holds_and_releases_a_spool_in_every_state_but_aprobado(client, shop_app, subtests):
    for estado, previo in RETURNS_TO.items():
        with subtests.test(estado=estado):
            tag = tag_en(shop_app, estado)
            antes = client.get(f"/api/spools/{tag}").json
            held = ok(command(client, "bloquear", tag, SUPERVISOR, motivo="PLANO", nota="Revisión C"))
            spool, event = held["spool"], held["event"]
            assert (spool["estado"], spool["estado_previo"], spool["ocupado_por"]) == ("BLOQUEADO", previo, None)
            assert (spool["bloqueo_motivo"], spool["bloqueo_nota"]) == ("PLANO", "Revisión C")
            assert spool["bloqueo_desde"].endswith("Z") and spool["operacion_actual"] is None
            assert spool["acciones"] == [{"accion": "DESBLOQUEAR", "operacion": None}]
            # The progress facts are kept.
            kept = ("armador", "fecha_armado", "soldador", "fecha_soldadura", "resultado_metrologia")
            assert {k: spool[k] for k in kept} == {k: antes[k] for k in kept}
            assert (event["evento_tipo"], event["accion"], event["worker_id"]) == ("BLOQUEAR", "BLOQUEAR", SUPERVISOR)
            assert event["operacion"] == (antes["operacion_actual"] or "")
            holder = {"ocupado_por": antes["ocupado_por"], "supervisor": True} if antes["ocupado_por"] else {}
            assert event["metadata_json"] == {
                "motivo": "PLANO",
                "nota": "Revisión C",
                **holder,
                "version": spool["version"],
                "via": via(shop_app),
            }

            freed = ok(command(client, "desbloquear", tag, SUPERVISOR, nota="Plano aprobado"))
            assert freed["spool"]["estado"] == previo and freed["spool"]["estado_previo"] is None
            assert freed["spool"]["bloqueo_motivo"] is freed["spool"]["bloqueo_desde"] is None
            assert freed["event"]["metadata_json"] == {
                "motivo": "PLANO",
                "bloqueo_desde": spool["bloqueo_desde"],
                "nota": "Plano aprobado",
                "version": freed["spool"]["version"],
                "via": via(shop_app),
            }
            assert (freed["event"]["evento_tipo"], freed["event"]["operacion"]) == ("DESBLOQUEAR", "")
            assert historial(client, tag)[-2:] == [event, freed["event"]]
            assert client.get(f"/api/spools/{tag}").json == freed["spool"]


def test_the_holder_holds_the_spool_in_hand_and_it_is_released(client, shop_app):
    tag = tag_en(shop_app, Estado.DISPONIBLE)
    ok(command(client, "tomar", tag, ARMADOR, operacion="ARM"))
    held = ok(command(client, "bloquear", tag, ARMADOR, motivo="MATERIAL"))
    assert (held["spool"]["estado"], held["spool"]["ocupado_por"], held["spool"]["timestamp_ocupacion"]) == (
        "BLOQUEADO",
        None,
        None,
    )
    assert (held["event"]["operacion"], held["event"]["worker_id"]) == ("ARM", ARMADOR)
    assert held["event"]["metadata_json"] == {
        "motivo": "MATERIAL",
        "version": held["spool"]["version"],
        "via": via(shop_app),
    }
    mine = client.get("/api/spools", query_string={"ocupado_por": ARMADOR}).json["spools"]
    assert tag not in {s["tag_spool"] for s in mine}


def held_spool(client, shop_app) -> str:
    """A spool the supervisor has just put on hold (MATERIAL) over DISPONIBLE."""
    tag = tag_en(shop_app, Estado.DISPONIBLE)
    ok(command(client, "bloquear", tag, SUPERVISOR, motivo="MATERIAL", nota="Falta brida"))
    return tag


@pytest.mark.parametrize(
    ("accion", "worker", "body"),
    [
        ("tomar", ARMADOR, {"operacion": "ARM"}),
        ("pausar", ARMADOR, {"operacion": "ARM"}),
        ("completar", SUPERVISOR, {"operacion": "ARM", "motivo": "x"}),
        ("bloquear", SUPERVISOR, {"motivo": "CALIDAD"}),
    ],
)
def test_every_other_command_on_a_held_spool_is_spool_blocked_naming_the_reason(client, shop_app, accion, worker, body):
    tag = held_spool(client, shop_app)
    before = client.get(f"/api/spools/{tag}").json
    refused = problem(command(client, accion, tag, worker, **body), 409, "SPOOL_BLOCKED")
    assert "Falta material" in refused["detail"] and "MATERIAL" in refused["detail"]
    assert refused["motivo"] == "MATERIAL" and refused["spool"] == before
    assert client.get(f"/api/spools/{tag}").json == before and len(historial(client, tag)) == 1


# Refusals of SPEC §13, each in its place of the §5 guard order: (setup, accion, worker, body, status, code).
REFUSALS = [
    ("APROBADO", "bloquear", SUPERVISOR, {"motivo": "CALIDAD"}, 409, "INVALID_TRANSITION"),
    ("DISPONIBLE", "desbloquear", SUPERVISOR, {}, 409, "INVALID_TRANSITION"),
    ("held", "desbloquear", ARMADOR, {}, 403, "ROLE_NOT_AUTHORIZED"),
    ("held", "desbloquear", 12, {}, 403, "WORKER_INACTIVE"),
    ("held", "desbloquear", SUPERVISOR, {"version": "stale"}, 409, "VERSION_CONFLICT"),
    ("DISPONIBLE", "bloquear", ARMADOR, {"motivo": "CALIDAD"}, 403, "NOT_HOLDER"),
    ("OCUPADO_SOLD", "bloquear", ARMADOR, {"motivo": "CALIDAD"}, 403, "NOT_HOLDER"),
    ("OCUPADO_SOLD", "bloquear", SUPERVISOR, {"motivo": "LLUVIA"}, 422, "VALIDATION_ERROR"),
    ("OCUPADO_SOLD", "bloquear", SUPERVISOR, {"motivo": "OTRO"}, 422, "VALIDATION_ERROR"),
    ("MISSING", "bloquear", SUPERVISOR, {"motivo": "LLUVIA"}, 422, "VALIDATION_ERROR"),  # the body first
    ("MISSING", "bloquear", SUPERVISOR, {"motivo": "PLANO"}, 404, "NOT_FOUND"),
    ("OCUPADO_SOLD", "bloquear", SUPERVISOR, {}, 422, "VALIDATION_ERROR"),
    ("OCUPADO_SOLD", "bloquear", SUPERVISOR, {"motivo": "PLANO", "operacion": "SOLD"}, 422, "VALIDATION_ERROR"),
    ("OCUPADO_SOLD", "bloquear", SUPERVISOR, {"motivo": "OTRO", "nota": "x" * 201}, 422, "VALIDATION_ERROR"),
    ("OCUPADO_SOLD", "pausar", SUPERVISOR, {"operacion": "SOLD"}, 422, "VALIDATION_ERROR"),
    ("OCUPADO_SOLD", "completar", SUPERVISOR, {"operacion": "SOLD"}, 422, "VALIDATION_ERROR"),
    ("OCUPADO_SOLD", "pausar", SUPERVISOR, {"operacion": "SOLD", "motivo": ""}, 422, "VALIDATION_ERROR"),
    ("OCUPADO_SOLD", "pausar", SUPERVISOR, {"operacion": "SOLD", "motivo": "   "}, 422, "VALIDATION_ERROR"),
    ("OCUPADO_SOLD", "pausar", SUPERVISOR, {"operacion": "SOLD", "motivo": "x" * 201}, 422, "VALIDATION_ERROR"),
    ("OCUPADO_SOLD", "tomar", SOLDADOR, {"operacion": "SOLD", "motivo": "x"}, 422, "VALIDATION_ERROR"),
    ("OCUPADO_SOLD", "pausar", ARMADOR, {"operacion": "SOLD", "motivo": "x"}, 403, "NOT_HOLDER"),
]


@pytest.mark.parametrize(("setup", "accion", "worker", "body", "status", "code"), REFUSALS)
def test_every_refusal_answers_its_code_and_writes_nothing(client, shop_app, setup, accion, worker, body, status, code):
    if setup == "held":
        tag = held_spool(client, shop_app)
    elif setup == "MISSING":
        tag = "MK-0000-XX-00000-000"
    else:
        tag = tag_en(shop_app, Estado(setup))
    before = client.get("/api/spools").json
    body = problem(command(client, accion, tag, worker, **body), status, code)
    if status == 422 and accion in ("bloquear", "pausar", "completar") and "errors" in body:
        assert body["errors"]  # which field to fix
    assert client.get("/api/spools").json == before


def test_a_supervisor_release_logs_the_reason_and_the_holder_may_give_one(client, shop_app):
    ajeno, propio = tag_en(shop_app, Estado.OCUPADO_SOLD, 0), tag_en(shop_app, Estado.OCUPADO_ARM, 0)
    holder = client.get(f"/api/spools/{ajeno}").json["ocupado_por"]
    released = ok(command(client, "completar", ajeno, SUPERVISOR, operacion="SOLD", motivo="Terminó y no marcó"))
    assert released["event"]["metadata_json"] == {
        "motivo": "Terminó y no marcó",
        "ocupado_por": holder,
        "supervisor": True,
        "version": released["spool"]["version"],
        "via": via(shop_app),
    }
    assert released["spool"]["soldador"] == holder  # the work is still the welder's
    mine = client.get(f"/api/spools/{propio}").json["ocupado_por"]
    paused = ok(command(client, "pausar", propio, mine, operacion="ARM", motivo="Almuerzo"))
    assert paused["event"]["metadata_json"] == {
        "motivo": "Almuerzo",
        "version": paused["spool"]["version"],
        "via": via(shop_app),
    }


def test_a_retried_hold_is_answered_again_and_applied_once(client, shop_app):
    tag = tag_en(shop_app, Estado.OCUPADO_SOLD)
    headers = {"Idempotency-Key": "hold-1"}
    first = ok(command(client, "bloquear", tag, SUPERVISOR, headers=headers, motivo="EQUIPO"))
    again = ok(command(client, "bloquear", tag, SUPERVISOR, headers=headers, motivo="EQUIPO"))
    assert again == first and [e["evento_tipo"] for e in historial(client, tag)] == ["BLOQUEAR"]
    other = command(client, "bloquear", tag, SUPERVISOR, headers=headers, motivo="PLANO")
    problem(other, 422, "IDEMPOTENCY_KEY_REUSED")


def test_a_note_is_kept_as_literal_text(client, shop_app):
    tag = tag_en(shop_app, Estado.OCUPADO_SOLD)
    nota = '=IMPORTXML("http://x") – Ñandú 日本'
    held = ok(command(client, "bloquear", tag, SUPERVISOR, motivo="OTRO", nota=nota))
    assert client.get(f"/api/spools/{tag}").json["bloqueo_nota"] == nota
    assert historial(client, tag)[-1] == held["event"] and held["event"]["metadata_json"]["nota"] == nota


# --- alerts -----------------------------------------------------------------------------------------


def hours_ago(text: str, now: datetime) -> float:
    return (now - datetime.fromisoformat(text)).total_seconds() / 3600


def test_alerts_name_spools_held_or_on_hold_past_their_threshold(make_shop):
    app = make_shop(ALERT_OCCUPIED_H=1.5, ALERT_BLOCKED_H=24)
    client = app.test_client()
    now = datetime.now(UTC)
    app.extensions["zeues"].service.reloj = lambda: now
    spools = client.get("/api/spools").json["spools"]
    body = client.get("/api/alertas").json
    assert body["umbrales_h"] == {"ocupacion_larga": 1.5, "bloqueo_largo": 24.0}
    expected = {
        ("OCUPACION_LARGA", s["tag_spool"], s["ocupado_por"], s["timestamp_ocupacion"])
        for s in spools
        if s["ocupado_por"] and hours_ago(s["timestamp_ocupacion"], now) > 1.5
    } | {
        ("BLOQUEO_LARGO", s["tag_spool"], None, s["bloqueo_desde"])
        for s in spools
        if s["estado"] == "BLOQUEADO" and hours_ago(s["bloqueo_desde"], now) > 24
    }
    assert {(a["tipo"], a["tag_spool"], a["worker_id"], a["desde"]) for a in body["alertas"]} == expected
    assert {a["tipo"] for a in body["alertas"]} == {"OCUPACION_LARGA", "BLOQUEO_LARGO"}
    horas = [a["horas"] for a in body["alertas"]]
    assert horas == sorted(horas, reverse=True)
    assert all(abs(a["horas"] - hours_ago(a["desde"], now)) < 0.01 for a in body["alertas"])


def test_a_spool_taken_now_becomes_an_alert_once_its_threshold_passes(make_shop):
    app = make_shop(ALERT_OCCUPIED_H=0.5, ALERT_BLOCKED_H=2)
    client, service = app.test_client(), app.extensions["zeues"].service
    start = datetime.now(UTC).replace(microsecond=0)
    service.reloj = lambda: start
    taken = tag_en(app, Estado.DISPONIBLE, 0)
    held = tag_en(app, Estado.ARM_COMPLETADO, 0)
    ok(command(client, "tomar", taken, ARMADOR, operacion="ARM"))
    ok(command(client, "bloquear", held, SUPERVISOR, motivo="EQUIPO"))

    def alerted():
        return {(a["tipo"], a["tag_spool"]) for a in client.get("/api/alertas").json["alertas"]}

    assert not alerted() & {("OCUPACION_LARGA", taken), ("BLOQUEO_LARGO", held)}
    service.reloj = lambda: start + timedelta(minutes=31)
    assert ("OCUPACION_LARGA", taken) in alerted() and ("BLOQUEO_LARGO", held) not in alerted()
    service.reloj = lambda: start + timedelta(hours=2, minutes=1)
    assert {("OCUPACION_LARGA", taken), ("BLOQUEO_LARGO", held)} <= alerted()
    ok(command(client, "desbloquear", held, SUPERVISOR))
    assert ("BLOQUEO_LARGO", held) not in alerted()
