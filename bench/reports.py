"""Report benchmark (SPEC §14): a year of a 100-worker plant, 100,000 events, every report within 1 s
on one core, and the rest of the server unaffected while one runs.

1. Writes the log (``bench/plant_year.py``: every event decided by the domain's ``decidir()`` and
   committed through the SQLite store) into a fresh file, or reuses ``--db``.
2. In this process, on one core: reads the whole log (``Store.all_events()``), digests it
   (``reports.analizar``) and computes every report, ``--repeat`` times; prints CPU seconds (min and
   median) per step and the year's figures.
3. Starts the real server (``gunicorn -c gunicorn.conf.py wsgi:app``, one gevent worker, plant zone
   America/Santiago) on a copy of the file and, for ``--seconds`` idle and then ``--seconds`` with
   reports requested back to back, samples ``GET /api/health`` every 20 ms and the feed's release: a
   client holding ``GET /api/changes`` on the current cursor, released by a TOMAR/PAUSAR sent every
   0.5 s (time from the command's answer to the held client's answer). Prints p50/p99/max of each,
   idle and under reports, and the reports' own latency over HTTP.

    .venv/bin/python bench/reports.py                      # ~1.5 min
    .venv/bin/python bench/reports.py --db /tmp/year.sqlite3 --keep   # write once, reuse after
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

# bench/ is sys.path[0] when this file runs as a script
from _server import ROOT, Server, machine_lines, percentile

sys.path.insert(0, str(ROOT))

from plant_year import ZONA, generar  # after ROOT: it imports the app

from app import reports
from app.stores.sqlite import SqliteStore

TARGET_S = 1.0  # SPEC §14: any report of a 100,000-event log within 1 s on one core
HEALTH_EVERY_S = 0.02
RELEASE_EVERY_S = 0.5


def cpu(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """(min, median) CPU seconds of ``fn`` over ``repeat`` runs, and its last result."""
    tiempos, resultado = [], None
    for _ in range(repeat):
        inicio = time.process_time()
        resultado = fn()
        tiempos.append(time.process_time() - inicio)
    return min(tiempos), statistics.median(tiempos), resultado


def in_process(db: Path, repeat: int) -> datetime:
    """Time the read, the digest and every report in this process; print the year's figures."""
    store = SqliteStore(str(db))
    try:
        eventos = sum(1 for _ in store.all_events())
        spools, workers = store.snapshot().spools, store.workers()
        ultimo = max(e.timestamp for e in store.all_events())
        ahora = datetime.fromisoformat(ultimo) + timedelta(hours=1)
        hoy = ahora.astimezone(ZONA).date()
        anio = reports.Rango.de(hoy - timedelta(days=364), hoy, ZONA)
        mes = reports.Rango.de(hoy - timedelta(days=29), hoy, ZONA)
        print(f"\nlog: {eventos:,} events, {len(spools):,} spools, {len(workers)} workers; now = {ultimo} + 1 h")
        registro = reports.analizar(store.all_events())
        filas = [
            ("read the log (all_events)", lambda: sum(1 for _ in store.all_events())),
            ("read + digest (analizar)", lambda: reports.analizar(store.all_events())),
            ("resumen, a year (digested)", lambda: reports.resumen(registro, spools, anio, ZONA, ahora)),
            ("resumen, 30 days (digested)", lambda: reports.resumen(registro, spools, mes, ZONA, ahora)),
            ("trabajadores, a year (digested)", lambda: reports.trabajadores(registro, workers, anio, ZONA, ahora)),
            (
                "resumen, a year, from the store",
                lambda: reports.resumen(reports.analizar(store.all_events()), spools, anio, ZONA, ahora),
            ),
            (
                "trabajadores, a year, from the store",
                lambda: reports.trabajadores(reports.analizar(store.all_events()), workers, anio, ZONA, ahora),
            ),
        ]
        tag = spools[len(spools) // 2].tag_spool
        filas.append((f"spool {tag}", lambda: reports.linea_de_tiempo(store.spool(tag), store.events(tag), ahora)))
        print(f"\nCPU seconds, {repeat} runs each (min / median); target: every report ≤ {TARGET_S:g} s")
        resultados = {}
        for nombre, fn in filas:
            minimo, mediana, resultados[nombre] = cpu(fn, repeat)
            print(f"  {nombre:<40} {minimo:6.3f} / {mediana:6.3f}")
        imprimir_cifras(resultados["resumen, a year (digested)"], resultados["trabajadores, a year (digested)"])
        return ahora
    finally:
        store.close()


def imprimir_cifras(resumen: dict, trabajadores: dict) -> None:
    """The year's figures, as a plant manager would read them."""
    print(f"\nfigures {resumen['desde']} – {resumen['hasta']} ({resumen['zona']})")
    print("  operacion   completadas  horas_activas  mediana_h/spool  espera_mediana_h  primera_pasada  rechazos")
    for op in resumen["operaciones"]:
        print(
            f"  {op['operacion']:<11} {op['completadas']:>11,} {op['horas_activas']:>14,.1f} "
            f"{fmt(op['mediana_horas_por_spool']):>16} {fmt(op['horas_espera_mediana']):>17} "
            f"{fmt(op['primera_pasada']):>15} {fmt(op['rechazos']):>9}"
        )
    en_curso = ", ".join(f"{f['estado']} {f['spools']}" for f in resumen["en_curso"] if f["spools"])
    print(f"  work in progress now: {en_curso}")
    semanas = resumen["primera_pasada_por_semana"]
    print(
        f"  first-pass yield per week: {len(semanas)} weeks, "
        f"{min(s['primera_pasada'] for s in semanas):.1%} – {max(s['primera_pasada'] for s in semanas):.1%}"
    )
    soldadores = [w for w in trabajadores["trabajadores"] if w["soldaduras_inspeccionadas"]]
    peor = max(soldadores, key=lambda w: w["soldaduras_rechazadas"] / w["soldaduras_inspeccionadas"])
    print(
        f"  {len(trabajadores['trabajadores'])} workers; highest rejection share among welders: {peor['nombre']} "
        f"{peor['soldaduras_rechazadas']}/{peor['soldaduras_inspeccionadas']}"
    )


def fmt(value: float | int | None) -> str:
    """A figure or a dash."""
    return "–" if value is None else f"{value:g}"


class Client:
    """A keep-alive loopback connection, reopened after an error."""

    def __init__(self, port: int) -> None:
        self.port, self.conn = port, None

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 60) -> tuple[int, bytes]:
        """One request; (status, body)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            self.conn.request(method, path, None if body is None else json.dumps(body), headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise


def sample_health(port: int, until: float, out: list[float]) -> None:
    """``GET /api/health`` every 20 ms; each latency in ms."""
    client, tick = Client(port), time.monotonic()
    while tick < until:
        time.sleep(max(0.0, tick - time.monotonic()))
        tick += HEALTH_EVERY_S
        inicio = time.monotonic()
        status, _ = client.request("GET", "/api/health")
        if status == 200:
            out.append((time.monotonic() - inicio) * 1000)


def sample_release(port: int, until: float, tag: str, worker: int, out: list[float]) -> None:
    """A held ``/api/changes`` released by a command every 0.5 s: command answered → client answered, ms."""
    commands, accion = Client(port), "tomar"
    while time.monotonic() < until:
        status, body = commands.request("GET", "/api/health")
        cursor = json.loads(body)["cursor"]
        llegada: list[float] = []

        def hold(cursor: str = cursor, llegada: list[float] = llegada) -> None:
            Client(port).request("GET", f"/api/changes?since={cursor}&timeout=10")
            llegada.append(time.monotonic())

        waiter = threading.Thread(target=hold)
        waiter.start()
        deadline = time.monotonic() + 5
        while json.loads(commands.request("GET", "/api/health")[1])["waiters"] < 1 and time.monotonic() < deadline:
            time.sleep(0.005)  # until the server holds the client (an observable condition, polled)
        cuerpo = {"tag_spool": tag, "worker_id": worker, "operacion": "ARM"}
        status, body = commands.request("POST", f"/api/{accion}-accion", cuerpo)
        respondido = time.monotonic()
        waiter.join()
        if status == 200 and llegada:
            out.append((llegada[0] - respondido) * 1000)
        accion = "pausar" if accion == "tomar" else "tomar"
        time.sleep(RELEASE_EVERY_S)


def run_reports(port: int, until: float, desde: date, hasta: date, out: list[tuple[str, float]]) -> None:
    """Reports back to back, alternating summary and per worker, over the whole year."""
    client = Client(port)
    rutas = [f"/api/reportes/{r}?desde={desde}&hasta={hasta}" for r in ("resumen", "trabajadores")]
    while time.monotonic() < until:
        ruta = rutas[len(out) % 2]
        inicio = time.monotonic()
        status, body = client.request("GET", ruta)
        assert status == 200, body[:300]
        out.append((ruta.split("?")[0], time.monotonic() - inicio))


def on_server(db: Path, log: Path, ahora: datetime, seconds: float) -> None:
    """Health and feed release idle, then while reports run, on the real gunicorn server."""
    server = Server(db, log, {"ZEUES_TIMEZONE": str(ZONA), "ZEUES_WORKERS": "1"})
    try:
        client = Client(server.port)
        libres = json.loads(client.request("GET", "/api/spools?estado=DISPONIBLE")[1])["spools"]
        tag, worker = libres[0]["tag_spool"], 1  # worker 1 is a fitter
        hoy = ahora.astimezone(ZONA).date()
        desde = hoy - timedelta(days=364)
        status, _ = client.request("GET", f"/api/reportes/resumen?desde={desde}&hasta={hoy}")  # warm-up
        assert status == 200
        fases = {}
        for fase in ("idle", "reports running"):
            health: list[float] = []
            release: list[float] = []
            informes: list[tuple[str, float]] = []
            until = time.monotonic() + seconds
            hilos = [
                threading.Thread(target=sample_health, args=(server.port, until, health)),
                threading.Thread(target=sample_release, args=(server.port, until, tag, worker, release)),
            ]
            if fase != "idle":
                hilos.append(threading.Thread(target=run_reports, args=(server.port, until, desde, hoy, informes)))
            cpu_antes = server.worker_cpu_s()
            for hilo in hilos:
                hilo.start()
            for hilo in hilos:
                hilo.join()
            cpu_despues = server.worker_cpu_s()
            fases[fase] = (health, release, informes, cpu_antes, cpu_despues)
        print(f"\nreal server: gunicorn, 1 gevent worker, {seconds:g} s per phase; latencies in ms (p50 / p99 / max)")
        for fase, (health, release, informes, antes, despues) in fases.items():
            health.sort()
            release.sort()
            carga = f", worker CPU {(despues - antes) / seconds:.0%}" if antes is not None and despues else ""
            print(
                f"  {fase:<16} health {stats(health)} (n={len(health)})   "
                f"feed release {stats(release)} (n={len(release)}){carga}"
            )
            for ruta in sorted({r for r, _ in informes}):
                tiempos = sorted(s for r, s in informes if r == ruta)
                print(
                    f"    {ruta} over HTTP, a year: p50 {statistics.median(tiempos):.3f} s, "
                    f"max {tiempos[-1]:.3f} s (n={len(tiempos)}, each sharing the worker with the samplers)"
                )
    finally:
        server.stop()


def stats(values: list[float]) -> str:
    """p50 / p99 / max of sorted values."""
    if not values:
        return "–"
    return f"{percentile(values, 50):6.1f} / {percentile(values, 99):6.1f} / {values[-1]:6.1f}"


def main(argv: list[str] | None = None) -> None:
    """Write or reuse the log, time the reports in process, then measure on the real server."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="reuse this log if it exists, else write it there")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each in-process timing")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each server phase")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    print("\n".join(machine_lines()))
    tmp = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    try:
        db = args.db or tmp / "year.sqlite3"
        if not db.exists():
            inicio = time.monotonic()
            primero, ultimo = generar(db, args.events)
            print(f"wrote {args.events:,} events ({primero} – {ultimo}) in {time.monotonic() - inicio:.0f} s to {db}")
        ahora = in_process(db, args.repeat)
        copia = tmp / "server.sqlite3"
        shutil.copy(db, copia)  # the server's commands must not change the reusable log
        on_server(copia, tmp / "gunicorn.log", ahora, args.seconds)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
