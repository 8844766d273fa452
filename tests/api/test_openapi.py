"""The OpenAPI document is generated from the schemas and describes the API as it answers."""

import re

import pytest

from app.domain.errors import ZeuesError


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
        "/api/sesiones",
        "/api/sesiones/actual",
        "/api/workers/{worker_id}/pin",
    }
    schemas = doc["components"]["schemas"]
    assert {"Spool", "Event", "Worker", "Comando", "Completar", "Bloquear", "Desbloquear", "Motivos", "Alertas"} <= set(
        schemas
    )
    body = doc["paths"]["/api/completar-accion"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/Completar")
    # worker_id may be left out with a worker's session (SPEC §11)
    assert sorted(schemas["Comando"]["required"]) == ["operacion", "tag_spool"]
    assert set(schemas["Spool"]["properties"]["estado"]["enum"]) >= {"DISPONIBLE", "EN_REPARACION", "BLOQUEADO"}
    assert {"bloqueo_motivo", "bloqueo_desde", "bloqueo_nota", "estado_previo"} <= set(schemas["Spool"]["properties"])
    assert sorted(schemas["Bloquear"]["required"]) == ["motivo", "tag_spool"]
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


def codes_of(doc, operation, status: int) -> str:
    """The description of one error status of an operation (it names the codes it carries)."""
    return resolve(doc, operation["responses"][str(status)])["description"]


def test_the_bearer_scheme_and_the_access_codes_are_documented_where_they_are_answered(client):
    doc = client.get("/api/openapi.json").json
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"
    assert schemes["token"] == {**schemes["token"], "type": "apiKey", "in": "query", "name": "token"}
    paths = doc["paths"]

    for path in ("/api/tomar-accion", "/api/pausar-accion", "/api/completar-accion"):
        command = paths[path]["post"]
        assert command["security"] == [{"bearer": []}]
        assert "UNAUTHENTICATED" in codes_of(doc, command, 401)
        assert "WWW-Authenticate" in resolve(doc, command["responses"]["401"])["headers"]
        assert {"FORBIDDEN", "NOT_HOLDER", "WORKER_INACTIVE"} <= set(
            re.findall(r"[A-Z_]{4,}", codes_of(doc, command, 403))
        )

    sign_in = paths["/api/sesiones"]["post"]
    assert "security" not in sign_in
    assert "INVALID_CREDENTIALS" in codes_of(doc, sign_in, 401)
    assert "WORKER_INACTIVE" in codes_of(doc, sign_in, 403) and "PIN_NOT_SET" in codes_of(doc, sign_in, 403)
    assert "TOO_MANY_ATTEMPTS" in codes_of(doc, sign_in, 429)
    assert "Retry-After" in resolve(doc, sign_in["responses"]["429"])["headers"]
    created = sign_in["responses"]["201"]["content"]["application/json"]["schema"]
    assert set(resolve(doc, created)["properties"]) == {"token", "worker", "expires_at"}

    for path, method in (("/api/sesiones/actual", "delete"), ("/api/workers/{worker_id}/pin", "put")):
        operation = paths[path][method]
        assert operation["security"] == [{"bearer": []}]
        assert "UNAUTHENTICATED" in codes_of(doc, operation, 401) and "FORBIDDEN" in codes_of(doc, operation, 403)

    # Reads take a token only when ZEUES_READ_AUTH=token; the health check never.
    assert paths["/api/spools"]["get"]["security"] == [{}, {"bearer": []}, {"token": []}]
    assert "security" not in paths["/api/health"]["get"]
    worker = doc["components"]["schemas"]["Worker"]["properties"]
    assert "tiene_pin" in worker and "pin_hash" not in worker


def test_the_document_names_every_code_an_error_can_carry(client):
    """A client generated from the document must accept every code the service answers with."""
    problem = client.get("/api/openapi.json").json["components"]["schemas"]["Problem"]
    documented = set(problem["properties"]["code"]["enum"])

    def codes(cls):
        yield cls.code
        for sub in cls.__subclasses__():
            yield from codes(sub)

    assert set(codes(ZeuesError)) <= documented
