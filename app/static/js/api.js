/* ZEUES api: the §5 calls the pages make, and commands that stay idempotent across retries. */
(function (Z) {
  'use strict';

  var COMMAND_TIMEOUT_MS = 15000;
  // Quick automatic retries cover a Wi-Fi blip; after them the worker decides (and a
  // new tap of the same action still reuses the key, see `unanswered`).
  var AUTO_RETRIES = 2;
  var RETRY_BASE_MS = 500;
  var RETRY_CAP_MS = 4000;

  // The last command whose answer never arrived. Its key is reused while the worker keeps
  // asking for the same thing, so a command the server applied just before the Wi-Fi
  // dropped is answered from the server's idempotency record instead of applied twice.
  var unanswered = null;

  function get(url, done) {
    Z.http.request({ url: url }, done);
  }

  function noAnswer(res) {
    return res.status === 0 || res.status >= 500;
  }

  // accion is TOMAR, PAUSAR, COMPLETAR, BLOQUEAR or DESBLOQUEAR; token is the worker's session (null in
  // open mode); onRetry(n) tells the page an automatic retry is under way; done(res) gets the final
  // answer (status 0 if none ever came).
  function command(accion, body, token, onRetry, done) {
    var url = '/api/' + accion.toLowerCase() + '-accion';
    var signature = url + ' ' + JSON.stringify(body);
    var attempt = 0;
    var key;

    if (!unanswered || unanswered.signature !== signature) {
      unanswered = { signature: signature, key: Z.http.newKey() };
    }
    key = unanswered.key;

    function send() {
      Z.http.request({
        method: 'POST',
        url: url,
        body: body,
        headers: { 'Idempotency-Key': key },
        token: token,
        timeoutMs: COMMAND_TIMEOUT_MS
      }, function (res) {
        var wait = Z.http.retryAfterMs(res) || Z.http.backoffMs(attempt, RETRY_BASE_MS, RETRY_CAP_MS);
        // A server asking for a long pause gets it: the worker sees why and taps again later.
        if (noAnswer(res) && attempt < AUTO_RETRIES && wait <= RETRY_CAP_MS) {
          attempt += 1;
          onRetry(attempt);
          setTimeout(send, wait);
          return;
        }
        if (!noAnswer(res) && unanswered && unanswered.key === key) { unanswered = null; }
        done(res);
      });
    }
    send();
  }

  Z.api = {
    workers: function (done) { get('/api/workers', done); },
    motivos: function (done) { get('/api/motivos', done); },
    alertas: function (done) { get('/api/alertas', done); },
    spool: function (tag, done) { get('/api/spools/' + encodeURIComponent(tag), done); },
    spoolsHeldBy: function (workerId, done) {
      get('/api/spools?ocupado_por=' + encodeURIComponent(workerId), done);
    },
    // SPEC §11: a session opened with the worker's PIN; its token is kept in memory by the caller.
    signIn: function (workerId, pin, done) {
      Z.http.request({ method: 'POST', url: '/api/sesiones', body: { worker_id: workerId, pin: pin } }, done);
    },
    // Ends the session on the server; a lost answer is retried, since the token must not outlive
    // the worker's turn at the tablet.
    signOut: function (token) {
      var attempt = 0;
      function send() {
        Z.http.request({ method: 'DELETE', url: '/api/sesiones/actual', token: token }, function (res) {
          if (noAnswer(res) && attempt < AUTO_RETRIES) {
            attempt += 1;
            setTimeout(send, Z.http.backoffMs(attempt, RETRY_BASE_MS, RETRY_CAP_MS));
          }
        });
      }
      send();
    },
    command: command
  };
}(window.ZEUES = window.ZEUES || {}));
