"""gunicorn settings: one gevent worker holding many long-poll clients.

Only stdlib imports here: importing requests/gspread before gevent patches the process
breaks its ssl monkey-patching.
"""

import os

bind = os.environ.get("ZEUES_BIND", f"0.0.0.0:{os.environ.get('ZEUES_PORT', '8000')}")
worker_class = "gevent"
# One worker by default: local commands then wake every waiter of the feed within a second,
# and one process holds the whole shop's clients (a gevent worker handles thousands).
workers = int(os.environ.get("ZEUES_WORKERS", "1"))
if workers > 1 and os.environ.get("ZEUES_SPREADSHEET_ID"):
    # The Sheets API has no conditional write: only commands serialised in one process are safe.
    raise SystemExit(
        "zeues: configuration error: ZEUES_WORKERS must be 1 with ZEUES_SPREADSHEET_ID "
        "(two processes writing one sheet could both take the same spool)"
    )
worker_connections = int(os.environ.get("ZEUES_WORKER_CONNECTIONS", "4000"))
# No access log by default: every command releases a line per waiting tablet (2,000 lines for one
# TOMAR on a big floor), and formatting them costs about a third of the worker's CPU for that
# release (docs/BENCHMARKS.md). Errors are always logged. ZEUES_ACCESSLOG=- logs requests to stdout.
accesslog = os.environ.get("ZEUES_ACCESSLOG") or None
# gunicorn's control socket is one fixed path per user: two instances on a host would contend for
# it, and nothing here uses it.
control_socket_disable = True
# Long polls hold up to 28 s. On SIGTERM the feed answers them at once (see post_worker_init), so
# the graceful period only has to cover ordinary requests; keep it above the longest hold anyway.
graceful_timeout = 35
# Tablets re-poll immediately after each answer: keep the connection for that.
keepalive = 5


def post_worker_init(worker):
    """Check the source of truth, then start the feed's poller in each worker process (never in the
    master, never in create_app: a remote store is reached only from the worker)."""
    from app.feed import serve_in_gunicorn_worker
    from app.stores import verify_at_start

    verify_at_start(worker.wsgi.extensions["zeues"].store)
    serve_in_gunicorn_worker(worker)
