"""What the pages load: ES5 only (old tablets' WebViews), and nothing from another host."""

from __future__ import annotations

from html.parser import HTMLParser

import pyjsparser
import pytest
import requests
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PAGES = ("/", "/board", "/reportes")

# Syntax that pyjsparser accepts although ES5 lacks it.
NOT_ES5_DECLARATIONS = {"let", "const"}
# Globals and methods that Chrome 30 / iOS 9 do not have: a parser cannot see these.
NOT_ES5_GLOBALS = {"Promise", "fetch", "Map", "Set", "WeakMap", "WeakSet", "Symbol", "Proxy", "Reflect"}
STRING_METHODS = {"includes", "startsWith", "endsWith", "padStart", "padEnd", "repeat"}
NOT_ES5_METHODS = STRING_METHODS | {"find", "findIndex", "flat", "flatMap", "assign", "closest", "prepend"}


class References(HTMLParser):
    """Collects what a page refers to: script sources, inline scripts and styles, links and images."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.inline: list[str] = []  # inline scripts, style elements and style attributes: the CSP forbids them
        self.urls: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = "src" not in attrs
            if "src" in attrs:
                self.scripts.append(attrs["src"])
        if tag == "style" or "style" in attrs:
            self.inline.append(f"<{tag} style>")
        self.urls += [attrs[name] for name in ("src", "href") if attrs.get(name)]

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(data)


def not_es5(node, found: list[str]) -> list[str]:
    """Walk pyjsparser's AST and name every construct ES5 lacks."""
    if isinstance(node, list):
        for item in node:
            not_es5(item, found)
        return found
    if not isinstance(node, dict):
        return found
    kind = node.get("type")
    if kind == "VariableDeclaration" and node["kind"] in NOT_ES5_DECLARATIONS:
        found.append(node["kind"])
    if kind == "Property" and (node.get("shorthand") or node.get("method") or node.get("computed")):
        found.append("ES2015 object literal property")
    if kind == "Identifier" and node["name"] in NOT_ES5_GLOBALS:
        found.append(node["name"])
    if kind == "MemberExpression" and not node["computed"] and node["property"]["name"] in NOT_ES5_METHODS:
        found.append("." + node["property"]["name"])
    for value in node.values():
        not_es5(value, found)
    return found


def references(url: str) -> References:
    """Fetch a page and parse what it refers to."""
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    parser = References()
    parser.feed(response.text)
    return parser


@pytest.mark.parametrize("path", PAGES)
def test_every_script_a_page_loads_is_es5(live_server, path):
    page = references(live_server.url + path)
    assert page.scripts and not page.inline
    for src in page.scripts:
        script = requests.get(live_server.url + src, timeout=10)
        assert script.status_code == 200, src
        tree = pyjsparser.parse(script.text)  # raises JsSyntaxError on arrows, classes, template strings...
        assert not_es5(tree, []) == [], src


def test_the_es5_check_catches_what_the_parser_lets_through():
    tree = pyjsparser.parse("const a = 1; let b = {a}; fetch('/x'); 'x'.startsWith('y');")
    assert not_es5(tree, []) == ["const", "let", "ES2015 object literal property", "fetch", ".startsWith"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_refer_only_to_their_own_server(live_server, path):
    assert all(url.startswith("/") and not url.startswith("//") for url in references(live_server.url + path).urls)


def test_working_the_pages_requests_only_the_local_server(pages, shop):
    pages.station_at(shop.spools(estado="DISPONIBLE")[0]["tag_spool"], shop.worker("ARMADOR"))
    board = pages.board()
    expect(board.get_by_test_id("board-row").first).to_be_visible()

    assert any("/api/changes" in url for url in pages.requested)
    assert any("/static/" in url for url in pages.requested)
    assert pages.foreign_requests() == []
