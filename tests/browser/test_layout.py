"""Both tablet sizes: nothing sticks out sideways, every target fits a gloved finger; screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import LANDSCAPE, PORTRAIT

pytestmark = pytest.mark.browser

SIZES = {"800x1280": PORTRAIT, "1024x600": LANDSCAPE}
FINGER_PX = 48
# Set SCREENSHOTS_DIR=docs/screenshots to refresh the pictures the README shows.
SCREENSHOTS_DIR = os.environ.get("SCREENSHOTS_DIR")

# Runs in the test's own Chromium, not on the tablets: modern JS is fine here.
TARGETS = """() => [...document.querySelectorAll('button, input, a')]
  .filter((node) => node.offsetParent !== null)
  .map((node) => {
    const box = node.getBoundingClientRect();
    return {name: node.dataset.testid || node.id || node.textContent.trim(), width: box.width, height: box.height};
  })"""


def assert_fits(page) -> None:
    """No sideways scrolling, and every visible target at least a finger wide and high."""
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    targets = page.evaluate(TARGETS)
    assert targets
    assert [t for t in targets if t["width"] < FINGER_PX or t["height"] < FINGER_PX] == []


def screenshot(page, name: str, tmp_path: Path) -> None:
    """Save a screenshot, under SCREENSHOTS_DIR when set."""
    folder = Path(SCREENSHOTS_DIR) if SCREENSHOTS_DIR else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / name)


@pytest.mark.parametrize("size", SIZES)
def test_the_worker_list_fits(pages, size, tmp_path):
    station = pages.station(SIZES[size])
    expect(station.page.get_by_test_id("worker-input")).to_be_in_viewport()
    assert_fits(station.page)
    screenshot(station.page, f"station-workers-{size}.png", tmp_path)


@pytest.mark.parametrize("size", SIZES)
def test_the_pin_pad_fits_without_scrolling(pages, shop, size, tmp_path):
    station = pages.station(SIZES[size])
    station.page.get_by_test_id("worker-option").first.click()
    pad = station.page.get_by_test_id("pin-pad")
    for key in ("pin-digit-1", "pin-digit-0", "pin-borrar", "pin-ok"):
        expect(pad.get_by_test_id(key)).to_be_in_viewport(ratio=1)
    for digit in "12":
        pad.get_by_test_id(f"pin-digit-{digit}").click()
    assert_fits(station.page)
    screenshot(station.page, f"station-pin-{size}.png", tmp_path)


@pytest.mark.parametrize("size", SIZES)
def test_the_spool_card_and_its_actions_fit_without_scrolling(pages, shop, size, tmp_path):
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station_at(tag, shop.worker("ARMADOR", 1), viewport=SIZES[size])
    station.action("TOMAR").click()
    expect(station.message).to_contain_text("tomado")

    for action in ("PAUSAR", "COMPLETAR"):
        expect(station.action(action)).to_be_in_viewport(ratio=1)
    assert_fits(station.page)
    screenshot(station.page, f"station-{size}.png", tmp_path)


@pytest.mark.parametrize("size", SIZES)
def test_the_board_fits(pages, size, tmp_path):
    board = pages.board(SIZES[size])
    expect(board.get_by_test_id("board-row").first).to_be_visible()
    for count in board.get_by_test_id("board").locator("[data-testid^=board-count-]").all():
        expect(count).to_be_in_viewport()
    assert_fits(board)
    screenshot(board, f"board-{size}.png", tmp_path)


@pytest.mark.parametrize("size", SIZES)
def test_the_reasons_for_a_hold_fit_a_gloved_finger(pages, shop, size, tmp_path):
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    station = pages.station_at(tag, shop.worker("SUPERVISOR"), viewport=SIZES[size])
    station.action("BLOQUEAR").click()
    expect(station.action("motivo-OTRO")).to_be_visible()
    assert_fits(station.page)
    screenshot(station.page, f"station-bloquear-{size}.png", tmp_path)
