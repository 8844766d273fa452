"""The worker station: pick the worker and operation, scan a spool, act on it with big buttons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from app.demo import PINES

from .conftest import full_name, no_feed

pytestmark = pytest.mark.browser


def events(shop, tag: str) -> list[tuple[str, int]]:
    """The spool's event log as (evento_tipo, worker_id) pairs."""
    return [(e["evento_tipo"], e["worker_id"]) for e in shop.historial(tag)]


def test_a_worker_takes_and_completes_a_spool_with_a_typed_tag(pages, shop):
    juan = shop.worker("ARMADOR")
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station()
    station.sign_in(juan, "ARM")

    station.page.keyboard.type(tag)  # straight into the scan field, which took the focus by itself
    station.page.keyboard.press("Enter")
    expect(station.card).to_contain_text(tag)
    expect(station.card).to_contain_text("Disponible")
    expect(station.card).to_contain_text("Libre")

    station.action("TOMAR").click()
    expect(station.message).to_contain_text(f"Spool {tag} tomado para Armado")
    expect(station.card).to_contain_text("En armado")
    expect(station.card).to_contain_text(f"Ocupado por {full_name(juan)}")
    expect(station.action("TOMAR")).to_have_count(0)
    expect(station.mine.get_by_test_id("mis-spool").filter(has_text=tag)).to_contain_text("menos de 1 min")

    station.action("COMPLETAR").click()
    expect(station.message).to_contain_text(f"Armado de {tag} completado")
    expect(station.card).to_contain_text("Armado completo")
    expect(station.mine.get_by_test_id("mis-spool").filter(has_text=tag)).to_have_count(0)
    assert events(shop, tag) == [("TOMAR_ARM", juan["id"]), ("COMPLETAR_ARM", juan["id"])]

    station.scan(shop.spools(estado="DISPONIBLE")[0]["tag_spool"])  # the field took the focus back after the tap


def test_a_worker_signs_in_by_typing_the_id_and_sees_only_their_operations(pages, shop):
    luis = next(w for w in shop.get("/workers")["workers"] if sorted(w["roles"]) == ["ARMADOR", "SOLDADOR"])
    station = pages.station()
    expect(station.page.get_by_test_id("worker-input")).to_be_focused()

    station.page.keyboard.type(str(luis["id"]))
    station.page.keyboard.press("Enter")
    expect(station.page.get_by_test_id("pin-pad")).to_be_visible()
    station.page.keyboard.type(PINES[luis["id"]])  # a keyboard types the PIN as well as the pad
    station.page.keyboard.press("Enter")

    expect(station.page.get_by_test_id("tag-input")).to_be_visible()
    for operacion, shown in (("ARM", True), ("SOLD", True), ("REPARACION", True), ("METROLOGIA", False)):
        expect(station.page.get_by_test_id(f"operation-{operacion}")).to_be_visible(visible=shown)


def test_unknown_and_inactive_workers_are_told_why_they_cannot_start(pages, shop):
    inactive = next(w for w in shop.get("/workers")["workers"] if not w["activo"])
    station = pages.station()
    worker_input = station.page.get_by_test_id("worker-input")

    worker_input.fill("9999")
    worker_input.press("Enter")
    expect(station.message).to_contain_text("No existe el trabajador 9999")

    worker_input.fill(str(inactive["id"]))
    worker_input.press("Enter")
    expect(station.message).to_contain_text("Trabajador inactivo")
    expect(station.page.get_by_test_id("worker-option").filter(has_text=full_name(inactive))).to_have_count(0)
    expect(station.page.get_by_test_id("tag-input")).to_be_hidden()


def test_a_tablet_left_alone_signs_its_worker_out(pages, shop):
    station = pages.station()
    station.page.clock.install()
    station.page.reload()
    station.sign_in(shop.worker("ARMADOR"), "ARM")
    station.page.clock.fast_forward("04:00")
    station.page.keyboard.type("X")  # someone is still there: the countdown starts again
    station.page.clock.fast_forward("04:00")
    expect(station.page.get_by_test_id("tag-input")).to_be_visible()

    station.page.clock.fast_forward("01:01")

    expect(station.message).to_contain_text("Sesión cerrada")
    expect(station.page.get_by_test_id("worker-input")).to_be_focused()
    expect(station.page.get_by_test_id("tag-input")).to_be_hidden()


def test_an_unknown_tag_is_reported_and_the_scan_field_keeps_focus(pages, shop):
    station = pages.station()
    station.sign_in(shop.worker("ARMADOR"), "ARM")
    station.page.keyboard.type("NO-EXISTE-1")
    station.page.keyboard.press("Enter")
    expect(station.message).to_contain_text("No existe el spool «NO-EXISTE-1»")
    expect(station.card).to_be_hidden()
    expect(station.page.get_by_test_id("tag-input")).to_be_focused()


def test_a_tag_typed_in_lower_case_with_spaces_opens_the_spool_by_its_own_tag(pages, shop):
    pedro, supervisor = shop.worker("ARMADOR", 1), shop.worker("SUPERVISOR")
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station()
    station.sign_in(pedro, "ARM")

    station.page.keyboard.type(f"  {tag.lower()} ")
    station.page.keyboard.press("Enter")

    expect(station.card).to_contain_text(tag)
    station.action("TOMAR").click()
    expect(station.message).to_contain_text(f"Spool {tag} tomado para Armado")
    expect(station.card).to_contain_text(f"Ocupado por {full_name(pedro)}")
    assert events(shop, tag) == [("TOMAR_ARM", pedro["id"])]

    shop.command("PAUSAR", tag, supervisor, "ARM", motivo="Cambio de turno")  # from another tablet

    expect(station.card).to_have_attribute("data-estado", "DISPONIBLE")
    expect(station.card).to_contain_text("Libre")
    expect(station.action("TOMAR")).to_be_visible()


@pytest.mark.parametrize("failure", ["unknown tag", "server error", "no answer"])
def test_a_failed_lookup_leaves_no_card_on_screen(pages, shop, failure):
    shown, other = (s["tag_spool"] for s in shop.spools(estado="DISPONIBLE")[:2])
    station = pages.station_at(shown, shop.worker("ARMADOR"))
    expect(station.action("TOMAR")).to_be_visible()
    scanned, words = "NO-EXISTE-1", "No existe el spool «NO-EXISTE-1»"
    if failure == "server error":
        scanned, words = other, "Error del servidor"
        station.page.route(f"**/api/spools/{other}", answer_with_problem("INTERNAL", 500))
    elif failure == "no answer":
        scanned, words = other, "Sin conexión con el servidor"
        station.page.route(f"**/api/spools/{other}", lambda route: route.abort("internetdisconnected"))

    station.page.keyboard.type(scanned)
    station.page.keyboard.press("Enter")

    expect(station.message).to_contain_text(words)
    expect(station.card).to_be_hidden()
    expect(station.page.get_by_test_id("tag-input")).to_be_focused()


@pytest.mark.parametrize(
    ("operacion", "estado", "nombre"),
    [
        ("SOLD", "ARM_COMPLETADO", "Soldadura"),
        ("REPARACION", "RECHAZADO", "Reparación"),
    ],
)
def test_completing_soldadura_or_reparacion_says_completada(pages, shop, operacion, estado, nombre):
    tag = shop.spools(estado=estado)[0]["tag_spool"]
    station = pages.station_at(tag, shop.worker("SOLDADOR"), operacion)
    station.action("TOMAR").click()
    expect(station.message).to_contain_text("tomado")

    station.action("COMPLETAR").click()

    expect(station.message).to_have_text(f"{nombre} de {tag} completada.")


def test_metrologia_completion_asks_aprobado_or_rechazado(pages, shop):
    maria = shop.worker("METROLOGIA")
    tag = shop.spools(estado="SOLD_COMPLETADO")[0]["tag_spool"]
    station = pages.station_at(tag, maria, None)  # METROLOGIA is her only operation: already chosen
    station.action("TOMAR").click()
    expect(station.card).to_contain_text("En metrología")

    station.action("COMPLETAR").click()
    expect(station.action("resultado-APROBADO")).to_be_visible()
    station.action("resultado-RECHAZADO").click()

    expect(station.message).to_contain_text(f"Metrología de {tag}: RECHAZADO")
    expect(station.card).to_contain_text("Rechazado")
    assert events(shop, tag)[-1] == ("COMPLETAR_METROLOGIA_RECHAZADO", maria["id"])


def test_mis_spools_lists_what_the_worker_holds_and_pauses_with_one_tap(pages, shop):
    pedro = shop.worker("ARMADOR", 1)
    held = shop.spools(ocupado_por=pedro["id"])
    assert held, "the demo shop gives every ARMADOR spools in hand"
    station = pages.station()
    station.sign_in(pedro, "ARM")
    rows = station.mine.get_by_test_id("mis-spool")
    expect(rows).to_have_count(len(held))
    row = rows.filter(has_text=held[0]["tag_spool"])
    expect(row).to_contain_text(" min")  # how long it has been held

    row.get_by_test_id("mis-spool-PAUSAR").click()

    expect(station.message).to_contain_text(f"Spool {held[0]['tag_spool']} pausado")
    expect(rows).to_have_count(len(held) - 1)
    assert shop.spool(held[0]["tag_spool"])["ocupado_por"] is None


def test_completing_metrologia_from_mis_spools_asks_for_the_result_on_the_card(pages, shop):
    maria = shop.worker("METROLOGIA")
    tag = shop.spools(ocupado_por=maria["id"], estado="OCUPADO_METROLOGIA")[0]["tag_spool"]
    station = pages.station()
    station.sign_in(maria)
    station.mine.get_by_test_id("mis-spool").filter(has_text=tag).get_by_test_id("mis-spool-COMPLETAR").click()

    expect(station.card).to_contain_text(tag)
    expect(station.action("resultado-APROBADO")).to_be_in_viewport()
    station.action("resultado-APROBADO").click()

    expect(station.message).to_contain_text(f"Metrología de {tag}: APROBADO")
    expect(station.mine.get_by_test_id("mis-spool").filter(has_text=tag)).to_have_count(0)
    assert events(shop, tag)[-1] == ("COMPLETAR_METROLOGIA_APROBADO", maria["id"])


def test_only_the_holder_or_a_supervisor_is_offered_pausar_and_completar(pages, shop):
    juan, pedro = shop.worker("ARMADOR", 0), shop.worker("ARMADOR", 1)
    supervisor = shop.worker("SUPERVISOR")
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    shop.tomar(tag, juan, "ARM")

    other = pages.station_at(tag, pedro)
    expect(other.card).to_contain_text(f"Solo {full_name(juan)} o un supervisor puede pausarlo o completarlo")
    expect(other.card.get_by_role("button")).to_have_count(0)

    boss = pages.station_at(tag, supervisor)
    expect(boss.action("TOMAR")).to_have_count(0)
    boss.action("PAUSAR").click()
    # Someone else's spool: the supervisor says why first (SPEC §13), and nothing is sent until then.
    expect(boss.message).to_contain_text(f"Escriba por qué libera el spool de {full_name(juan)}")
    reason = boss.card.get_by_test_id("motivo-texto")
    expect(reason).to_be_focused()
    boss.card.get_by_test_id("motivo-confirmar").click()
    expect(boss.message).to_contain_text("Escriba el motivo antes de pausar")
    assert events(shop, tag) == [("TOMAR_ARM", juan["id"])]
    reason.fill("Juan salió temprano")
    boss.card.get_by_test_id("motivo-confirmar").click()
    expect(boss.message).to_contain_text("pausado")
    assert events(shop, tag)[-1] == ("PAUSAR_ARM", supervisor["id"])
    assert shop.historial(tag)[-1]["metadata_json"]["motivo"] == "Juan salió temprano"


def test_two_tablets_take_the_same_spool_one_wins_the_other_is_told_and_refreshed(pages, shop):
    juan, pedro = shop.worker("ARMADOR", 0), shop.worker("ARMADOR", 1)
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    first = pages.station_at(tag, juan)
    # Without its feed the second card stays as Pedro saw it, so only the server can catch the race.
    second = pages.station_at(tag, pedro, changes=no_feed)

    first.action("TOMAR").click()
    expect(first.message).to_contain_text("tomado")
    second.action("TOMAR").click()

    expect(second.message).to_contain_text(f"Otro trabajador tomó este spool ({full_name(juan)})")
    expect(second.card).to_contain_text(f"Ocupado por {full_name(juan)}")
    expect(second.action("TOMAR")).to_have_count(0)
    assert events(shop, tag) == [("TOMAR_ARM", juan["id"])]


def test_a_card_on_screen_follows_a_change_made_elsewhere(pages, shop):
    juan, pedro = shop.worker("ARMADOR", 0), shop.worker("ARMADOR", 1)
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station_at(tag, pedro)
    expect(station.action("TOMAR")).to_be_visible()

    shop.tomar(tag, juan, "ARM")

    expect(station.card).to_contain_text(f"Ocupado por {full_name(juan)}")
    expect(station.action("TOMAR")).to_have_count(0)


# Every §5 error code, as the server would send it, and the Spanish words the worker must read.
PROBLEMS = (
    ("VALIDATION_ERROR", 422, "Dato no válido"),
    ("NOT_FOUND", 404, "No se encontró el spool o el trabajador"),
    ("METHOD_NOT_ALLOWED", 405, "El servidor no acepta esta acción"),
    ("WORKER_INACTIVE", 403, "Trabajador inactivo"),
    ("ROLE_NOT_AUTHORIZED", 403, "Su rol no le permite esta operación"),
    ("NOT_HOLDER", 403, "solo él o un supervisor"),
    ("SPOOL_OCCUPIED", 409, "Otro trabajador tomó este spool"),
    ("SPOOL_BLOCKED", 409, "Este spool está bloqueado"),
    ("INVALID_TRANSITION", 409, "Esta acción ya no corresponde"),
    ("VERSION_CONFLICT", 409, "El spool cambió mientras tanto"),
    ("IDEMPOTENCY_KEY_REUSED", 422, "No se pudo repetir la acción"),
    ("PAYLOAD_TOO_LARGE", 413, "Datos demasiado largos"),
    ("SOURCE_UNAVAILABLE", 503, "La planilla no responde"),
    ("INTERNAL", 500, "Error del servidor"),
)


def answer_with_problem(code: str, status: int):
    """A route handler answering a command the way the server reports ``code``."""
    problem = {"type": "about:blank", "title": code, "status": status, "detail": "", "code": code}
    return lambda route: route.fulfill(status=status, json=problem, headers={"Retry-After": "1"})


def test_every_error_code_has_its_own_spanish_message(pages, shop, subtests):
    station = pages.station_at(shop.spools(estado="DISPONIBLE")[0]["tag_spool"], shop.worker("ARMADOR"))
    shown = set()
    for code, status, words in PROBLEMS:
        with subtests.test(code=code):
            station.page.route("**/api/tomar-accion", answer_with_problem(code, status))
            station.action("TOMAR").click()
            expect(station.message).to_contain_text(words)
            expect(station.message).to_have_attribute("data-kind", "error")
            shown.add(station.message.text_content())
            station.page.unroute("**/api/tomar-accion")
    assert len(shown) == len(PROBLEMS)  # no two codes share a message


def test_a_tap_whose_answer_is_lost_is_retried_with_its_key_and_applied_once(pages, shop):
    juan = shop.worker("ARMADOR")
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station_at(tag, juan)
    keys, applied = [], []

    def cut_the_first_answer(route):
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            applied.append(route.fetch().status)  # the server gets the tap and applies it...
            route.abort("internetdisconnected")  # ...and the Wi-Fi drops before the answer is back
        else:
            route.continue_()

    station.page.route("**/api/tomar-accion", cut_the_first_answer)
    station.action("TOMAR").click()

    expect(station.message).to_contain_text(f"Spool {tag} tomado")
    expect(station.card).to_contain_text(f"Ocupado por {full_name(juan)}")
    assert applied == [200]
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0]
    assert events(shop, tag) == [("TOMAR_ARM", juan["id"])]


def test_a_worker_tapping_again_after_a_lost_answer_reuses_the_key(pages, shop):
    juan = shop.worker("ARMADOR")
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station_at(tag, juan, changes=no_feed)  # the Wi-Fi is down for the whole tablet
    keys, applied, wifi = [], [], {"up": False}

    def wifi_down_after_the_first_request(route):
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            applied.append(route.fetch().status)
            route.abort("internetdisconnected")
        elif wifi["up"]:
            route.continue_()
        else:
            route.abort("internetdisconnected")

    station.page.route("**/api/tomar-accion", wifi_down_after_the_first_request)
    station.action("TOMAR").click()
    expect(station.message).to_contain_text("Sin respuesta del servidor")
    expect(station.action("TOMAR")).to_be_enabled()  # the card cannot know the tap got through

    wifi["up"] = True
    station.action("TOMAR").click()

    expect(station.message).to_contain_text(f"Spool {tag} tomado")
    assert applied == [200]
    assert len(keys) >= 2 and set(keys) == {keys[0]}
    assert events(shop, tag) == [("TOMAR_ARM", juan["id"])]


def test_a_tablet_with_a_wrong_clock_still_shows_the_right_elapsed_time(pages, shop):
    juan = shop.worker("ARMADOR")
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station()
    station.page.clock.install(time=datetime.now(UTC) + timedelta(hours=3))  # set by hand, long ago
    station.page.reload()
    station.sign_in(juan, "ARM")
    station.scan(tag)

    station.action("TOMAR").click()

    expect(station.card).to_contain_text("hace menos de 1 min")


# How long ago, in ms, and how a worker reads it.
ELAPSED = [
    (0, "menos de 1 min"),
    (59_000, "menos de 1 min"),
    (5 * 60_000, "5 min"),
    (65 * 60_000, "1 h 05 min"),
    (25 * 3_600_000 + 60_000, "1 d 1 h"),
    (-30_000, "menos de 1 min"),  # a clock a little ahead of the server's
]


def test_elapsed_times_read_naturally(pages):
    page = pages.open("/board")
    shown = page.evaluate("(cases) => cases.map((ms) => ZEUES.clock.formatDuration(ms))", [ms for ms, _ in ELAPSED])
    assert shown == [text for _, text in ELAPSED]


def test_timestamps_in_every_iso_spelling_are_read(pages):
    page = pages.open("/board")
    spellings = ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000000Z", "2026-01-02T00:04:05-03:00"]
    read = page.evaluate("(texts) => texts.map((text) => ZEUES.clock.parseIso(text))", spellings)
    assert read == [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp() * 1000] * 3
