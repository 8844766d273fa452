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
worker_connections = int(os.environ.get("ZEUES_WORKER_CONNECTIONS", "4000"))
accesslog = "-"
