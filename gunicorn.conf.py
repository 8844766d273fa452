"""gunicorn settings: one gevent worker holding many long-poll clients.

Only stdlib imports here: importing requests/gspread before gevent patches the process
breaks its ssl monkey-patching.
"""

import contextlib
import os
import resource
import sys


def _refuse(message: str) -> SystemExit:
    """The one line a bad setting stops the start with (gunicorn lets a SystemExit from here through)."""
    return SystemExit(f"zeues: configuration error: {message}")


def _count(name: str, default: int) -> int:
    """A whole number of at least 1 from ``name``: 0 would start a server that never answers."""
    text = os.environ.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        raise _refuse(f"{name}={text!r} must be a whole number (e.g. {default})") from None
    if value < 1:
        raise _refuse(f"{name}={text!r} must be at least 1 (with 0 the server listens but never answers)")
    return value


def _port(text: str, name: str) -> str:
    """A TCP port, 0 (any free port) to 65535."""
    if not (text.isdigit() and int(text) <= 65535):
        raise _refuse(f"{name}={os.environ[name]!r} needs a port number from 0 to 65535")
    return text


def _bind() -> str:
    """``ZEUES_BIND`` as gunicorn reads it (host:port, [ipv6]:port, unix:path, fd://n), else 0.0.0.0:ZEUES_PORT."""
    bind = os.environ.get("ZEUES_BIND")
    if bind is None:
        return f"0.0.0.0:{_port(os.environ.get('ZEUES_PORT', '8000'), 'ZEUES_PORT')}"
    if not bind.strip():
        raise _refuse("ZEUES_BIND is empty (e.g. 0.0.0.0:8000)")
    if bind.startswith(("unix:", "fd://")) or bind.endswith("]") or ":" not in bind:
        return bind  # no port to check; gunicorn names a bad host or path in one line of its own
    _port(bind.rpartition(":")[2], "ZEUES_BIND")
    return bind


# Open files a worker needs besides its client connections: the listening socket, SQLite's database, WAL
# and shared-memory files, the logs, gevent's own pipes and a Sheets or PostgreSQL connection pool.
FILES_BESIDES_CONNECTIONS = 128


def _open_files_for(connections: int, explicit: bool) -> int:
    """The worker connections this process can hold open at once, raising the soft RLIMIT_NOFILE toward
    the hard one when it must (the workers inherit it). A ZEUES_WORKER_CONNECTIONS that does not fit is
    refused; the default is lowered to what fits, with one line on stderr."""
    need = connections + FILES_BESIDES_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        wanted = need if hard == resource.RLIM_INFINITY else min(need, hard)
        with contextlib.suppress(ValueError, OSError):  # e.g. above the kernel's nr_open: keep what we have
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY or soft >= need:
        return connections
    fits = soft - FILES_BESIDES_CONNECTIONS
    if explicit or fits < 1:
        raise _refuse(
            f"ZEUES_WORKER_CONNECTIONS={connections} needs {need} open files, but this process may open at most "
            f"{soft} (ulimit -n; LimitNOFILE= in a systemd unit): raise that limit or set at most {max(fits, 0)}"
        )
    print(
        f"zeues: worker connections lowered from {connections} to {fits}: this process may open at most {soft} "
        "files (ulimit -Hn; LimitNOFILE= in a systemd unit)",
        file=sys.stderr,
        flush=True,
    )
    return fits


_STDOUT = {"-", "1", "yes", "true", "on"}
_OFF = {"", "0", "no", "false", "off"}


def _accesslog() -> str | None:
    """``ZEUES_ACCESSLOG``: off, stdout, or a file in a folder that exists and may be written."""
    value = os.environ.get("ZEUES_ACCESSLOG", "")
    if value.strip().lower() in _OFF:
        return None
    if value.strip().lower() in _STDOUT:
        return "-"
    folder = os.path.dirname(os.path.abspath(value))
    writable = os.access(value, os.W_OK) if os.path.exists(value) else os.access(folder, os.W_OK)
    if os.path.isdir(value) or not os.path.isdir(folder) or not writable:
        raise _refuse(
            f"ZEUES_ACCESSLOG={value!r} must be '-' (stdout), 'off', or a file path in a writable folder that exists"
        )
    return value


bind = _bind()
# The worker class answers gunicorn's own protocol errors (bad request line, oversized headers) as
# problem+json like every other error, and stops the master with one line when the app refuses to
# start; named by string so the master imports no part of the app.
worker_class = "gunicorn_worker.ProblemJsonWorker"
# One worker by default: local commands then wake every waiter of the feed within a second,
# and one process holds the whole shop's clients (a gevent worker handles thousands).
workers = _count("ZEUES_WORKERS", 1)
if workers > 1 and os.environ.get("ZEUES_SPREADSHEET_ID"):
    # The Sheets API has no conditional write: only commands serialised in one process are safe.
    raise _refuse(
        "ZEUES_WORKERS must be 1 with ZEUES_SPREADSHEET_ID "
        "(two processes writing one sheet could both take the same spool)"
    )
# Each connection is an open file: a number the open-file limit cannot hold would fail at peak, on
# accept() (EMFILE), long after the start.
worker_connections = _open_files_for(
    _count("ZEUES_WORKER_CONNECTIONS", 4000), explicit="ZEUES_WORKER_CONNECTIONS" in os.environ
)
# The app sizes its waiter limit (ZEUES_MAX_WAITERS, app/config.py) on the connections the worker really has.
os.environ["ZEUES_WORKER_CONNECTIONS"] = str(worker_connections)
# No access log by default: every command releases a line per waiting tablet (2,000 lines for one
# TOMAR on a big floor), and formatting them costs about a third of the worker's CPU for that
# release (docs/BENCHMARKS.md). Errors are always logged. ZEUES_ACCESSLOG=- logs requests to stdout.
accesslog = _accesslog()
# gunicorn's control socket is one fixed path per user: two instances on a host would contend for
# it, and nothing here uses it.
control_socket_disable = True
# Long polls hold up to 28 s. On SIGTERM the feed answers them at once (see post_worker_init), so
# the graceful period only has to cover ordinary requests; keep it above the longest hold anyway.
graceful_timeout = 35
# Tablets re-poll immediately after each answer: keep the connection for that.
keepalive = 5


def when_ready(server):
    """Say it once, in the master, when commands need no credentials (SPEC §11: ZEUES_AUTH=open)."""
    if os.environ.get("ZEUES_AUTH", "").strip().lower() == "open":
        server.log.warning(
            "ZEUES_AUTH=open: commands need no credentials, anyone who reaches this server can act as any "
            "worker; use it only on a closed network"
        )


def post_worker_init(worker):
    """Check the source of truth, then start the feed's poller and the shift end in each worker process
    (never in the master, never in create_app: a remote store is reached only from the worker)."""
    from app.feed import serve_in_gunicorn_worker
    from app.stores import verify_at_start

    verify_at_start(worker.flask_app.extensions["zeues"].store)
    serve_in_gunicorn_worker(worker)
    # Every worker watches the clock: each spool is still released once (CommandService.cerrar_turno).
    worker.flask_app.extensions["zeues"].turnos.start()
