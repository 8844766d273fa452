"""Command benchmark: the real gunicorn + gevent server on the embedded SQLite store, over loopback.

For each SQLite synchronous mode asked for, the script seeds a fresh database (the demo shop plus
one ARMADOR and a few DISPONIBLE spools per client, so no two clients ever touch the same spool),
starts ``gunicorn -c gunicorn.conf.py wsgi:app`` (one gevent worker) on a free loopback port, and
runs clients that cycle TOMAR ARM -> PAUSAR ARM on their own spools, each request with an
Idempotency-Key like a tablet's tap: first closed loop (each client sends its next command as soon
as the last is answered: the server's capacity, and latency at saturation), then paced (N clients
sending a fixed total rate: latency at that load), and with ``--health`` the same closed-loop levels
on ``GET /api/health`` (the HTTP stack without the command path). It prints commands/s and latency
p50/p99/max per level.

With ``--auth pin`` the server runs in pin mode (SPEC §11): every bench worker has a PIN, each client
signs in once before the levels, and every command carries its session's ``Authorization: Bearer``;
``--auth open pin`` runs both on fresh databases and compares the worker's CPU per command.

The load generator is lean on purpose (http.client keep-alive connections on gevent greenlets in
this one process, no requests/urllib3 layers) and reports its own CPU use next to the server
worker's, so a run shows which side saturated: on a 2-core machine both share the cores.

    .venv/bin/python bench/commands.py                       # synchronous=FULL, the default
    .venv/bin/python bench/commands.py --synchronous FULL NORMAL
    .venv/bin/python bench/commands.py --auth open pin       # what a session costs a command
"""

from gevent import monkey

monkey.patch_all()  # before http.client, socket and subprocess are imported

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from _server import ROOT, Server, machine_busy_s, machine_lines, percentile  # noqa: E402 (bench/ is on sys.path)

sys.path.insert(0, str(ROOT))

from app import demo  # noqa: E402
from app.auth import hash_pin  # noqa: E402
from app.domain.model import Rol, Spool, Worker  # noqa: E402
from app.offload import off_loop  # noqa: E402
from app.stores.sqlite import SqliteStore  # noqa: E402

FIRST_BENCH_WORKER = 1001  # far above the demo shop's ids
BENCH_PIN = "2580"


def bench_tag(client: int, k: int) -> str:
    """A realistic tag of the spools only ``client`` works on."""
    return f"BN-{2000 + client}-CW-{30000 + k}-001"


def seed(db: Path, clients: int, spools_per_client: int, pins: bool = False) -> None:
    """The demo shop plus one ARMADOR and ``spools_per_client`` DISPONIBLE spools per client (with
    ``pins``, each bench worker gets ``BENCH_PIN``)."""
    workers = [
        *demo.WORKERS,
        *(Worker(FIRST_BENCH_WORKER + c, "Bench", f"Armador {c}", (Rol.ARMADOR,), True) for c in range(clients)),
    ]
    spools = [
        *demo.spools(),
        *(
            Spool(tag_spool=bench_tag(c, k), version=str(uuid.uuid4()))
            for c in range(clients)
            for k in range(spools_per_client)
        ),
    ]
    store = SqliteStore(str(db))
    try:
        store.load(spools, workers)
        if pins:  # slow hashes, on native threads side by side
            ids = [FIRST_BENCH_WORKER + c for c in range(clients)]
            hashes = [gevent.spawn(off_loop, hash_pin, i, BENCH_PIN) for i in ids]
            gevent.joinall(hashes, raise_error=True)
            for worker_id, done in zip(ids, hashes, strict=True):
                store.set_pin_hash(worker_id, done.value)
    finally:
        store.close()


def sign_in(port: int, worker_id: int) -> str:
    """A session token for a bench worker (once per client, before the levels)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps({"worker_id": worker_id, "pin": BENCH_PIN})
        conn.request("POST", "/api/sesiones", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read()
    finally:
        conn.close()
    if response.status != 201:
        raise SystemExit(f"sign-in of bench worker {worker_id} answered {response.status}: {payload[:200]!r}")
    return json.loads(payload)["token"]


@dataclass
class Level:
    """What one concurrency level measured."""

    clients: int
    seconds: float
    rate: float | None = None  # paced: commands/s the clients send together; None: closed loop
    health: bool = False  # GET /api/health instead of commands: the HTTP stack's floor
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    client_cpu: float = 0.0
    server_cpu: float | None = None
    machine_cpu: float | None = None  # every process, so a busy neighbour shows up in the figures

    @property
    def cpu_ms_per_command(self) -> float | None:
        """The server worker's CPU time per answered request."""
        if self.server_cpu is None or not self.latencies:
            return None
        return self.server_cpu * self.seconds * 1e3 / len(self.latencies)


def _client(
    port: int,
    numero: int,
    tags: list[str],
    level: Level,
    medir_desde: float,
    hasta: float,
    agenda: tuple[float, float] | None,
    token: str | None = None,
) -> None:
    """One tablet: TOMAR then PAUSAR on each of its spools in turn, back to back (closed loop) or,
    with ``agenda`` = (first send, interval), on a fixed schedule; with ``token``, signed in."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    worker_id = FIRST_BENCH_WORKER + numero
    i = 0
    while True:
        tag = tags[(i // 2) % len(tags)]
        path = "/api/tomar-accion" if i % 2 == 0 else "/api/pausar-accion"
        body = json.dumps({"tag_spool": tag, "worker_id": worker_id, "operacion": "ARM"})
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        metodo = "POST"
        if level.health:
            metodo, path, body, headers = "GET", "/api/health", None, {}
        inicio = time.perf_counter()
        if agenda is not None:
            # Latency counts from the scheduled send, so a slow answer that delays the next
            # command is charged to it too (no coordinated omission).
            inicio = agenda[0] + i * agenda[1]
            gevent.sleep(max(0.0, inicio - time.perf_counter()))
        if inicio >= hasta and i % 2 == 0:
            break  # only after a PAUSAR, so the next level starts with every spool free
        try:
            conn.request(metodo, path, body, headers)
            response = conn.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status, payload = 0, repr(exc).encode()
        fin = time.perf_counter()
        if medir_desde <= fin <= hasta:
            if status == 200:
                level.latencies.append(fin - inicio)
            else:
                level.errors += 1
                level.first_error = level.first_error or f"{status} {payload[:200]!r}"
        if status != 200:
            # The spool's state is unknown after an error: start over from TOMAR on the next one.
            i += 2 - i % 2
        else:
            i += 1
    conn.close()


def run_level(
    server: Server,
    clients: int,
    spools_per_client: int,
    warmup: float,
    seconds: float,
    rate: float | None = None,
    health: bool = False,
    tokens: dict[int, str] | None = None,
) -> Level:
    """``clients`` clients for ``warmup`` + ``seconds``; what completes in the last ``seconds`` counts.
    Without ``rate`` each sends its next command as soon as the last is answered; with it they send
    ``rate`` commands/s together, evenly staggered."""
    level = Level(clients=clients, seconds=seconds, rate=rate, health=health)
    ahora = time.perf_counter()
    medir_desde, hasta = ahora + warmup, ahora + warmup + seconds
    intervalo = clients / rate if rate else 0.0
    greenlets = [
        gevent.spawn(
            _client,
            server.port,
            c,
            [bench_tag(c, k) for k in range(spools_per_client)],
            level,
            medir_desde,
            hasta,
            (ahora + c * intervalo / clients, intervalo) if rate else None,
            (tokens or {}).get(c),
        )
        for c in range(clients)
    ]
    gevent.sleep(max(0.0, medir_desde - time.perf_counter()))
    cpu0, server0, machine0 = time.process_time(), server.worker_cpu_s(), machine_busy_s()
    gevent.sleep(max(0.0, hasta - time.perf_counter()))
    cpu1, server1, machine1 = time.process_time(), server.worker_cpu_s(), machine_busy_s()
    gevent.joinall(greenlets, timeout=60)
    level.client_cpu = (cpu1 - cpu0) / seconds
    if server0 is not None and server1 is not None:
        level.server_cpu = (server1 - server0) / seconds
    if machine0 is not None and machine1 is not None:
        level.machine_cpu = (machine1 - machine0) / seconds
    return level


def filesystem(folder: Path) -> str:
    """The type and mount point of the filesystem holding ``folder`` (a tmpfs makes fsync free)."""
    mejor = ("?", "")
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            _dev, punto, tipo, *_ = line.split()
            if folder.resolve().is_relative_to(punto) and len(punto) >= len(mejor[1]):
                mejor = (tipo, punto)
    except (OSError, ValueError):
        pass
    return f"{mejor[0]} on {mejor[1] or '?'}"


def fsync_ms(folder: Path, n: int = 200) -> tuple[float, float]:
    """p50 and p99 of fsync after a 4 KB append in ``folder``: the floor of a synchronous=FULL commit."""
    veces = []
    with tempfile.TemporaryFile(dir=folder) as handle:
        for _ in range(n):
            handle.write(b"\0" * 4096)
            handle.flush()
            inicio = time.perf_counter()
            os.fsync(handle.fileno())
            veces.append(time.perf_counter() - inicio)
    veces.sort()
    return percentile(veces, 50) * 1e3, percentile(veces, 99) * 1e3


def journal_mode(db: Path) -> str:
    """The journal mode stored in the file (WAL persists; synchronous is per connection)."""
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA journal_mode").fetchone()[0].upper()


def print_table(levels: list[Level]) -> None:
    """One row per concurrency level."""
    header = (
        f"{'clients':>11} {'commands':>8} {'commands/s':>10} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'errors':>6} {'worker CPU':>10} {'CPU ms/cmd':>10} {'client CPU':>10} {'other CPU':>9}"
    )
    print(header)
    for level in levels:
        lat = sorted(level.latencies)
        server_cpu = f"{level.server_cpu:.0%}" if level.server_cpu is not None else "?"
        per_command = f"{level.cpu_ms_per_command:.2f}" if level.cpu_ms_per_command is not None else "?"
        otros = "?"
        if level.server_cpu is not None and level.machine_cpu is not None:
            otros = f"{max(0.0, level.machine_cpu - level.server_cpu - level.client_cpu):.0%}"
        print(
            f"{_label(level):>11} {len(lat):>8} {len(lat) / level.seconds:>10.0f} "
            f"{percentile(lat, 50) * 1e3:>7.1f} {percentile(lat, 99) * 1e3:>7.1f} "
            f"{(lat[-1] if lat else 0) * 1e3:>7.1f} {level.errors:>6} "
            f"{server_cpu:>10} {per_command:>10} {level.client_cpu:>10.0%} {otros:>9}"
        )
    print("  CPU columns: share of one core; 'other CPU' is every other process on the machine")
    for level in levels:
        if level.first_error:
            print(f"  {_label(level)} clients, first error: {level.first_error}")


def _label(level: Level) -> str:
    """``10`` for a closed-loop level, ``10 @300/s`` for a paced one."""
    if level.health:
        return f"{level.clients} health"
    return f"{level.clients} @{level.rate:g}/s" if level.rate else str(level.clients)


def paced(texto: str) -> tuple[int, float]:
    """``CLIENTS@RATE``, e.g. ``10@300``: CLIENTS clients sending RATE commands/s together."""
    try:
        clients, rate = texto.split("@")
        return int(clients), float(rate)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected CLIENTS@RATE, e.g. 10@300, not {texto!r}") from exc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients",
        type=int,
        nargs="*",
        default=[1, 10, 50],
        help="closed-loop concurrency levels (default: 1 10 50; none with a bare --clients)",
    )
    parser.add_argument(
        "--paced",
        type=paced,
        nargs="*",
        default=[(10, 300.0)],
        metavar="CLIENTS@RATE",
        help="paced levels after the closed-loop ones: CLIENTS clients sending RATE commands/s together, "
        "latency counted from each scheduled send (default: 10@300; none with a bare --paced)",
    )
    parser.add_argument(
        "--health",
        action="store_true",
        help="also run each closed-loop level with GET /api/health instead of commands: what the same client "
        "and HTTP stack do without the command path (shows the load generator is not the limit)",
    )
    parser.add_argument(
        "--synchronous",
        nargs="+",
        default=["FULL"],
        type=str.upper,
        choices=["OFF", "NORMAL", "FULL", "EXTRA"],
        help="SQLite synchronous modes to run, one fresh server each (default: FULL, the service's default)",
    )
    parser.add_argument(
        "--auth",
        nargs="+",
        default=["pin"],
        choices=["open", "pin"],
        help="ZEUES_AUTH of the server, one fresh server each: pin (the default: clients sign in once, every "
        "command carries its session) or open (no credentials); both: their CPU per command compared",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per level (default: 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each level (default: 2)")
    parser.add_argument("--spools-per-client", type=int, default=4, help="DISPONIBLE spools per client (default: 4)")
    parser.add_argument(
        "--dir",
        type=Path,
        default=ROOT / "instance",
        help="where the databases go: the filesystem decides what an fsync costs (default: instance/, like ZEUES_DB)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and the gunicorn log, print where")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Seed, start, measure every level, print the tables."""
    args = parse_args(argv)
    print("\n".join(machine_lines()))
    print(f"SQLite {sqlite3.sqlite_version}")
    print(
        f"each level: {args.warmup:g} s warm-up, then {args.seconds:g} s measured; clients cycle TOMAR ARM -> "
        f"PAUSAR ARM with an Idempotency-Key on {args.spools_per_client} own spools each, back to back "
        "(closed loop) or at a fixed total rate (CLIENTS @RATE)"
    )
    args.dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-commands-", dir=args.dir))
    try:
        p50, p99 = fsync_ms(tmp)
        print(f"databases in {tmp} ({filesystem(tmp)}); fsync after a 4 KB append: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        for synchronous in args.synchronous:
            results = {auth: run_mode(args, tmp, synchronous, auth) for auth in args.auth}
            if len(results) == 2:
                print_auth_cost(results["open"], results["pin"])
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def run_mode(args: argparse.Namespace, tmp: Path, synchronous: str, auth: str = "pin") -> list[Level]:
    """A fresh database and server in ``synchronous`` mode and ``auth`` mode, every level, one table."""
    name = f"{synchronous.lower()}-{auth}"
    db, log = tmp / f"bench-{name}.sqlite3", tmp / f"gunicorn-{name}.log"
    clients = max([1, *args.clients, *(n for n, _ in args.paced)])
    seed(db, clients, args.spools_per_client, pins=auth == "pin")
    server = Server(db, log, {"ZEUES_SQLITE_SYNCHRONOUS": synchronous, "ZEUES_WORKERS": "1", "ZEUES_AUTH": auth})
    try:
        tokens = {c: sign_in(server.port, FIRST_BENCH_WORKER + c) for c in range(clients)} if auth == "pin" else None
        levels = [
            run_level(server, n, args.spools_per_client, args.warmup, args.seconds, tokens=tokens) for n in args.clients
        ]
        levels += [
            run_level(server, n, args.spools_per_client, args.warmup, args.seconds, rate, tokens=tokens)
            for n, rate in args.paced
        ]
        if args.health:
            levels += [
                run_level(server, n, args.spools_per_client, args.warmup, args.seconds, health=True)
                for n in args.clients
            ]
    finally:
        server.stop()
    print(
        f"\nSQLite journal_mode={journal_mode(db)} synchronous={synchronous}, ZEUES_AUTH={auth} "
        "(gunicorn, 1 gevent worker)"
    )
    print_table(levels)
    if args.keep:
        print(f"  database {db}, log {log}")
    return levels


def print_auth_cost(open_levels: list[Level], pin_levels: list[Level]) -> None:
    """The worker's CPU per command with a session against without credentials, level by level."""
    print("\nCPU per command, pin (a session on every command) against open (no credentials):")
    for plain, signed in zip(open_levels, pin_levels, strict=True):
        if plain.health or plain.cpu_ms_per_command is None or signed.cpu_ms_per_command is None:
            continue
        extra = signed.cpu_ms_per_command / plain.cpu_ms_per_command - 1
        before, after = plain.cpu_ms_per_command, signed.cpu_ms_per_command
        print(f"  {_label(plain):>11}: {before:.2f} ms -> {after:.2f} ms ({extra:+.1%})")


if __name__ == "__main__":
    main()
