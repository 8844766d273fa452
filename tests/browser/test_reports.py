"""The reports page (/reportes): charts drawn by the page itself, filters by date, printable, tablet sized."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
from playwright.sync_api import expect

from app.domain.machine import Comando, decidir
from app.domain.model import Accion, Operacion, Resultado
from app.stores.sqlite import SqliteStore

from .conftest import LANDSCAPE, PORTRAIT
from .test_layout import assert_fits, screenshot

pytestmark = pytest.mark.browser

CHARTS = ("chart-completadas", "chart-horas", "chart-primera-pasada")


@pytest.fixture
def trabajado(live_server, shop):
    """Earlier today: a fit-up taken 3 h ago and completed 1 h ago, an inspection approved; decided by
    the domain and written into the server's file as another process would. The fitter and the tag."""
    store = SqliteStore(str(live_server.db))
    ahora = datetime.now(UTC)
    armador, metrologo = shop.worker("ARMADOR"), shop.worker("METROLOGIA")
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    inspeccionado = shop.spools(estado="SOLD_COMPLETADO")[0]["tag_spool"]
    try:
        for horas, comando in [
            (3.0, Comando(Accion.TOMAR, Operacion.ARM, tag, armador["id"])),
            (2.0, Comando(Accion.TOMAR, Operacion.METROLOGIA, inspeccionado, metrologo["id"])),
            (1.5, Comando(Accion.COMPLETAR, Operacion.METROLOGIA, inspeccionado, metrologo["id"], Resultado.APROBADO)),
            (1.0, Comando(Accion.COMPLETAR, Operacion.ARM, tag, armador["id"])),
        ]:
            spool = store.spool(comando.tag_spool)
            store.commit(decidir(comando, spool, store.workers(), ahora - timedelta(hours=horas), UTC))
    finally:
        store.close()
    return {"armador": armador, "tag": tag}


def open_reports(pages, viewport=None):
    """The reports page once its figures are drawn; the console errors it logs from its first load."""
    page = pages.open("/reportes", viewport)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.reload()  # the listener now hears the page from its first line
    expect(page.get_by_test_id("reportes-estado")).to_have_attribute("data-state", "listo")
    return page, errors


def operacion(page, op: str):
    """The summary table's row of an operation."""
    return page.locator(f"[data-testid=fila-operacion][data-operacion={op}]")


def test_the_page_draws_its_charts_from_the_reports(pages, trabajado):
    page, errors = open_reports(pages)
    for chart in CHARTS:
        figure = page.get_by_test_id(chart)
        expect(figure.locator("svg rect.barra").first).to_be_visible()
        expect(figure.locator("svg path.eje")).to_have_count(1)
    expect(page.get_by_test_id("chart-completadas").locator("rect.seg-ARM")).to_have_count(1)
    expect(page.get_by_test_id("chart-completadas").locator("rect.seg-METROLOGIA")).to_have_count(1)
    expect(operacion(page, "ARM").locator("td").nth(1)).to_have_text("1")
    expect(operacion(page, "METROLOGIA").locator("td").nth(5)).to_have_text("100,0 % de 1")
    nombre = f"{trabajado['armador']['nombre']} {trabajado['armador']['apellido']}"
    fila = page.locator(f"[data-testid=fila-trabajador][data-worker='{trabajado['armador']['id']}']")
    expect(fila).to_contain_text(nombre)
    expect(fila.locator("td").nth(1)).to_contain_text("1 · ")
    assert errors == []
    assert pages.foreign_requests() == []


def test_the_date_filters_redraw_and_the_csv_follows_them(pages, trabajado):
    page, _ = open_reports(pages)  # the refused range below logs its 422 in the console, as it should
    page.get_by_test_id("reportes-desde").fill("2020-01-01")
    page.get_by_test_id("reportes-hasta").fill("2020-01-31")
    page.get_by_test_id("reportes-ver").click()
    expect(page.get_by_test_id("reportes-periodo")).to_have_text("01/01/2020 – 31/01/2020")
    expect(page.get_by_test_id("reportes-estado")).to_have_attribute("data-state", "listo")
    for chart in ("chart-completadas", "chart-horas", "chart-primera-pasada"):
        expect(page.get_by_test_id(chart).locator("rect")).to_have_count(0)
        expect(page.get_by_test_id(chart)).to_contain_text("en estas fechas")
    expect(operacion(page, "ARM").locator("td").nth(1)).to_have_text("0")
    assert page.url.endswith("/reportes?desde=2020-01-01&hasta=2020-01-31")  # a link to these figures

    href = page.get_by_test_id("csv-resumen").get_attribute("href")
    assert href == "/api/reportes/resumen?desde=2020-01-01&hasta=2020-01-31&formato=csv"
    answer = requests.get(pages.url + href, timeout=10)
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8" and answer.content.startswith(b"\xef\xbb\xbf")

    page.get_by_test_id("reportes-desde").fill("2020-02-01")
    page.get_by_test_id("reportes-ver").click()  # after hasta: the server refuses it, the page says why
    expect(page.get_by_test_id("reportes-estado")).to_have_attribute("data-state", "error")
    expect(page.get_by_test_id("reportes-estado")).to_contain_text("Fechas no válidas")

    page.get_by_role("button", name="30 días").click()
    expect(page.get_by_test_id("reportes-estado")).to_have_attribute("data-state", "listo")
    expect(page.get_by_test_id("reportes-desde")).to_have_value("2020-01-02")  # 30 days up to 31/01, inclusive


def test_a_spools_timeline(pages, trabajado):
    page, errors = open_reports(pages)
    page.get_by_test_id("reportes-tag").fill(trabajado["tag"].lower())
    page.get_by_test_id("reportes-tag").press("Enter")
    linea = page.get_by_test_id("spool-linea")
    expect(linea.get_by_test_id("tramo")).to_have_count(2)
    expect(linea.get_by_test_id("tramo").nth(0)).to_contain_text("TOMAR_ARM")
    expect(linea).to_contain_text("Armado completo")
    assert errors == []


def test_the_page_prints_its_figures_without_its_controls(pages, trabajado, tmp_path):
    page, _ = open_reports(pages, LANDSCAPE)
    page.emulate_media(media="print")
    expect(page.get_by_test_id("reportes-desde")).to_be_hidden()
    expect(page.get_by_test_id("reportes-imprimir")).to_be_hidden()
    for chart in CHARTS:
        expect(page.get_by_test_id(chart).locator("svg")).to_be_visible()
    expect(page.get_by_test_id("tabla-trabajadores")).to_be_visible()
    assert re.match(r"\d\d/\d\d/\d{4} – \d\d/\d\d/\d{4}", page.get_by_test_id("reportes-periodo").text_content())
    page.pdf(path=tmp_path / "reportes.pdf")  # Chromium lays it out on paper without an error


@pytest.mark.parametrize("size", ["800x1280", "1024x600"])
def test_the_page_fits_a_tablet(pages, trabajado, size, tmp_path):
    page, errors = open_reports(pages, PORTRAIT if size == "800x1280" else LANDSCAPE)
    assert_fits(page)
    screenshot(page, f"reportes-{size}.png", tmp_path)
    assert errors == []


def test_a_long_range_groups_its_days_so_the_bars_stay_readable(pages, trabajado):
    page, errors = open_reports(pages)
    expect(page.locator("#completadas-grupo")).to_have_text("")  # 30 days, a bar each
    page.get_by_role("button", name="90 días").click()
    expect(page.locator("#completadas-grupo")).to_have_text("(cada barra, 2 días)")
    expect(page.get_by_test_id("chart-completadas").locator("text.etiqueta").first).to_be_visible()
    assert page.get_by_test_id("chart-completadas").locator("rect.barra").count() == 2  # today's two completions
    assert errors == []
