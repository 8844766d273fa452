"""What the benchmarks share: the real gunicorn server on loopback, its worker's CPU and memory, and
the machine they ran on.

Standard library only (http.client, subprocess), so it works the same in a gevent-patched load
generator and in a plain orchestrating process.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_demo(db: Path) -> None:
    """The real ``flask --app wsgi demo`` on ``db``, as an operator would seed a trial shop."""
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "demo"],
        cwd=ROOT,
        env={**os.environ, "ZEUES_DB": str(db)},
        check=True,
        capture_output=True,
    )


def add_spools(db: Path, count: int) -> None:
    """``count`` more DISPONIBLE spools after the demo shop's, for a plant-sized sheet."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from app import demo
    from app.domain.model import Spool
    from app.stores.sqlite import SqliteStore

    store = SqliteStore(str(db))
    try:
        primero = len(demo.spools())
        extra = range(primero, primero + count)
        store.load([Spool(tag_spool=demo.tag(n), version=f"bench-{n:05d}") for n in extra], [])
    finally:
        store.close()


def request_json(port: int, method: str, path: str, body: Any = None, timeout: float = 30) -> tuple[int, Any]:
    """One request on a fresh loopback connection; returns (status, decoded JSON body or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, None if body is None else json.dumps(body), headers)
        response = conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None
    finally:
        conn.close()


class Server:
    """``gunicorn -c gunicorn.conf.py wsgi:app`` on the SQLite file ``db``, as the README runs it,
    bound to a free loopback port. Commands go without credentials (``ZEUES_AUTH=open``) unless
    ``extra_env`` says otherwise: these benchmarks measure the stores and the feed; what a worker's
    session adds is ``bench/commands.py --auth open pin``'s question."""

    def __init__(self, db: Path, log: Path, extra_env: dict[str, str] | None = None, ready_s: float = 30) -> None:
        self.port = free_port()
        self.log = log
        env = {
            **os.environ,
            "ZEUES_DB": str(db),
            "ZEUES_BIND": f"127.0.0.1:{self.port}",
            "ZEUES_AUTH": "open",
            **(extra_env or {}),
        }
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + ready_s
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.proc.returncode}:\n{log.read_text()}")
            try:
                if request_json(self.port, "GET", "/api/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"gunicorn did not answer within {ready_s:g} s:\n{log.read_text()}")
            time.sleep(0.05)  # readiness probe of a starting process
        self.worker_pid = self._worker_pid()

    def _worker_pid(self) -> int | None:
        """The single worker process (the one that serves every request with the default config)."""
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if len(children) == 1 else None

    def worker_cpu_s(self) -> float | None:
        """CPU seconds (user + system) the worker has used so far."""
        if self.worker_pid is None:
            return None
        try:
            campos = Path(f"/proc/{self.worker_pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(campos[11]) + int(campos[12])) / CLK_TCK  # utime, stime

    def worker_rss_kb(self) -> int | None:
        """The worker's resident memory now (VmRSS, KB)."""
        if self.worker_pid is None:
            return None
        try:
            for line in Path(f"/proc/{self.worker_pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return None

    def stop(self) -> None:
        """Graceful stop (SIGTERM), as a service manager would."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def machine_busy_s() -> float | None:
    """CPU seconds every core has spent busy since boot (/proc/stat, all but idle and iowait)."""
    try:
        campos = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(campos[:8]) - campos[3] - campos[4]) / CLK_TCK


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def cpu_model() -> str:
    """The CPU model line of /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_lines() -> list[str]:
    """Cores, CPU model, load and Python: what a reader needs to compare figures across machines."""
    import gevent  # the server's event loop; imported here so a plain process need not load it early

    return [
        f"machine: {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), {cpu_model()}",
        f"load average before the run: {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
        f"python {platform.python_version()}, gevent {gevent.__version__}, {platform.system()} {platform.release()}",
    ]
