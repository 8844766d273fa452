"""The OpenAPI document is generated from the schemas and describes every endpoint."""


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
        "/api/changes",
    }
    schemas = doc["components"]["schemas"]
    assert {"Spool", "Event", "Worker", "Comando", "Completar"} <= set(schemas)
    body = doc["paths"]["/api/completar-accion"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/Completar")
    assert sorted(schemas["Comando"]["required"]) == ["operacion", "tag_spool", "worker_id"]
    assert set(schemas["Spool"]["properties"]["estado"]["enum"]) >= {"DISPONIBLE", "EN_REPARACION"}
