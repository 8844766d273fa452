"""The whole life of a spool over HTTP, on every store: one event per command, in the log."""

from __future__ import annotations

import pytest

from app.domain.model import Estado
from tests.conftest import tag_en, via

ARMADOR, SOLDADOR, METROLOGO, SUPERVISOR = 1, 5, 8, 11


@pytest.fixture
def client(shop_app):
    return shop_app.test_client()


def post(client, endpoint, tag, worker, operacion, **extra):
    response = client.post(
        f"/api/{endpoint}-accion", json={"tag_spool": tag, "worker_id": worker, "operacion": operacion, **extra}
    )
    assert response.status_code == 200, response.json
    return response.json


def test_full_flow_with_a_rejection_and_a_repair(client, shop_app):
    tag = tag_en(shop_app, Estado.DISPONIBLE)
    pasos = [
        ("tomar", ARMADOR, "ARM", {}, "OCUPADO_ARM", "TOMAR_ARM"),
        ("pausar", ARMADOR, "ARM", {}, "DISPONIBLE", "PAUSAR_ARM"),
        ("tomar", ARMADOR, "ARM", {}, "OCUPADO_ARM", "TOMAR_ARM"),
        ("completar", ARMADOR, "ARM", {}, "ARM_COMPLETADO", "COMPLETAR_ARM"),
        ("tomar", SOLDADOR, "SOLD", {}, "OCUPADO_SOLD", "TOMAR_SOLD"),
        ("completar", SOLDADOR, "SOLD", {}, "SOLD_COMPLETADO", "COMPLETAR_SOLD"),
        ("tomar", METROLOGO, "METROLOGIA", {}, "OCUPADO_METROLOGIA", "TOMAR_METROLOGIA"),
        (
            "completar",
            METROLOGO,
            "METROLOGIA",
            {"resultado": "RECHAZADO"},
            "RECHAZADO",
            "COMPLETAR_METROLOGIA_RECHAZADO",
        ),
        ("tomar", SOLDADOR, "REPARACION", {}, "EN_REPARACION", "INICIAR_REPARACION"),
        ("completar", SOLDADOR, "REPARACION", {}, "SOLD_COMPLETADO", "COMPLETAR_REPARACION"),
        ("tomar", METROLOGO, "METROLOGIA", {}, "OCUPADO_METROLOGIA", "TOMAR_METROLOGIA"),
        ("completar", METROLOGO, "METROLOGIA", {"resultado": "APROBADO"}, "APROBADO", "COMPLETAR_METROLOGIA_APROBADO"),
    ]
    eventos = []
    for endpoint, worker, operacion, extra, estado, tipo in pasos:
        answer = post(client, endpoint, tag, worker, operacion, **extra)
        assert answer["spool"]["estado"] == estado
        assert answer["event"]["evento_tipo"] == tipo
        assert answer["event"]["worker_id"] == worker
        eventos.append(answer["event"])
        # What another client reads now is what the command answered.
        assert client.get(f"/api/spools/{tag}").json == answer["spool"]

    historial = client.get(f"/api/spools/{tag}/historial").json
    assert historial == {"tag_spool": tag, "events": eventos}
    final = client.get(f"/api/spools/{tag}").json
    assert final["estado"] == "APROBADO" and final["acciones"] == []
    assert final["reparacion_ciclo"] == 1
    assert (final["armador"], final["soldador"], final["metrologo"]) == (ARMADOR, SOLDADOR, METROLOGO)
    assert final["resultado_metrologia"] == "APROBADO" and final["ocupado_por"] is None


def test_tomar_answers_the_spool_and_the_event_in_spec_shape(client, shop_app):
    tag = tag_en(shop_app, Estado.DISPONIBLE)
    answer = post(client, "tomar", tag, ARMADOR, "ARM")
    spool, event = answer["spool"], answer["event"]
    assert spool["ocupado_por"] == ARMADOR and spool["ocupado_por_nombre"] == "Juan Pérez"
    assert spool["operacion_actual"] == "ARM"
    assert spool["acciones"] == [
        {"accion": "PAUSAR", "operacion": "ARM"},
        {"accion": "COMPLETAR", "operacion": "ARM"},
        {"accion": "BLOQUEAR", "operacion": None},
    ]
    assert (spool["estado_previo"], spool["bloqueo_motivo"], spool["bloqueo_desde"], spool["bloqueo_nota"]) == (
        None,
        None,
        None,
        None,
    )
    assert spool["timestamp_ocupacion"].endswith("Z")
    assert set(event) == {
        "id",
        "timestamp",
        "evento_tipo",
        "tag_spool",
        "worker_id",
        "worker_nombre",
        "operacion",
        "accion",
        "fecha_operacion",
        "metadata_json",
    }
    assert event["worker_nombre"] == "Juan Pérez"
    assert event["metadata_json"] == {"version": spool["version"], "via": via(shop_app)}
    assert event["timestamp"].endswith("Z") and len(event["fecha_operacion"]) == 10


def test_supervisor_releases_a_spool_left_occupied(client, shop_app):
    tag = tag_en(shop_app, Estado.OCUPADO_SOLD)
    holder = client.get(f"/api/spools/{tag}").json["ocupado_por"]
    answer = post(client, "pausar", tag, SUPERVISOR, "SOLD", motivo="Se fue a casa sin pausar")
    assert answer["spool"]["estado"] == "ARM_COMPLETADO"
    assert answer["event"]["worker_id"] == SUPERVISOR
    assert answer["event"]["metadata_json"] == {
        "motivo": "Se fue a casa sin pausar",
        "ocupado_por": holder,
        "supervisor": True,
        "version": answer["spool"]["version"],
        "via": via(shop_app),
    }


def test_filters_list_spools_by_estado_and_holder(client):
    body = client.get("/api/spools").json
    assert len(body["spools"]) == 63
    ocupados = client.get("/api/spools", query_string={"estado": "OCUPADO_ARM"}).json["spools"]
    assert len(ocupados) == 7 and {s["estado"] for s in ocupados} == {"OCUPADO_ARM"}
    mios = client.get("/api/spools", query_string={"ocupado_por": 1}).json["spools"]
    assert mios and {s["ocupado_por"] for s in mios} == {1}
    assert {s["tag_spool"] for s in mios} == {s["tag_spool"] for s in body["spools"] if s["ocupado_por"] == 1}


def test_workers_lists_active_and_inactive(client):
    workers = client.get("/api/workers").json["workers"]
    assert len(workers) == 13
    roberto = next(w for w in workers if w["id"] == 12)
    assert roberto == {
        "id": 12,
        "nombre": "Roberto",
        "apellido": "Morales",
        "roles": ["ARMADOR"],
        "activo": False,
        "tiene_pin": False,
    }


def test_health_names_the_store_and_the_cursor(client, shop_app):
    health = client.get("/api/health").json
    assert health["status"] == "ok"
    assert health["store"] == shop_app.extensions["zeues"].store.name
    assert health["cursor"] == client.get("/api/spools").json["cursor"]


def test_text_round_trips_literally_over_http(make_shop):
    from app.domain.model import Rol, Spool, Worker

    tag = '=IMPORTXML("http://x")'
    app = make_shop([Spool(tag, version="v1")], [Worker(1, "Ñandú – 日本", "=1+1", (Rol.ARMADOR,), True)])
    client = app.test_client()
    answer = client.post(
        "/api/tomar-accion",
        json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"},
        headers={"Idempotency-Key": "=SUM(A1:A9) ñ"},
    )
    assert answer.status_code == 200
    assert answer.json["spool"]["ocupado_por_nombre"] == "Ñandú – 日本 =1+1"
    [event] = client.get(f"/api/spools/{tag}/historial").json["events"]
    assert event["tag_spool"] == tag and event["worker_nombre"] == "Ñandú – 日本 =1+1"
    assert event == answer.json["event"]  # the answered event is exactly the logged one
    assert event["metadata_json"]["idempotency_key"] == "=SUM(A1:A9) ñ"


def test_a_tag_typed_in_lower_case_or_with_spaces_finds_the_spool(client, shop_app):
    tag = tag_en(shop_app, Estado.DISPONIBLE)
    typed = f"  {tag.lower()} "
    assert client.get(f"/api/spools/{typed}").json["tag_spool"] == tag
    answer = post(client, "tomar", typed, ARMADOR, "ARM")
    assert answer["spool"]["tag_spool"] == answer["event"]["tag_spool"] == tag
    historial = client.get(f"/api/spools/{tag.lower()}/historial").json
    assert historial == {"tag_spool": tag, "events": [answer["event"]]}
