"""Blocking work kept off the gevent event loop: under gunicorn's gevent worker a call that waits in
the kernel (an fsync) or burns CPU without yielding (a slow hash) would hold up every other request of
the process; on a native thread it waits alone while the loop serves the rest."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def gevent_patched() -> bool:
    """Whether gevent has monkey-patched this process (gunicorn's gevent worker does, before the app loads)."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a requirement; the check keeps this module plain
        return False
    return monkey.is_module_patched("threading")


class SerialThread:
    """Calls that run one at a time on one native thread of their own under gevent — the calling greenlet
    waits, the others run — and in the caller's thread, one at a time, otherwise (``flask run``, tests)."""

    def __init__(self) -> None:
        self._pool: Any = None
        if gevent_patched():
            from gevent.threadpool import ThreadPool

            self._pool = ThreadPool(1)
        self._lock = threading.Lock()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, serialised with every other call of this object; its result or its exception."""
        if self._pool is not None:
            return self._pool.apply(fn, args)
        with self._lock:
            return fn(*args)


def yield_to_loop() -> None:
    """Let the rest of a gevent worker run in the middle of a long computation (a year's report): wait
    until the loop has served every socket that is ready — ``sleep(0)`` would only let other greenlets
    run, and a request still unread on its socket would wait for the end of the computation."""
    if gevent_patched():
        import gevent

        gevent.idle()


def off_loop(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` on gevent's native threadpool when this process is monkey-patched (the gunicorn
    worker), so other greenlets run meanwhile; a plain call otherwise (the CLI, the test client).

    Only for calls that release the GIL while they work (hashlib's scrypt does), or the thread would
    hold the loop just the same.
    """
    if gevent_patched():
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)
    return fn(*args)
