"""The real nginx running the deploy configuration (deploy/nginx.conf) in front of test instances:
the file is copied with only its upstream addresses and listen port replaced, and included from a
minimal main configuration whose every path is in a temporary directory."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DEPLOY_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
# What the deploy file says, and what the tests put in its place.
DEPLOY_UPSTREAMS = ("127.0.0.1:8001", "127.0.0.1:8002")
DEPLOY_LISTEN = "listen 80;"
_PR_SET_PDEATHSIG = 1
# Debian installs it in /usr/sbin, which a non-root PATH may lack.
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

MAIN_CONF = """\
worker_processes 1;
pid nginx.pid;
error_log error.log info;
events {{ worker_connections 256; }}
http {{
    log_format upstreams '$request_method $request_uri $status upstreams=$upstream_addr';
    access_log access.log upstreams;
    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    include {site};
}}
"""


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Nginx:
    """nginx in the foreground (``daemon off``), a child of the test run, on a loopback port."""

    def __init__(self, upstreams: tuple[str, str]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="zeues-nginx-"))
        # Running as root, nginx's workers drop to `nobody`: they must reach their temporary files.
        os.chmod(self.dir, 0o755)
        (self.dir / "tmp").mkdir()
        self.upstreams = upstreams
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Base URL clients use."""
        return f"http://127.0.0.1:{self.port}"

    def render(self) -> Path:
        """The deploy file with this run's addresses, and the main file that includes it."""
        site = DEPLOY_CONF.read_text()
        replacements = [
            *zip(DEPLOY_UPSTREAMS, self.upstreams, strict=True),
            (DEPLOY_LISTEN, f"listen 127.0.0.1:{self.port};"),
        ]
        for old, new in replacements:
            if site.count(old) != 1:
                raise RuntimeError(f"{DEPLOY_CONF} no longer holds exactly one {old!r}: update tests/nginx_server.py")
            site = site.replace(old, new)
        (self.dir / "zeues.conf").write_text(site)
        main = self.dir / "nginx.conf"
        main.write_text(MAIN_CONF.format(site=self.dir / "zeues.conf"))
        return main

    def start(self, timeout: float = 10.0) -> None:
        """Start nginx and return once it accepts connections (a new port if another took ours)."""
        for _attempt in range(3):
            self.port = free_port()
            main = self.render()
            self.proc = subprocess.Popen(
                [NGINX, "-p", f"{self.dir}/", "-e", "error.log", "-c", main, "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                except OSError:
                    time.sleep(0.02)  # readiness probe of a starting process, not synchronisation of a test
            log = self.error_log()
            self.stop(keep_files=True)
            if "Address already in use" not in log:
                break
        self.stop()
        raise RuntimeError(f"nginx did not start:\n{log}")

    def error_log(self) -> str:
        """What nginx logged (configuration errors, upstream failures)."""
        path = self.dir / "error.log"
        return path.read_text() if path.exists() else ""

    def access_log(self) -> list[str]:
        """One line per request: method, URI, status and every upstream tried."""
        path = self.dir / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def stop(self, keep_files: bool = False) -> None:
        """Quick shutdown; then remove the directory unless ``keep_files``."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not keep_files:
            shutil.rmtree(self.dir, ignore_errors=True)
