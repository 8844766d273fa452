"""gunicorn's gevent worker, halting the master with one line when the app refuses to start.

Outside the ``app`` package on purpose: the master imports the worker class, and importing ``app``
there would load Flask and the whole app into the master, where every later worker (also after a
``kill -HUP`` meant to load new code) would inherit it. The app's modules are imported only inside
the worker, once it has loaded the app.
"""

from __future__ import annotations

import sys

from gunicorn.arbiter import Arbiter
from gunicorn.workers.ggevent import GeventWorker


class ProblemJsonWorker(GeventWorker):
    """The gevent worker, stopping the master when the app refuses to start."""

    def init_process(self) -> None:
        """Boot as gunicorn does; a refused start prints its one line and halts the master."""
        try:
            super().init_process()
        except SystemExit as exc:
            # A SystemExit carrying a message while the app loads (app.config.ConfigError, also from
            # post_worker_init) is a setting that cannot work: print it, then exit with gunicorn's
            # "App failed to load" status so the master stops instead of respawning a worker that
            # would fail the same way, forever.
            if self.booted or not isinstance(exc.code, str):
                raise
            print(exc.code, file=sys.stderr, flush=True)
            sys.exit(Arbiter.APP_LOAD_ERROR)
