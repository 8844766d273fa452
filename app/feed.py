"""The change feed (SPEC §6): a snapshot cache of every spool under an opaque cursor, a bounded
history for deltas, long-poll waiters, and the poller that keeps it in step with the store.

Under gunicorn's gevent worker, ``threading`` is monkey-patched: the Event the waiters block on is
a gevent Event and the poller thread is a greenlet. Without gevent (``flask run``, the test
client) the same code runs on real threads.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from .domain.views import spool_view
from .stores.base import Store

log = logging.getLogger(__name__)

View = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class FeedSettings:
    """Poll cadence (SPEC §6): how often the poller reads the source of truth."""

    poll_s: float = 5.0  # the default cadence
    busy_poll_s: float = 2.0  # while commands flow
    busy_window_s: float = 60.0  # "flowing" = a change within this window
    idle_after_s: float = 300.0  # no change for this long = idle
    idle_poll_s: float = 15.0  # idle cadence: never slower than this
    max_backoff_s: float = 60.0  # cap of the exponential backoff while the source fails
    history: int = 1024  # cursors remembered for deltas; older ones get a reset
    stale_after_s: float = 45.0  # health reports stale when the last good read is older

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FeedSettings:
        """Settings from ``FEED_*`` config keys (``ZEUES_FEED_POLL_S`` and so on)."""
        claves = {f.name: f"FEED_{f.name.upper()}" for f in dataclasses.fields(cls)}
        return cls(**{name: config[clave] for name, clave in claves.items() if clave in config})


def _digest(view: View) -> bytes:
    contenido = json.dumps(view, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(contenido.encode()).digest()


class Answer(dict):
    """One ``/api/changes`` body. A change releases every waiter on a cursor at once, and they all get
    this same object, so what a caller derives from it (its JSON) can be kept in ``rendered`` and
    worked out once instead of once per waiter."""

    rendered: Any = None


def _as_int(digest: bytes) -> int:
    """The 96 bits of a spool digest that go into the cursor."""
    return int.from_bytes(digest[:12], "big")


def tag_key(tag: str) -> str:
    """What identifies a typed tag: a scanner or a person may add spaces or type it in lower case."""
    return tag.strip().casefold()


def hold_seconds(timeout: float) -> float:
    """How long to hold a request that asked for ``timeout``: a little less, so the answer
    arrives before the client's or a proxy's own timer fires (always within [timeout − 2, timeout])."""
    return max(0.0, timeout - min(1.0, timeout * 0.1))


class Feed:
    """The current snapshot of every spool, as clients see it, under a content-derived cursor."""

    def __init__(
        self, store: Store, settings: FeedSettings | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.settings = settings or FeedSettings()
        self.clock = clock
        self._lock = threading.RLock()
        self._order: list[str] = []  # tags in row order
        self._views: dict[str, View] = {}
        self._tags: dict[str, str] = {}  # tag as people type it (see tag_key) -> tag in the sheet
        self._digests: dict[str, bytes] = {}
        # The cursor: the XOR of every spool's digest. It depends only on the content, so any process
        # reading the same data, or this one after a restart, computes the same cursor; and a command
        # updates it in O(1) instead of rehashing the whole shop.
        self._contenido = 0
        self._cursor = ""
        self._seq = 0  # local change counter, never shown to clients
        self._changed_at: dict[str, int] = {}  # tag -> seq of its last change
        self._removed_at: dict[str, int] = {}  # tag -> seq it left the sheet
        self._answers: dict[str | None, Answer] = {}  # since (None: a reset) -> its answer at this seq
        self._known: collections.OrderedDict[str, int] = collections.OrderedDict()  # cursor -> seq
        self._wake = threading.Event()  # replaced at every change; waiters hold the old one
        self._loaded = False
        self._published = 0  # local publishes, so a poll that raced one is not applied over it
        self._last_sync: float | None = None
        self._last_attempt = clock()
        self._last_change = clock()
        self._failing_since: float | None = None
        self._retry_after_s = 0.0
        self._closing = False
        self._waiters = 0  # requests held right now
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # --- reading ------------------------------------------------------------------------------

    def view(self) -> tuple[str, list[View]]:
        """The cursor and every spool in row order."""
        self._ensure_fresh()
        with self._lock:
            return self._cursor, [self._views[t] for t in self._order]

    def spool(self, tag: str) -> View | None:
        """One spool as the snapshot holds it, or None; the tag may differ in case or surrounding spaces."""
        self._ensure_fresh()
        with self._lock:
            return self._views.get(self._tags.get(tag_key(tag), tag))

    def canonical_tag(self, tag: str) -> str:
        """The tag as the sheet spells it, for one typed in another case or with spaces around it."""
        self._ensure_fresh()
        with self._lock:
            return self._tags.get(tag_key(tag), tag)

    def health(self) -> dict[str, Any]:
        """Cursor and freshness of the snapshot for ``/api/health``."""
        self._ensure_fresh()
        with self._lock:
            age = None if self._last_sync is None else round(self.clock() - self._last_sync, 3)
            stale = self._failing_since is not None or age is None or age > self.settings.stale_after_s
            return {"cursor": self._cursor, "last_sync_age_s": age, "stale": stale, "waiters": self._waiters}

    def changes(self, since: str | None, timeout: float) -> Answer:
        """The ``/api/changes`` answer: a reset, a delta, or — for the current cursor — a hold of up
        to ``hold_seconds(timeout)`` that ends with the first change."""
        answer = self.answer_now(since)
        return answer if answer is not None else self.wait(since, timeout)  # type: ignore[arg-type]

    def answer_now(self, since: str | None) -> Answer | None:
        """The answer that needs no wait (a reset, or a delta for a cursor behind), or None when
        ``since`` is the current cursor and the request should hold."""
        self._ensure_fresh()
        with self._lock:
            if since is None or since not in self._known:
                return self._answer(reset=True)
            if since != self._cursor or self._closing:
                return self._answer(since=since)
            return None

    def wait(self, since: str, timeout: float) -> Answer:
        """Hold until the snapshot moves past ``since`` or ``hold_seconds(timeout)`` pass, then answer."""
        with self._lock:
            wake = self._wake if since == self._cursor and not self._closing else None
            self._waiters += 1
        try:
            if wake is not None:
                wake.wait(hold_seconds(timeout))
        finally:
            with self._lock:
                self._waiters -= 1
        with self._lock:
            if since not in self._known:  # unknown, or more changes than the history holds meanwhile
                return self._answer(reset=True)
            return self._answer(since=since)

    def _answer(self, reset: bool = False, since: str | None = None) -> Answer:
        """Body for a reset (every spool) or the delta after ``since``, the same object for every request
        that asks it between two changes; caller holds the lock."""
        retry_after_ms = int(self._retry_after_s * 1000) if self._failing_since is not None else 0
        clave = None if reset else since
        # Without this each of thousands of released waiters would scan every spool for the same delta.
        if (hecha := self._answers.get(clave)) is not None and hecha["retry_after_ms"] == retry_after_ms:
            return hecha
        if reset:
            spools, removed = [self._views[t] for t in self._order], []
        else:
            desde = self._known[since]  # type: ignore[index]
            spools = [self._views[t] for t in self._order if self._changed_at.get(t, 0) > desde]
            removed = sorted(t for t, seq in self._removed_at.items() if seq > desde)
        self._answers[clave] = answer = Answer(
            cursor=self._cursor,
            changed=bool(spools or removed or reset),
            reset=reset,
            spools=spools,
            removed=removed,
            retry_after_ms=retry_after_ms,
        )
        return answer

    # --- writing ------------------------------------------------------------------------------

    def publish(self, view: View) -> None:
        """A local command committed ``view``: show it at once, without waiting for the next poll."""
        self._ensure_fresh()
        with self._lock:
            self._published += 1
            self._apply({view["tag_spool"]: view}, removed=(), order=None)

    def refresh(self) -> bool:
        """Read the whole store once and publish what changed; False if a local publish raced it."""
        with self._lock:
            published = self._published
        snapshot = self.store.snapshot()  # may yield to other greenlets (a remote store)
        workers = {w.id: w for w in snapshot.workers}
        views = {s.tag_spool: spool_view(s, workers) for s in snapshot.spools}
        with self._lock:
            if self._loaded and published != self._published:
                # A command committed while we read: our snapshot may predate it, and applying it
                # would flash the old state to every client. The next poll reads again.
                return False
            removed = [t for t in self._order if t not in views]
            self._apply(views, removed=removed, order=list(views))
            self._loaded = True
            self._last_sync = self.clock()
            self._failing_since = None
            self._retry_after_s = 0.0
            return True

    def _apply(self, views: dict[str, View], removed: list[str] | tuple[str, ...], order: list[str] | None) -> None:
        """Record the spools whose representation changed; caller holds the lock."""
        cambiados = []
        for tag, view in views.items():
            digest = _digest(view)
            anterior = self._digests.get(tag)
            if anterior != digest:
                cambiados.append(tag)
                self._views[tag], self._digests[tag] = view, digest
                self._tags.setdefault(tag_key(tag), tag)
                self._contenido ^= _as_int(digest) ^ (_as_int(anterior) if anterior else 0)
        for tag in removed:
            self._views.pop(tag, None)
            if self._tags.get(tag_key(tag)) == tag:
                del self._tags[tag_key(tag)]
            self._contenido ^= _as_int(self._digests.pop(tag))
        if order is not None:
            self._order = order  # a sort in the sheet moves rows but changes no spool
        else:
            self._order.extend(t for t in cambiados if t not in self._changed_at and t not in self._order)
        if not (cambiados or removed) and self._loaded:
            return
        self._seq += 1
        self._answers.clear()
        for tag in cambiados:
            self._changed_at[tag] = self._seq
            self._removed_at.pop(tag, None)
        for tag in removed:
            self._changed_at.pop(tag, None)
            self._removed_at[tag] = self._seq
        self._cursor = f"{self._contenido:024x}"
        self._remember(self._cursor, self._seq)
        if cambiados or removed:
            self._last_change = self.clock()
        wake, self._wake = self._wake, threading.Event()
        wake.set()

    def _remember(self, cursor: str, seq: int) -> None:
        self._known[cursor] = seq
        self._known.move_to_end(cursor)
        while len(self._known) > self.settings.history:
            self._known.popitem(last=False)
        oldest = next(iter(self._known.values()))
        # Removal marks older than every known cursor can no longer be asked for.
        for tag in [t for t, seq in self._removed_at.items() if seq < oldest]:
            del self._removed_at[tag]

    def _ensure_fresh(self) -> None:
        """Load on first use (a failure then propagates: there is nothing to serve); without a
        poller (``flask run``, tests) poll on read once the cadence says so."""
        if not self._loaded:
            self.refresh()
        elif self._poller is None and self.clock() - self._last_attempt >= self.next_poll_s():
            self.poll_once()

    # --- the poller -----------------------------------------------------------------------------

    def next_poll_s(self) -> float:
        """The cadence right now: fast while commands flow, slower when idle, backoff on errors."""
        if self._failing_since is not None:
            return self._retry_after_s
        quieto = self.clock() - self._last_change
        if quieto < self.settings.busy_window_s:
            return self.settings.busy_poll_s
        if quieto > self.settings.idle_after_s:
            return self.settings.idle_poll_s
        return self.settings.poll_s

    def poll_once(self) -> None:
        """One poll: refresh, or on failure keep the last snapshot and back off (full jitter)."""
        self._last_attempt = self.clock()
        try:
            self.refresh()
        except Exception:
            log.exception("feed poll failed; keeping the last snapshot")
            with self._lock:
                if self._failing_since is None:
                    self._failing_since = self.clock()
                    self._retry_after_s = self.settings.busy_poll_s
                else:
                    tope = min(self.settings.max_backoff_s, max(self._retry_after_s, 1.0) * 2)
                    self._retry_after_s = random.uniform(tope / 2, tope)

    def start(self) -> None:
        """Start the poller (a greenlet under gevent); call once per worker process."""
        if self._poller is not None:
            return
        self._poller = threading.Thread(target=self._run, name="zeues-feed-poller", daemon=True)
        self._poller.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.next_poll_s())

    def close(self) -> None:
        """Stop polling and answer every held request now (``changed: false``)."""
        with self._lock:
            self._closing = True
            wake = self._wake
        self._stop.set()
        wake.set()


def serve_in_gunicorn_worker(worker: Any) -> None:
    """From gunicorn's ``post_worker_init``: start this worker's poller, and on SIGTERM answer the
    held requests before gunicorn's graceful shutdown waits for them."""
    feed: Feed = worker.wsgi.extensions["zeues"].feed
    feed.start()
    gunicorn_handler = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        feed.close()
        if callable(gunicorn_handler):
            gunicorn_handler(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
