"""A throwaway PostgreSQL server for the tests: Debian's binaries, a cluster in a temporary directory,
reached only through a unix socket in that directory, and a migrated template database that every
test app clones (CREATE DATABASE ... TEMPLATE takes a few tens of milliseconds)."""

from __future__ import annotations

import atexit
import ctypes
import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from app.stores import postgres_schema

TEMPLATE = "zeues_template"
_PR_SET_PDEATHSIG = 1


def postgres_bin() -> Path:
    """Debian installs the server off PATH, one directory per major version; take the newest."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: ./scripts/test installs Debian's postgresql package")
    return Path(found[-1]).parent


def _die_with_parent() -> None:
    """In the server's process: stop at once if the test run dies without stopping it."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)


class PostgresServer:
    """One cluster for the whole test run; ``create_database()`` hands out fresh migrated databases."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable  # benchmarks measure real commits; tests skip the fsyncs
        self.bin = postgres_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="zeues-pg-"))
        self.port = 5432  # only names the socket file: the server listens on no TCP port
        # initdb refuses to run as root: then the cluster belongs to the package's `postgres` user.
        self.user = {"user": "postgres", "group": "postgres", "extra_groups": []} if os.geteuid() == 0 else {}
        if self.user:
            account = pwd.getpwnam("postgres")
            os.chown(self.dir, account.pw_uid, account.pw_gid)
        self.proc: subprocess.Popen | None = None
        self._names = itertools.count(1)

    def url(self, dbname: str) -> str:
        """A postgresql:// URL of ``dbname`` over the unix socket."""
        return f"postgresql://postgres@/{dbname}?host={quote(str(self.dir), safe='')}&port={self.port}"

    def admin(self) -> psycopg.Connection:
        """An autocommit superuser connection to the maintenance database."""
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def start(self, timeout: float = 30.0) -> None:
        """initdb, start the server, and build the migrated template."""
        data = self.dir / "data"
        subprocess.run(
            [self.bin / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "-N"],
            check=True,
            capture_output=True,
            **self.user,
        )
        with open(self.dir / "server.log", "wb") as log:
            self.proc = subprocess.Popen(
                [
                    self.bin / "postgres",
                    "-D", data,
                    "-k", self.dir,
                    "-p", str(self.port),
                    "-c", "listen_addresses=",
                    # Throwaway data: durability costs time and buys nothing here.
                    *(() if self.durable else ("-c", "fsync=off", "-c", "synchronous_commit=off")),
                    *(() if self.durable else ("-c", "full_page_writes=off")),
                    "-c", "max_connections=400",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                **self.user,
            )  # fmt: skip
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.admin() as conn:
                    conn.execute(f"CREATE DATABASE {TEMPLATE}")
                break
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"PostgreSQL did not start:\n{(self.dir / 'server.log').read_text()}") from None
                time.sleep(0.05)  # readiness probe of a starting server, not synchronisation of a test
        with psycopg.connect(self.url(TEMPLATE)) as conn:
            postgres_schema.upgrade(conn)

    def create_database(self, template: str = TEMPLATE) -> str:
        """A new database cloned from the migrated template (or ``template0``: empty); its URL."""
        name = f"zeues_{next(self._names)}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database of ``url``, ending whatever sessions are still on it."""
        name = conninfo_to_dict(url)["dbname"]
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Fast shutdown (sessions ended, nothing left running) and remove the cluster."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


_shared: list[PostgresServer] = []


def shared_postgres() -> PostgresServer:
    """The run's server, started on first use; the session fixture (or, failing that, exit) stops it."""
    if not _shared:
        server = PostgresServer()
        server.start()
        _shared.append(server)
    return _shared[0]


def stop_shared_postgres() -> None:
    """Stop the run's server if one was started."""
    while _shared:
        _shared.pop().stop()
