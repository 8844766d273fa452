"""Shared fixtures: apps on a fresh demo shop, their clients, and the real gunicorn server."""

from __future__ import annotations

import atexit
import functools
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from app import create_app, demo
from app.domain.errors import SourceUnavailable
from app.domain.model import Estado, Spool, Worker
from tests.postgres_server import shared_postgres, stop_shared_postgres
from tests.sheets_shop import make_sheets_app

ROOT = Path(__file__).resolve().parent.parent

# The API token every test client sends in pin mode, and its scopes.
TEST_TOKEN = "pruebas"
TEST_TOKEN_SCOPES = ("command", "supervise")


def api_token(app: Flask) -> str:
    """The secret of the app's test API token (``TEST_TOKEN``), created on its first use; an app
    reopened on the same data (its config copied) shares its predecessor's."""
    if "TEST_API_TOKEN" not in app.config:
        auth = app.extensions["zeues"].auth
        # Several apps on one database (processes of one shop) each get a token of their own.
        for name in (TEST_TOKEN, *(f"{TEST_TOKEN}-{i}" for i in range(2, 100))):
            try:
                app.config["TEST_API_TOKEN"] = auth.create_token(name, TEST_TOKEN_SCOPES)
            except ValueError:  # the name is taken
                continue
            app.config["TEST_API_TOKEN_NAME"] = name
            break
    return app.config["TEST_API_TOKEN"]


class SignedClient(FlaskClient):
    """Every app's test client. In pin mode (the default, SPEC §11) it sends the app's API token, as an
    integration does, so the suites written around ``worker_id`` bodies run with credentials; in open
    mode, or built with ``signed=False``, it sends none. A request's own Authorization header wins."""

    def __init__(self, *args, signed: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if signed and self.application.config["AUTH"] == "pin":
            try:
                token = api_token(self.application)
            except SourceUnavailable:
                # No database to record a token in: any token of the right form meets the same
                # outage at the server's credential check (503), as the suites expect.
                token = "zeues_no-database-to-record-it"
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"


Flask.test_client_class = SignedClient


def via(app: Flask) -> str:
    """What ``metadata_json.via`` records of a command sent by the app's test client (SPEC §11)."""
    return f"token:{app.config['TEST_API_TOKEN_NAME']}" if app.config["AUTH"] == "pin" else "abierto"


def run_auth_mode(config: dict) -> dict:
    """``config`` in the mode the run asks for: ``ZEUES_AUTH=open pytest`` runs every suite in open mode."""
    return {"AUTH": os.environ.get("ZEUES_AUTH", "pin"), **config}


def make_sqlite_app(tmp_path: Path, spools: Iterable[Spool] = (), workers: Iterable[Worker] = (), **config) -> Flask:
    """An app on a fresh SQLite file holding ``spools`` and ``workers``."""
    app = create_app(run_auth_mode({"TESTING": True, "DB": str(tmp_path / "zeues.sqlite3"), **config}))
    app.extensions["zeues"].store.load(spools, workers)
    return app


def make_postgres_app(tmp_path: Path, spools: Iterable[Spool] = (), workers: Iterable[Worker] = (), **config) -> Flask:
    """An app on a fresh database (a clone of the migrated template) holding ``spools`` and ``workers``."""
    config.setdefault("DATABASE_URL", shared_postgres().create_database())
    app = create_app(run_auth_mode({"TESTING": True, "DB": str(tmp_path / "unused.sqlite3"), **config}))
    app.extensions["zeues"].store.load(spools, workers)
    return app


# Store kinds the contract and flow suites run against. Each factory takes
# (tmp_path, spools, workers, **config) and returns an app whose store holds exactly that data.
APP_FACTORIES: dict[str, Callable[..., Flask]] = {
    "sqlite": make_sqlite_app,
    "sheets": make_sheets_app,
    "postgres": make_postgres_app,
}


@pytest.fixture(scope="session")
def postgres_server():
    """The run's throwaway PostgreSQL server (initdb in a temporary directory, a unix socket only),
    started on first use and stopped with its files removed at the end of the session."""
    yield shared_postgres()
    stop_shared_postgres()


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh migrated database, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(params=sorted(APP_FACTORIES))
def make_shop(request, tmp_path):
    """Build an app on chosen data, once per store kind: ``make_shop(spools, workers)``."""
    if request.param == "postgres":
        request.getfixturevalue("postgres_server")  # so the session stops the server it starts
    apps: list[Flask] = []

    def make(spools: Iterable[Spool] | None = None, workers: Iterable[Worker] | None = None, **config) -> Flask:
        app = APP_FACTORIES[request.param](
            tmp_path / f"shop{len(apps)}",
            demo.spools() if spools is None else spools,
            demo.WORKERS if workers is None else workers,
            **config,
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["zeues"].store.close()
        if app.config.get("DATABASE_URL"):
            shared_postgres().drop_database(app.config["DATABASE_URL"])


@pytest.fixture
def reopen() -> Iterator[Callable[[Flask], Flask]]:
    """``reopen(app)``: a new app on the same source of truth, as after a restart."""
    apps: list[Flask] = []

    def make(app: Flask) -> Flask:
        apps.append(create_app(dict(app.config)))
        return apps[-1]

    yield make
    for app in apps:
        app.extensions["zeues"].store.close()


@pytest.fixture
def shop_app(make_shop):
    """An app on the demo shop, once per store kind."""
    return make_shop()


@pytest.fixture
def app(tmp_path):
    """An app on the demo shop in a fresh SQLite file."""
    app = make_sqlite_app(tmp_path, demo.spools(), demo.WORKERS)
    yield app
    app.extensions["zeues"].store.close()


@pytest.fixture
def client(app):
    """Flask test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Flask CLI runner."""
    return app.test_cli_runner()


def nothing_changed(cursor: str) -> dict:
    """The /api/changes body of a hold that ended with no change."""
    return {"cursor": cursor, "changed": False, "reset": False, "spools": [], "removed": [], "retry_after_ms": 0}


def tag_en(app_or_client, estado: Estado, index: int = 0) -> str:
    """A demo spool currently in ``estado``."""
    app = getattr(app_or_client, "application", app_or_client)
    spools = [s for s in app.extensions["zeues"].store.snapshot().spools if s.estado == estado]
    return spools[index].tag_spool


_demo_template: list[Path] = []  # the demo shop's SQLite file, made once per test run


def run_demo_command(env: dict[str, str]) -> None:
    """``flask --app wsgi demo`` with ``env``, as an operator runs it."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "demo"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)


class LiveServer:
    """The real gunicorn + gevent server in a subprocess, on a SQLite file loaded with the demo shop,
    or on the PostgreSQL database ``database_url`` (several servers may share one: instances)."""

    def __init__(
        self,
        tmp_path: Path,
        env: dict[str, str] | None = None,
        database_url: str | None = None,
        name: str = "gunicorn",
        open_files: tuple[int, int] | None = None,
    ) -> None:
        self.db = tmp_path / "live.sqlite3"
        # The first start binds port 0 and reads the port gunicorn got from its log, so parallel
        # runs cannot pick the same one; restarts reuse it, so clients keep their URL.
        self.port = 0
        self.log = tmp_path / f"{name}.log"
        self.env = {**os.environ, "ZEUES_DB": str(self.db), **(env or {})}
        if database_url:
            self.env["ZEUES_DATABASE_URL"] = database_url
        # (soft, hard) RLIMIT_NOFILE the server starts with, as a service manager would set it.
        self.open_files = open_files
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://127.0.0.1:{self.port}"

    def load_demo(self) -> None:
        """The demo shop, as the real ``flask demo`` command loads it, on the server's file or database.

        On SQLite the command runs once per test run, into a template file each server then copies: it
        hashes thirteen PINs, a second of CPU that a hundred servers would otherwise spend again."""
        if "ZEUES_DATABASE_URL" in self.env:
            run_demo_command(self.env)
            return
        if not _demo_template:
            template = Path(tempfile.mkdtemp(prefix="zeues-demo-")) / "demo.sqlite3"
            run_demo_command({**self.env, "ZEUES_DB": str(template)})
            with sqlite3.connect(template) as db:  # everything in the main file: a copy is the whole shop
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            atexit.register(shutil.rmtree, template.parent, ignore_errors=True)
            _demo_template.append(template)
        shutil.copyfile(_demo_template[0], self.db)

    def start(self, timeout: float = 20.0) -> None:
        """Start gunicorn and return once it answers /api/health."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT,
                env={**self.env, "ZEUES_BIND": f"127.0.0.1:{self.port}"},
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=None if self.open_files is None else functools.partial(limit_open_files, self.open_files),
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log.read_text()}")
            if not self.port:
                listening = re.search(rb"Listening at: http://127\.0\.0\.1:(\d+)", self.log.read_bytes()[offset:])
                if listening:
                    self.port = int(listening.group(1))
                else:
                    time.sleep(0.05)  # readiness probe of a starting process, not synchronisation of a test
                    continue
            try:
                if requests.get(f"{self.url}/api/health", timeout=1).ok:
                    return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.05)  # readiness probe of a starting process, not synchronisation of a test
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout}s:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> int | None:
        """Send ``sig`` and wait for the server to exit; returns its exit code. By default gunicorn's quick
        shutdown (a graceful SIGTERM waits up to a second for the worker to notice): what a test's end
        needs, with nothing in flight."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def restart(self) -> None:
        """Stop gracefully and start again on the same file."""
        self.stop(signal.SIGTERM)
        self.start()

    def worker_pids(self) -> list[int]:
        """The master's children right now: its worker processes."""
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(pid) for pid in children]


def limit_open_files(limits: tuple[int, int]) -> None:
    """Set RLIMIT_NOFILE to ``(soft, hard)`` in a child process before it runs the server."""
    resource.setrlimit(resource.RLIMIT_NOFILE, limits)


@pytest.fixture
def live_server(tmp_path) -> Iterator[LiveServer]:
    """A running gunicorn + gevent server on the demo shop."""
    server = LiveServer(tmp_path)
    server.load_demo()
    server.start()
    yield server
    server.stop()
