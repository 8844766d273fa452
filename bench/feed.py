"""Change-feed benchmark: N tablets long-polling one gunicorn + gevent worker, on loopback.

For each N the script seeds a fresh SQLite file with ``flask --app wsgi demo``, starts
``gunicorn -c gunicorn.conf.py wsgi:app`` (one gevent worker) on a free loopback port, and starts a
separate load process (``bench/feed_load.py``, gevent greenlets on raw sockets) that opens N
connections to ``GET /api/changes`` on the current cursor. Once ``/api/health`` counts N waiters it
reads the worker's RSS, sends one TOMAR and measures, per client, the time from the command's answer
to the arrival of the client's ``changed: true`` answer. RSS before the clients connect and while
they wait gives the memory per waiter.

For the N given to ``--compare`` the same N clients then run three ways (``--modes``) for
``--seconds`` each, while this process sends a command every ``--command-every`` seconds: following
the feed (the README's loop), polling ``GET /api/spools`` every ``--period`` seconds, and polling with
``If-None-Match``. Staleness is the time from a command's answer to the moment each client first
holds a state that includes it; bytes are HTTP bytes (headers + bodies), without TCP/IP overhead.
Each command's own latency is measured, and a ``GET /api/health`` between two commands: with more clients than
the server's waiter limit (``--max-waiters``, ``--worker-connections``) this shows whether commands
and reads still get through while the clients past the limit are turned away.

    .venv/bin/python bench/feed.py                          # N = 500 1000 2000, compared at 2000
    .venv/bin/python bench/feed.py --clients 2000 --compare 2000 --seconds 60
    .venv/bin/python bench/feed.py --clients 3000 6000 --compare --worker-connections 8000 --max-waiters 7000
    .venv/bin/python bench/feed.py --clients --compare 5000 --modes long-poll   # past the default limit
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# bench/ is sys.path[0] when this file runs as a script
from _server import ROOT, Server, add_spools, load_demo, machine_lines, percentile, request_json

LOAD = Path(__file__).resolve().parent / "feed_load.py"
MODES = {"long-poll": "long poll", "poll": "poll /api/spools", "poll-etag": "poll + If-None-Match"}
TARGET_CLIENTS, TARGET_P99_MS, TARGET_KB_PER_WAITER = 2000, 250, 25  # issue 3


@dataclass
class Release:
    """One N: latency of the release after a single command, memory per waiter, errors."""

    clients: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    rss_idle_kb: int = 0
    rss_waiting_kb: int = 0
    connect_s: float = 0.0
    server_cpu_s: float | None = None
    client_cpu_s: float = 0.0

    @property
    def kb_per_waiter(self) -> float:
        return (self.rss_waiting_kb - self.rss_idle_kb) / self.clients

    def count(self, data: dict, answered: float) -> None:
        """Take the load process's record (``feed_load.py release``): its CPU, and each client's latency
        from ``answered`` (the command's 200) or its error."""
        self.client_cpu_s = data["client_cpu_s"]
        for arrival, status, ok, _bytes, error in data["answers"]:
            if ok:
                self.latencies_ms.append((arrival - answered) * 1000)
            else:
                self.errors += 1
                self.first_error = self.first_error or f"{status} {error}"


@dataclass
class Mode:
    """One way of keeping N clients current over a window with a command every few seconds."""

    name: str
    clients: int
    commands: int = 0
    window_s: float = 0.0
    staleness_s: list[float] = field(default_factory=list)
    missed: int = 0  # (client, command) pairs the client never saw before it stopped
    down_bytes: int = 0
    up_bytes: int = 0
    answers: int = 0
    errors: int = 0
    first_error: str = ""
    server_cpu_s: float | None = None
    client_cpu_s: float = 0.0
    elapsed_s: float = 1.0  # wall time the CPU figures cover
    turned_away: int = 0  # answers asking for a wait (retry_after_ms > 0): polls past the waiter limit
    command_ms: list[float] = field(default_factory=list)  # each command, sent to answered
    health_ms: list[float] = field(default_factory=list)  # a GET /api/health right after each command


class Shop:
    """A fresh server on a copy of the demo shop, and the commands this benchmark sends to it."""

    def __init__(self, template: Path, tmp: Path, name: str, env: dict[str, str] | None = None) -> None:
        db = tmp / f"{name}.sqlite3"
        shutil.copy(template, db)
        self.server = Server(db, tmp / f"{name}.log", extra_env=env)
        self.port = self.server.port
        status, body = request_json(self.port, "GET", "/api/spools?estado=DISPONIBLE")
        assert status == 200, body
        self.libres = [s["tag_spool"] for s in body["spools"]]
        self.ocupado = False

    def cursor(self) -> str:
        return request_json(self.port, "GET", "/api/health")[1]["cursor"]

    def waiters(self) -> int:
        return request_json(self.port, "GET", "/api/health")[1]["waiters"]

    def health_ms(self) -> float:
        """How long one ``GET /api/health`` takes, on a fresh connection as a newcomer's would."""
        t0 = time.monotonic()
        status, body = request_json(self.port, "GET", "/api/health")
        if status != 200:
            raise SystemExit(f"health answered {status} {body}")
        return (time.monotonic() - t0) * 1000

    def command(self, tag: str, accion: str) -> float:
        """TOMAR or PAUSAR ARM on ``tag`` as worker 1; returns when its 200 arrived (monotonic)."""
        status, body = request_json(
            self.port, "POST", f"/api/{accion}-accion", {"tag_spool": tag, "worker_id": 1, "operacion": "ARM"}
        )
        llegada = time.monotonic()
        if status != 200:
            raise SystemExit(f"the benchmark's own command failed: {status} {body}")
        return llegada

    def toggle(self, tag: str) -> float:
        """TOMAR, then PAUSAR, then TOMAR... of one spool: every command changes its version, so
        every command makes a new cursor."""
        accion = "pausar" if self.ocupado else "tomar"
        self.ocupado = not self.ocupado
        return self.command(tag, accion)

    def warm_up(self) -> None:
        """Touch every code path a waiter uses once, so the RSS baseline is not lazy imports."""
        cursor = self.cursor()
        for path in ("/api/spools", "/api/changes", f"/api/changes?since={cursor}&timeout=0"):
            request_json(self.port, "GET", path)
        time.sleep(0.5)


def start_load(mode: str, port: int, clients: int, out: Path, *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(LOAD), mode, "--port", str(port), "--clients", str(clients), "--out", str(out), *options],
        cwd=ROOT,
    )


def finish_load(proc: subprocess.Popen, out: Path, within: float) -> dict:
    try:
        code = proc.wait(within)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise SystemExit(f"the load process did not finish within {within:g} s") from None
    if code != 0:
        raise SystemExit(f"the load process exited with {code}")
    return json.loads(out.read_text())


def wait_for_waiters(shop: Shop, n: int, within: float) -> float:
    """Seconds until the server itself counts ``n`` held requests (or as many as it may hold)."""
    t0 = time.monotonic()
    n = min(n, request_json(shop.port, "GET", "/api/health")[1]["max_waiters"] or n)
    while (held := shop.waiters()) < n:
        if time.monotonic() - t0 > within:
            raise SystemExit(f"only {held} of {n} clients held after {within:g} s")
        time.sleep(0.1)
    return time.monotonic() - t0


def run_release(shop: Shop, n: int, tmp: Path) -> Release:
    """N clients wait on the current cursor; one command releases them all."""
    result = Release(clients=n)
    shop.warm_up()
    result.rss_idle_kb = shop.server.worker_rss_kb() or 0
    tag, out = shop.libres[0], tmp / f"release-{n}.json"
    cpu0 = shop.server.worker_cpu_s()
    proc = start_load("release", shop.port, n, out, "--since", shop.cursor(), "--tag", tag, "--timeout", "28")
    result.connect_s = wait_for_waiters(shop, n, within=20)
    time.sleep(0.5)  # let the last connections' buffers settle before reading memory
    result.rss_waiting_kb = shop.server.worker_rss_kb() or 0
    cpu1 = shop.server.worker_cpu_s()
    respondido = shop.command(tag, "tomar")
    data = finish_load(proc, out, within=40)
    cpu2 = shop.server.worker_cpu_s()
    if None not in (cpu0, cpu1, cpu2):
        result.server_cpu_s = cpu2 - cpu1  # the release alone, not the connects
    result.count(data, respondido)
    return result


def run_mode(shop: Shop, name: str, n: int, tmp: Path, args: argparse.Namespace) -> Mode:
    """N clients kept current one way, for ``args.seconds``, with a command every ``args.command_every``."""
    mode, tag = Mode(name=name, clients=n), shop.libres[1]
    out = tmp / f"{''.join(c if c.isalnum() else '-' for c in name)}-{n}.json"
    start = time.monotonic() + 1.0
    until = start + args.seconds
    cpu0, t0 = shop.server.worker_cpu_s(), time.monotonic()
    if name == "long poll":
        proc = start_load("follow", shop.port, n, out, "--since", shop.cursor(), "--until", repr(until))
        wait_for_waiters(shop, n, within=20)
        first = time.monotonic() + 0.5
    else:
        etag = ["--etag"] if "If-None-Match" in name else []
        options = ["--start", repr(start), "--until", repr(until), "--period", str(args.period), *etag]
        proc = start_load("poll", shop.port, n, out, *options)
        first = start + args.period  # every client has its first state
    # Stop the commands a poll period (plus a margin) before the clients stop, so each can see the last.
    last = until - args.period - 2.0
    comandos: list[tuple[float, str]] = []  # (when its answer arrived, the cursor it made)
    siguiente = first
    while siguiente <= last:
        time.sleep(max(0.0, siguiente - time.monotonic()))
        enviado = time.monotonic()
        llegada = shop.toggle(tag)
        mode.command_ms.append((llegada - enviado) * 1000)
        comandos.append((llegada, shop.cursor()))
        # A read at a random moment between commands, as a board's page load or a scan would come.
        time.sleep(max(0.0, siguiente + args.command_every * random.uniform(0.3, 0.7) - time.monotonic()))
        mode.health_ms.append(shop.health_ms())
        siguiente += args.command_every
    data = finish_load(proc, out, within=until - time.monotonic() + 30)
    cpu1 = shop.server.worker_cpu_s()
    mode.elapsed_s = time.monotonic() - t0
    if cpu0 is not None and cpu1 is not None:
        mode.server_cpu_s = cpu1 - cpu0
    mode.client_cpu_s = data["client_cpu_s"]
    indice = {cursor: k for k, (_t, cursor) in enumerate(comandos)}
    mode.commands = len(comandos)
    # Bytes over whole command periods centred on the commands, so the rate matches the command rate.
    w0 = comandos[0][0] - args.command_every / 2
    w1 = comandos[-1][0] + args.command_every / 2
    mode.window_s = w1 - w0
    for answers, errors in zip(data["answers"], data["errors"], strict=True):
        mode.errors += len(errors)
        if errors and not mode.first_error:
            mode.first_error = errors[0][1]
        for llegada, _cursor, down, up, retry_after_ms in answers:
            if w0 <= llegada < w1:
                mode.down_bytes += down
                mode.up_bytes += up
                mode.answers += 1
                mode.turned_away += retry_after_ms > 0
        vistos = [(llegada, indice.get(cursor, -1)) for llegada, cursor, *_ in answers]
        for k, (hecho, _cursor) in enumerate(comandos):
            primera = next((llegada for llegada, i in vistos if i >= k), None)
            if primera is None:
                mode.missed += 1
            else:
                mode.staleness_s.append(primera - hecho)
    return mode


def print_release(results: list[Release]) -> None:
    print(
        f"\n{'clients':>7} {'connect s':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6} "
        f"{'RSS idle MB':>11} {'RSS held MB':>11} {'KB/waiter':>9} {'server CPU s':>12} {'client CPU s':>12}"
    )
    for r in results:
        lat = sorted(r.latencies_ms)
        cpu = f"{r.server_cpu_s:.2f}" if r.server_cpu_s is not None else "?"
        print(
            f"{r.clients:>7} {r.connect_s:>9.1f} {percentile(lat, 50):>7.0f} {percentile(lat, 99):>7.0f} "
            f"{(lat[-1] if lat else 0):>7.0f} {r.errors:>6} {r.rss_idle_kb / 1024:>11.1f} "
            f"{r.rss_waiting_kb / 1024:>11.1f} {r.kb_per_waiter:>9.1f} {cpu:>12} {r.client_cpu_s:>12.2f}"
        )
    for r in results:
        if r.first_error:
            print(f"  {r.clients} clients, first error: {r.first_error}")
    for target in (r for r in results if r.clients == TARGET_CLIENTS):
        lat = sorted(target.latencies_ms)
        cumple = {
            f"p99 <= {TARGET_P99_MS} ms": percentile(lat, 99) <= TARGET_P99_MS,
            f"<= {TARGET_KB_PER_WAITER} KB per waiter": target.kb_per_waiter <= TARGET_KB_PER_WAITER,
            "0 errors": target.errors == 0,
        }
        veredicto = ", ".join(f"{meta} {'met' if ok else 'NOT met'}" for meta, ok in cumple.items())
        print(f"  target at {TARGET_CLIENTS} clients: {veredicto}")


def _p50_max(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{percentile(ordered, 50):.0f} / {(ordered[-1] if ordered else 0):.0f}"


def print_modes(modes: list[Mode], args: argparse.Namespace) -> None:
    print(
        f"\n{'clients':>7} {'how':<24} {'commands':>8} {'stale mean s':>12} {'p99 s':>6} {'max s':>6} "
        f"{'missed':>6} {'answers/min':>11} {'turned away/min':>15} {'KB/min down':>11} {'KB/min up':>9} "
        f"{'errors':>6} {'server CPU':>10} {'client CPU':>10} {'command p50/max ms':>18} {'health p50/max ms':>17}"
    )
    for m in modes:
        stale = sorted(m.staleness_s)
        por_min = 60 / m.window_s if m.window_s else 0
        cpu = f"{m.server_cpu_s / m.elapsed_s:.0%}" if m.server_cpu_s is not None else "?"
        print(
            f"{m.clients:>7} {m.name:<24} {m.commands:>8} {statistics.fmean(stale) if stale else 0:>12.3f} "
            f"{percentile(stale, 99):>6.2f} {(stale[-1] if stale else 0):>6.2f} {m.missed:>6} "
            f"{m.answers * por_min:>11.0f} {m.turned_away * por_min:>15.0f} {m.down_bytes * por_min / 1024:>11.0f} "
            f"{m.up_bytes * por_min / 1024:>9.0f} {m.errors:>6} {cpu:>10} {m.client_cpu_s / m.elapsed_s:>10.0%} "
            f"{_p50_max(m.command_ms):>18} {_p50_max(m.health_ms):>17}"
        )
    for m in modes:
        if m.first_error:
            print(f"  {m.clients} clients, {m.name}, first error: {m.first_error}")
    print(
        f"  a command every {args.command_every:g} s as worker 1 (TOMAR/PAUSAR ARM on one spool); polls every "
        f"{args.period:g} s per client, each on a fresh connection; KB/min = HTTP headers + bodies of every "
        "client together; CPU = share of one core over the run"
    )
    print(
        "  staleness = a client's first answer that includes a command, minus the command's 200; 'missed' = "
        "(client, command) pairs not seen before the client stopped"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients",
        type=int,
        nargs="*",
        default=[500, 1000, 2000],
        help="waiting clients (default: 500 1000 2000; none with an empty list)",
    )
    parser.add_argument(
        "--compare",
        type=int,
        nargs="*",
        help="client counts at which to compare long poll with polling (default: the largest of --clients; "
        "none with an empty list)",
    )
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each comparison run (default: 40)")
    parser.add_argument(
        "--command-every", type=float, default=3.0, help="seconds between commands while comparing (default: 3)"
    )
    parser.add_argument("--period", type=float, default=5.0, help="polling period of each client (default: 5)")
    parser.add_argument(
        "--extra-spools",
        type=int,
        default=0,
        help="DISPONIBLE spools to add to the demo shop's 63, for a plant-sized sheet (default: 0)",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=list(MODES),
        default=list(MODES),
        help="how the --compare clients keep current (default: all three)",
    )
    parser.add_argument(
        "--worker-connections", type=int, help="the server's ZEUES_WORKER_CONNECTIONS (default: the server's own)"
    )
    parser.add_argument("--max-waiters", type=int, help="the server's ZEUES_MAX_WAITERS (default: the server's own)")
    parser.add_argument("--keep", action="store_true", help="keep the databases, logs and raw answers, print where")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Seed, start, measure every N, print the tables."""
    args = parse_args(argv)
    compare = ([max(args.clients)] if args.clients else []) if args.compare is None else args.compare
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = max(args.clients + compare, default=0) + 256
    if soft < need:  # inherited by gunicorn, which holds one socket per client
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    print("\n".join(machine_lines()))
    print("command: " + " ".join(["python", "bench/feed.py", *(sys.argv[1:] if argv is None else argv)]))
    tmp = Path(tempfile.mkdtemp(prefix="zeues-feed-bench-"))
    template = tmp / "demo.sqlite3"
    load_demo(template)
    if args.extra_spools:
        add_spools(template, args.extra_spools)
    releases, modes = [], []
    env = {
        name: str(value)
        for name, value in (
            ("ZEUES_WORKER_CONNECTIONS", args.worker_connections),
            ("ZEUES_MAX_WAITERS", args.max_waiters),
        )
        if value is not None
    }
    try:
        for n in sorted(set(args.clients) | set(compare)):
            shop = Shop(template, tmp, f"shop-{n}", env)  # a fresh worker per N: a clean memory baseline
            try:
                if n in args.clients:
                    releases.append(run_release(shop, n, tmp))
                    print(f"  {n} clients: released", flush=True)
                if n in compare:
                    for name in (MODES[m] for m in args.modes):
                        modes.append(run_mode(shop, name, n, tmp, args))
                        print(f"  {n} clients: {name} done", flush=True)
            finally:
                shop.server.stop()
    finally:
        if args.keep:
            print(f"  raw answers, databases and gunicorn logs in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average after the run: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if env:
        print("server settings: " + " ".join(f"{name}={value}" for name, value in env.items()))
    if releases:
        print("\nRelease: N clients held on GET /api/changes, one command (gunicorn, 1 gevent worker)")
        print("  latency = a client's changed:true answer arrived minus the command's own 200 arrived")
        print_release(releases)
    if modes:
        print("\nKeeping N clients current: long poll vs polling")
        print_modes(modes, args)


if __name__ == "__main__":
    main()
