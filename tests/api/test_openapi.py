"""The OpenAPI document is generated from the schemas and describes the API as it answers."""

import pytest


def test_openapi_lists_every_endpoint_with_its_schemas(client):
    doc = client.get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/api/health",
        "/api/workers",
        "/api/spools",
        "/api/spools/{tag}",
        "/api/spools/{tag}/historial",
        "/api/tomar-accion",
        "/api/pausar-accion",
        "/api/completar-accion",
        "/api/bloquear-accion",
        "/api/desbloquear-accion",
        "/api/motivos",
        "/api/alertas",
        "/api/changes",
        "/api/reportes/resumen",
        "/api/reportes/trabajadores",
        "/api/reportes/spools/{tag}",
    }
    schemas = doc["components"]["schemas"]
    assert {"Spool", "Event", "Worker", "Comando", "Completar", "Bloquear", "Desbloquear", "Motivos", "Alertas"} <= set(
        schemas
    )
    body = doc["paths"]["/api/completar-accion"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/Completar")
    assert sorted(schemas["Comando"]["required"]) == ["operacion", "tag_spool", "worker_id"]
    assert set(schemas["Spool"]["properties"]["estado"]["enum"]) >= {"DISPONIBLE", "EN_REPARACION", "BLOQUEADO"}
    assert {"bloqueo_motivo", "bloqueo_desde", "bloqueo_nota", "estado_previo"} <= set(schemas["Spool"]["properties"])
    assert sorted(schemas["Bloquear"]["required"]) == ["motivo", "tag_spool", "worker_id"]
    assert "motivo" in schemas["Liberar"]["properties"] and "motivo" not in schemas["Comando"]["properties"]
    assert "SPOOL_BLOCKED" in schemas["Problem"]["properties"]["code"]["enum"]


PROBLEM = "application/problem+json"


def resolve(doc, item):
    """Follow one ``$ref`` inside the document."""
    while "$ref" in item:
        *_, section, name = item["$ref"].split("/")
        item = doc["components"][section][name]
    return item


@pytest.mark.parametrize(
    "path",
    [
        "/api/tomar-accion",
        "/api/pausar-accion",
        "/api/completar-accion",
        "/api/bloquear-accion",
        "/api/desbloquear-accion",
    ],
)
def test_commands_document_every_error_they_answer_as_problem_json(client, path):
    doc = client.get("/api/openapi.json").json
    operation = doc["paths"][path]["post"]
    errors = {int(s): resolve(doc, r) for s, r in operation["responses"].items() if s != "default" and int(s) >= 400}
    assert set(errors) >= {400, 403, 404, 409, 412, 413, 422, 503}
    for response in errors.values():
        assert list(response["content"]) == [PROBLEM]
        problem = resolve(doc, response["content"][PROBLEM]["schema"])
        assert {"type", "title", "status", "detail", "code", "spool"} <= set(problem["properties"])
    assert "Retry-After" in errors[503]["headers"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "header"} == {"Idempotency-Key", "If-Match"}


def test_cacheable_reads_document_their_etag_and_if_none_match(client):
    doc = client.get("/api/openapi.json").json
    for path in ("/api/spools", "/api/spools/{tag}"):
        operation = doc["paths"][path]["get"]
        assert "ETag" in operation["responses"]["200"]["headers"]
        assert "304" in operation["responses"]
        assert "If-None-Match" in {p["name"] for p in operation["parameters"] if p["in"] == "header"}


def test_no_error_is_documented_in_flask_smorests_own_shape(client):
    doc = client.get("/api/openapi.json").json
    assert "Error" not in doc["components"]["schemas"]
    for response in doc["components"]["responses"].values():
        assert "application/json" not in response.get("content", {})
