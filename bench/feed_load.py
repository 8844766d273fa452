"""The load process of ``bench/feed.py``: N simulated tablets on gevent greenlets, one loopback
connection each, speaking just enough HTTP/1.1 over raw sockets that the client side stays cheap.

Modes (each writes one JSON document to ``--out``; times are CLOCK_MONOTONIC, the same clock
``feed.py`` reads in its own process):

- ``release``: every client asks ``/api/changes?since=<cursor>`` once and waits; records when its
  answer arrives, its status and whether it carries the expected spool.
- ``follow``: every client follows the feed like the README's loop (re-poll at once after a 200, or
  after ``retry_after_ms`` when the server asks for a wait, e.g. past its waiter limit; full-jitter
  backoff on errors) until ``--until``; records every answer.
- ``poll``: every client GETs ``/api/spools`` every ``--period`` seconds, the clients' phases spread
  uniformly over the period, optionally with ``If-None-Match``; records every answer.

Run by ``bench/feed.py``, not by hand.
"""

from gevent import monkey

monkey.patch_all()  # only this process is patched: the orchestrator and the server are separate

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402


class HttpError(Exception):
    """The connection failed or closed before a whole answer arrived."""


def raise_fd_limit(wanted: int) -> None:
    """One socket per client, plus a margin for the interpreter's own files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def get(sock: socket.socket, path: str, extra: str = "") -> tuple[int, dict[bytes, bytes], bytes, int, int]:
    """One GET on ``sock``; returns (status, headers, body, bytes received, bytes sent).

    Every answer of this API carries a Content-Length (or is a bodiless 304), so that is all we parse.
    """
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n{extra}\r\n".encode()
    try:
        sock.sendall(request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise HttpError("connection closed before the answer")
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", b"0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise HttpError("connection closed in the middle of the body")
            body += chunk
    except OSError as exc:
        raise HttpError(repr(exc)) from exc
    return status, headers, body, len(head) + 4 + length, len(request)


def release_client(port: int, since: str, timeout: float, tag: str, out: list) -> None:
    """One held request; appends [arrival, status, ok, bytes, error]."""
    try:
        sock = connect(port)
    except OSError as exc:
        out.append([time.monotonic(), 0, False, 0, f"connect: {exc!r}"])
        return
    try:
        status, _, body, down, _ = get(sock, f"/api/changes?since={since}&timeout={timeout:g}")
        llegada = time.monotonic()
        answer = json.loads(body) if status == 200 else {}
        ok = answer.get("changed") is True and [s["tag_spool"] for s in answer.get("spools", [])] == [tag]
        out.append([llegada, status, ok, down, "" if ok else body[:200].decode(errors="replace")])
    except (HttpError, ValueError) as exc:
        out.append([time.monotonic(), 0, False, 0, repr(exc)])
    finally:
        sock.close()


def follow_client(port: int, since: str, until: float, out: list, errors: list) -> None:
    """The README's loop: hold, take the answer, re-poll at once or after the ``retry_after_ms`` the
    server asks for; back off with full jitter on errors."""
    cursor, cap, sock = since, 1.0, None
    while time.monotonic() < until:
        try:
            if sock is None:
                sock = connect(port)
            status, headers, body, down, up = get(sock, f"/api/changes?since={cursor}&timeout=25")
            llegada = time.monotonic()
            if status != 200:
                raise HttpError(f"status {status}: {body[:200]!r}")
            answer = json.loads(body)
            cursor, cap = answer["cursor"], 1.0
            out.append([llegada, cursor, down, up, answer["retry_after_ms"]])
            if headers.get(b"connection", b"").lower() == b"close":
                sock.close()
                sock = None
            if answer["retry_after_ms"]:
                gevent.sleep(min(answer["retry_after_ms"] / 1000, max(0.0, until - time.monotonic())))
        except (OSError, HttpError, ValueError) as exc:
            errors.append([time.monotonic(), repr(exc)])
            if sock is not None:
                sock.close()
                sock = None
            gevent.sleep(random.uniform(0, cap))
            cap = min(30.0, cap * 2)
    if sock is not None:
        sock.close()


def poll_client(port: int, first: float, period: float, until: float, etag: bool, out: list, errors: list) -> None:
    """GET /api/spools every ``period`` s from ``first``, on a fresh connection each time (gunicorn's
    5 s keep-alive would otherwise race the 5 s period)."""
    tick, cursor = first, None
    while tick < until:
        gevent.sleep(max(0.0, tick - time.monotonic()))
        tick += period
        extra = f'If-None-Match: "{cursor}"\r\n' if etag and cursor else ""
        try:
            sock = connect(port)
            try:
                status, headers, body, down, up = get(sock, "/api/spools", extra)
            finally:
                sock.close()
            llegada = time.monotonic()
            if status not in (200, 304):
                raise HttpError(f"status {status}: {body[:200]!r}")
            cursor = headers[b"etag"].decode().strip('"')
            out.append([llegada, cursor, down, up, 0])
        except (OSError, HttpError, KeyError) as exc:
            errors.append([time.monotonic(), repr(exc)])


def spawn_ramped(targets: list, per_batch: int = 200, pause: float = 0.02) -> list[gevent.Greenlet]:
    """Start the clients in batches, so the connects do not overflow the server's accept backlog."""
    greenlets = []
    for i in range(0, len(targets), per_batch):
        greenlets += [gevent.spawn(fn, *args) for fn, *args in targets[i : i + per_batch]]
        gevent.sleep(pause)
    return greenlets


def main() -> None:
    """Run one mode and write what it saw."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["release", "follow", "poll"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--since", help="release/follow: the cursor to hold on")
    parser.add_argument("--tag", help="release: the spool the command changes")
    parser.add_argument("--timeout", type=float, default=28.0, help="release: the hold asked for")
    parser.add_argument("--start", type=float, help="poll: CLOCK_MONOTONIC time of the first poll")
    parser.add_argument("--until", type=float, help="follow/poll: CLOCK_MONOTONIC time to stop")
    parser.add_argument("--period", type=float, default=5.0, help="poll: seconds between polls of one client")
    parser.add_argument("--etag", action="store_true", help="poll: send If-None-Match with the last ETag")
    args = parser.parse_args()
    raise_fd_limit(args.clients + 256)
    cpu0 = time.process_time()
    answers: list = [[] for _ in range(args.clients)]
    errors: list = [[] for _ in range(args.clients)]
    if args.mode == "release":
        flat: list = []
        targets = [(release_client, args.port, args.since, args.timeout, args.tag, flat) for _ in range(args.clients)]
        gevent.joinall(spawn_ramped(targets))
        result = {"answers": flat}
    else:
        if args.mode == "follow":
            targets = [
                (follow_client, args.port, args.since, args.until, answers[c], errors[c]) for c in range(args.clients)
            ]
        else:
            targets = [
                (
                    poll_client,
                    args.port,
                    args.start + args.period * c / args.clients,
                    args.period,
                    args.until,
                    args.etag,
                    answers[c],
                    errors[c],
                )
                for c in range(args.clients)
            ]
        greenlets = spawn_ramped(targets)
        gevent.joinall(greenlets, timeout=max(0.0, args.until - time.monotonic()) + 2)
        gevent.killall(greenlets, block=True, timeout=10)  # the last holds of ``follow`` are still open
        result = {"answers": answers, "errors": errors}
    result["client_cpu_s"] = time.process_time() - cpu0
    with open(args.out, "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
