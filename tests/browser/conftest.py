"""Browser fixtures: Debian's headless Chromium, driven by Playwright, against the real gunicorn server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route, expect, sync_playwright

from app.demo import PINES
from tests.conftest import LiveServer

CHROMIUM = os.environ.get("ZEUES_CHROMIUM", "/usr/bin/chromium")
# Keep Chromium's own traffic (updates, sync, field trials) off the network: the tests check
# that every request a page makes stays on the loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PORTRAIT = {"width": 800, "height": 1280}
LANDSCAPE = {"width": 1024, "height": 600}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

# Long enough for a slow CI machine, short enough that a stuck page fails the run quickly.
expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session; each test gets fresh contexts from it."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium package)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def no_feed(route: Route) -> None:
    """A route handler for a tablet whose change feed never gets through."""
    route.abort("internetdisconnected")


@pytest.fixture
def live_server(tmp_path) -> Iterator[LiveServer]:
    """The real server on the demo shop, in pin mode (SPEC §11) whatever the run's ZEUES_AUTH: the pages
    are tested as the floor uses them, every worker signing in with their PIN."""
    server = LiveServer(tmp_path, {"ZEUES_AUTH": "pin"})
    server.load_demo()
    server.start()
    yield server
    server.stop()


class Shop:
    """The live server seen through its REST API: how tests set up a scene and check the result."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sessions: dict[int, str] = {}  # worker id -> session token

    def get(self, path: str, **params) -> dict:
        """GET an API path and return its JSON body, failing on any error status."""
        response = requests.get(f"{self.url}/api{path}", params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def spools(self, **filtros) -> list[dict]:
        """The spools, optionally filtered by ``estado`` / ``ocupado_por``."""
        return self.get("/spools", **filtros)["spools"]

    def spool(self, tag: str) -> dict:
        """One spool as the server has it now."""
        return self.get(f"/spools/{tag}")

    def historial(self, tag: str) -> list[dict]:
        """The spool's event log, oldest first."""
        return self.get(f"/spools/{tag}/historial")["events"]

    def worker(self, rol: str, index: int = 0) -> dict:
        """The index-th active worker whose roles are exactly [rol]."""
        workers = [w for w in self.get("/workers")["workers"] if w["activo"] and w["roles"] == [rol]]
        return workers[index]

    def session(self, worker: dict) -> str:
        """The worker's session token, signing in with their demo PIN the first time."""
        if worker["id"] not in self.sessions:
            response = requests.post(
                f"{self.url}/api/sesiones", json={"worker_id": worker["id"], "pin": PINES[worker["id"]]}, timeout=10
            )
            assert response.status_code == 201, response.text
            self.sessions[worker["id"]] = response.json()["token"]
        return self.sessions[worker["id"]]

    def command(self, accion: str, tag: str, worker: dict, operacion: str | None, **extra) -> dict:
        """A command as another tablet would send it (signed in as ``worker``), straight through the API
        (``extra``: motivo, nota...)."""
        body = {"tag_spool": tag, "worker_id": worker["id"], **extra}
        if operacion:
            body["operacion"] = operacion
        response = requests.post(
            f"{self.url}/api/{accion.lower()}-accion",
            json=body,
            headers={"Authorization": f"Bearer {self.session(worker)}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()["spool"]

    def tomar(self, tag: str, worker: dict, operacion: str) -> dict:
        """Take a spool as another tablet would."""
        return self.command("TOMAR", tag, worker, operacion)


def full_name(worker: dict) -> str:
    """How the pages write a worker's name."""
    return f"{worker['nombre']} {worker['apellido']}"


class Station:
    """The worker station on one tablet (a browser context of its own), driven as a worker does."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.card = page.get_by_test_id("spool-card")
        self.message = page.get_by_test_id("message")
        self.mine = page.get_by_test_id("mis-spools")

    def sign_in(self, worker: dict, operacion: str | None = None) -> None:
        """Tap the worker's name, their demo PIN on the pad and OK, then the operation."""
        self.page.get_by_test_id("worker-option").filter(has_text=full_name(worker)).click()
        self.enter_pin(PINES[worker["id"]])
        expect(self.page.get_by_test_id("pin-pad")).to_be_hidden()
        if operacion:
            self.page.get_by_test_id(f"operation-{operacion}").click()
        expect(self.page.get_by_test_id("tag-input")).to_be_focused()

    def enter_pin(self, pin: str) -> None:
        """Tap ``pin`` on the PIN pad, then OK."""
        pad = self.page.get_by_test_id("pin-pad")
        expect(pad).to_be_visible()
        for digit in pin:
            pad.get_by_test_id(f"pin-digit-{digit}").click()
        pad.get_by_test_id("pin-ok").click()

    def scan(self, tag: str) -> None:
        """Type the tag on the keyboard and press Enter, as a keyboard-wedge scanner does."""
        self.page.keyboard.type(tag)
        self.page.keyboard.press("Enter")
        expect(self.card).to_contain_text(tag)

    def action(self, name: str) -> Locator:
        """A big button on the spool card: an action (TOMAR, PAUSAR, COMPLETAR, BLOQUEAR, DESBLOQUEAR) or an
        answer to the card's question (resultado-*, motivo-*, cancelar)."""
        answer = name.startswith(("resultado-", "motivo-")) or name == "cancelar"
        return self.card.get_by_test_id(name if answer else f"action-{name}")


class Pages:
    """Opens pages of the live server, each in a fresh browser context, and checks them on close."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.browser = browser
        self.url = url
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []
        self.requested: list[str] = []

    def open(self, path: str = "/", viewport: dict | None = None, changes: Callable | None = None) -> Page:
        """A new tablet showing ``path``; ``changes``, a route handler, meets its feed's requests from the first."""
        context = self.browser.new_context(
            base_url=self.url, viewport=viewport or PORTRAIT, locale="es-CL", timezone_id="America/Santiago"
        )
        context.on("request", lambda request: self.requested.append(request.url))
        if changes:
            context.route("**/api/changes*", changes)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.goto(path)
        return page

    def station(self, viewport: dict | None = None, changes: Callable | None = None) -> Station:
        """A new tablet on the worker station, once its worker list is shown."""
        station = Station(self.open("/", viewport, changes))
        expect(station.page.get_by_test_id("worker-option").first).to_be_visible()
        return station

    def station_at(
        self, tag: str, worker: dict, operacion: str | None = "ARM", viewport: dict | None = None, **open_args
    ) -> Station:
        """A new station where ``worker`` has signed in on ``operacion`` and scanned ``tag``."""
        station = self.station(viewport, **open_args)
        station.sign_in(worker, operacion)
        station.scan(tag)
        return station

    def board(self, viewport: dict | None = None) -> Page:
        """A new screen on the live board, once the feed has delivered the shop."""
        page = self.open("/board", viewport)
        expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "online")
        return page

    def foreign_requests(self) -> list[str]:
        """Every URL the pages asked for that is not on this machine."""
        return [url for url in self.requested if urlsplit(url).hostname not in LOCAL_HOSTS]

    def close(self) -> None:
        """Close every context."""
        for context in self.contexts:
            context.close()


@pytest.fixture
def shop(live_server) -> Shop:
    """The live server's REST API."""
    return Shop(live_server.url)


@pytest.fixture
def pages(browser, live_server) -> Iterator[Pages]:
    """Pages of the live server; a script error or a request to another host fails the test."""
    pages = Pages(browser, live_server.url)
    yield pages
    pages.close()
    assert not pages.errors, pages.errors
    assert not pages.foreign_requests()
