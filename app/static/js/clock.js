/* ZEUES clock: server-corrected "now", ISO 8601 parsing and Spanish elapsed-time text. */
(function (Z) {
  'use strict';

  // Shared tablets keep whatever time someone once set; the server's Date header is the
  // plant's clock, so "ocupado hace 5 min" means the same on every screen.
  var offsetMs = 0;
  // Date has whole seconds only: chasing every small difference would make times jitter.
  var RESYNC_THRESHOLD_MS = 2000;

  function now() {
    return new Date().getTime() + offsetMs;
  }

  function sync(dateHeader) {
    var server = dateHeader ? Date.parse(dateHeader) : NaN;
    var offset;
    if (isNaN(server)) { return; }
    offset = server + 500 - new Date().getTime();
    if (Math.abs(offset - offsetMs) > RESYNC_THRESHOLD_MS) { offsetMs = offset; }
  }

  // Written by hand because old WebViews' Date.parse rejects microseconds and offsets
  // without a colon, both of which a Python server may send.
  var ISO = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?(Z|[+\-]\d\d:?\d\d)?$/;

  function parseIso(text) {
    var m = ISO.exec(text || '');
    var ms;
    var zone;
    if (!m) { return NaN; }
    ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0),
      m[7] ? Math.floor(+('0.' + m[7]) * 1000) : 0);
    zone = m[8];
    if (zone && zone !== 'Z') {
      zone = zone.replace(':', '');
      ms -= (zone.charAt(0) === '-' ? -1 : 1) *
        (parseInt(zone.substr(1, 2), 10) * 60 + parseInt(zone.substr(3, 2), 10)) * 60000;
    }
    return ms;
  }

  function pad(n) {
    return (n < 10 ? '0' : '') + n;
  }

  function formatDuration(ms) {
    var minutes = Math.floor(Math.max(0, ms) / 60000);
    var hours = Math.floor(minutes / 60);
    if (minutes < 1) { return 'menos de 1 min'; }
    if (minutes < 60) { return minutes + ' min'; }
    if (hours < 24) { return hours + ' h ' + pad(minutes % 60) + ' min'; }
    return Math.floor(hours / 24) + ' d ' + (hours % 24) + ' h';
  }

  // "12 min" since an ISO timestamp, or '' when there is none.
  function elapsedSince(iso) {
    var start = parseIso(iso);
    return isNaN(start) ? '' : formatDuration(now() - start);
  }

  // Local wall-clock "HH:MM" of an instant (the tablet's time zone is the plant's).
  function clockTime(ms) {
    var date = new Date(ms);
    return isNaN(ms) ? '' : pad(date.getHours()) + ':' + pad(date.getMinutes());
  }

  function timeOfDay(iso) {
    return clockTime(parseIso(iso));
  }

  Z.clock = {
    now: now,
    sync: sync,
    parseIso: parseIso,
    formatDuration: formatDuration,
    elapsedSince: elapsedSince,
    clockTime: clockTime,
    timeOfDay: timeOfDay
  };
}(window.ZEUES = window.ZEUES || {}));
