"""Google Sheets store benchmark: the real gunicorn + gevent server on the Sheets API stand-in.

The stand-in plays a distant Google: every call takes ``--latency`` seconds and the per-user quotas
are enforced (``--quota`` reads and as many writes per sliding minute; over it, 429 without a
Retry-After, as Google answers). The server runs exactly as in production (``gunicorn -c
gunicorn.conf.py wsgi:app``, the feed's poller in the worker) with ``SHEETS_EMULATOR_HOST`` pointing
at the stand-in, so every call goes through gspread over HTTP.

Two phases: an idle one (no commands: only the poller reads) and a load one (clients, each cycling
TOMAR ARM -> PAUSAR ARM on its own spool, each tap with an Idempotency-Key and, on 503, retried with
the same key after Retry-After, as the tablet does; back to back, or together offering ``--rate``
commands a minute). The sheet holds the demo shop plus one free spool per client; clients share the
demo's fitters. It prints commands per minute sustained, API requests per command, commands per
write, requests per idle minute and command latency p50/p99.

    .venv/bin/python bench/sheets.py --idle-seconds 5                  # 40 tablets back to back: the ceiling
    .venv/bin/python bench/sheets.py --idle-seconds 5 --rate 300       # 300 commands/min offered
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import demo  # noqa: E402
from app.config import Defaults  # noqa: E402
from app.domain.model import Estado, Spool  # noqa: E402
from bench._server import Server, machine_lines, percentile  # noqa: E402
from tests.sheets_emulator import SheetsEmulator  # noqa: E402
from tests.sheets_shop import shop_tabs  # noqa: E402

SPREADSHEET = "bench-shop"


def post(port: int, path: str, body: dict, key: str) -> tuple[int, float]:
    """One POST with an Idempotency-Key; returns the status and the Retry-After it carried (or 1 s)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", "Idempotency-Key": key})
        response = conn.getresponse()
        response.read()
        return response.status, float(response.headers.get("Retry-After") or 1)
    finally:
        conn.close()


class Client(threading.Thread):
    """A tablet on its own spool: TOMAR, PAUSAR, again, until the deadline; back to back, or one
    command every ``period`` seconds (an offered load below the ceiling)."""

    def __init__(self, port: int, tag: str, worker: int, measure_from: float, deadline: float, period: float) -> None:
        super().__init__(daemon=True)
        self.port, self.tag, self.worker, self.period = port, tag, worker, period
        self.measure_from, self.deadline = measure_from, deadline
        self.latencies: list[float] = []  # seconds per measured command answered 200, retries included
        self.unavailable = 0  # 503 answers (each retried with the same key)
        self.answers: list[float] = []  # seconds per measured HTTP answer, 200 or 503
        self.errors: list[int] = []

    def command(self, endpoint: str) -> None:
        body = {"tag_spool": self.tag, "worker_id": self.worker, "operacion": "ARM"}
        key = str(uuid.uuid4())
        started = time.monotonic()
        while time.monotonic() < self.deadline:
            sent = time.monotonic()
            status, retry_after = post(self.port, f"/api/{endpoint}-accion", body, key)
            if sent >= self.measure_from:
                self.answers.append(time.monotonic() - sent)
            if status == 200:
                if started >= self.measure_from:
                    self.latencies.append(time.monotonic() - started)
                return
            if status == 503:
                self.unavailable += started >= self.measure_from
                time.sleep(retry_after)  # as the tablet does: wait what the server says, same key
                continue
            self.errors.append(status)
            return

    def run(self) -> None:
        siguiente = time.monotonic() + random.uniform(0, self.period)
        for endpoint in itertools.cycle(("tomar", "pausar")):
            if self.period:
                time.sleep(max(0.0, siguiente - time.monotonic()))  # the offered load's schedule
                siguiente += self.period
            if time.monotonic() >= self.deadline:
                return
            self.command(endpoint)


def sample_health(port: int, deadline: float, ages: list[float], stale: list[bool]) -> None:
    """Every 5 s until the deadline: how old the feed's last read of the sheet is, and whether it says stale."""
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/api/health")
            health = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        ages.append(health["last_sync_age_s"] or 0.0)
        stale.append(health["stale"])
        time.sleep(5)  # the sampling period of a measurement, not a synchronisation


def main() -> None:
    """Run the idle phase, then the load phase, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.150, help="seconds the stand-in adds to every call")
    parser.add_argument("--quota", type=int, default=60, help="reads and writes per minute (each)")
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=60, help="load before measuring: fills the quota window")
    parser.add_argument("--seconds", type=float, default=120, help="length of the measured load")
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument(
        "--rate", type=float, default=0, help="commands/min offered by all clients together (0: as fast as they can)"
    )
    args = parser.parse_args()

    # One free spool per tablet, after the demo's own; a fitter may hold several spools.
    spools = demo.spools() + [Spool(f"MK-9000-BENCH-{n:05d}", version=f"bench-{n:05d}") for n in range(args.clients)]
    libres = [s.tag_spool for s in spools if s.estado == Estado.DISPONIBLE]
    armadores = [w.id for w in demo.WORKERS if w.activo and "ARMADOR" in w.roles]

    emulator = SheetsEmulator()
    emulator.create(SPREADSHEET, shop_tabs(spools, demo.WORKERS))
    host = emulator.start()
    emulator.latency = args.latency
    emulator.set_quota(args.quota, args.quota)
    tmp = Path(tempfile.mkdtemp(prefix="zeues-bench-sheets-"))
    env = {"ZEUES_SPREADSHEET_ID": SPREADSHEET, "SHEETS_EMULATOR_HOST": host}
    server = Server(tmp / "unused.sqlite3", tmp / "gunicorn.log", extra_env=env)
    try:
        emulator.reset_counts()
        por_minuto: list[int] = []  # requests in each whole idle minute: the poller slows down as idling goes on
        for _ in range(int(args.idle_seconds // 60)):
            antes = emulator.counts["read"] + emulator.counts["write"]
            time.sleep(60)  # the idle phase: only the poller talks to the sheet
            por_minuto.append(emulator.counts["read"] + emulator.counts["write"] - antes)
        time.sleep(args.idle_seconds % 60)
        idle = dict(emulator.counts)

        measure_from = time.monotonic() + args.warmup
        deadline = measure_from + args.seconds
        period = args.clients * 60 / args.rate if args.rate else 0.0
        clients = [
            Client(server.port, libres[i], armadores[i % len(armadores)], measure_from, deadline, period)
            for i in range(args.clients)
        ]
        for client in clients:
            client.start()
        time.sleep(args.warmup)  # sustained means after the first minute's fresh quota is spent
        emulator.reset_counts()
        cpu_before = server.worker_cpu_s()
        ages: list[float] = []
        stale: list[bool] = []
        sampler = threading.Thread(target=sample_health, args=(server.port, deadline, ages, stale), daemon=True)
        sampler.start()
        for client in clients:
            client.join()
        sampler.join()
        elapsed = time.monotonic() - measure_from
        cpu = server.worker_cpu_s()
        load = dict(emulator.counts)
    finally:
        server.stop()
        emulator.stop()

    latencies = sorted(x for c in clients for x in c.latencies)
    answers = sorted(x for c in clients for x in c.answers)
    commands = len(latencies)
    requests_ = load.get("read", 0) + load.get("write", 0)
    # Commands that started inside the measured window, per minute of that window (the last ones finish
    # a little after it: ``elapsed`` also covers them, and the requests counted).
    per_minute = 60 / args.seconds
    lines = [
        f"stand-in: {args.latency * 1000:.0f} ms per call, {args.quota} reads + {args.quota} writes per minute",
        f"idle phase {args.idle_seconds:.0f} s: {idle.get('read', 0) + idle.get('write', 0)} requests "
        f"({idle.get('read', 0) / args.idle_seconds * 60:.1f} reads/min); steady idle cadence after "
        f"{Defaults.FEED_IDLE_AFTER_S / 60:.0f} min: {60 / Defaults.FEED_IDLE_POLL_S:.0f} reads/min; "
        f"requests in each idle minute: {por_minuto}",
        f"load phase {args.warmup:.0f} s warm-up + {args.seconds:.0f} s measured, {args.clients} clients "
        f"({f'offering {args.rate:g} commands/min' if args.rate else 'back to back'}): "
        f"{commands} commands = "
        f"{commands * per_minute:.1f} commands/min sustained, {sum(c.unavailable for c in clients)} answers 503",
        f"API requests: {load.get('read', 0)} reads + {load.get('write', 0)} writes "
        f"({load.get('quota_exceeded', 0)} of them refused 429 by the quota) = "
        f"{requests_ / commands if commands else 0:.2f} per command "
        f"(writes per command {load.get('write', 0) / commands if commands else 0:.2f}, "
        f"commands per write {commands / load['write'] if load.get('write') else 0:.1f})",
        f"command latency, tap to success (waits after 503 included): p50 {percentile(latencies, 50) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.0f} ms, max {(latencies[-1] if latencies else 0) * 1000:.0f} ms",
        f"time to answer one request (200 or 503): p50 {percentile(answers, 50) * 1000:.0f} ms, "
        f"p99 {percentile(answers, 99) * 1000:.0f} ms, max {(answers[-1] if answers else 0) * 1000:.0f} ms",
        f"worker CPU while measured: {cpu - cpu_before:.1f} s in {elapsed:.0f} s "
        f"({(cpu - cpu_before) / elapsed * 100:.0f} % of one core)"
        if cpu is not None and cpu_before is not None
        else "worker CPU: not measured",
        f"feed under load: last read of the sheet at most {max(ages, default=0):.1f} s old, "
        f"stale in {sum(stale)} of {len(stale)} samples",
        f"errors other than 503: {sum(len(c.errors) for c in clients)}",
        *machine_lines(),
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
