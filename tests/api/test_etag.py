"""Conditional GETs: ETag and If-None-Match → 304 on the spool list and on one spool."""

from __future__ import annotations

from app.domain.model import Estado
from tests.conftest import tag_en


def test_spool_list_etag_is_the_quoted_cursor(client):
    response = client.get("/api/spools")
    assert response.headers["ETag"] == f'"{response.json["cursor"]}"'
    again = client.get("/api/spools", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_spool_list_etag_changes_after_a_command(client, app):
    etag = client.get("/api/spools").headers["ETag"]
    tag = tag_en(app, Estado.DISPONIBLE)
    client.post("/api/tomar-accion", json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"})
    response = client.get("/api/spools", headers={"If-None-Match": etag})
    assert response.status_code == 200 and response.headers["ETag"] != etag


def test_one_spool_etag_is_its_version(client, app):
    tag = tag_en(app, Estado.DISPONIBLE)
    response = client.get(f"/api/spools/{tag}")
    assert response.headers["ETag"] == f'"{response.json["version"]}"'
    assert client.get(f"/api/spools/{tag}", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    client.post("/api/tomar-accion", json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"})
    after = client.get(f"/api/spools/{tag}", headers={"If-None-Match": response.headers["ETag"]})
    assert after.status_code == 200 and after.json["ocupado_por"] == 1
