"""Blocking work kept off the gevent event loop: under gunicorn's gevent worker a call that waits in
the kernel (an fsync) or burns CPU without yielding (a slow hash) would hold up every other request of
the process; on a native thread it waits alone while the loop serves the rest."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Item = TypeVar("Item")


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


class InterruptedBatch(RuntimeError):
    """What the other items of a batch raise when the submitter writing it was killed meanwhile."""


class _Slot(Generic[Item]):
    """One submitted item: its outcome once its batch is written, or the turn to lead the next batch."""

    __slots__ = ("error", "item", "lead", "ready")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.ready = threading.Event()
        self.lead = False
        self.error: BaseException | None = None


class GroupCommit(Generic[Item]):
    """Items submitted while a batch is being written wait, then go together in the next batch: one
    transaction and one fsync for all of them, the group commit of databases. ``write_batch(items)``
    writes a batch and answers each item's outcome (None, or the exception that item must raise); an
    exception it raises itself is every item's. ``run`` is where a batch is written (a SerialThread's
    ``call``, so the event loop serves other requests meanwhile).

    No timer and no extra thread: the submitter that finds nobody writing writes at once (a lone
    command waits for nothing), and when its batch is done it hands the lead to the first item that
    arrived meanwhile, whose batch holds everything submitted up to then.
    """

    def __init__(
        self,
        write_batch: Callable[[Sequence[Item]], Sequence[BaseException | None]],
        run: Callable[..., Any],
        max_batch: int = 100,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self._write_batch, self._run, self._max_batch = write_batch, run, max_batch
        self._lock = threading.Lock()
        self._pending: list[_Slot[Item]] = []
        self._writing = False
        self.batches = 0  # batches written: with items, the grouping achieved

    def submit(self, item: Item) -> None:
        """Write ``item`` in a batch; return once it is written, or raise its exception."""
        slot = _Slot(item)
        with self._lock:
            self._pending.append(slot)
            lead = not self._writing
            self._writing = True
        if not lead:
            try:
                slot.ready.wait()
            except BaseException:  # its greenlet killed while it waited: it must not keep the others waiting
                self._withdraw(slot)
                raise
            if not slot.lead:
                if slot.error is not None:
                    raise slot.error
                return
        with self._lock:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
        interrupted: BaseException | None = None
        try:
            outcomes = list(self._run(self._write_batch, [s.item for s in batch]))
        except Exception as exc:  # the whole batch failed: every item says so
            outcomes = [exc] * len(batch)
        except BaseException as exc:  # this greenlet was killed while the batch was being written
            interrupted = exc
            outcomes = [InterruptedBatch("the write of this batch was interrupted: its outcome is unknown")] * len(
                batch
            )
        self.batches += 1
        with self._lock:
            self._hand_on()
        for other, outcome in zip(batch, outcomes, strict=True):
            other.error = outcome
            if other is not slot:
                other.ready.set()
        if interrupted is not None:
            raise interrupted
        if slot.error is not None:
            raise slot.error

    def _hand_on(self) -> None:
        """Under the lock, once a batch is written: the first item waiting leads the next, if any."""
        if self._pending:
            self._pending[0].lead = True
            self._pending[0].ready.set()
        else:
            self._writing = False

    def _withdraw(self, slot: _Slot[Item]) -> None:
        """An item whose submitter stopped waiting: out of the queue unwritten, unless a batch already
        holds it; the lead it was just given goes on to the next."""
        with self._lock:
            if slot in self._pending:
                self._pending.remove(slot)
                if slot.lead:
                    self._hand_on()


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
