"""The shift end (SPEC §13): every spool still held is released by the system, once per shift end, with an
injected clock instead of waiting for the real time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app import demo
from app.config import ConfigError
from app.domain.model import Estado
from app.turnos import GRACIA, FinDeTurno
from tests.conftest import APP_FACTORIES, tag_en

SANTIAGO = ZoneInfo("America/Santiago")


class Reloj:
    """A clock the test moves by hand."""

    def __init__(self, ahora: datetime) -> None:
        self.ahora = ahora

    def __call__(self) -> datetime:
        return self.ahora


def test_the_last_and_next_shift_end_are_in_plant_time():
    turnos = FinDeTurno(None, [time(14), time(22)], SANTIAGO)  # type: ignore[arg-type]
    # 2026-05-05 01:30 UTC is 21:30 of the 4th in Santiago (UTC-4).
    ahora = datetime(2026, 5, 5, 1, 30, tzinfo=UTC)
    assert turnos.ultimo(ahora) == datetime(2026, 5, 4, 14, 0, tzinfo=SANTIAGO)
    assert turnos.proximo(ahora) == datetime(2026, 5, 4, 22, 0, tzinfo=SANTIAGO)
    despues = datetime(2026, 5, 5, 2, 0, 1, tzinfo=UTC)  # 22:00:01 in Santiago
    assert turnos.ultimo(despues) == datetime(2026, 5, 4, 22, 0, tzinfo=SANTIAGO)
    assert turnos.proximo(despues) == datetime(2026, 5, 5, 14, 0, tzinfo=SANTIAGO)


def occupied(app) -> dict[str, int]:
    """Tag -> holder of every spool held now."""
    return {s.tag_spool: s.ocupado_por for s in app.extensions["zeues"].store.snapshot().spools if s.ocupado}


def fin_de_turno_events(app, tag: str) -> list:
    return [e for e in app.extensions["zeues"].store.events(tag) if e.metadata_json.get("motivo") == "FIN_DE_TURNO"]


def shift_end_soon(app, reloj: Reloj) -> tuple[FinDeTurno, datetime]:
    """A shift end a minute from now (plant time, to the second), watched with ``reloj``."""
    fin = (datetime.now(UTC) + timedelta(minutes=1)).astimezone(SANTIAGO).replace(microsecond=0)
    return FinDeTurno(app.extensions["zeues"].service, [fin.timetz().replace(tzinfo=None)], SANTIAGO, reloj), fin


def test_at_the_shift_end_every_held_spool_is_released_by_the_system_once(make_shop):
    app = make_shop()
    client = app.test_client()
    reloj = Reloj(datetime.now(UTC))
    turnos, fin = shift_end_soon(app, reloj)
    held = occupied(app)
    assert len(held) >= 12

    assert turnos.revisar() == 0  # before the end: nothing
    assert occupied(app) == held

    reloj.ahora = fin + timedelta(seconds=1)
    # A worker takes a spool right after the end (the service's clock says so): the next shift's.
    service = app.extensions["zeues"].service
    service.reloj = lambda: fin + timedelta(seconds=1)
    nuevo = tag_en(app, Estado.DISPONIBLE)
    taken = client.post("/api/tomar-accion", json={"tag_spool": nuevo, "worker_id": 1, "operacion": "ARM"})
    assert taken.status_code == 200, taken.json

    assert turnos.revisar() == len(held)
    assert occupied(app) == {nuevo: 1}
    for tag, holder in held.items():
        [event] = fin_de_turno_events(app, tag)
        assert (event.worker_id, event.worker_nombre, event.accion) == (0, "Sistema", "PAUSAR")
        assert {k: event.metadata_json[k] for k in ("motivo", "ocupado_por")} == {
            "motivo": "FIN_DE_TURNO",
            "ocupado_por": holder,
        }
        assert "supervisor" not in event.metadata_json
        # What every client sees: the same PAUSAR in the log, the spool free in its free state.
        spool = client.get(f"/api/spools/{tag}").json
        assert spool["ocupado_por"] is None and client.get(f"/api/spools/{tag}/historial").json["events"][-1][
            "evento_tipo"
        ] == event.evento_tipo
    assert event.evento_tipo.startswith("PAUSAR_")

    reloj.ahora = fin + timedelta(minutes=5)
    assert turnos.revisar() == 0  # the same shift end is not run twice
    assert all(len(fin_de_turno_events(app, tag)) == 1 for tag in held)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_instances_on_one_database_release_each_spool_once(kind, tmp_path, reopen, request):
    # Not on a Google Sheet: one process per spreadsheet (no conditional write); see the restart test there.
    if kind == "postgres":
        request.getfixturevalue("postgres_server")
    app = APP_FACTORIES[kind](tmp_path, demo.spools(), demo.WORKERS)
    request.addfinalizer(app.extensions["zeues"].store.close)
    other = reopen(app)
    reloj = Reloj(datetime.now(UTC))
    first, fin = shift_end_soon(app, reloj)
    second = FinDeTurno(other.extensions["zeues"].service, first.horas, SANTIAGO, reloj)
    held = occupied(app)
    reloj.ahora = fin + timedelta(seconds=1)
    start = threading.Barrier(2)
    released: list[int] = []

    def run(turnos: FinDeTurno) -> None:
        start.wait()
        released.append(turnos.revisar())

    threads = [threading.Thread(target=run, args=(t,)) for t in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert len(released) == 2 and sum(released) == len(held)  # each spool released by one of them
    assert occupied(app) == {}
    assert {tag: len(fin_de_turno_events(app, tag)) for tag in held} == dict.fromkeys(held, 1)


def test_an_instance_started_after_the_shift_end_releases_what_is_left_and_nothing_twice(make_shop, reopen):
    app = make_shop()
    reloj = Reloj(datetime.now(UTC))
    turnos, fin = shift_end_soon(app, reloj)
    held = occupied(app)
    reloj.ahora = fin + timedelta(seconds=1)
    assert turnos.revisar() == len(held)

    # Restarted ten minutes later (a deploy): within the grace period it looks again, and finds nothing left.
    restarted = reopen(app)
    restarted.extensions["zeues"].poller.refresh()
    reloj.ahora = fin + timedelta(minutes=10)
    again = FinDeTurno(restarted.extensions["zeues"].service, turnos.horas, SANTIAGO, reloj)
    assert again.revisar() == 0
    assert {tag: len(fin_de_turno_events(app, tag)) for tag in held} == dict.fromkeys(held, 1)


def test_a_shift_end_missed_while_down_is_caught_up_within_the_grace_period_only(make_shop):
    app = make_shop()
    held = occupied(app)
    reloj = Reloj(datetime.now(UTC))
    late, fin = shift_end_soon(app, reloj)
    reloj.ahora = fin + GRACIA + timedelta(seconds=1)
    assert late.revisar() == 0 and occupied(app) == held  # too late: a supervisor has seen to it
    reloj.ahora = fin + GRACIA - timedelta(seconds=1)
    assert late.revisar() == len(held) and occupied(app) == {}


def test_a_release_the_source_refuses_is_retried_at_the_next_look(make_shop, monkeypatch):
    app = make_shop()
    held = occupied(app)
    reloj = Reloj(datetime.now(UTC))
    turnos, fin = shift_end_soon(app, reloj)
    reloj.ahora = fin + timedelta(seconds=1)
    store = app.extensions["zeues"].store
    commit, failed = store.commit, []

    def refuse_one(decision):
        if not failed:
            from app.domain.errors import SourceUnavailable

            failed.append(decision.antes.tag_spool)
            raise SourceUnavailable("down for a moment")
        return commit(decision)

    monkeypatch.setattr(store, "commit", refuse_one)
    assert turnos.revisar() == len(held) - 1
    assert occupied(app) == {failed[0]: held[failed[0]]}
    reloj.ahora = fin + timedelta(minutes=1)
    assert turnos.revisar() == 1
    assert occupied(app) == {}
    assert {tag: len(fin_de_turno_events(app, tag)) for tag in held} == dict.fromkeys(held, 1)


def test_no_shift_ends_configured_means_nothing_is_ever_released(tmp_path):
    app = APP_FACTORIES["sqlite"](tmp_path, demo.spools(), demo.WORKERS)
    turnos = app.extensions["zeues"].turnos
    held = occupied(app)
    assert turnos.horas == () and turnos.revisar() == 0
    turnos.start()  # nothing to watch: no thread
    assert turnos._thread is None and occupied(app) == held
    app.extensions["zeues"].store.close()


@pytest.mark.parametrize(
    ("setting", "parsed"), [("22:00, 14:00", (time(14), time(22))), ("6:30:15", (time(6, 30, 15),))]
)
def test_the_setting_lists_plant_times(tmp_path, setting, parsed):
    app = APP_FACTORIES["sqlite"](tmp_path, SHIFT_ENDS=setting)
    assert app.extensions["zeues"].turnos.horas == parsed
    app.extensions["zeues"].store.close()


@pytest.mark.parametrize("setting", ["14", "25:00", "14:00;22:00", "2pm"])
def test_a_bad_setting_stops_the_start_with_one_line(tmp_path, setting):
    with pytest.raises(ConfigError, match="ZEUES_SHIFT_ENDS") as caught:
        APP_FACTORIES["sqlite"](tmp_path, SHIFT_ENDS=setting)
    assert len(str(caught.value).splitlines()) == 1


@pytest.mark.parametrize(("name", "value"), [("ALERT_OCCUPIED_H", 0), ("ALERT_BLOCKED_H", "mañana")])
def test_a_bad_alert_threshold_stops_the_start(tmp_path, name, value):
    with pytest.raises(ConfigError, match=f"ZEUES_{name}"):
        APP_FACTORIES["sqlite"](tmp_path, **{name: value})
