"""The server suites exercise the HTTP server, the feed and PostgreSQL under load, not identity: they run
the open flow (``ZEUES_AUTH=open``, SPEC §11), where a command names its worker and needs no credentials.
The pin mode on the real server is tested in ``test_auth_server.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer

OPEN = {"ZEUES_AUTH": "open"}


@pytest.fixture
def live_server(tmp_path) -> Iterator[LiveServer]:
    """A running gunicorn + gevent server on the demo shop, in open mode."""
    server = LiveServer(tmp_path, OPEN)
    server.load_demo()
    server.start()
    yield server
    server.stop()
