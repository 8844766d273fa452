"""The live board: occupied spools and counts per estado, kept current by the change feed."""

from __future__ import annotations

import itertools
import re
import time

import pytest
from playwright.sync_api import expect

from .conftest import LANDSCAPE, full_name

pytestmark = pytest.mark.browser

# SPEC: another screen sees a tap within 2 s, without a reload.
LIVE_MS = 2_000
# The board retries a lost server within 5 s at worst (its backoff ceiling on the LAN), and a
# poll then answers at once.
BACK_ONLINE_MS = 8_000
# Failed polls after which the backoff has reached its ceiling (waits of 1, 2, 4, 5, 5... s).
FAILED_POLLS = 5
# Every jitter draw at the top of its range: the slowest the board can come back.
WORST_JITTER = "Math.random = function () { return 0.999; };"

# Runs in the test's own Chromium: collects the rows that were ever wholly on screen, and the
# visible rows that were not (a page cut by the screen's edge), until every tag was seen.
SEEN_ON_SCREEN = """(tags) => {
  const seen = window.seenRows = window.seenRows || new Set();
  const cut = window.cutRows = window.cutRows || new Set();
  for (const row of document.querySelectorAll('[data-testid=board-row]')) {
    if (row.offsetParent === null) continue;
    const box = row.getBoundingClientRect();
    (box.top >= 0 && box.bottom <= window.innerHeight ? seen : cut).add(row.dataset.tag);
  }
  return tags.every((tag) => seen.has(tag));
}"""


def count(board, estado: str) -> int:
    """The number the board shows for ``estado``."""
    return int(board.get_by_test_id(f"board-count-{estado}").text_content())


def row(board, tag: str):
    """The board's row for an occupied spool."""
    return board.get_by_test_id("board-row").filter(has_text=tag)


def mark_page(board) -> None:
    """Leave a mark in the page's memory; a reload would wipe it."""
    board.evaluate("window.notReloaded = true")


def assert_not_reloaded(board) -> None:
    """The page has kept running since mark_page."""
    assert board.evaluate("window.notReloaded === true")


def test_the_board_shows_occupied_spools_and_counts_per_estado(pages, shop):
    spools = shop.spools()
    board = pages.board()
    occupied = [s for s in spools if s["ocupado_por"]]
    expect(board.get_by_test_id("board-row")).to_have_count(len(occupied))
    for estado in {s["estado"] for s in spools}:
        expect(board.get_by_test_id(f"board-count-{estado}")).to_have_text(
            str(sum(s["estado"] == estado for s in spools))
        )
    first = occupied[0]
    expect(row(board, first["tag_spool"])).to_contain_text(first["ocupado_por_nombre"])


def test_a_tap_on_a_station_reaches_another_screens_board_within_two_seconds(pages, shop):
    juan = shop.worker("ARMADOR")
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    board = pages.board()
    mark_page(board)
    disponibles = count(board, "DISPONIBLE")
    station = pages.station_at(tag, juan)

    station.action("TOMAR").click()
    expect(station.message).to_contain_text("tomado")

    expect(row(board, tag)).to_contain_text(full_name(juan), timeout=LIVE_MS)
    expect(row(board, tag)).to_contain_text("Armado")
    expect(board.get_by_test_id("board-count-DISPONIBLE")).to_have_text(str(disponibles - 1), timeout=LIVE_MS)

    station.action("PAUSAR").click()
    expect(row(board, tag)).to_have_count(0, timeout=LIVE_MS)
    assert_not_reloaded(board)


def test_the_board_rides_out_a_wifi_drop(pages, shop):
    board = pages.board()
    mark_page(board)
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    connection = board.get_by_test_id("connection")

    board.context.set_offline(True)
    expect(connection).to_have_attribute("data-state", "offline")
    shop.tomar(tag, shop.worker("ARMADOR"), "ARM")
    board.context.set_offline(False)

    expect(connection).to_have_attribute("data-state", "online")
    expect(row(board, tag)).to_be_attached()
    assert_not_reloaded(board)


def test_the_board_is_back_within_seconds_of_a_server_restart(pages, shop, live_server):
    board = pages.board()
    board.add_init_script(WORST_JITTER)
    board.reload()
    connection = board.get_by_test_id("connection")
    expect(connection).to_have_attribute("data-state", "online")
    mark_page(board)
    tag = shop.spools(estado="DISPONIBLE")[0]["tag_spool"]
    failed = []
    board.on("requestfailed", lambda request: failed.append(request.url))

    live_server.stop()
    expect(connection).to_have_attribute("data-state", "offline")
    while len(failed) < FAILED_POLLS:
        board.wait_for_event("requestfailed", timeout=30_000)
    live_server.start()

    expect(connection).to_have_attribute("data-state", "online", timeout=BACK_ONLINE_MS)
    shop.tomar(tag, shop.worker("ARMADOR"), "ARM")
    expect(row(board, tag)).to_contain_text("Armado", timeout=LIVE_MS)
    assert all("/api/changes" in url for url in failed)
    assert_not_reloaded(board)


def test_a_wall_screen_shows_every_occupied_spool_within_one_paging_cycle(pages, shop):
    occupied = [s["tag_spool"] for s in shop.spools() if s["ocupado_por"]]
    board = pages.open("/board?pagina_s=1", LANDSCAPE)
    rows = board.get_by_test_id("board-row")
    expect(rows).to_have_count(len(occupied))
    indicator = board.get_by_test_id("board-page")
    expect(indicator).to_have_text(re.compile(r"^Página \d+/\d+$"))
    cycle = int(indicator.text_content().split("/")[1])
    assert cycle > 1
    assert sum(r.is_visible() for r in rows.all()) < len(occupied)  # the other pages' rows are hidden

    board.wait_for_function(SEEN_ON_SCREEN, arg=occupied, timeout=(cycle + 2) * 1_000)

    assert board.evaluate("[...window.cutRows]") == []
    for count in board.get_by_test_id("board").locator("[data-testid^=board-count-]").all():
        expect(count).to_be_in_viewport()


@pytest.mark.parametrize("answer", ["reset", "removed"])
def test_a_spool_deleted_from_the_sheet_leaves_the_board(pages, shop, answer):
    spools = shop.spools()
    gone = next(s for s in spools if s["ocupado_por"])
    kept = [s for s in spools if s["tag_spool"] != gone["tag_spool"]]
    board = pages.board()
    expect(row(board, gone["tag_spool"])).to_be_attached()
    # The next answer says the spool is gone: as a full reset (from a process that never knew
    # it) or as a delta naming it; a long retry_after_ms keeps the board from asking again.
    body = {"cursor": "otro", "changed": True, "retry_after_ms": 60_000}
    if answer == "reset":
        body |= {"reset": True, "spools": kept, "removed": []}
    else:
        body |= {"reset": False, "spools": [], "removed": [gone["tag_spool"]]}
    board.route("**/api/changes*", lambda route: route.fulfill(json=body))
    board.context.set_offline(True)  # drops the poll the server holds; the next one meets the route
    expect(board.get_by_test_id("connection")).to_have_attribute("data-state", "offline")
    board.context.set_offline(False)

    expect(row(board, gone["tag_spool"])).to_have_count(0)
    expect(board.get_by_test_id(f"board-count-{gone['estado']}")).to_have_text(
        str(sum(s["estado"] == gone["estado"] for s in kept))
    )
    expect(board.get_by_test_id("board-row")).to_have_count(sum(1 for s in kept if s["ocupado_por"]))


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (503, {"Retry-After": "2"}, {"code": "SOURCE_UNAVAILABLE", "status": 503}),
        (
            200,
            {},
            {"cursor": "x", "changed": False, "reset": False, "spools": [], "removed": [], "retry_after_ms": 2_000},
        ),
    ],
    ids=["Retry-After", "retry_after_ms"],
)
def test_the_board_waits_as_long_as_the_server_asks(pages, status, headers, body):
    asked_at: list[float] = []

    def slow_down_once(route):
        asked_at.append(time.monotonic())
        if len(asked_at) == 1:
            route.fulfill(status=status, headers=headers, json=body)
        else:
            route.continue_()

    board = pages.open("/board", changes=slow_down_once)

    expect(board.get_by_test_id("board-row").first).to_be_visible()
    assert len(asked_at) >= 2
    assert asked_at[1] - asked_at[0] >= 1.9


def test_the_board_does_not_spin_on_polls_answered_at_once(pages):
    asked_at: list[float] = []
    empty = {"cursor": "same", "changed": False, "reset": False, "spools": [], "removed": [], "retry_after_ms": 0}

    def answer_held_polls_at_once(route):
        # As a server draining its requests on shutdown does: every poll back at once, nothing new.
        if "since=" not in route.request.url:
            route.continue_()
            return
        asked_at.append(time.monotonic())
        route.fulfill(json=empty)

    board = pages.open("/board", changes=answer_held_polls_at_once)
    while len(asked_at) < 3:
        board.wait_for_event("request", timeout=10_000)

    assert min(b - a for a, b in itertools.pairwise(asked_at)) >= 0.9
