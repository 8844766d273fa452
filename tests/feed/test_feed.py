"""The change feed in-process: cursors, resets, deltas, the poll cadence and failures (SPEC §6)."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import demo
from app.domain.errors import SourceUnavailable
from app.domain.model import Estado
from app.feed import Feed, FeedSettings, FeedState, Poller, hold_seconds
from tests.conftest import make_sqlite_app, nothing_changed, tag_en


def changes(client, **params):
    response = client.get("/api/changes", query_string=params)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    return response.json


def test_no_cursor_answers_every_spool_at_once(client):
    body = changes(client)
    listed = client.get("/api/spools").json
    assert body["reset"] is True and body["changed"] is True
    assert body["spools"] == listed["spools"] and body["cursor"] == listed["cursor"]
    assert body["removed"] == [] and body["retry_after_ms"] == 0


@pytest.mark.parametrize("since", ["garbage", "", "0" * 24, "../../etc", "ñ" * 300])
def test_a_cursor_that_cannot_be_placed_resets_at_once(client, since):
    body = changes(client, since=since, timeout=28)
    assert body["reset"] is True and len(body["spools"]) == 63


def test_the_current_cursor_with_no_wait_answers_nothing_changed(client):
    cursor = client.get("/api/health").json["cursor"]
    body = changes(client, since=cursor, timeout=0)
    assert body == nothing_changed(cursor)


def test_an_older_known_cursor_gets_exactly_the_changed_spools(client, app):
    cursor = client.get("/api/spools").json["cursor"]
    tag = tag_en(app, Estado.DISPONIBLE)
    tomado = client.post("/api/tomar-accion", json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}).json
    body = changes(client, since=cursor, timeout=28)  # answers at once: the cursor is behind
    assert body["changed"] is True and body["reset"] is False
    assert body["spools"] == [tomado["spool"]]
    assert body["cursor"] != cursor and body["cursor"] == client.get("/api/spools").json["cursor"]


def test_clients_on_the_same_cursor_share_a_delta_that_still_follows_every_change(client, app):
    """A change releases every waiter on one cursor with the same delta, worked out once; the next
    change must still reach a client that is on that cursor."""
    cursor = client.get("/api/spools").json["cursor"]
    primero, segundo = tag_en(app, Estado.DISPONIBLE, 0), tag_en(app, Estado.DISPONIBLE, 1)
    for tag in (primero, segundo):
        tomar = {"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}
        assert client.post("/api/tomar-accion", json=tomar).status_code == 200
        answers = [changes(client, since=cursor, timeout=0) for _ in range(3)]
        assert answers[0] == answers[1] == answers[2]
        listing = {s["tag_spool"]: s for s in client.get("/api/spools").json["spools"]}
        seen = {s["tag_spool"]: s for s in answers[0]["spools"]}
        assert seen == {t: listing[t] for t in (primero, segundo)[: len(seen)]} and tag in seen
    assert len(seen) == 2  # the second answer carries both spools, not the first delta again


@pytest.mark.parametrize("timeout", ["abc", "nan", "inf", ""])
def test_a_non_numeric_timeout_is_400(client, timeout):
    response = client.get("/api/changes", query_string={"timeout": timeout})
    assert response.status_code == 400 and response.json["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(("asked", "low", "high"), [(25, 23, 25), (2, 0, 2), (28, 26, 28), (0, 0, 0)])
def test_hold_is_a_little_less_than_asked(asked, low, high):
    assert low <= hold_seconds(asked) <= high
    assert hold_seconds(asked) < asked or asked == 0


def test_timeout_is_clamped(client):
    cursor = client.get("/api/health").json["cursor"]
    assert changes(client, since=cursor, timeout=-5)["changed"] is False  # clamped to 0: no hold


def test_deltas_applied_in_order_always_equal_the_listing(client, app):
    """Random commands, several clients on cursors of different ages: each client that applies
    every answer in order ends equal to GET /api/spools."""
    rng = random.Random(1335)
    listing = client.get("/api/spools").json
    clients = [
        {"cursor": listing["cursor"], "spools": {s["tag_spool"]: s for s in listing["spools"]}} for _ in range(4)
    ]
    tags = [s["tag_spool"] for s in listing["spools"]]
    for paso in range(120):
        spool = client.get(f"/api/spools/{rng.choice(tags)}").json
        if spool["acciones"]:
            accion = rng.choice(spool["acciones"])
            if accion["operacion"] is None:  # a hold, put or lifted by the supervisor
                body = {"tag_spool": spool["tag_spool"], "worker_id": 11}
                if accion["accion"] == "BLOQUEAR":
                    body["motivo"] = rng.choice(["MATERIAL", "PLANO", "CALIDAD", "EQUIPO"])
            else:
                worker = spool["ocupado_por"] or {"ARM": 1, "SOLD": 5, "METROLOGIA": 8, "REPARACION": 4}[
                    accion["operacion"]
                ]
                body = {"tag_spool": spool["tag_spool"], "worker_id": worker, "operacion": accion["operacion"]}
            if accion == {"accion": "COMPLETAR", "operacion": "METROLOGIA"}:
                body["resultado"] = rng.choice(["APROBADO", "RECHAZADO"])
            endpoint = accion["accion"].lower()
            assert client.post(f"/api/{endpoint}-accion", json=body).status_code == 200
        # Each client catches up at its own pace.
        for i, c in enumerate(clients):
            if paso % (i + 1) == 0:
                answer = changes(client, since=c["cursor"], timeout=0)
                if answer["reset"]:
                    c["spools"] = {}
                for s in answer["spools"]:
                    c["spools"][s["tag_spool"]] = s
                for tag in answer["removed"]:
                    c["spools"].pop(tag, None)
                c["cursor"] = answer["cursor"]
    final = client.get("/api/spools").json
    for c in clients:
        answer = changes(client, since=c["cursor"], timeout=0)
        for s in answer["spools"]:
            c["spools"][s["tag_spool"]] = s
        assert answer["cursor"] == final["cursor"]
        assert c["spools"] == {s["tag_spool"]: s for s in final["spools"]}


def test_a_change_by_another_process_is_picked_up_by_the_next_poll(app, client):
    poller = app.extensions["zeues"].poller
    cursor = client.get("/api/spools").json["cursor"]
    tag = tag_en(app, Estado.DISPONIBLE)
    # Another process (the CLI, another worker) changes the file: no local publish here.
    with sqlite3.connect(app.config["DB"]) as other:
        other.execute("UPDATE trabajadores SET nombre = 'Juanito' WHERE id = 1")
        other.execute("DELETE FROM operaciones WHERE tag_spool = ?", (tag,))
    assert changes(client, since=cursor, timeout=0)["changed"] is False  # not polled yet
    poller.poll_once()
    body = changes(client, since=cursor, timeout=0)
    assert body["removed"] == [tag]
    assert {s["ocupado_por_nombre"] for s in body["spools"]} == {"Juanito Pérez"}


class FlakyStore:
    """Wraps a store; its snapshot fails while ``failing`` is set."""

    announces_changes = False

    def __init__(self, store):
        self.store, self.failing, self.name = store, False, store.name

    def snapshot(self):
        if self.failing:
            raise ConnectionError("source down")
        return self.store.snapshot()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def feed_on(store, clock, config):
    """A feed and its poller (no thread) on ``store``, driven by ``clock``."""
    settings = FeedSettings.from_config(config)
    feed = Feed(settings.history)
    poller = Poller(store, feed, settings, clock=clock)
    feed.before_read = poller.ensure_fresh
    return feed, poller


def test_failures_keep_the_snapshot_back_off_and_report_stale(app, caplog):
    clock = Clock()
    flaky = FlakyStore(app.extensions["zeues"].store)
    feed, poller = feed_on(flaky, clock, app.config)
    cursor, spools = feed.view()
    flaky.failing = True
    waits = []
    for _ in range(8):
        clock.now += 1
        poller.poll_once()
        waits.append(poller.next_poll_s())
    assert feed.view() == (cursor, spools)  # the last good snapshot is still served
    assert poller.health()["stale"] is True
    answer = feed.wait(cursor, 0)
    assert answer["retry_after_ms"] == int(waits[-1] * 1000) > 0
    assert waits[0] < waits[3] and max(waits) <= 60
    assert "feed poll failed" in caplog.text
    flaky.failing = False
    poller.poll_once()
    assert poller.health()["stale"] is False and feed.wait(cursor, 0)["retry_after_ms"] == 0


def test_a_client_on_a_cursor_others_were_answered_on_still_learns_the_source_is_failing(app, client, monkeypatch):
    poller = app.extensions["zeues"].poller
    cursor = client.get("/api/health").json["cursor"]
    assert changes(client, since=cursor, timeout=0)["retry_after_ms"] == 0
    flaky = FlakyStore(poller.store)
    monkeypatch.setattr(poller, "store", flaky)
    flaky.failing = True
    poller.poll_once()
    assert changes(client, since=cursor, timeout=0)["retry_after_ms"] > 0
    flaky.failing = False
    poller.poll_once()
    assert changes(client, since=cursor, timeout=0)["retry_after_ms"] == 0


def test_cadence_is_fast_while_commands_flow_and_slower_when_idle(app):
    clock = Clock()
    store = app.extensions["zeues"].store
    feed, poller = feed_on(store, clock, app.config)
    _, spools = feed.view()
    assert poller.next_poll_s() == 5.0  # a start is not a command: no fast polling of an idle shop
    clock.now += 301
    assert poller.next_poll_s() == 15.0
    feed.publish(store.spool(spools[0]["tag_spool"]).con(version="new"), store.workers())
    assert poller.next_poll_s() == 2.0  # for a minute after a command
    clock.now += 59
    assert poller.next_poll_s() == 2.0
    clock.now += 2
    assert poller.next_poll_s() == 5.0


def test_a_change_seen_by_a_poll_counts_as_commands_flowing(app):
    clock = Clock()
    store = app.extensions["zeues"].store
    feed, poller = feed_on(store, clock, app.config)
    tag = feed.view()[1][0]["tag_spool"]
    with sqlite3.connect(app.config["DB"]) as other:  # another process commits
        other.execute("UPDATE operaciones SET version = 'other' WHERE tag_spool = ?", (tag,))
    poller.poll_once()
    assert poller.next_poll_s() == 2.0


def test_backoff_never_leaves_the_board_stale_longer_than_15_s(app):
    clock = Clock()
    flaky = FlakyStore(app.extensions["zeues"].store)
    feed, poller = feed_on(flaky, clock, app.config)
    feed.view()
    flaky.failing = True
    waits = []
    for _ in range(20):
        poller.poll_once()
        waits.append(poller.next_poll_s())
        clock.now += waits[-1]
    assert max(waits) <= 15.0 and waits[-1] > 5.0


def test_a_poll_that_raced_a_local_command_is_not_applied(app):
    store = app.extensions["zeues"].store
    feed, poller = app.extensions["zeues"].feed, app.extensions["zeues"].poller
    _, spools = feed.view()
    viejo = store.snapshot()
    primero = store.spool(spools[0]["tag_spool"])

    class Racing:
        name = "sqlite"

        def snapshot(self):
            # While this read is in flight, a command commits and publishes.
            feed.publish(primero.con(version="after-command"), store.workers())
            return viejo

    poller.store = Racing()
    assert poller.refresh() is False
    assert feed.view()[1][0]["version"] == "after-command"


def test_close_answers_held_requests(app):
    feed = app.extensions["zeues"].feed
    cursor, _ = feed.view()
    feed.close()
    answer = feed.answer_now(cursor)  # would hold; answers at once when closing
    assert answer["changed"] is False and answer["cursor"] == cursor
    assert answer["retry_after_ms"] >= 1000  # and asks not to be polled again at once


def test_past_the_waiter_limit_a_poll_is_answered_at_once_and_asked_to_come_back_in_a_few_seconds(tmp_path):
    app = make_sqlite_app(tmp_path, demo.spools(), demo.WORKERS, MAX_WAITERS=2, WORKER_CONNECTIONS=10)
    feed = app.extensions["zeues"].feed
    cursor = app.test_client().get("/api/health").json["cursor"]
    poll = {"since": cursor, "timeout": 20}
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(app.test_client().get, "/api/changes", query_string=poll) for _ in range(2)]
        deadline = time.monotonic() + 10
        while feed.waiters < 2:
            assert time.monotonic() < deadline, "the two polls were never held"
            time.sleep(0.01)  # polling an observable condition, bounded by the deadline
        t0 = time.monotonic()
        turned_away = [app.test_client().get("/api/changes", query_string=poll) for _ in range(20)]
        took = time.monotonic() - t0
        health = app.test_client().get("/api/health").json
        feed.close()  # answers the two held polls
        assert all(f.result().json["changed"] is False for f in held)
    assert took < 2
    assert {r.status_code for r in turned_away} == {200}
    assert all(r.headers["Connection"] == "close" for r in turned_away)
    bodies = [r.json for r in turned_away]
    assert all({**b, "retry_after_ms": 0} == nothing_changed(cursor) for b in bodies)
    waits = {b["retry_after_ms"] for b in bodies}
    assert min(waits) >= 2000 and max(waits) <= 6000 and len(waits) > 5  # spread, not one burst
    assert (health["waiters"], health["max_waiters"]) == (2, 2)
    app.extensions["zeues"].store.close()


def test_at_the_waiter_limit_a_poll_that_asks_for_no_wait_is_answered_as_usual(app, client):
    feed = app.extensions["zeues"].feed
    feed.max_waiters = 0  # no room to hold anything
    cursor = client.get("/api/health").json["cursor"]
    response = client.get("/api/changes", query_string={"since": cursor, "timeout": 0})
    assert response.json == nothing_changed(cursor) and "Connection" not in response.headers
    turned_away = client.get("/api/changes", query_string={"since": cursor, "timeout": 5})
    assert turned_away.json["retry_after_ms"] >= 2000 and turned_away.headers["Connection"] == "close"


def test_a_poll_behind_the_cursor_gets_its_changes_at_once_even_at_the_waiter_limit(app, client):
    feed = app.extensions["zeues"].feed
    feed.max_waiters = 0  # no room at all: nothing may hold
    cursor = client.get("/api/health").json["cursor"]
    tag = tag_en(app, Estado.DISPONIBLE)
    client.post("/api/tomar-accion", json={"tag_spool": tag, "worker_id": 1, "operacion": "ARM"})
    response = client.get("/api/changes", query_string={"since": cursor, "timeout": 20})
    assert "Connection" not in response.headers
    body = response.json
    assert body["changed"] is True and [s["tag_spool"] for s in body["spools"]] == [tag]
    assert body["retry_after_ms"] == 0


def test_a_sort_in_the_source_changes_the_order_but_not_the_cursor(app, client):
    poller = app.extensions["zeues"].poller
    before = client.get("/api/spools").json
    with sqlite3.connect(app.config["DB"]) as other:  # the office sorts the sheet the other way round
        other.execute("UPDATE operaciones SET posicion = -posicion")
    poller.poll_once()
    after = client.get("/api/spools").json
    assert [s["tag_spool"] for s in after["spools"]] == [s["tag_spool"] for s in reversed(before["spools"])]
    assert after["cursor"] == before["cursor"]  # no spool changed: nothing for the feed to send
    assert changes(client, since=before["cursor"], timeout=0)["changed"] is False


def test_a_held_request_is_answered_after_flask_has_finished_with_it(app):
    """The hold happens while the server iterates the body, once Flask's request context is gone."""
    feed = app.extensions["zeues"].feed
    store = app.extensions["zeues"].store
    cursor, spools = feed.view()
    primero = store.spool(spools[0]["tag_spool"])
    seen = []

    @app.teardown_request
    def _torn_down(_exc):
        seen.append("teardown")

    def wait(since, timeout):
        seen.append("wait")
        feed.publish(primero.con(version="moved-on"), store.workers())  # a command lands during the hold
        return Feed.wait(feed, since, timeout)

    feed.wait = wait
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/changes",
        "QUERY_STRING": f"since={cursor}&timeout=5",
        "SERVER_NAME": "t",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
    }
    started = []
    body_iter = app.wsgi_app(environ, lambda status, headers: started.append((status, dict(headers))))
    assert seen == ["teardown"] and started == []  # Flask is done; nothing sent, no wait yet
    body = b"".join(body_iter)
    assert seen == ["teardown", "wait"]
    [(status, headers)] = started
    assert status == "200 OK" and headers["Cache-Control"] == "no-store"
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    answer = json.loads(body)
    assert answer["changed"] is True and [s["version"] for s in answer["spools"]] == ["moved-on"]


# --- the pure state: no threads, no clocks -----------------------------------------------------


def view(tag, version):
    return {"tag_spool": tag, "version": version}


def test_the_cursor_depends_only_on_the_content_not_on_the_order_or_the_path_to_it():
    a, b = FeedState(history=8), FeedState(history=8)
    a.replace({"A": view("A", "1"), "B": view("B", "1")})
    b.replace({"B": view("B", "0"), "A": view("A", "1")})
    assert a.cursor != b.cursor
    b.apply({"B": view("B", "1")})
    assert a.cursor == b.cursor
    assert [v["tag_spool"] for v in a.views()] == ["A", "B"] and [v["tag_spool"] for v in b.views()] == ["B", "A"]


def test_a_delta_holds_exactly_what_changed_and_what_left_since_a_cursor():
    state = FeedState(history=8)
    state.replace({"A": view("A", "1"), "B": view("B", "1"), "C": view("C", "1")})
    since = state.cursor
    assert state.is_current(since) and state.answer(since)["changed"] is False
    state.apply({"B": view("B", "2")})
    state.replace({"A": view("A", "1"), "B": view("B", "2")})  # C left the sheet
    delta = state.answer(since)
    assert (delta["spools"], delta["removed"], delta["reset"]) == ([view("B", "2")], ["C"], False)
    assert state.answer(None)["reset"] is True and state.answer("garbage")["reset"] is True


def test_a_cursor_older_than_the_history_gets_a_reset():
    state = FeedState(history=2)
    state.replace({"A": view("A", "0")})
    oldest = state.cursor
    for version in "123":
        state.apply({"A": view("A", version)})
    assert state.answer(oldest)["reset"] is True


def test_an_unchanged_spool_does_not_move_the_cursor():
    state = FeedState(history=8)
    state.replace({"A": view("A", "1")})
    cursor = state.cursor
    assert state.apply({"A": view("A", "1")}) is False
    assert state.cursor == cursor


def test_tags_are_found_whatever_the_case_and_the_spaces_around_them():
    state = FeedState(history=8)
    state.replace({"MK-1-CW-1-001": view("MK-1-CW-1-001", "1")})
    assert state.view("  mk-1-cw-1-001 ") == view("MK-1-CW-1-001", "1")
    assert state.canonical_tag(" mk-1-cw-1-001") == "MK-1-CW-1-001"
    state.replace({})
    assert state.view("MK-1-CW-1-001") is None


def test_two_tags_that_differ_only_in_case_are_two_spools():
    state = FeedState(history=8)
    state.replace({"mk-1": view("mk-1", "a"), "MK-1": view("MK-1", "b")})
    assert state.view("MK-1")["version"] == "b" and state.view("mk-1")["version"] == "a"


def test_an_outage_of_the_source_is_one_log_line_and_its_end_another(app, caplog):
    class Down(FlakyStore):
        def snapshot(self):
            if self.failing:
                raise SourceUnavailable("Google Sheets no responde.")
            return self.store.snapshot()

    clock = Clock()
    down = Down(app.extensions["zeues"].store)
    feed, poller = feed_on(down, clock, app.config)
    feed.view()
    down.failing = True
    for _ in range(6):
        clock.now += 15
        poller.poll_once()
    down.failing = False
    poller.poll_once()
    lines = [r.getMessage() for r in caplog.records if r.name == "app.feed"]
    assert lines == [
        "feed poll failed (Google Sheets no responde.); keeping the last snapshot",
        "feed poll works again after 75 s",
    ]
    assert not any(r.exc_info for r in caplog.records)


def test_answers_and_listings_are_joined_from_each_spools_json_and_say_the_same_as_the_views():
    state = FeedState(history=8)
    state.replace({"A": view("A", "1"), "Ñ": {"tag_spool": "Ñ", "version": "ü", "estado": "OCUPADO_ARM"}})
    since = state.cursor
    state.apply({"A": view("A", "2")}, removed=["Ñ"])
    for answer in (state.answer(since, 1500), state.answer(None)):
        assert json.loads(answer.json()) == dict(answer)
    assert json.loads(state.listing()) == {"cursor": state.cursor, "spools": state.views()}
    state.apply({"B": {"tag_spool": "B", "version": "1", "estado": "OCUPADO_ARM"}})
    only = json.loads(state.listing(lambda v: v.get("estado") == "OCUPADO_ARM"))
    assert [s["tag_spool"] for s in only["spools"]] == ["B"]
    assert [s["tag_spool"] for s in json.loads(state.listing())["spools"]] == ["A", "B"]
