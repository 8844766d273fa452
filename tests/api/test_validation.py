"""Bad input answers a clear problem+json and changes nothing (SPEC §5 Input)."""

from __future__ import annotations

import pytest

from app.domain.model import Estado
from tests.api.test_errors import events_count, problem
from tests.conftest import tag_en


@pytest.fixture
def libre(app):
    return tag_en(app, Estado.DISPONIBLE)


def test_malformed_json_is_400(client, libre):
    response = client.post("/api/tomar-accion", data='{"tag_spool": ', content_type="application/json")
    problem(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_400(client, libre, content_type):
    response = client.post("/api/tomar-accion", data=f"tag_spool={libre}&worker_id=1", content_type=content_type)
    problem(response, 400, "VALIDATION_ERROR")


def body(tag, **cambios):
    base = {"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}
    base.update(cambios)
    return {k: v for k, v in base.items() if v is not ...}


@pytest.mark.parametrize(
    ("cambios", "campo"),
    [
        ({"worker_id": "1"}, "worker_id"),
        ({"worker_id": True}, "worker_id"),
        ({"worker_id": 1.5}, "worker_id"),
        ({"worker_id": None}, "worker_id"),
        ({"worker_id": ...}, "worker_id"),
        ({"tag_spool": ""}, "tag_spool"),
        ({"tag_spool": "x" * 65}, "tag_spool"),
        ({"tag_spool": "MK\n1"}, "tag_spool"),
        ({"tag_spool": 5}, "tag_spool"),
        ({"tag_spool": ...}, "tag_spool"),
        ({"operacion": "PINTURA"}, "operacion"),
        ({"operacion": "arm"}, "operacion"),
        ({"operacion": ...}, "operacion"),
        ({"extra": 1}, "extra"),
        ({"resultado": "APROBADO"}, "resultado"),
        ({"version": 7}, "version"),
    ],
)
def test_schema_violations_are_422_naming_the_field(client, libre, cambios, campo):
    payload = body(libre, **cambios)
    found = problem(client.post("/api/tomar-accion", json=payload), 422, "VALIDATION_ERROR")
    assert campo in found["detail"]
    assert events_count(client, libre) == 0


@pytest.mark.parametrize("payload", ["[1, 2]", '"texto"', "42", "null"])
def test_json_that_is_not_an_object_is_422(client, payload):
    response = client.post("/api/tomar-accion", data=payload, content_type="application/json")
    problem(response, 422, "VALIDATION_ERROR")


def test_completar_metrologia_requires_resultado(client, app):
    tag = tag_en(app, Estado.OCUPADO_METROLOGIA)
    holder = client.get(f"/api/spools/{tag}").json["ocupado_por"]
    payload = {"tag_spool": tag, "worker_id": holder, "operacion": "METROLOGIA"}
    assert "resultado" in problem(client.post("/api/completar-accion", json=payload), 422, "VALIDATION_ERROR")["detail"]
    problem(client.post("/api/completar-accion", json={**payload, "resultado": "QUIZAS"}), 422, "VALIDATION_ERROR")
    assert client.post("/api/completar-accion", json={**payload, "resultado": "RECHAZADO"}).status_code == 200


def test_resultado_with_another_operation_is_422(client, app):
    tag = tag_en(app, Estado.OCUPADO_ARM)
    holder = client.get(f"/api/spools/{tag}").json["ocupado_por"]
    payload = {"tag_spool": tag, "worker_id": holder, "operacion": "ARM", "resultado": "APROBADO"}
    problem(client.post("/api/completar-accion", json=payload), 422, "VALIDATION_ERROR")
    assert events_count(client, tag) == 0


@pytest.mark.parametrize("key", ["", "x" * 129, "tab\there", "ñ\x00"])
def test_bad_idempotency_key_is_400(client, libre, key):
    response = client.post("/api/tomar-accion", json=body(libre), headers={"Idempotency-Key": key})
    problem(response, 400, "VALIDATION_ERROR")
    assert events_count(client, libre) == 0


def test_bad_query_filter_is_422(client):
    problem(client.get("/api/spools", query_string={"estado": "NADA"}), 422, "VALIDATION_ERROR")
    problem(client.get("/api/spools", query_string={"ocupado_por": "x"}), 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "path", ["/api/spools?limit=5", "/api/health?x=1", "/api/workers?activo=true", "/api/spools/MK-1?formato=csv"]
)
def test_an_unknown_query_parameter_is_refused_not_ignored(client, path):
    body = problem(client.get(path), 422, "VALIDATION_ERROR")
    assert path.split("?")[1].split("=")[0] in body["detail"]


def test_estado_may_repeat_and_means_any_of_them(client):
    listed = client.get("/api/spools?estado=DISPONIBLE&estado=APROBADO").json["spools"]
    assert {s["estado"] for s in listed} == {"DISPONIBLE", "APROBADO"}
    every = client.get("/api/spools").json["spools"]
    assert len(listed) == sum(s["estado"] in ("DISPONIBLE", "APROBADO") for s in every) == 13


@pytest.mark.parametrize("worker_id", [2**31, 2**70, -1])
def test_a_worker_id_no_store_could_hold_is_refused_at_the_door(client, worker_id):
    # Was a 500 (an integer too large for SQLite) when it reached the sign-in's attempt counter.
    for path, body in [
        ("/api/sesiones", {"worker_id": worker_id, "pin": "1234"}),
        ("/api/tomar-accion", {"tag_spool": "MK-1", "worker_id": worker_id, "operacion": "ARM"}),
    ]:
        assert problem(client.post(path, json=body), 422, "VALIDATION_ERROR")["errors"]["json"]["worker_id"]
