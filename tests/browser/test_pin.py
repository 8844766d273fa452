"""The PIN pad on a shared tablet (SPEC §11): signing in, a wrong PIN, a token kept in memory only and ended
on the server, and pages that break no rule of their Content-Security-Policy."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from app.demo import PINES
from tests.conftest import LiveServer
from tests.server.test_auth_server import call, flask_cli, new_token

from .conftest import Pages, Station, full_name

pytestmark = pytest.mark.browser

# Records every violation of the page's Content-Security-Policy (the browser blocks and reports them).
CSP_LISTENER = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (event) {
  window.__violations.push(event.violatedDirective + ' ' + event.blockedURI);
});
"""


def tap_worker(station: Station, worker: dict) -> None:
    """Tap the worker's name: the PIN pad shows."""
    station.page.get_by_test_id("worker-option").filter(has_text=full_name(worker)).click()
    expect(station.page.get_by_test_id("pin-pad")).to_be_visible()


def signed_in(station: Station, worker: dict) -> str:
    """Sign in on the pad; the session's token, as the server gave it to the page."""
    tap_worker(station, worker)
    with station.page.expect_response("**/api/sesiones") as answer:
        station.enter_pin(PINES[worker["id"]])
    expect(station.page.get_by_test_id("pin-pad")).to_be_hidden()
    return answer.value.json()["token"]


def test_a_worker_signs_in_with_the_pin_pad_and_takes_a_spool(pages, shop):
    juan = shop.worker("ARMADOR")
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station()
    tap_worker(station, juan)
    pad = station.page.get_by_test_id("pin-pad")

    for digit in "019":  # a slip of the glove, corrected
        pad.get_by_test_id(f"pin-digit-{digit}").click()
    expect(pad.get_by_test_id("pin-ok")).to_be_disabled()  # fewer than 4 digits
    pad.get_by_test_id("pin-borrar").click()
    for digit in PINES[juan["id"]][2:]:
        pad.get_by_test_id(f"pin-digit-{digit}").click()
    expect(station.page.get_by_test_id("pin-dots")).to_have_text("●●●●")
    pad.get_by_test_id("pin-ok").click()

    expect(pad).to_be_hidden()
    expect(station.page.get_by_test_id("tag-input")).to_be_focused()
    station.page.get_by_test_id("operation-ARM").click()
    station.scan(tag)
    station.action("TOMAR").click()
    expect(station.message).to_contain_text(f"Spool {tag} tomado")
    [event] = shop.historial(tag)
    assert (event["worker_id"], event["metadata_json"]["via"]) == (juan["id"], "sesion")


def test_a_wrong_pin_is_told_and_the_pad_waits_for_the_right_one(pages, shop):
    pedro = shop.worker("ARMADOR", 1)
    station = pages.station()
    tap_worker(station, pedro)

    station.enter_pin("9999")
    expect(station.message).to_have_text("PIN incorrecto. Intente de nuevo.")
    expect(station.page.get_by_test_id("pin-pad")).to_be_visible()
    expect(station.page.get_by_test_id("pin-dots")).not_to_contain_text("●")

    station.enter_pin(PINES[pedro["id"]])
    expect(station.page.get_by_test_id("tag-input")).to_be_visible()


def test_the_token_stays_in_memory_and_the_idle_sign_out_ends_it_on_the_server(pages, shop):
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station()
    station.page.clock.install()
    station.page.reload()
    token = signed_in(station, shop.worker("ARMADOR"))
    station.page.get_by_test_id("operation-ARM").click()
    station.scan(tag)
    station.action("TOMAR").click()
    expect(station.message).to_contain_text("tomado")

    stored = station.page.evaluate(
        "() => [localStorage.length, sessionStorage.length, document.cookie,"
        " JSON.stringify(localStorage), JSON.stringify(sessionStorage)]"
    )
    assert stored[:3] == [0, 0, ""] and token not in "".join(stored[3:])
    assert station.page.context.cookies() == []

    with station.page.expect_response("**/api/sesiones/actual") as signed_out:
        station.page.clock.fast_forward("05:01")
    assert signed_out.value.status == 204
    expect(station.message).to_contain_text("Sesión cerrada")
    pausa = requests.post(
        f"{shop.url}/api/pausar-accion",
        json={"tag_spool": tag, "operacion": "ARM"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert (pausa.status_code, pausa.json()["code"]) == (401, "UNAUTHENTICATED")


def test_a_session_ended_elsewhere_sends_the_station_back_to_the_worker_list(pages, shop):
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station()
    token = signed_in(station, shop.worker("ARMADOR"))
    station.page.get_by_test_id("operation-ARM").click()
    station.scan(tag)
    requests.delete(f"{shop.url}/api/sesiones/actual", headers={"Authorization": f"Bearer {token}"}, timeout=10)

    station.action("TOMAR").click()

    expect(station.message).to_have_text("Su sesión terminó. Toque su nombre e ingrese su PIN de nuevo.")
    expect(station.page.get_by_test_id("worker-option").first).to_be_visible()
    expect(station.page.get_by_test_id("tag-input")).to_be_hidden()
    assert shop.spool(tag)["estado"] == "DISPONIBLE"


def test_the_pages_break_no_rule_of_their_content_security_policy(pages, shop):
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station()
    station.page.add_init_script(CSP_LISTENER)
    station.page.reload()
    station.sign_in(shop.worker("ARMADOR"), "ARM")
    station.scan(tag)
    station.action("TOMAR").click()
    expect(station.message).to_contain_text("tomado")
    board = pages.open("/board")
    board.add_init_script(CSP_LISTENER)
    board.reload()
    expect(board.get_by_test_id("board-row").first).to_be_visible()

    for page in (station.page, board):
        assert page.evaluate("() => window.__violations") == []
    # The listener hears what the policy blocks: an inline script, as an injected tag would be.
    ran = board.evaluate(
        "() => { var s = document.createElement('script'); s.textContent = 'window.__ran = true;';"
        " document.body.appendChild(s); return window.__ran === true; }"
    )
    assert ran is False
    board.wait_for_function("() => window.__violations.length > 0")
    assert board.evaluate("() => window.__violations[0]").startswith("script-src")


def test_with_read_tokens_the_board_runs_from_the_token_in_its_url(browser, tmp_path):
    server = LiveServer(tmp_path, {"ZEUES_AUTH": "pin", "ZEUES_READ_AUTH": "token"})
    server.load_demo()
    server.start()
    pages = Pages(browser, server.url)
    try:
        token = new_token(server, "pantalla", "read")
        kiosk = new_token(server, "kiosco", "command", "read")
        board = pages.open(f"/board?token={token}")
        expect(board.get_by_test_id("connection")).to_have_attribute("data-state", "online")
        expect(board.get_by_test_id("board-row").first).to_be_visible()
        link = board.locator("#station-link").get_attribute("href")
        station = pages.open(link)
        expect(station.get_by_test_id("worker-option").first).to_be_visible()
        # The reports read with it too, keep it in their own URL, and their CSV is saved with it:
        # a plain link could not carry the header.
        reportes = pages.open(f"/reportes?token={token}")
        expect(reportes.get_by_test_id("reportes-estado")).to_have_attribute("data-state", "listo")
        assert f"token={token}" in reportes.url
        with reportes.expect_download() as descarga:
            reportes.get_by_test_id("csv-resumen").click()
        assert descarga.value.suggested_filename.endswith(".csv")
        with open(descarga.value.path(), "rb") as saved:
            assert saved.readline() == "\ufeffseccion,clave,indicador,valor\r\n".encode()
        expect(reportes.get_by_test_id("reportes-estado")).to_have_attribute("data-state", "listo")
        revoked = flask_cli(server, "tokens", "revoke", "pantalla")
        assert revoked.returncode == 0
        # A change ends the board's held poll at once; its next poll carries the revoked token.
        libre = call(server, "GET", "/spools", kiosk, params={"estado": "DISPONIBLE"}).json()["spools"][0]
        tomado = call(
            server,
            "POST",
            "/tomar-accion",
            kiosk,
            json={"tag_spool": libre["tag_spool"], "worker_id": 1, "operacion": "ARM"},
        )
        assert tomado.status_code == 200, tomado.text
        expect(board.get_by_test_id("connection")).to_have_attribute("data-state", "offline")
    finally:
        pages.close()
        server.stop()
    assert pages.errors == []
    # The token travels in a header: only the pages' own URLs carry it.
    assert [url for url in pages.requested if token in url] == [
        f"{server.url}/board?token={token}",
        f"{server.url}{link}",
        f"{server.url}/reportes?token={token}",
    ]
