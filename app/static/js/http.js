/* ZEUES http: one XMLHttpRequest wrapper (timeouts, JSON, retry hints) shared by every page. */
(function (Z) {
  'use strict';

  var DEFAULT_TIMEOUT_MS = 15000;

  // A read token given in the page's own URL (/board?token=..., SPEC §11: ZEUES_READ_AUTH=token).
  // It is sent as a header, not in the API's URLs, so it stays out of the server's access log; it
  // lives in this variable only, like a worker's session token.
  var pageToken = (function () {
    var match = /[?&]token=([^&#]*)/.exec(window.location.search);
    return match ? decodeURIComponent(match[1].replace(/\+/g, ' ')) : null;
  }());

  function parseJson(text) {
    if (!text) { return null; }
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  // Calls done(res) exactly once; res.status is 0 when no answer arrived (Wi-Fi drop,
  // server down, our own timeout), so callers never need a separate error path.
  function request(opts, done) {
    var xhr = new XMLHttpRequest();
    var finished = false;
    var timer = null;
    var name;

    function finish(answered) {
      if (finished) { return; }
      finished = true;
      clearTimeout(timer);
      var status = answered ? xhr.status : 0;
      if (status) { Z.clock.sync(xhr.getResponseHeader('Date')); }
      done({
        status: status,
        network: status === 0,
        // opts.blob: the answer's bytes as they came (a CSV to save keeps its BOM); JSON otherwise.
        data: status ? (opts.blob ? xhr.response : parseJson(xhr.responseText)) : null,
        header: function (header) { return status ? xhr.getResponseHeader(header) : null; }
      });
    }

    xhr.open(opts.method || 'GET', opts.url, true);
    if (opts.blob) { xhr.responseType = 'blob'; }
    xhr.setRequestHeader('Accept', opts.accept || 'application/json');
    if (opts.body !== undefined) { xhr.setRequestHeader('Content-Type', 'application/json'); }
    for (name in opts.headers || {}) {
      if (opts.headers.hasOwnProperty(name)) { xhr.setRequestHeader(name, opts.headers[name]); }
    }
    // opts.token: a worker's session for what they do; the page's read token otherwise.
    if (opts.token || pageToken) { xhr.setRequestHeader('Authorization', 'Bearer ' + (opts.token || pageToken)); }
    xhr.onreadystatechange = function () {
      if (xhr.readyState === 4) { finish(xhr.status !== 0); }
    };
    // A Wi-Fi drop often leaves the socket half-open with no reset: without our own
    // deadline the request (and the worker's tap) would hang until the OS gives up.
    timer = setTimeout(function () {
      finish(false);
      xhr.abort();
    }, opts.timeoutMs || DEFAULT_TIMEOUT_MS);
    xhr.send(opts.body === undefined ? null : JSON.stringify(opts.body));

    return {
      abort: function () {
        if (finished) { return; }
        finished = true;
        clearTimeout(timer);
        xhr.abort();
      }
    };
  }

  // "Full jitter" (a random wait up to an exponential ceiling) so a floor of tablets that
  // lost the server together does not come back in lock-step when it restarts.
  function backoffMs(attempt, baseMs, capMs) {
    return Math.floor(Math.random() * Math.min(capMs, baseMs * Math.pow(2, attempt)));
  }

  // Pages and server share the plant's LAN, so a page that lost the server (a restart, a
  // Wi-Fi blip) should find it again within seconds: a ceiling of 5 s, not the 30 s an
  // integration across the internet would use. Full jitter still spreads a floor of tablets
  // over those 5 s, which one gevent worker meets without effort.
  var RECONNECT_BASE_MS = 1000;
  var RECONNECT_CAP_MS = 5000;

  function reconnectMs(attempt) {
    return backoffMs(attempt, RECONNECT_BASE_MS, RECONNECT_CAP_MS);
  }

  // The server's own hint, from retry_after_ms in the body or a Retry-After header
  // (seconds or an HTTP date); 0 when it gave none.
  function retryAfterMs(res) {
    var hint = res.data && res.data.retry_after_ms;
    var header = res.header('Retry-After');
    var when;
    if (typeof hint === 'number' && hint > 0) { return hint; }
    if (!header) { return 0; }
    if (/^\s*\d+\s*$/.test(header)) { return parseInt(header, 10) * 1000; }
    when = Date.parse(header);
    return isNaN(when) ? 0 : Math.max(0, when - Z.clock.now());
  }

  // Idempotency keys: random enough that two tablets never collide; getRandomValues exists
  // on every browser we support, Math.random is only a fallback.
  function newKey() {
    var bytes = [];
    var i;
    var random = window.crypto && window.crypto.getRandomValues ?
      window.crypto.getRandomValues(new Uint8Array(16)) : null;
    for (i = 0; i < 16; i += 1) {
      bytes.push(random ? random[i] : Math.floor(Math.random() * 256));
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    return bytes.map(function (b, index) {
      var hex = (b < 16 ? '0' : '') + b.toString(16);
      return (index === 4 || index === 6 || index === 8 || index === 10 ? '-' : '') + hex;
    }).join('');
  }

  Z.http = {
    pageToken: pageToken,
    request: request,
    backoffMs: backoffMs,
    reconnectMs: reconnectMs,
    retryAfterMs: retryAfterMs,
    newKey: newKey
  };
}(window.ZEUES = window.ZEUES || {}));
