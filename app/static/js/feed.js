/* ZEUES feed: follows GET /api/changes (SPEC §6) and keeps every spool current in memory. */
(function (Z) {
  'use strict';

  // The server holds a poll at most 28 s; our own deadline sits above that so only a dead
  // connection, never a quiet shop, trips it.
  var HOLD_S = 25;
  var POLL_DEADLINE_MS = (HOLD_S + 10) * 1000;
  // A server hint is honoured, but a broken proxy's "Retry-After: 86400" must not freeze a
  // board on the wall for a day.
  var MAX_HINT_MS = 5 * 60 * 1000;
  // A hold answered long before its time with nothing new means nobody is holding (a server
  // draining its requests on shutdown answers every poll at once): asking again at once
  // would spin, hundreds of polls a second from every tablet.
  var EARLY_EMPTY_PAUSE_MS = 1000;

  // options: onChange(tags) after the spools changed (tags: the tags touched, or null after
  // a full reset); onState('online' | 'offline', info) when the connection changes.
  function Feed(options) {
    this.spools = {};
    this.options = options;
    this.cursor = null;
    this.failures = 0;
    this.timer = null;
    this.pending = null;
    this.lastAnswerMs = 0;
  }

  Feed.prototype.start = function () {
    var feed = this;
    // The OS knows about a Wi-Fi drop before any request times out, and about its return
    // before our backoff would try again.
    window.addEventListener('offline', function () {
      if (feed.pending) {
        feed.pending.abort();
        feed.pending = null;
        feed.failed({ status: 0, network: true, data: null, header: function () { return null; } });
      }
    });
    window.addEventListener('online', function () { feed.wake(); });
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) { feed.wake(); }
    });
    this.setState('offline', { connecting: true });
    this.poll();
  };

  // Poll at once if we are only waiting out a backoff.
  Feed.prototype.wake = function () {
    if (this.timer !== null) {
      this.failures = 0;
      this.schedule(0);
    }
  };

  Feed.prototype.schedule = function (ms) {
    var feed = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () {
      feed.timer = null;
      feed.poll();
    }, ms);
  };

  Feed.prototype.poll = function () {
    var feed = this;
    // Until a poll has come back, ask for an answer at once: a server back from a restart
    // with the same data would otherwise hold the first poll 25 s, all that time with the
    // page saying "Sin conexión".
    var holdS = this.state === 'online' ? HOLD_S : 0;
    var sentMs = new Date().getTime();
    var url = '/api/changes?timeout=' + holdS +
      (this.cursor ? '&since=' + encodeURIComponent(this.cursor) : '');
    this.pending = Z.http.request({ url: url, timeoutMs: POLL_DEADLINE_MS }, function (res) {
      feed.pending = null;
      if (res.status === 200 && res.data && res.data.cursor) {
        feed.answered(res.data, new Date().getTime() - sentMs < holdS * 1000 / 2);
      } else {
        feed.failed(res);
      }
    });
  };

  // early: the server answered in less than half the hold we asked for.
  Feed.prototype.answered = function (body, early) {
    var wasOnline = this.state === 'online';
    var wait = body.retry_after_ms > 0 ? body.retry_after_ms : 0;
    this.failures = 0;
    this.lastAnswerMs = Z.clock.now();
    this.cursor = body.cursor;
    // Scheduled before the page redraws, so a drawing error cannot stop the board following.
    // retry_after_ms > 0 means the server answers from a stale copy of a failing source, or
    // holds as many polls as it may: polling faster would only add to its load.
    if (early && !body.changed) { wait = Math.max(wait, EARLY_EMPTY_PAUSE_MS); }
    this.schedule(Math.min(wait, MAX_HINT_MS));
    if (body.reset) {
      // A reset is the whole truth: spools deleted from the sheet meanwhile must go too.
      this.spools = {};
      this.merge(body.spools || [], []);
      this.options.onChange(null);
    } else if (body.changed) {
      this.options.onChange(this.merge(body.spools || [], body.removed || []));
    }
    if (!wasOnline) { this.setState('online', {}); }
  };

  Feed.prototype.failed = function (res) {
    var wait = Math.min(Z.http.retryAfterMs(res), MAX_HINT_MS) ||
      Z.http.reconnectMs(this.failures);
    this.failures += 1;
    // The server never refuses a cursor (§6), so a 4xx means something in between is
    // confused: start over from a full snapshot rather than repeat the same request.
    if (res.status >= 400 && res.status < 500) { this.cursor = null; }
    this.setState('offline', { retryInMs: wait });
    this.schedule(wait);
  };

  Feed.prototype.merge = function (spools, removed) {
    var feed = this;
    var tags = [];
    spools.forEach(function (spool) {
      feed.spools[spool.tag_spool] = spool;
      tags.push(spool.tag_spool);
    });
    removed.forEach(function (tag) {
      delete feed.spools[tag];
      tags.push(tag);
    });
    return tags;
  };

  // Spools learned from other calls (a command's answer, a lookup). They are fresher than
  // the feed for a moment; if an older poll answer lands after them, the next poll (whose
  // cursor predates the command) brings the newer state back at once.
  Feed.prototype.put = function (spools) {
    this.options.onChange(this.merge(spools, []));
  };

  Feed.prototype.setState = function (state, info) {
    this.state = state;
    this.options.onState(state, info);
  };

  Feed.prototype.list = function () {
    var spools = this.spools;
    return Object.keys(spools).map(function (tag) { return spools[tag]; });
  };

  Z.Feed = Feed;
}(window.ZEUES = window.ZEUES || {}));
