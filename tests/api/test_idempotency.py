"""Idempotency-Key: a retried command is answered again, never applied twice (SPEC §5)."""

from __future__ import annotations

from app.domain.model import Estado
from tests.api.test_errors import events_count
from tests.conftest import make_sqlite_app, tag_en


def test_same_key_same_body_returns_the_first_answer_and_writes_once(client, app):
    tag = tag_en(app, Estado.DISPONIBLE)
    payload = {"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}
    primera = client.post("/api/tomar-accion", json=payload, headers={"Idempotency-Key": "tap-1"})
    segunda = client.post("/api/tomar-accion", json=payload, headers={"Idempotency-Key": "tap-1"})
    assert primera.status_code == segunda.status_code == 200
    assert segunda.json == primera.json
    assert events_count(client, tag) == 1
    assert primera.json["event"]["metadata_json"]["idempotency_key"] == "tap-1"
    assert client.get(f"/api/spools/{tag}/historial").json["events"] == [primera.json["event"]]


def test_key_order_in_the_body_does_not_matter(client, app):
    tag = tag_en(app, Estado.DISPONIBLE)
    a = client.post(
        "/api/tomar-accion",
        json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"},
        headers={"Idempotency-Key": "k"},
    )
    b = client.post(
        "/api/tomar-accion",
        json={"operacion": "ARM", "worker_id": 1, "tag_spool": tag},
        headers={"Idempotency-Key": "k"},
    )
    assert a.json == b.json and events_count(client, tag) == 1


def test_a_failed_command_is_run_again_on_retry(client, app):
    tag = tag_en(app, Estado.OCUPADO_ARM)
    holder = client.get(f"/api/spools/{tag}").json["ocupado_por"]
    payload = {"tag_spool": tag, "worker_id": holder, "operacion": "ARM"}
    # TOMAR fails (occupied); nothing was written, so the same key can then succeed on PAUSAR...
    assert client.post("/api/tomar-accion", json=payload, headers={"Idempotency-Key": "f"}).status_code == 409
    # ...and a failed command's retry runs again: after the holder releases it, the TOMAR succeeds.
    assert client.post("/api/pausar-accion", json=payload).status_code == 200
    assert client.post("/api/tomar-accion", json=payload, headers={"Idempotency-Key": "f"}).status_code == 200
    assert events_count(client, tag) == 2


def test_the_key_survives_a_restart(tmp_path, app):
    tag = tag_en(app, Estado.DISPONIBLE)
    payload = {"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}
    primera = app.test_client().post("/api/tomar-accion", json=payload, headers={"Idempotency-Key": "r"})
    app.extensions["zeues"].store.close()
    # A new app on the same file: the recorded answer, not a second TOMAR (which would be a 409).
    otra = make_sqlite_app(tmp_path)
    segunda = otra.test_client().post("/api/tomar-accion", json=payload, headers={"Idempotency-Key": "r"})
    assert segunda.status_code == 200 and segunda.json == primera.json
    assert events_count(otra.test_client(), tag) == 1
    otra.extensions["zeues"].store.close()


def test_a_duplicate_committed_elsewhere_while_this_one_decides_is_answered_not_refused(tmp_path, app, monkeypatch):
    tag = tag_en(app, Estado.DISPONIBLE)
    payload = {"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}
    otra = make_sqlite_app(tmp_path)  # another process on the same file, e.g. a second instance
    store = app.extensions["zeues"].store
    read_spool, primera = store.spool, []

    def spool_after_the_other_process_commits(t):
        # The retry's key was checked a moment ago and not found; the first attempt commits now.
        if not primera:
            primera.append(otra.test_client().post("/api/tomar-accion", json=payload, headers={"Idempotency-Key": "d"}))
        return read_spool(t)

    monkeypatch.setattr(store, "spool", spool_after_the_other_process_commits)
    segunda = app.test_client().post("/api/tomar-accion", json=payload, headers={"Idempotency-Key": "d"})
    otra.extensions["zeues"].store.close()
    assert primera[0].status_code == segunda.status_code == 200
    assert segunda.json == primera[0].json
    assert events_count(app.test_client(), tag) == 1
