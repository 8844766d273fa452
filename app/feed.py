"""The change feed (SPEC §6): what clients see of every spool under an opaque cursor, the long-poll
waiters on it, and the poller that keeps it in step with the store.

Three parts, each with one job:

- ``FeedState``: pure data — every spool's representation in row order, the content-derived cursor,
  a bounded history of cursors for deltas, and the answers worked out since the last change.
- ``Feed``: the state shared by this process's requests — a lock around it, the Event waiters block on,
  and the rendering of domain spools into their wire shape.
- ``Poller``: when to read the store again (cadence, backoff, freshness) and the thread that does it.

Under gunicorn's gevent worker, ``threading`` is monkey-patched: the Event the waiters block on is a
gevent Event and the poller thread is a greenlet. Without gevent (``flask run``, the test client) the
same code runs on real threads.
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
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .domain.errors import SourceUnavailable
from .domain.model import Spool, Worker, tag_key
from .schemas import spool_json
from .stores.base import Snapshot, Store

log = logging.getLogger(__name__)

View = dict[str, Any]

# Past this many spools in one announcement (an UPDATE of the whole table), one full read is cheaper.
FOLLOW_AT_MOST = 50

# What a closing process asks its clients to wait before polling again (another instance, or this one
# restarted, will answer them).
CLOSING_RETRY_MS = 1000
# What a poll turned away at the waiter limit is asked to wait, drawn at random from this range: the
# clients turned away together come back spread over a few seconds instead of in one burst.
BUSY_RETRY_MS = (2000, 6000)


@dataclasses.dataclass(frozen=True)
class FeedSettings:
    """Poll cadence and history (SPEC §6); the defaults live in ``config.Defaults`` (``FEED_*``)."""

    poll_s: float  # the default cadence
    busy_poll_s: float  # while commands flow
    busy_window_s: float  # "flowing" = a change within this window
    idle_after_s: float  # no change for this long = idle
    idle_poll_s: float  # idle cadence: never slower than this
    max_backoff_s: float  # cap of the exponential backoff while the source fails
    history: int  # cursors remembered for deltas; older ones get a reset
    stale_after_s: float  # health reports stale when the last good read is older

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FeedSettings:
        """Settings from the ``FEED_*`` config keys (``ZEUES_FEED_POLL_S`` and so on)."""
        return cls(**{f.name: config[f"FEED_{f.name.upper()}"] for f in dataclasses.fields(cls)})


class Answer(dict):
    """One ``/api/changes`` body. A change releases every waiter on a cursor at once, and they all get
    this same object, so what a caller derives from it (its JSON, even its whole HTTP answer) is kept
    on it and worked out once instead of once per waiter. ``turned_away``: a poll that was not held
    because the process already holds as many as it may (its connection should be closed, see
    ``Feed.wait``)."""

    turned_away = False
    fragments: list[bytes] = []  # noqa: RUF012 - each answer sets its own: the spools' JSON, in order
    rendered: bytes | None = None
    http: bytes | None = None  # the whole HTTP answer, once a server has built it, and its head
    http_head: tuple[Any, ...] = ()

    def json(self) -> bytes:
        """The body, in the schema's key order, joined from each spool's JSON rendered once at its change."""
        if self.rendered is None:
            self.rendered = b"".join(
                (
                    b'{"cursor":"%s","changed":%s,"reset":%s,"spools":['
                    % (self["cursor"].encode(), _BOOL[self["changed"]], _BOOL[self["reset"]]),
                    b",".join(self.fragments),
                    b'],"removed":%s,"retry_after_ms":%d}' % (_encode(self["removed"]), self["retry_after_ms"]),
                )
            )
        return self.rendered


_BOOL = {True: b"true", False: b"false"}


def _encode(value: Any) -> bytes:
    """Compact JSON, the same bytes in every process for the same value (so digests agree)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def hold_seconds(timeout: float) -> float:
    """How long to hold a request that asked for ``timeout``: a little less, so the answer
    arrives before the client's or a proxy's own timer fires (always within [timeout − 2, timeout])."""
    return max(0.0, timeout - min(1.0, timeout * 0.1))


def _digest(fragment: bytes) -> int:
    """The 96 bits of a spool's content digest that go into the cursor (its JSON in schema order)."""
    return int.from_bytes(hashlib.sha256(fragment).digest()[:12], "big")


class FeedState:
    """Every spool as clients see it, in row order, under a content-derived cursor; pure data."""

    def __init__(self, history: int) -> None:
        self.history = history
        self.loaded = False
        self._order: list[str] = []  # tags in row order
        self._views: dict[str, View] = {}
        # Each spool's JSON, encoded once when it changes: every answer and listing is joined from them.
        self._json: dict[str, bytes] = {}
        self._listing: bytes | None = None  # every spool's JSON joined, until the next change
        self._digests: dict[str, int] = {}
        self._tags: dict[str, str] = {}  # tag_key -> the tag as the sheet spells it
        # The cursor: the XOR of every spool's digest. It depends only on the content, so any process
        # reading the same data, or this one after a restart, computes the same cursor; and a command
        # updates it in O(1) instead of rehashing the whole shop.
        self._content = 0
        self.cursor = f"{0:024x}"
        self._seq = 0  # local change counter, never shown to clients
        self._changed_at: dict[str, int] = {}  # tag -> seq of its last change
        self._removed_at: dict[str, int] = {}  # tag -> seq it left the sheet
        self._known: collections.OrderedDict[str, int] = collections.OrderedDict()  # cursor -> seq
        self._answers: dict[str | None, Answer] = {}  # since (None: a reset) -> its answer at this seq

    def views(self) -> list[View]:
        """Every spool in row order."""
        return [self._views[t] for t in self._order]

    def listing(self, keep: Callable[[View], bool] | None = None) -> bytes:
        """The ``GET /api/spools`` body (every spool, or those ``keep`` keeps) as JSON, joined from the
        spools' JSON: a shop of 20,000 spools is not encoded again for every request."""
        if keep is None and self._listing is not None:
            return self._listing
        tags = self._order if keep is None else [t for t in self._order if keep(self._views[t])]
        body = b'{"cursor":"%s","spools":[%s]}' % (self.cursor.encode(), b",".join(self._json[t] for t in tags))
        if keep is None:
            self._listing = body
        return body

    def tags(self) -> list[str]:
        """Every tag in row order."""
        return list(self._order)

    def view(self, tag: str) -> View | None:
        """One spool, by its tag as typed (any case, spaces around it), or None."""
        return self._views.get(self.canonical_tag(tag))

    def canonical_tag(self, tag: str) -> str:
        """The tag as the sheet spells it, or ``tag`` itself when no spool has it (an exact spelling
        wins: two tags that differ only in case are two spools)."""
        return tag if tag in self._views else self._tags.get(tag_key(tag), tag)

    def is_current(self, since: str | None) -> bool:
        """Whether ``since`` is the cursor of the data held now (a client that should wait)."""
        return since == self.cursor

    def apply(self, views: Mapping[str, View], removed: Iterable[str] = ()) -> bool:
        """Take ``views`` (new or changed spools) and drop ``removed`` tags; True when the cursor moved."""
        return self._change(views, removed, order=None)

    def replace(self, views: Mapping[str, View]) -> bool:
        """Take a full read, in row order: spools missing from it were removed; True when the cursor
        moved (or this is the first load)."""
        return self._change(views, [t for t in self._order if t not in views], order=list(views))

    def _change(self, views: Mapping[str, View], removed: Iterable[str], order: list[str] | None) -> bool:
        changed = []
        for tag, view in views.items():
            held = self._views.get(tag)
            if held is view:
                continue  # the same rendering as before: nothing to encode or hash
            fragment = _encode(view)
            digest = _digest(fragment)
            anterior = self._digests.get(tag)
            if anterior != digest:
                changed.append(tag)
                self._content ^= digest ^ (anterior or 0)
                self._digests[tag] = digest
                self._tags.setdefault(tag_key(tag), tag)
            self._views[tag], self._json[tag] = view, fragment
        gone = [t for t in removed if t in self._views]
        for tag in gone:
            del self._views[tag], self._json[tag]
            self._content ^= self._digests.pop(tag)
            if self._tags.get(tag_key(tag)) == tag:
                del self._tags[tag_key(tag)]
        if order is not None:
            if order != self._order:
                self._listing = None
            self._order = order  # a sort in the sheet moves rows but changes no spool
        else:
            if gone:
                self._order = [t for t in self._order if t in self._views]
            new = [t for t in changed if t not in self._changed_at]
            if new:
                present = set(self._order)
                self._order.extend(t for t in new if t not in present)
        if not (changed or gone) and self.loaded:
            return False
        self.loaded = True
        self._seq += 1
        self._answers.clear()
        self._listing = None
        for tag in changed:
            self._changed_at[tag] = self._seq
            self._removed_at.pop(tag, None)
        for tag in gone:
            self._changed_at.pop(tag, None)
            self._removed_at[tag] = self._seq
        self.cursor = f"{self._content:024x}"
        self._remember(self.cursor, self._seq)
        return True

    def answer(self, since: str | None, retry_after_ms: int = 0) -> Answer:
        """A reset (every spool) when ``since`` is missing or unknown, else the delta after it (empty
        when nothing changed); the same object for every request that asks between two changes."""
        key = since if since is not None and since in self._known else None
        # Without this each of thousands of released waiters would scan every spool for the same delta.
        if (ready := self._answers.get(key)) is not None and ready["retry_after_ms"] == retry_after_ms:
            return ready
        if key is None:
            tags, removed = self._order, []
        else:
            after = self._known[key]
            tags = [t for t in self._order if self._changed_at.get(t, 0) > after]
            removed = sorted(t for t, seq in self._removed_at.items() if seq > after)
        spools = [self._views[t] for t in tags]
        self._answers[key] = answer = Answer(
            cursor=self.cursor,
            changed=bool(spools or removed or key is None),
            reset=key is None,
            spools=spools,
            removed=removed,
            retry_after_ms=retry_after_ms,
        )
        answer.fragments = [self._json[t] for t in tags]
        return answer

    def _remember(self, cursor: str, seq: int) -> None:
        self._known[cursor] = seq
        self._known.move_to_end(cursor)
        while len(self._known) > self.history:
            self._known.popitem(last=False)
        oldest = next(iter(self._known.values()))
        # Removal marks older than every known cursor can no longer be asked for.
        for tag in [t for t, seq in self._removed_at.items() if seq < oldest]:
            del self._removed_at[tag]


class Feed:
    """The feed this process serves: ``FeedState`` under a lock, and the requests held on it."""

    def __init__(
        self, history: int, before_read: Callable[[], None] = lambda: None, max_waiters: int | None = None
    ) -> None:
        self._state = FeedState(history)
        # Called before every read: the poller loads the first snapshot there, and polls on read when
        # no poller thread runs (``flask run``, tests).
        self.before_read = before_read
        self._lock = threading.RLock()
        self._wake = threading.Event()  # replaced at every change; waiters hold the old one
        self._rendered: dict[str, tuple[Spool, str | None, View]] = {}  # tag -> what its view was made from
        self.published = 0  # local publishes, so a full read that raced one is not applied over it
        self.changes = 0  # times the cursor moved, so the poller can tell commands are flowing
        self.retry_after_ms = 0  # set by the poller while the source fails
        self.waiters = 0  # requests held right now
        # Admission control: each held request keeps one of the worker's connections, so past this many
        # a poll is answered at once instead (None: no limit, as under ``flask run``).
        self.max_waiters = max_waiters
        self._next_busy_log = 0.0  # the log says the limit was reached at most once a minute
        self._closing = False

    @property
    def loaded(self) -> bool:
        """Whether a first snapshot has been taken."""
        return self._state.loaded

    # --- reading ------------------------------------------------------------------------------

    def view(self) -> tuple[str, list[View]]:
        """The cursor and every spool in row order."""
        self.before_read()
        with self._lock:
            return self._state.cursor, self._state.views()

    def listing(self, estados: Iterable[str] = (), ocupado_por: int | None = None) -> tuple[str, bytes]:
        """The cursor and the ``GET /api/spools`` body: every spool in row order, or those in any of
        ``estados`` and held by ``ocupado_por``."""
        self.before_read()
        estados = set(estados)

        def keep(view: View) -> bool:
            return (not estados or view["estado"] in estados) and (
                ocupado_por is None or view["ocupado_por"] == ocupado_por
            )

        with self._lock:
            return self._state.cursor, self._state.listing(keep if estados or ocupado_por is not None else None)

    def spools(self) -> list[Spool]:
        """Every spool in row order as the domain knows it (what the views were rendered from)."""
        self.before_read()
        with self._lock:
            return [self._rendered[t][0] for t in self._state.tags() if t in self._rendered]

    def spool(self, tag: str) -> View | None:
        """One spool as the snapshot holds it, or None; the tag may differ in case or surrounding spaces."""
        self.before_read()
        with self._lock:
            return self._state.view(tag)

    def canonical_tag(self, tag: str) -> str:
        """The tag as the sheet spells it, for one typed in another case or with spaces around it."""
        self.before_read()
        with self._lock:
            return self._state.canonical_tag(tag)

    @property
    def cursor(self) -> str:
        """The cursor of the data held now."""
        self.before_read()
        with self._lock:
            return self._state.cursor

    def answer_now(self, since: str | None) -> Answer | None:
        """The answer that needs no wait (a reset, or a delta for a cursor behind), or None when
        ``since`` is the current cursor and the request should hold."""
        self.before_read()
        with self._lock:
            if self._state.is_current(since) and not self._closing:
                return None
            return self._state.answer(since, self._retry_after_ms())

    def wait(self, since: str, timeout: float) -> Answer:
        """Hold until the snapshot moves past ``since`` or ``hold_seconds(timeout)`` pass, then answer;
        at the waiter limit answer at once (``changed: false``), asking the client to come back later."""
        hold = hold_seconds(timeout)
        with self._lock:
            wake = self._wake if self._state.is_current(since) and not self._closing else None
            # A poll that asked for no wait (a page back online checks with timeout=0) takes no connection
            # for long: answer it as usual instead of telling it to stay away for seconds.
            full = self.max_waiters is not None and self.waiters >= self.max_waiters
            if wake is not None and hold > 0 and full:
                return self._turn_away(since)
            self.waiters += 1
        try:
            if wake is not None:
                wake.wait(hold)
        finally:
            with self._lock:
                self.waiters -= 1
        with self._lock:
            return self._state.answer(since, self._retry_after_ms())

    def _turn_away(self, since: str) -> Answer:
        """The answer to a poll this process has no room to hold; caller holds the lock.

        The poll is never refused (SPEC §6: no 4xx on a cursor, and a 503 would send the tablet into its
        error backoff): it gets what a hold that timed out gets, with a random wait of a few seconds.
        """
        answer = self._state.answer(since, self._retry_after_ms())
        busy = Answer(answer, retry_after_ms=max(answer["retry_after_ms"], random.randint(*BUSY_RETRY_MS)))
        busy.turned_away, busy.fragments = True, answer.fragments
        now = time.monotonic()
        if now >= self._next_busy_log:
            self._next_busy_log = now + 60.0
            log.warning(
                "%d long polls held, the most this process may hold (ZEUES_MAX_WAITERS): further polls are "
                "answered at once and asked to come back in %d-%d ms; more tablets need more workers or instances",
                self.waiters,
                *BUSY_RETRY_MS,
            )
        return busy

    def _retry_after_ms(self) -> int:
        """What answers ask clients to wait: while this process shuts down it answers every poll at
        once, and a client that re-polled at once would spin on it until the port closes."""
        return max(self.retry_after_ms, CLOSING_RETRY_MS) if self._closing else self.retry_after_ms

    # --- writing ------------------------------------------------------------------------------

    def publish(self, spool: Spool, workers: Mapping[int, Worker]) -> None:
        """A local command committed ``spool``: show it at once, without waiting for the next poll."""
        self.before_read()
        with self._lock:
            self.published += 1
            self._moved(self._state.apply({spool.tag_spool: self._render(spool, workers)}))

    def replace(self, snapshot: Snapshot, published: int | None = None) -> bool:
        """Take a full read of the store; False (nothing applied) when a local publish happened since
        ``published`` — the read may predate that command and would flash its old state to every client."""
        workers = {w.id: w for w in snapshot.workers}
        with self._lock:
            if self._state.loaded and published is not None and published != self.published:
                return False
            views = {s.tag_spool: self._render(s, workers) for s in snapshot.spools}
            self._moved(self._state.replace(views))
            for tag in [t for t in self._rendered if t not in views]:
                del self._rendered[tag]
            return True

    def publish_read(self, tag: str, spool: Spool | None, workers: Mapping[int, Worker], published: int) -> bool:
        """Show a spool read fresh after a change announced by another process (None: it was removed);
        False (nothing applied) when a local publish happened since ``published``, as in ``replace``."""
        with self._lock:
            if published != self.published:
                return False
            self.published += 1
            if spool is None:
                self._moved(self._state.apply({}, removed=[tag]))
                self._rendered.pop(tag, None)
            else:
                self._moved(self._state.apply({tag: self._render(spool, workers)}))
            return True

    def _render(self, spool: Spool, workers: Mapping[int, Worker]) -> View:
        """The spool's wire shape, reused while the spool and its holder's name are unchanged (a poll of
        a large shop would otherwise dump every spool again); caller holds the lock."""
        holder = workers.get(spool.ocupado_por) if spool.ocupado_por is not None else None
        holder_name = holder.nombre_completo if holder else None
        made = self._rendered.get(spool.tag_spool)
        if made is not None and made[0] == spool and made[1] == holder_name:
            return made[2]
        view = spool_json(spool, workers)
        self._rendered[spool.tag_spool] = (spool, holder_name, view)
        return view

    def _moved(self, moved: bool) -> None:
        """Release the waiters when the cursor moved; caller holds the lock."""
        if moved:
            self.changes += 1
            wake, self._wake = self._wake, threading.Event()
            wake.set()

    def set_retry_after_ms(self, retry_after_ms: int) -> None:
        """What answers tell clients to wait before polling again (non-zero while the source fails)."""
        with self._lock:
            self.retry_after_ms = retry_after_ms

    def close(self) -> None:
        """Answer every held request now (``changed: false``), and every later one at once."""
        with self._lock:
            self._closing = True
            wake = self._wake
        wake.set()


class Poller:
    """Keeps the feed in step with the store: reads it at the SPEC §6 cadence, backs off on errors."""

    def __init__(
        self, store: Store, feed: Feed, settings: FeedSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store, self.feed, self.settings, self.clock = store, feed, settings, clock
        self._last_sync: float | None = None
        self._last_attempt = clock()
        # Cadence: busy for a while after a change (a command here or elsewhere), idle after long quiet.
        # A start is not a change: an idle service must not spend a Sheet's read quota for a minute.
        self._last_change = clock()
        self._busy_until = 0.0
        self._changes_seen = 0
        self._failing_since: float | None = None
        self._retry_after_s = 0.0
        # Whether the store's change announcements are heard now (None: it makes none, only polls see
        # other processes' changes).
        self.notify: bool | None = False if store.announces_changes else None
        self._listener: Any = None
        self._stop = threading.Event()
        self._poke = threading.Event()  # polls at once (the announcements were lost)
        self._thread: threading.Thread | None = None

    def ensure_fresh(self) -> None:
        """Load on first use (a failure then propagates: there is nothing to serve); without a poller
        thread (``flask run``, tests) poll on read once the cadence says so."""
        if not self.feed.loaded:
            self.refresh()
        elif self._thread is None and self.clock() - self._last_attempt >= self.next_poll_s():
            self.poll_once()

    def refresh(self) -> bool:
        """Read the whole store once and publish what changed; False if a local publish raced it."""
        published, loaded = self.feed.published, self.feed.loaded
        snapshot = self.store.snapshot()  # may yield to other greenlets (a remote store)
        if not self.feed.replace(snapshot, published):
            return False
        if not loaded:
            self._changes_seen = self.feed.changes  # the first load is not a change
        if self._failing_since is not None:
            log.warning("feed poll works again after %.0f s", self.clock() - self._failing_since)
        self._last_sync = self.clock()
        self._failing_since = None
        self._retry_after_s = 0.0
        self.feed.set_retry_after_ms(0)
        return True

    def next_poll_s(self) -> float:
        """The cadence right now: fast while commands flow, slower when idle, backoff on errors."""
        now = self.clock()
        if self.feed.changes != self._changes_seen:
            self._changes_seen = self.feed.changes
            self._last_change, self._busy_until = now, now + self.settings.busy_window_s
        if self._failing_since is not None:
            return self._retry_after_s
        if self.notify:
            return self.settings.idle_poll_s  # every change is announced: polling is only a safety net
        if now < self._busy_until:
            return self.settings.busy_poll_s
        if now - self._last_change > self.settings.idle_after_s:
            return self.settings.idle_poll_s
        return self.settings.poll_s

    def poll_once(self) -> None:
        """One poll: refresh, or on failure keep the last snapshot and back off (full jitter)."""
        self._last_attempt = self.clock()
        try:
            self.refresh()
        except Exception as exc:
            if self._failing_since is None:
                # One line when the source goes away (and one when it is back), not one per poll; a
                # failure the stores do not expect keeps its traceback.
                if isinstance(exc, SourceUnavailable):
                    log.warning("feed poll failed (%s); keeping the last snapshot", exc.detail)
                else:
                    log.exception("feed poll failed; keeping the last snapshot")
                self._failing_since = self.clock()
                self._retry_after_s = self.settings.busy_poll_s
            else:
                cap = min(self.settings.max_backoff_s, max(self._retry_after_s, 1.0) * 2)
                self._retry_after_s = random.uniform(cap / 2, cap)
            self.feed.set_retry_after_ms(int(self._retry_after_s * 1000))

    def health(self) -> dict[str, Any]:
        """Freshness of the snapshot for ``/api/health``."""
        age = None if self._last_sync is None else round(self.clock() - self._last_sync, 3)
        stale = self._failing_since is not None or age is None or age > self.settings.stale_after_s
        return {"last_sync_age_s": age, "stale": stale, "notify": self.notify}

    def start(self) -> None:
        """Start the poller (a greenlet under gevent), and the listener when the store announces
        changes; call once per worker process."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="zeues-feed-poller", daemon=True)
        self._thread.start()
        if self.store.announces_changes:
            threading.Thread(target=self._listen, name="zeues-feed-listener", daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._poke.wait(self.next_poll_s())
            self._poke.clear()

    def _listen(self) -> None:
        """Follow the store's announcements (PostgreSQL LISTEN): publish each changed spool at once.
        While the connection is lost, the §6 polling carries the feed; reconnect with backoff."""
        backoff = 1.0
        while not self._stop.is_set():
            try:
                self._listener = listener = self.store.listener()
            except Exception as exc:
                log.debug("change listener not connected: %s", exc)
                self._stop.wait(random.uniform(backoff / 2, backoff))
                backoff = min(self.settings.max_backoff_s, backoff * 2)
                continue
            backoff = 1.0
            try:
                self.poll_once()  # what changed before LISTEN was never announced
                self.notify = True
                log.info("following the store's change announcements")
                while not self._stop.is_set():
                    self.follow(listener.wait(1.0))
            except Exception as exc:
                if not self._stop.is_set():
                    log.warning("change announcements lost (%s); polling until they are back", exc)
            finally:
                self.notify = False
                self._poke.set()
                listener.close()

    def follow(self, tags: list[str] | None) -> None:
        """Publish the spools an announcement names, each read fresh (None or many: read everything)."""
        if not tags:
            if tags is None:
                self.poll_once()
            return
        if len(tags) > FOLLOW_AT_MOST:
            self.poll_once()
            return
        for tag in tags:
            for _ in range(3):  # a local command publishing meanwhile makes this read possibly older
                published = self.feed.published
                spool, workers = self.store.fresh(tag)  # one round trip, as a command's own read
                if self.feed.publish_read(tag, spool, workers, published):
                    break

    def stop(self) -> None:
        """Stop polling and listening."""
        self._stop.set()
        self._poke.set()
        if self._listener is not None:
            self._listener.close()


def serve_in_gunicorn_worker(worker: Any) -> None:
    """From gunicorn's ``post_worker_init``: start this worker's poller, and on SIGTERM answer the
    held requests before gunicorn's graceful shutdown waits for them."""
    zeues = worker.flask_app.extensions["zeues"]
    zeues.poller.start()
    gunicorn_handler = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        zeues.poller.stop()
        zeues.feed.close()
        if callable(gunicorn_handler):
            gunicorn_handler(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
