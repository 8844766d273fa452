"""Every SPEC §5 error code from a real request, as problem+json, in the guard order."""

from __future__ import annotations

import pytest

from app.domain.model import Estado
from tests.conftest import tag_en


def problem(response, status, code):
    """Assert ``response`` is the problem+json for ``status``/``code`` and return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert (body["status"], body["code"]) == (status, code)
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "<html" not in text.lower()
    return body


def tomar(client, tag, worker, operacion="ARM", **kw):
    headers = kw.pop("headers", {})
    return client.post(
        "/api/tomar-accion", json={"tag_spool": tag, "worker_id": worker, "operacion": operacion, **kw}, headers=headers
    )


@pytest.fixture
def libre(app):
    return tag_en(app, Estado.DISPONIBLE)


def events_count(client, tag):
    return len(client.get(f"/api/spools/{tag}/historial").json["events"])


def test_not_found_spool_and_worker(client, libre):
    assert "MK-0" in problem(tomar(client, "MK-0", 1), 404, "NOT_FOUND")["detail"]
    problem(tomar(client, libre, 999), 404, "NOT_FOUND")
    problem(client.get("/api/spools/MK-0"), 404, "NOT_FOUND")
    problem(client.get("/api/spools/MK-0/historial"), 404, "NOT_FOUND")
    problem(client.get("/no/such/path"), 404, "NOT_FOUND")


def test_worker_inactive(client, libre):
    problem(tomar(client, libre, 12), 403, "WORKER_INACTIVE")


def test_role_not_authorized(client, libre):
    problem(tomar(client, libre, 5), 403, "ROLE_NOT_AUTHORIZED")


def test_not_holder(client, app):
    tag = tag_en(app, Estado.OCUPADO_ARM)
    holder = client.get(f"/api/spools/{tag}").json["ocupado_por"]
    otro = next(w for w in (1, 2, 3) if w != holder)
    body = problem(
        client.post("/api/pausar-accion", json={"tag_spool": tag, "worker_id": otro, "operacion": "ARM"}),
        403,
        "NOT_HOLDER",
    )
    assert body["spool"]["ocupado_por"] == holder


def test_spool_occupied_names_the_holder_and_carries_the_spool(client, app):
    tag = tag_en(app, Estado.OCUPADO_ARM)
    holder = client.get(f"/api/spools/{tag}").json
    body = problem(tomar(client, tag, 4, "SOLD"), 409, "SPOOL_OCCUPIED")
    assert holder["ocupado_por_nombre"] in body["detail"]
    assert body["spool"] == holder


def test_invalid_transition(client, app, libre):
    problem(tomar(client, libre, 4, "SOLD"), 409, "INVALID_TRANSITION")
    problem(
        client.post("/api/pausar-accion", json={"tag_spool": libre, "worker_id": 1, "operacion": "ARM"}),
        409,
        "INVALID_TRANSITION",
    )
    aprobado = tag_en(app, Estado.APROBADO)
    problem(tomar(client, aprobado, 8, "METROLOGIA"), 409, "INVALID_TRANSITION")


def test_version_conflict_from_the_body_is_409_with_the_current_spool(client, libre):
    actual = client.get(f"/api/spools/{libre}").json
    body = problem(tomar(client, libre, 1, version="old"), 409, "VERSION_CONFLICT")
    assert body["spool"] == actual
    assert tomar(client, libre, 1, version=actual["version"]).status_code == 200


@pytest.mark.parametrize("header", ['"old"', "old", 'W/"old"'])
def test_version_conflict_from_if_match_is_412(client, libre, header):
    body = problem(tomar(client, libre, 1, headers={"If-Match": header}), 412, "VERSION_CONFLICT")
    assert body["spool"]["tag_spool"] == libre


@pytest.mark.parametrize("quote", ['"{}"', "{}", '"x", "{}"'])
def test_if_match_with_the_current_version_passes(client, libre, quote):
    version = client.get(f"/api/spools/{libre}").json["version"]
    assert tomar(client, libre, 1, headers={"If-Match": quote.format(version)}).status_code == 200


def test_if_match_star_matches_any_version(client, libre):
    assert tomar(client, libre, 1, headers={"If-Match": "*"}).status_code == 200


def test_idempotency_key_reused_with_another_body(client, app, libre):
    otro = tag_en(app, Estado.DISPONIBLE, 1)
    assert tomar(client, libre, 1, headers={"Idempotency-Key": "k"}).status_code == 200
    problem(tomar(client, otro, 1, headers={"Idempotency-Key": "k"}), 422, "IDEMPOTENCY_KEY_REUSED")
    problem(
        client.post(
            "/api/pausar-accion",
            json={"tag_spool": libre, "worker_id": 1, "operacion": "ARM"},
            headers={"Idempotency-Key": "k"},
        ),
        422,
        "IDEMPOTENCY_KEY_REUSED",
    )
    assert events_count(client, otro) == 0 and events_count(client, libre) == 1


def test_payload_too_large(client, libre):
    big = {"tag_spool": libre, "worker_id": 1, "operacion": "ARM", "x": "a" * 70_000}
    problem(client.post("/api/tomar-accion", json=big), 413, "PAYLOAD_TOO_LARGE")
    assert events_count(client, libre) == 0


def test_method_not_allowed_on_every_kind_of_path(client):
    problem(client.get("/api/tomar-accion"), 405, "METHOD_NOT_ALLOWED")
    response = client.delete("/api/spools")
    problem(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_unexpected_error_is_a_problem_without_traceback(app, client, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.extensions["zeues"].store, "workers", boom)
    body = problem(client.get("/api/workers"), 500, "INTERNAL")
    assert "secret" not in body["detail"]
    assert "secret internals" in caplog.text  # the operator still gets the traceback in the log


# --- the guard order of SPEC §5: with several failures, the first one answers ----------------------


def test_guard_order(client, app):
    ocupado = tag_en(app, Estado.OCUPADO_ARM)
    holder = client.get(f"/api/spools/{ocupado}").json["ocupado_por"]
    # Unknown spool beats an inactive worker.
    problem(tomar(client, "MK-0", 12), 404, "NOT_FOUND")
    # Inactive beats missing role and stale version.
    problem(tomar(client, ocupado, 12, "METROLOGIA", version="old"), 403, "WORKER_INACTIVE")
    # Missing role beats stale version and occupied spool.
    problem(tomar(client, ocupado, 8, "SOLD", version="old"), 403, "ROLE_NOT_AUTHORIZED")
    # Stale version beats occupied spool.
    problem(tomar(client, ocupado, 4, "SOLD", version="old"), 409, "VERSION_CONFLICT")
    # Occupied beats the missing transition.
    problem(tomar(client, ocupado, 4, "SOLD"), 409, "SPOOL_OCCUPIED")
    # Not the holder beats the wrong operation.
    otro = next(w for w in (1, 2, 3) if w != holder)
    problem(
        client.post("/api/completar-accion", json={"tag_spool": ocupado, "worker_id": otro, "operacion": "SOLD"}),
        403,
        "NOT_HOLDER",
    )
    # The holder with the wrong operation: the transition does not exist.
    problem(
        client.post("/api/completar-accion", json={"tag_spool": ocupado, "worker_id": holder, "operacion": "SOLD"}),
        409,
        "INVALID_TRANSITION",
    )
    assert events_count(client, ocupado) == 0
