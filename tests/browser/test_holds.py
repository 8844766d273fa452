"""Holds, releases with a reason and alerts on the station and the board (SPEC §13)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import LiveServer

from .conftest import Pages, Shop, full_name, no_feed

pytestmark = pytest.mark.browser

LIVE_MS = 2_000
DEFAULT_REASONS = ["MATERIAL", "PLANO", "CALIDAD", "EQUIPO", "OTRO"]


def events(shop, tag: str) -> list[tuple[str, int]]:
    return [(e["evento_tipo"], e["worker_id"]) for e in shop.historial(tag)]


def test_the_holder_puts_the_spool_in_hand_on_hold_and_otro_asks_for_a_note(pages, shop):
    juan = shop.worker("ARMADOR")
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station_at(tag, juan)
    expect(station.action("BLOQUEAR")).to_have_count(0)  # a free spool: only a supervisor may hold it
    station.action("TOMAR").click()
    expect(station.message).to_contain_text("tomado")

    station.action("BLOQUEAR").click()
    for codigo in DEFAULT_REASONS:
        expect(station.action(f"motivo-{codigo}")).to_be_visible()
    station.action("motivo-OTRO").click()
    expect(station.message).to_contain_text("Escriba en la nota por qué")
    expect(station.card.get_by_test_id("bloqueo-nota")).to_be_focused()
    assert events(shop, tag) == [("TOMAR_ARM", juan["id"])]  # nothing sent without the note

    station.card.get_by_test_id("bloqueo-nota").fill("Falta el soporte del cliente")
    station.action("motivo-OTRO").click()

    expect(station.message).to_contain_text(f"Spool {tag} bloqueado")
    expect(station.card).to_have_attribute("data-estado", "BLOQUEADO")
    expect(station.card.get_by_test_id("bloqueo")).to_contain_text("Falta el soporte del cliente")
    expect(station.card.get_by_test_id("bloqueo")).to_contain_text("vuelve a Disponible")
    expect(station.card).to_contain_text("solo un supervisor puede desbloquearlo")
    expect(station.card.get_by_role("button")).to_have_count(0)
    expect(station.mine.get_by_test_id("mis-spool").filter(has_text=tag)).to_have_count(0)  # released
    [_, hold] = shop.historial(tag)
    assert (hold["evento_tipo"], hold["worker_id"], hold["operacion"]) == ("BLOQUEAR", juan["id"], "ARM")
    assert hold["metadata_json"]["motivo"] == "OTRO"
    assert hold["metadata_json"]["nota"] == "Falta el soporte del cliente"


def test_a_supervisor_holds_a_free_spool_and_lifts_the_hold(pages, shop):
    supervisor = shop.worker("SUPERVISOR")
    tag = shop.spools(estado="ARM_COMPLETADO")[0]["tag_spool"]
    station = pages.station_at(tag, supervisor, "SOLD")

    station.action("BLOQUEAR").click()
    station.action("motivo-PLANO").click()
    expect(station.message).to_contain_text(f"Spool {tag} bloqueado: Plano en revisión")
    expect(station.card).to_have_attribute("data-estado", "BLOQUEADO")

    station.action("DESBLOQUEAR").click()
    expect(station.message).to_contain_text(f"Spool {tag} desbloqueado: vuelve a Armado completo")
    expect(station.card).to_have_attribute("data-estado", "ARM_COMPLETADO")
    assert events(shop, tag) == [("BLOQUEAR", supervisor["id"]), ("DESBLOQUEAR", supervisor["id"])]


def test_a_worker_tapping_a_spool_held_meanwhile_is_told_why(pages, shop):
    pedro, supervisor = shop.worker("ARMADOR", 1), shop.worker("SUPERVISOR")
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station_at(tag, pedro, changes=no_feed)  # the card cannot know about the hold
    shop.command("BLOQUEAR", tag, supervisor, None, motivo="EQUIPO")

    station.action("TOMAR").click()

    expect(station.message).to_contain_text("Este spool está bloqueado (Equipo no disponible)")
    expect(station.card).to_have_attribute("data-estado", "BLOQUEADO")  # redrawn from the answer
    expect(station.action("TOMAR")).to_have_count(0)
    assert events(shop, tag) == [("BLOQUEAR", supervisor["id"])]


def test_a_supervisor_completing_someone_elses_inspection_gives_the_reason_and_the_verdict(pages, shop):
    supervisor = shop.worker("SUPERVISOR")
    spool = shop.spools(estado="OCUPADO_METROLOGIA")[0]
    station = pages.station_at(spool["tag_spool"], supervisor, "METROLOGIA")

    station.action("COMPLETAR").click()
    station.card.get_by_test_id("motivo-texto").fill("Informe entregado en papel")
    station.action("resultado-APROBADO").click()

    expect(station.message).to_contain_text(f"Metrología de {spool['tag_spool']}: APROBADO")
    event = shop.historial(spool["tag_spool"])[-1]
    assert (event["evento_tipo"], event["worker_id"]) == ("COMPLETAR_METROLOGIA_APROBADO", supervisor["id"])
    assert event["metadata_json"]["motivo"] == "Informe entregado en papel"
    assert event["metadata_json"]["ocupado_por"] == spool["ocupado_por"]


# --- the board --------------------------------------------------------------------------------------


def test_holds_and_their_release_reach_the_board_counts_per_reason_without_a_reload(pages, shop):
    supervisor = shop.worker("SUPERVISOR")
    board = pages.board()
    board.evaluate("window.notReloaded = true")
    held = shop.spools(estado="BLOQUEADO")
    expect(board.get_by_test_id("board-count-BLOQUEADO")).to_have_text(str(len(held)))
    for spool in held:
        expect(board.get_by_test_id(f"board-bloqueo-{spool['bloqueo_motivo']}")).to_have_attribute("data-count", "1")
    expect(board.get_by_test_id("board-bloqueo-EQUIPO")).to_have_count(0)
    tag = shop.spools(estado="OCUPADO_SOLD")[0]["tag_spool"]
    station = pages.station_at(tag, supervisor, "SOLD")

    station.action("BLOQUEAR").click()
    station.action("motivo-EQUIPO").click()
    expect(station.message).to_contain_text("bloqueado")

    expect(board.get_by_test_id("board-count-BLOQUEADO")).to_have_text(str(len(held) + 1), timeout=LIVE_MS)
    expect(board.get_by_test_id("board-bloqueo-EQUIPO")).to_have_attribute("data-count", "1", timeout=LIVE_MS)
    expect(board.get_by_test_id("board-bloqueo-EQUIPO")).to_contain_text("Equipo no disponible")
    expect(board.get_by_test_id("board-row").filter(has_text=tag)).to_have_count(0)  # no longer occupied

    station.action("DESBLOQUEAR").click()
    expect(board.get_by_test_id("board-count-BLOQUEADO")).to_have_text(str(len(held)), timeout=LIVE_MS)
    expect(board.get_by_test_id("board-bloqueo-EQUIPO")).to_have_count(0, timeout=LIVE_MS)
    assert board.evaluate("window.notReloaded === true")


@pytest.fixture
def alerting(tmp_path, browser):
    """A server whose alert thresholds are short: a spool held 15 s is an alert, a hold of 40 h too; every
    spool of the demo shop is released first, so the board starts with one alert (the 52 h hold)."""
    server = LiveServer(tmp_path, {"ZEUES_ALERT_OCCUPIED_H": "0.004", "ZEUES_ALERT_BLOCKED_H": "40"})
    server.load_demo()
    server.start()
    shop, pages = Shop(server.url), Pages(browser, server.url)
    supervisor = shop.worker("SUPERVISOR")
    for spool in shop.spools():
        if spool["ocupado_por"]:
            shop.command("PAUSAR", spool["tag_spool"], supervisor, spool["operacion_actual"], motivo="Inicio de prueba")
    yield shop, pages
    pages.close()
    server.stop()
    assert not pages.errors, pages.errors


def test_alerts_appear_on_the_board_as_time_passes_and_go_with_the_change_that_ends_them(alerting):
    shop, pages = alerting
    board = pages.board()
    board.evaluate("window.notReloaded = true")
    alerts = board.get_by_test_id("board-alert")
    [old_hold] = [s for s in shop.spools(estado="BLOQUEADO") if s["bloqueo_motivo"] == "OTRO"]
    expect(alerts).to_have_count(1)
    expect(alerts.first).to_have_attribute("data-tipo", "BLOQUEO_LARGO")
    expect(alerts.first).to_contain_text(old_hold["tag_spool"])
    expect(alerts.first).to_contain_text("Otro motivo")

    juan = shop.worker("ARMADOR")
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    shop.tomar(tag, juan, "ARM")
    expect(board.get_by_test_id("board-row").filter(has_text=tag)).to_be_visible(timeout=LIVE_MS)
    expect(alerts).to_have_count(1)

    # 14.4 s after the TOMAR it is held too long: the board says so by itself (it looks every 10 s).
    occupied_too_long = alerts.and_(board.locator(f"[data-tag='{tag}']"))
    expect(occupied_too_long).to_have_attribute("data-tipo", "OCUPACION_LARGA", timeout=30_000)
    expect(occupied_too_long).to_contain_text(full_name(juan))
    assert shop.get("/alertas")["alertas"][0]["tag_spool"] == old_hold["tag_spool"]

    shop.command("DESBLOQUEAR", old_hold["tag_spool"], shop.worker("SUPERVISOR"), None)
    expect(alerts).to_have_count(1, timeout=LIVE_MS)
    expect(alerts.first).to_have_attribute("data-tag", tag)
    assert board.evaluate("window.notReloaded === true")
