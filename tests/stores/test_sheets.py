"""The Google Sheets store against the Sheets API stand-in: request budget, office edits, faults."""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from app.config import defaults
from app.domain.errors import SourceUnavailable
from app.domain.machine import Comando, decidir
from app.domain.model import EVENT_FIELDS, MOTIVOS_POR_DEFECTO, TRACKING_FIELDS, Accion, Operacion, Rol, Spool, Worker
from app.stores.base import StaleWrite
from app.stores.rows import spool_to_row
from app.stores.sheets import SheetsSettings, SheetsStore
from app.stores.sheets.admin import check, init
from app.stores.sheets.client import SHEETS_ORIGIN, QuotaWindow
from tests.sheets_emulator import SheetsEmulator
from tests.sheets_shop import shop_tabs

AHORA = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
HOJA = "hoja-oficina"
WORKERS = (
    Worker(1, "Juan", "Pérez", (Rol.ARMADOR,), True),
    Worker(2, "Ñandú", '=IMPORTXML("http://x")', (Rol.ARMADOR, Rol.SOLDADOR), True),
)
SPOOLS = tuple(Spool(f"MK-1335-CW-25238-{n:03d}", version=f"v-{n}") for n in range(11, 17))
TAG = SPOOLS[2].tag_spool


@pytest.fixture
def emulator():
    """A stand-in holding one office spreadsheet with SPOOLS and WORKERS."""
    emulator = SheetsEmulator()
    emulator.create(HOJA, shop_tabs(SPOOLS, WORKERS))
    emulator.start()
    yield emulator
    emulator.stop()


def settings(emulator: SheetsEmulator, spreadsheet_id: str = HOJA, **options) -> SheetsSettings:
    """Settings for a spreadsheet in the stand-in, with short backoff so fault tests stay quick;
    ``options`` are SHEETS_* settings in lower case (``attempts=6``)."""
    config = {**defaults(), "SPREADSHEET_ID": spreadsheet_id, "SHEETS_EMULATOR_HOST": emulator.host}
    config.update({"SHEETS_BACKOFF": 0.01, "SHEETS_MAX_BACKOFF": 0.05})
    # A quota this large never makes a test wait for the pacing; the tests of the quota set Google's.
    config.update({"SHEETS_READS_PER_MINUTE": 6000, "SHEETS_WRITES_PER_MINUTE": 6000})
    config.update({f"SHEETS_{name.upper()}": value for name, value in options.items()})
    return SheetsSettings.from_config(config)


def open_store(emulator: SheetsEmulator, sleep=None, clock=None, **options) -> SheetsStore:
    """A store on the stand-in (see ``settings``), with an injectable sleep and clock."""
    return SheetsStore(settings(emulator, **options), sleep=sleep, **({"clock": clock} if clock else {}))


@pytest.fixture
def store(emulator):
    """A store that has polled once, as the running service would have."""
    store = open_store(emulator)
    store.snapshot()
    emulator.reset_counts()
    return store


def tomar(store: SheetsStore, tag: str = TAG, worker: int = 1):
    """Run TOMAR ARM the way the service does: fresh read, decide, commit."""
    decision = decidir(Comando(Accion.TOMAR, Operacion.ARM, tag, worker), store.spool(tag), store.workers(), AHORA, UTC)
    store.commit(decision)
    return decision


def by_tag(emulator: SheetsEmulator) -> dict[str, dict[str, str]]:
    """Every Operaciones row as the office sees it, keyed by tag (whatever its position)."""
    return {r["TAG SPOOL"]: r for r in emulator.records(HOJA, "Operaciones") if r.get("TAG SPOOL")}


def assert_only_row_changed(antes: dict[str, dict[str, str]], despues: dict[str, dict[str, str]], tag: str) -> None:
    assert despues.keys() == antes.keys()
    for otro in antes:
        if otro != tag:
            assert despues[otro] == antes[otro], f"row of {otro} was written"


# -- request budget ---------------------------------------------------------------------------


def test_a_poll_is_exactly_one_values_batch_get(store, emulator):
    for _ in range(3):
        store.snapshot()
    assert emulator.log == [("read", "values.batchGet")] * 3


def test_a_command_is_one_row_read_and_one_batch_update(store, emulator):
    tomar(store)
    assert emulator.log == [("read", "values.batchGet"), ("write", "spreadsheets.batchUpdate")]
    fila = by_tag(emulator)[TAG]
    assert (fila["ocupado_por"], fila["timestamp_ocupacion"]) == ("1", "2026-05-04T12:00:00Z")
    [evento] = emulator.records(HOJA, "Metadata")
    assert (evento["tag_spool"], evento["evento_tipo"], evento["worker_id"]) == (TAG, "TOMAR_ARM", "1")


def test_a_poll_sees_a_new_event_appended_by_another_process(store, emulator):
    otro = open_store(emulator)
    decision = tomar(otro)
    store.snapshot()
    assert store.events(TAG) == [decision.event]
    assert store.spool(TAG) == decision.despues


def test_row_reads_of_concurrent_commands_share_one_request(store, emulator):
    tags = [s.tag_spool for s in SPOOLS[:4]]

    def en_vuelo(e: SheetsEmulator) -> None:
        # The first read stays in flight until the three other commands are waiting for theirs.
        with store.reads._cond:
            assert store.reads._cond.wait_for(lambda: len(store.reads._open.rows) == 3, timeout=10)

    emulator.on_next("read", en_vuelo)
    leidos: dict[str, Spool | None] = {}
    hilos = [threading.Thread(target=lambda t=t: leidos.__setitem__(t, store.spool(t))) for t in tags]
    for hilo in hilos:
        hilo.start()
    for hilo in hilos:
        hilo.join(timeout=20)
    assert leidos == {s.tag_spool: s for s in SPOOLS[:4]}
    assert emulator.log == [("read", "values.batchGet")] * 2


def test_a_poll_due_while_commands_read_rides_in_their_next_request(store, emulator):
    def en_vuelo(e: SheetsEmulator) -> None:
        # The first command's read stays in flight until a second command and a poll wait behind it.
        with store.reads._cond:
            assert store.reads._cond.wait_for(lambda: store.reads._open.rows and store.reads._open.pollers, timeout=10)

    emulator.on_next("read", en_vuelo)
    leidos: dict[str, object] = {}
    hilos = [
        threading.Thread(target=lambda: leidos.__setitem__("primero", store.spool(SPOOLS[0].tag_spool))),
        threading.Thread(target=lambda: leidos.__setitem__("segundo", store.spool(SPOOLS[1].tag_spool))),
        threading.Thread(target=lambda: leidos.__setitem__("poll", store.snapshot())),
    ]
    hilos[0].start()
    with store.reads._cond:  # the second command and the poll arrive while the first read is in flight
        store.reads._cond.wait_for(lambda: store.reads._reading, timeout=10)
    for hilo in hilos[1:]:
        hilo.start()
    for hilo in hilos:
        hilo.join(timeout=20)
    assert (leidos["primero"], leidos["segundo"]) == SPOOLS[:2]
    assert leidos["poll"].spools == SPOOLS
    assert emulator.log == [("read", "values.batchGet")] * 2


# -- office edits in mid-flight -----------------------------------------------------------------


def test_rows_sorted_after_the_last_poll_are_found_by_tag(store, emulator):
    emulator.sort(HOJA, "Operaciones", "TAG SPOOL", reverse=True)
    antes = by_tag(emulator)
    decision = tomar(store)
    despues = by_tag(emulator)
    assert despues[TAG]["ocupado_por"] == "1"
    assert despues[TAG]["version"] == decision.despues.version
    assert_only_row_changed(antes, despues, TAG)


def test_a_sort_while_the_command_is_in_flight_never_writes_another_spools_row(store, emulator):
    # The office sorts just as the command's fresh read reaches Google: the row read must be re-found.
    emulator.on_next("read", lambda e: e.sort(HOJA, "Operaciones", "TAG SPOOL", reverse=True))
    antes = by_tag(emulator)
    tomar(store)
    despues = by_tag(emulator)
    assert despues[TAG]["ocupado_por"] == "1"
    assert_only_row_changed({**antes, **{TAG: despues[TAG]}}, despues, TAG)


def test_rows_inserted_above_the_spool_do_not_shift_the_write(store, emulator):
    nuevas = [["Astillero Norte", "MK-9999-NEW-00001-001"], [], ["", "MK-9999-NEW-00001-002", "", "", "", "x"]]
    emulator.on_next("read", lambda e: e.insert_rows(HOJA, "Operaciones", 1, nuevas))
    tomar(store)
    despues = by_tag(emulator)
    assert despues[TAG]["ocupado_por"] == "1"
    assert despues["MK-9999-NEW-00001-001"]["ocupado_por"] == ""
    assert despues["MK-9999-NEW-00001-002"]["Notas de oficina"] == "x"
    assert all(despues[s.tag_spool]["ocupado_por"] == "" for s in SPOOLS if s.tag_spool != TAG)


def test_moved_renamed_and_added_columns_keep_writes_in_the_tracking_cells(store, emulator):
    antes: dict[str, dict[str, str]] = {}

    def oficina(e: SheetsEmulator) -> None:
        e.move_column(HOJA, "Operaciones", "ocupado_por", 0)
        e.rename_header(HOJA, "Operaciones", "Notas de oficina", "Observaciones")
        e.rename_header(HOJA, "Operaciones", "timestamp_ocupacion", "Timestamp Ocupación")
        e.insert_column(HOJA, "Operaciones", 3, "Urgente", fill="sí")
        antes.update(by_tag(e))

    emulator.on_next("read", oficina)
    decision = tomar(store)
    despues = by_tag(emulator)
    fila = despues[TAG]
    assert (fila["ocupado_por"], fila["Timestamp Ocupación"], fila["version"]) == (
        "1",
        "2026-05-04T12:00:00Z",
        decision.despues.version,
    )
    # The office's own columns keep exactly what the office typed.
    assert (fila["Urgente"], fila["Observaciones"], fila["Cliente"]) == ("sí", "nota 2", "Astillero Sur")
    assert_only_row_changed({**antes, TAG: fila}, despues, TAG)


def test_a_tab_renamed_by_the_office_is_found_again(store, emulator):
    emulator.rename_tab(HOJA, "Operaciones", "OPERACIONES")
    decision = tomar(store)
    assert store.snapshot().spools[2] == decision.despues
    [fila] = [r for r in emulator.records(HOJA, "OPERACIONES") if r["TAG SPOOL"] == TAG]
    assert fila["version"] == decision.despues.version


def test_formulas_typed_anywhere_arrive_in_the_sheet_as_text(emulator):
    tag = '=IMPORTXML("http://x")'
    emulator.insert_rows(HOJA, "Operaciones", 1, [["", tag]])
    store = open_store(emulator)
    decision = decidir(
        Comando(Accion.TOMAR, Operacion.ARM, tag, 2),
        store.spool(tag),
        store.workers(),
        AHORA,
        UTC,
        metadata={"idempotency_key": '=IMPORTXML("http://y")'},
    )
    store.commit(decision)
    assert emulator.formulas(HOJA) == []
    [evento] = emulator.records(HOJA, "Metadata")
    assert evento["worker_nombre"] == 'Ñandú =IMPORTXML("http://x")'
    assert evento["tag_spool"] == tag
    assert '=IMPORTXML(\\"http://y\\")' in evento["metadata_json"]
    assert open_store(emulator).events(tag) == [decision.event]


# -- holds (SPEC §13): the new columns and the Motivos tab --------------------------------------------

MOTIVOS = {m.codigo: m for m in MOTIVOS_POR_DEFECTO}


def test_the_hold_columns_are_found_by_name_wherever_the_office_put_them_and_a_hold_is_one_batch_update(emulator):
    # The office put the hold columns between its own, in front of the sheet, spelled its own way; worker 2
    # holds the spool and puts it on hold.
    header = ["Bloqueo Motivo", "Cliente", "TAG SPOOL", "Observaciones", "BLOQUEO DESDE", *TRACKING_FIELDS[:11]]
    header += ["Prioridad", "bloqueo nota"]
    en_mano = {"ocupado_por": 2, "timestamp_ocupacion": "2026-05-04T09:00:00Z"}
    spools = [s.con(**en_mano) if s.tag_spool == TAG else s for s in SPOOLS]
    tracking = [[spool_to_row(s)[n] for n in TRACKING_FIELDS[:11]] for s in spools]
    rows = [header] + [
        ["", "Astillero Sur", s.tag_spool, f"obs {i}", "", *tracking[i], "alta", ""] for i, s in enumerate(spools)
    ]
    emulator.create("hoja-bloqueos", {**shop_tabs([], WORKERS), "Operaciones": rows})
    store = SheetsStore(settings(emulator, "hoja-bloqueos"))
    store.snapshot()
    emulator.reset_counts()

    comando = Comando(Accion.BLOQUEAR, None, TAG, 2, motivo="OTRO", nota="=SUM(A1:A9) espera cliente")
    decision = decidir(comando, store.spool(TAG), store.workers(), AHORA, UTC, motivos=MOTIVOS)
    store.commit(decision)

    assert emulator.log == [("read", "values.batchGet"), ("write", "spreadsheets.batchUpdate")]
    filas = {r["TAG SPOOL"]: r for r in emulator.records("hoja-bloqueos", "Operaciones")}
    fila = filas[TAG]
    assert (fila["Bloqueo Motivo"], fila["BLOQUEO DESDE"], fila["bloqueo nota"]) == (
        "OTRO",
        "2026-05-04T12:00:00Z",
        "=SUM(A1:A9) espera cliente",
    )
    assert (fila["Cliente"], fila["Observaciones"], fila["Prioridad"]) == ("Astillero Sur", "obs 2", "alta")
    assert (fila["ocupado_por"], fila["timestamp_ocupacion"]) == ("", "")  # the hold released it
    assert all(r["Bloqueo Motivo"] == "" for t, r in filas.items() if t != TAG)
    assert emulator.formulas("hoja-bloqueos") == []
    [evento] = emulator.records("hoja-bloqueos", "Metadata")
    assert (evento["evento_tipo"], evento["tag_spool"]) == ("BLOQUEAR", TAG)
    restarted = SheetsStore(settings(emulator, "hoja-bloqueos"))
    assert restarted.snapshot().spools[2] == decision.despues and decision.despues.estado == "BLOQUEADO"
    assert restarted.events(TAG) == [decision.event]


def test_the_office_edits_the_reasons_and_the_next_poll_has_them(store, emulator):
    assert store.motivos() == list(MOTIVOS_POR_DEFECTO)
    emulator.set_cell(HOJA, "Motivos", 2, 2, "FALSE")  # PLANO switched off
    emulator.insert_rows(HOJA, "Motivos", 6, [["grúa", "Grúa en mantención", ""]])  # activo left empty
    store.snapshot()
    motivos = {m.codigo: m for m in store.motivos()}
    assert list(motivos) == ["MATERIAL", "PLANO", "CALIDAD", "EQUIPO", "OTRO", "GRUA"]
    assert not motivos["PLANO"].activo and motivos["GRUA"].activo
    assert motivos["GRUA"].descripcion == "Grúa en mantención"


# -- faults ----------------------------------------------------------------------------------


def test_a_429_storm_gives_bounded_retries_then_503_and_writes_nothing(store, emulator):
    antes = (emulator.rows(HOJA, "Operaciones"), emulator.rows(HOJA, "Metadata"))
    fresca = store.spool(TAG)
    decision = decidir(Comando(Accion.TOMAR, Operacion.ARM, TAG, 1), fresca, store.workers(), AHORA, UTC)
    emulator.reset_counts()
    emulator.storm(429)
    with pytest.raises(SourceUnavailable) as caught:
        store.commit(decision)
    assert caught.value.status == 503 and caught.value.retry_after >= 1
    assert emulator.counts["faulted"] == store.client.attempts == 4
    assert (emulator.rows(HOJA, "Operaciones"), emulator.rows(HOJA, "Metadata")) == antes
    with pytest.raises(SourceUnavailable):
        store.snapshot()
    # The storm passes: the same store serves again without a restart.
    emulator.calm()
    assert store.snapshot().spools[2] == fresca
    tomar(store)
    assert by_tag(emulator)[TAG]["ocupado_por"] == "1"


def test_retry_after_from_google_is_honoured(emulator):
    esperas: list[float] = []
    store = open_store(emulator, sleep=esperas.append)
    emulator.fail(429, times=2, retry_after=1.5)
    store.snapshot()
    assert esperas == [1.5, 1.5]


def test_backoff_is_jittered_exponential_and_bounded(emulator):
    esperas: list[float] = []
    store = open_store(emulator, sleep=esperas.append, attempts=6, backoff=1.0, max_backoff=4.0)
    emulator.fail(503, times=5)
    store.snapshot()
    assert len(esperas) == 5
    assert all(0 <= w <= 4.0 for w in esperas)
    assert len(set(esperas)) > 1  # jitter: retries of many clients do not arrive together


class FakeTime:
    """A clock that only moves when the store waits: quota pacing without waiting a real minute."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_requests_wait_for_a_quota_slot_instead_of_drawing_429(emulator):
    tiempo = FakeTime()
    emulator.clock = tiempo.clock
    emulator.set_quota(reads_per_minute=3, writes_per_minute=2)
    store = open_store(emulator, reads_per_minute=3, writes_per_minute=2, sleep=tiempo.sleep, clock=tiempo.clock)
    store.client.quota_wait_s = 120
    for tag in (SPOOLS[0].tag_spool, SPOOLS[1].tag_spool, SPOOLS[2].tag_spool):
        tomar(store, tag)
    assert emulator.counts["quota_exceeded"] == 0
    assert emulator.counts["write"] == 3
    assert tiempo.waits and all(w <= 61 for w in tiempo.waits)
    assert all(by_tag(emulator)[s.tag_spool]["ocupado_por"] == "1" for s in SPOOLS[:3])


def test_a_command_that_would_wait_too_long_for_quota_answers_503_and_sends_nothing(emulator):
    tiempo = FakeTime()
    store = open_store(emulator, writes_per_minute=1, sleep=tiempo.sleep, clock=tiempo.clock)
    tomar(store, SPOOLS[0].tag_spool)
    emulator.reset_counts()
    with pytest.raises(SourceUnavailable) as caught:
        tomar(store, SPOOLS[1].tag_spool)
    assert 50 <= caught.value.retry_after <= 61
    assert emulator.counts["write"] == 0
    assert by_tag(emulator)[SPOOLS[1].tag_spool]["ocupado_por"] == ""


def test_a_503_for_quota_says_when_both_reads_and_writes_have_room(emulator):
    tiempo = FakeTime()
    store = open_store(emulator, reads_per_minute=4, writes_per_minute=1, sleep=tiempo.sleep, clock=tiempo.clock)
    store.snapshot()  # t=1000: the layout and the poll, 2 reads (the second one spaced: t=1020.3)
    tiempo.now += 30
    tomar(store, SPOOLS[0].tag_spool)  # t=1050.3: 1 read, and the minute's only write
    tiempo.now += 1
    with pytest.raises(SourceUnavailable) as caught:
        tomar(store, SPOOLS[1].tag_spool)  # its read would wait 19 s, over the command's 10 s
    # A read is free again in 19 s, but coming back then would only meet the full write minute (t=1111.3).
    assert 15 < store.client._quota["read"].wait_s() < 20
    assert caught.value.retry_after == 60
    assert by_tag(emulator)[SPOOLS[1].tag_spool]["ocupado_por"] == ""


def test_polls_take_at_most_three_quarters_of_the_reads_and_commands_the_rest():
    tiempo = FakeTime()
    window = QuotaWindow(20, tiempo.sleep, tiempo.clock)
    start = tiempo.now
    sent = []
    for _ in range(16):
        window.take(max_wait=120, poll=True)
        sent.append(tiempo.now - start)
    # Fifteen polls in the minute, spaced; the sixteenth waits for the first to leave the window.
    assert sent[14] < 61 <= sent[15]
    # The window now holds fifteen polls: another poll waits for the window to turn, a command only
    # for the spacing.
    assert window.wait_s(poll=True) > window.interval >= window.wait_s()


def test_requests_are_spaced_so_a_busy_minute_never_stalls():
    tiempo = FakeTime()
    window = QuotaWindow(60, tiempo.sleep, tiempo.clock)
    start = tiempo.now
    sent = []
    for _ in range(200):  # three minutes of more demand than the quota
        window.take(max_wait=120)
        sent.append(tiempo.now - start)
    assert sent[: window.burst] == [0.0] * window.burst  # a few go at once...
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert max(gaps) <= window.interval + 1e-6  # ...then one every interval, never a wait for the window
    assert max(sum(1 for t in sent if first <= t < first + 61) for first in sent) <= 60


def test_a_write_whose_answer_is_lost_is_not_applied_twice(store, emulator):
    liberar = emulator.stall_after_write(seconds=5)
    lento = open_store(emulator, timeout=0.5)
    lento.snapshot()
    emulator.reset_counts()
    try:
        decision = tomar(lento)
    finally:
        liberar.set()
    ids = [e["id"] for e in emulator.records(HOJA, "Metadata")]
    assert ids == [decision.event.id]
    assert emulator.counts["write"] == 1  # found in Metadata: never re-sent
    assert by_tag(emulator)[TAG]["version"] == decision.despues.version


def closed_port() -> int:
    """A loopback port nobody listens on: connecting is refused before anything is sent."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_write_whose_connection_is_refused_is_sent_again_without_looking(emulator):
    # The network comes back while the store waits to try again.
    store = open_store(emulator, sleep=lambda seconds: setattr(adapter, "base", f"http://{emulator.host}"))
    store.snapshot()
    decision = decidir(Comando(Accion.TOMAR, Operacion.ARM, TAG, 1), store.spool(TAG), store.workers(), AHORA, UTC)
    adapter = store.client.http().session.get_adapter(SHEETS_ORIGIN + "/")
    adapter.base = f"http://127.0.0.1:{closed_port()}"  # the kernel refuses the connection
    emulator.reset_counts()
    store.commit(decision)
    # Refused before it left: sent again as is, without a lookup read.
    assert emulator.log == [("write", "spreadsheets.batchUpdate")]
    assert [e["id"] for e in emulator.records(HOJA, "Metadata")] == [decision.event.id]
    assert by_tag(emulator)[TAG]["version"] == decision.despues.version


def test_a_lost_answer_that_cannot_be_looked_for_never_claims_nothing_was_written(store, emulator):
    decision = decidir(Comando(Accion.TOMAR, Operacion.ARM, TAG, 1), store.spool(TAG), store.workers(), AHORA, UTC)
    emulator.hang_up_after_write()
    emulator.fail(503, times=100, kind="read")  # and Metadata cannot be read to look for it
    with pytest.raises(SourceUnavailable) as caught:
        store.commit(decision)
    assert "no se escribió nada" not in caught.value.detail
    assert "revise el spool" in caught.value.detail
    assert [e["id"] for e in emulator.records(HOJA, "Metadata")] == [decision.event.id]  # it was applied
    assert emulator.counts["write"] == 1  # and never sent again blindly


def test_a_write_refused_with_5xx_is_sent_again_once(store, emulator):
    emulator.fail(503, times=1, kind="write")
    decision = tomar(store)
    assert [e["id"] for e in emulator.records(HOJA, "Metadata")] == [decision.event.id]
    assert emulator.counts["write"] == 2


def test_every_call_answers_within_its_timeout_under_300_ms_latency(store, emulator):
    emulator.latency = 0.3
    decision = tomar(store)
    assert store.snapshot().spools[2] == decision.despues


# -- sheets-check / sheets-init -------------------------------------------------------------------

OFICINA = [
    # armador appears twice, version and reparacion_ciclo are missing, the rest is in no particular order.
    ["Cliente", "metrologo", "TAG_SPOOL", "Ocupado Por", "armador", "fecha_armado", "Armador", "soldador"],
    ["Astillero Sur", "", "MK-1", "", "", "", "", ""],
]
TRACKING_SIN_VERSION = [
    "timestamp_ocupacion",
    "fecha_soldadura",
    "fecha_metrologia",
    "resultado_metrologia",
    "bloqueo_motivo",
    "bloqueo_desde",
    "bloqueo_nota",
]


@pytest.fixture
def hoja_desordenada(emulator):
    emulator.create(
        "desordenada",
        {"Operaciones": OFICINA, "Trabajadores": [["ID", "Nombre", "Apellido", "Roles", "Activo"]]},
    )
    return SheetsStore(settings(emulator, "desordenada"))


def test_sheets_check_reports_missing_and_duplicate_headers(hoja_desordenada):
    problemas = check(hoja_desordenada.layout)
    assert "Operaciones: header armador is repeated (columns E, G)" in problemas
    for name in ("version", "reparacion_ciclo", *TRACKING_SIN_VERSION):
        assert f"Operaciones: missing header {name}" in problemas
    assert "Metadata: missing tab" in problemas and "Motivos: missing tab" in problemas
    # The one column the service writes in Trabajadores (SPEC §11), added by sheets-init.
    assert [p for p in problemas if p.startswith("Trabajadores")] == ["Trabajadores: missing header pin_hash"]


def test_sheets_init_adds_missing_headers_at_the_end_and_creates_metadata(hoja_desordenada, emulator):
    hecho = init(hoja_desordenada.layout)
    assert hecho
    operaciones = emulator.rows("desordenada", "Operaciones")
    assert operaciones[0][: len(OFICINA[0])] == OFICINA[0]  # existing columns stay where the office put them
    assert sorted(operaciones[0][len(OFICINA[0]) :]) == sorted(["version", "reparacion_ciclo", *TRACKING_SIN_VERSION])
    assert operaciones[1] == ["Astillero Sur", "", "MK-1"]
    assert emulator.rows("desordenada", "Metadata") == [list(EVENT_FIELDS)]
    assert emulator.rows("desordenada", "Motivos") == [
        ["codigo", "descripcion", "activo"],
        *([m.codigo, m.descripcion, "TRUE"] for m in MOTIVOS_POR_DEFECTO),
    ]
    assert emulator.rows("desordenada", "Trabajadores") == [["ID", "Nombre", "Apellido", "Roles", "Activo", "pin_hash"]]
    # Only the duplicate is left: which armador column is meant is the office's call.
    assert check(hoja_desordenada.layout) == ["Operaciones: header armador is repeated (columns E, G)"]
    assert init(hoja_desordenada.layout) == []


def test_a_store_on_a_sheet_with_missing_headers_says_what_to_run(hoja_desordenada):
    with pytest.raises(SourceUnavailable, match="sheets-init"):
        hoja_desordenada.snapshot()


# -- group commit ---------------------------------------------------------------------------------------


def hold_first_write(
    store: SheetsStore, emulator: SheetsEmulator, until: Callable[[], bool], then=None
) -> threading.Event:
    """Keep the next write in flight until ``until()`` holds (other writes wait behind it), then run
    ``then(emulator)`` — a fault or hook for the batch that goes next. The event is set once the write
    reached the stand-in."""
    arrived = threading.Event()

    def en_vuelo(e: SheetsEmulator) -> None:
        arrived.set()
        with store.writes._cond:
            assert store.writes._cond.wait_for(until, timeout=10)
        if then is not None:
            then(e)

    emulator.on_next("write", en_vuelo)
    return arrived


def tomar_all(store: SheetsStore, tags: list[str]) -> dict[str, object]:
    """TOMAR ARM on each tag at once, one thread each, the way concurrent requests run; the decision or
    the exception each got."""
    results: dict[str, object] = {}

    def run(tag: str) -> None:
        try:
            results[tag] = tomar(store, tag)
        except Exception as exc:  # the assertion below names it
            results[tag] = exc

    hilos = [threading.Thread(target=run, args=(tag,)) for tag in tags]
    for hilo in hilos:
        hilo.start()
    for hilo in hilos:
        hilo.join(timeout=20)
    return results


def assert_each_committed_once(emulator: SheetsEmulator, results: dict[str, object]) -> None:
    """Every command's event is in Metadata exactly once, and its row carries its version."""
    decisions = list(results.values())
    assert all(not isinstance(d, Exception) for d in decisions), results
    ids = [e["id"] for e in emulator.records(HOJA, "Metadata")]
    assert sorted(ids) == sorted(d.event.id for d in decisions)
    filas = by_tag(emulator)
    assert all(filas[tag]["version"] == d.despues.version for tag, d in results.items())


def test_a_batch_refused_whole_is_sent_again_write_by_write_with_no_event_twice(store, emulator):
    tags = [s.tag_spool for s in SPOOLS[:5]]
    # The first write stays in flight until four more wait for the next batch; Google refuses that batch
    # whole (one bad request sinks all of it).
    refuse = lambda e: e.on_next("write", lambda e: e.fail(400, kind="write"))  # noqa: E731
    hold_first_write(store, emulator, lambda: len(store.writes._open.writes) == 4, then=refuse)
    results = tomar_all(store, tags)
    assert_each_committed_once(emulator, results)
    assert emulator.log.count(("write", "spreadsheets.batchUpdate")) == 1 + 1 + 4  # first, refused batch, each alone


def test_a_batch_whose_answer_is_lost_is_looked_for_and_never_sent_twice(store, emulator):
    tags = [s.tag_spool for s in SPOOLS[:5]]
    lose = lambda e: e.on_next("write", lambda e: e.hang_up_after_write(reset=True))  # noqa: E731
    hold_first_write(store, emulator, lambda: len(store.writes._open.writes) == 4, then=lose)
    results = tomar_all(store, tags)
    assert_each_committed_once(emulator, results)
    assert emulator.log.count(("write", "spreadsheets.batchUpdate")) == 2  # the batch was found applied


def test_a_second_change_of_a_spool_waits_for_the_first_and_is_not_decided_on_the_same_row(store, emulator):
    fresca = store.spool(TAG)
    primera = decidir(Comando(Accion.TOMAR, Operacion.ARM, TAG, 1), fresca, store.workers(), AHORA, UTC)
    segunda = decidir(Comando(Accion.TOMAR, Operacion.ARM, TAG, 2), fresca, store.workers(), AHORA, UTC)
    # The first write stays in flight until the second, decided on the same read, waits for it.
    arrived = hold_first_write(store, emulator, lambda: store.writes.waiting == 1)
    hilo = threading.Thread(target=store.commit, args=(primera,))
    hilo.start()
    assert arrived.wait(timeout=10)
    with pytest.raises(StaleWrite):
        store.commit(segunda)
    hilo.join(timeout=20)
    assert [e["id"] for e in emulator.records(HOJA, "Metadata")] == [primera.event.id]
    assert by_tag(emulator)[TAG]["ocupado_por"] == "1"


def test_rows_the_office_copied_with_their_version_are_not_taken_for_a_stray_write(emulator):
    # Two spools whose rows carry the same version cell (copied and pasted in the office, never
    # written by a command): the log knows neither, so neither row disagrees with it.
    copiados = [Spool("MK-2000-CW-1-001", version="copiada"), Spool("MK-2000-CW-1-002", version="copiada")]
    emulator.create("copiada", shop_tabs(copiados, WORKERS))
    store = SheetsStore(settings(emulator, "copiada"))
    assert store.snapshot().spools == tuple(copiados)
    assert store.inconsistencies() == []
    for spool in copiados:
        decision = tomar(store, spool.tag_spool)
        assert store.spool(spool.tag_spool) == decision.despues
    store.snapshot()
    assert store.inconsistencies() == []
