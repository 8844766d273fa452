"""Sign-in benchmark: a PIN's slow hash (werkzeug scrypt, SPEC §11) must not hold the event loop that
serves every other request.

Starts the real server (``gunicorn -c gunicorn.conf.py wsgi:app``, one gevent worker, ZEUES_AUTH=pin) on
a fresh demo shop (``flask demo``, which gives every worker a PIN), then measures ``GET /api/health`` at
a steady rate: first alone, then while ``POST /api/sesiones`` arrives at a fixed rate (20 sign-ins/s by
default, the right PIN of an active worker in turn). Latencies count from each request's scheduled send
(no coordinated omission). It prints health p50/p99/max in both phases, how many sign-ins were answered
and how long they took, and the server worker's CPU.

    .venv/bin/python bench/signins.py
    .venv/bin/python bench/signins.py --rate 8 --seconds 20
"""

from gevent import monkey

monkey.patch_all()  # before http.client, socket and subprocess are imported

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.queue  # noqa: E402
from _server import ROOT, Server, load_demo, machine_busy_s, machine_lines, percentile  # noqa: E402

sys.path.insert(0, str(ROOT))

from app import demo  # noqa: E402


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    seconds: float
    health: list[float] = field(default_factory=list)
    health_errors: int = 0
    signins: list[float] = field(default_factory=list)  # answered 201, seconds from the scheduled send
    signins_in_time: int = 0  # of those, answered before the phase ended
    signin_sent: int = 0
    signin_errors: list[str] = field(default_factory=list)
    server_cpu: float | None = None
    machine_cpu: float | None = None


class Connections:
    """Keep-alive loopback connections, handed to one request at a time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.free: gevent.queue.Queue = gevent.queue.Queue()

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        """One request on a free connection (a new one when all are busy): (status, body)."""
        try:
            conn = self.free.get_nowait()
        except gevent.queue.Empty:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, json.dumps(body) if body is not None else None, headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            raise
        self.free.put(conn)
        return response.status, payload


def paced(rate: float, start: float, until: float, send) -> list[gevent.Greenlet]:
    """Call ``send(scheduled)`` in its own greenlet ``rate`` times a second from ``start`` to ``until``."""
    greenlets = []
    n = 0
    while (scheduled := start + n / rate) < until:
        gevent.sleep(max(0.0, scheduled - time.perf_counter()))
        greenlets.append(gevent.spawn(send, scheduled))
        n += 1
    return greenlets


def run_phase(server: Server, name: str, seconds: float, health_rate: float, signin_rate: float) -> Phase:
    """Health at ``health_rate``/s for ``seconds``, with sign-ins at ``signin_rate``/s alongside (0: none)."""
    phase = Phase(name=name, seconds=seconds)
    pool = Connections(server.port)
    workers = [w.id for w in demo.WORKERS if w.activo]

    def health(scheduled: float) -> None:
        try:
            status, _ = pool.request("GET", "/api/health")
        except (OSError, http.client.HTTPException):
            status = 0
        if status == 200:
            phase.health.append(time.perf_counter() - scheduled)
        else:
            phase.health_errors += 1

    def sign_in(scheduled: float) -> None:
        worker_id = workers[phase.signin_sent % len(workers)]
        phase.signin_sent += 1
        try:
            status, payload = pool.request(
                "POST", "/api/sesiones", {"worker_id": worker_id, "pin": demo.PINES[worker_id]}
            )
        except (OSError, http.client.HTTPException) as exc:
            status, payload = 0, repr(exc).encode()
        if status == 201:
            phase.signins.append(time.perf_counter() - scheduled)
            phase.signins_in_time += time.perf_counter() <= until
        else:
            phase.signin_errors.append(f"{status} {payload[:120]!r}")

    start = time.perf_counter() + 0.2
    until = start + seconds
    cpu0, machine0 = server.worker_cpu_s(), machine_busy_s()
    senders = [gevent.spawn(paced, health_rate, start, until, health)]
    if signin_rate:
        senders.append(gevent.spawn(paced, signin_rate, start, until, sign_in))
    gevent.joinall(senders)
    cpu1, machine1 = server.worker_cpu_s(), machine_busy_s()  # the load's span; queued sign-ins finish below
    gevent.joinall([g for s in senders for g in s.value], timeout=120)
    if cpu0 is not None and cpu1 is not None:
        phase.server_cpu = (cpu1 - cpu0) / seconds
    if machine0 is not None and machine1 is not None:
        phase.machine_cpu = (machine1 - machine0) / seconds
    return phase


def ms(values: list[float], p: float) -> str:
    """The ``p``-th percentile of ``values`` (seconds) in milliseconds, as text."""
    return f"{percentile(sorted(values), p) * 1e3:.1f}"


def print_phases(phases: list[Phase], health_rate: float) -> None:
    """One row per phase."""
    print(
        f"\n{'phase':<22} {'health':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6} "
        f"{'sign-ins':>8} {'201/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'worker CPU':>10} {'machine':>8}"
    )
    for phase in phases:
        worker = f"{phase.server_cpu:.0%}" if phase.server_cpu is not None else "?"
        machine = f"{phase.machine_cpu:.0%}" if phase.machine_cpu is not None else "?"
        signins = (
            f"{phase.signin_sent:>8} {phase.signins_in_time / phase.seconds:>6.1f} {ms(phase.signins, 50):>7} "
            f"{ms(phase.signins, 99):>7}"
            if phase.signin_sent
            else f"{'-':>8} {'-':>6} {'-':>7} {'-':>7}"
        )
        print(
            f"{phase.name:<22} {len(phase.health):>6} {ms(phase.health, 50):>7} {ms(phase.health, 99):>7} "
            f"{ms(phase.health, 100):>7} {phase.health_errors:>6} {signins} {worker:>10} {machine:>8}"
        )
    print(
        f"  health: {health_rate:g} requests/s, latency from each scheduled send; sign-ins: 201/s answered within "
        "the phase, latency of all answered 201 (the queue drains after it); CPU: share of one core over the "
        "phase ('machine': every process, this load generator included)"
    )
    for phase in phases:
        if phase.signin_errors:
            print(f"  {phase.name}: {len(phase.signin_errors)} sign-ins failed, first: {phase.signin_errors[0]}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="sign-ins per second (default: 20)")
    parser.add_argument("--health-rate", type=float, default=50.0, help="health requests per second (default: 50)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per phase (default: 15)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the gunicorn log, print where")
    return parser.parse_args(argv)


def hash_cost_ms() -> float:
    """CPU milliseconds of one PIN check in this process (the same werkzeug scrypt the server runs)."""
    from app.auth import hash_pin, pin_matches

    pin_hash = hash_pin(1, "0101")
    start = time.process_time()
    for _ in range(5):
        pin_matches(pin_hash, 1, "0101")
    return (time.process_time() - start) / 5 * 1e3


def main(argv: list[str] | None = None) -> None:
    """Seed, start, measure both phases, print the table."""
    args = parse_args(argv)
    print("\n".join(machine_lines()))
    print(f"one PIN check (werkzeug scrypt, its default cost) takes {hash_cost_ms():.0f} ms of CPU here")
    tmp = Path(tempfile.mkdtemp(prefix="bench-signins-", dir=ROOT / "instance"))
    db, log = tmp / "bench.sqlite3", tmp / "gunicorn.log"
    try:
        load_demo(db)  # the real `flask demo`: every worker gets a PIN (a slow hash each)
        server = Server(db, log, {"ZEUES_AUTH": "pin", "ZEUES_WORKERS": "1"})
        try:
            pool = Connections(server.port)
            worker = next(w for w in demo.WORKERS if w.activo)
            status, _ = pool.request("POST", "/api/sesiones", {"worker_id": worker.id, "pin": demo.PINES[worker.id]})
            assert status == 201, status
            phases = [
                run_phase(server, "health alone", args.seconds, args.health_rate, 0),
                run_phase(server, f"+ {args.rate:g} sign-ins/s", args.seconds, args.health_rate, args.rate),
            ]
        finally:
            server.stop()
        print_phases(phases, args.health_rate)
        if args.keep:
            print(f"  database {db}, log {log}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
