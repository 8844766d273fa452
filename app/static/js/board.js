/* ZEUES board: the supervisors' live board (counts per estado and per hold reason, alerts, occupied
   spools), fed by §6. */
(function (Z) {
  'use strict';

  var el = Z.ui.el;
  var TICK_MS = 10000;
  var HOUR_MS = 60 * 60 * 1000;
  // Alerts (SPEC §13) are worked out here from the feed's spools, so they follow every change and
  // the passing of time without a reload; the thresholds are the server's (GET /api/alertas).
  var thresholds = null;
  var thresholdRetries = 0;
  var motivoRetries = 0;
  // A wall screen cannot scroll: past this many alerts the rest are counted, not listed.
  var ALERTS_SHOWN = 5;
  // A wall screen has nobody to scroll it: the occupied list turns its pages by itself, so
  // every occupied spool is on screen once per cycle. ?pagina_s=N sets the seconds a page
  // stays up (a screen read from far away may want longer).
  var PAGE_S = { standard: 8, min: 1, max: 300 };
  // Room kept under the last row, so it does not sit flush on the screen's edge.
  var BOTTOM_GAP_PX = 16;

  var feed;
  var nodes;
  var page = 0;

  function occupiedSince(spool) {
    return Z.clock.parseIso(spool.timestamp_ocupacion);
  }

  function renderCounts(spools) {
    var counts = {};
    Z.texts.ESTADOS.forEach(function (estado) { counts[estado] = 0; });
    spools.forEach(function (spool) {
      counts[spool.estado] = (counts[spool.estado] || 0) + 1;
    });
    Z.texts.ESTADOS.forEach(function (estado) {
      nodes.counts[estado].textContent = String(counts[estado]);
    });
    nodes.total.textContent = spools.length + ' spools';
  }

  // BLOQUEADO broken down by reason, in the office's order of reasons (unknown codes last).
  function renderHolds(spools) {
    var perReason = {};
    var order = Z.texts.motivos().map(function (m) { return m.codigo; });
    spools.forEach(function (spool) {
      if (spool.estado !== 'BLOQUEADO') { return; }
      if (!perReason[spool.bloqueo_motivo]) {
        perReason[spool.bloqueo_motivo] = 0;
        if (order.indexOf(spool.bloqueo_motivo) < 0) { order.push(spool.bloqueo_motivo); }
      }
      perReason[spool.bloqueo_motivo] += 1;
    });
    Z.ui.clear(nodes.holds);
    order.forEach(function (codigo) {
      if (!perReason[codigo]) { return; }
      nodes.holds.appendChild(el('span', {
        'class': 'hold-count',
        'data-testid': 'board-bloqueo-' + codigo,
        'data-count': perReason[codigo]
      }, [Z.texts.motivo(codigo), el('strong', {}, [String(perReason[codigo])])]));
    });
  }

  function alerts(spools) {
    var now = Z.clock.now();
    var found = [];
    if (!thresholds) { return found; }
    spools.forEach(function (spool) {
      var held = spool.estado === 'BLOQUEADO';
      var since = Z.clock.parseIso(held ? spool.bloqueo_desde : spool.timestamp_ocupacion);
      var limit = (held ? thresholds.bloqueo_largo : thresholds.ocupacion_larga) * HOUR_MS;
      if ((held || spool.ocupado_por) && !isNaN(since) && now - since > limit) {
        found.push({ tipo: held ? 'BLOQUEO_LARGO' : 'OCUPACION_LARGA', spool: spool, since: since });
      }
    });
    return found.sort(function (a, b) { return a.since - b.since; });
  }

  function alertRow(alert) {
    var spool = alert.spool;
    var held = alert.tipo === 'BLOQUEO_LARGO';
    return el('tr', { 'data-testid': 'board-alert', 'data-tipo': alert.tipo, 'data-tag': spool.tag_spool }, [
      el('td', { 'class': 'alert-tipo' }, [Z.texts.alerta(alert.tipo)]),
      el('td', { 'class': 'col-tag' }, [spool.tag_spool]),
      el('td', {}, [held ? Z.texts.motivo(spool.bloqueo_motivo) :
        (spool.ocupado_por_nombre || '#' + spool.ocupado_por) + ' · ' + Z.texts.operacion(spool.operacion_actual)]),
      el('td', { 'class': 'col-since' }, [Z.ui.elapsed(held ? spool.bloqueo_desde : spool.timestamp_ocupacion)])
    ]);
  }

  function renderAlerts(spools) {
    var found = alerts(spools);
    Z.ui.clear(nodes.alerts);
    found.slice(0, ALERTS_SHOWN).forEach(function (alert) { nodes.alerts.appendChild(alertRow(alert)); });
    if (found.length > ALERTS_SHOWN) {
      nodes.alerts.appendChild(el('tr', { 'class': 'alert-more' }, [
        el('td', { colspan: '4' }, ['… y ' + (found.length - ALERTS_SHOWN) + ' más'])
      ]));
    }
    nodes.alertCount.textContent = found.length ? '(' + found.length + ')' : '';
    Z.ui.show(nodes.alertsSection, found.length > 0);
  }

  function loadThresholds() {
    Z.api.alertas(function (res) {
      if (res.status === 200 && res.data && res.data.umbrales_h) {
        thresholds = res.data.umbrales_h;
        render();
        return;
      }
      setTimeout(loadThresholds, Z.http.retryAfterMs(res) || Z.http.reconnectMs(thresholdRetries));
      thresholdRetries += 1;
    });
  }

  function loadMotivos() {
    Z.api.motivos(function (res) {
      if (res.status === 200 && res.data && res.data.motivos) {
        Z.texts.setMotivos(res.data.motivos);
        render();
        return;
      }
      setTimeout(loadMotivos, Z.http.retryAfterMs(res) || Z.http.reconnectMs(motivoRetries));
      motivoRetries += 1;
    });
  }

  function row(spool) {
    var since = occupiedSince(spool);
    // Past the alert threshold: most likely a spool someone forgot to pause, for a supervisor to release.
    var forgotten = thresholds && !isNaN(since) && Z.clock.now() - since > thresholds.ocupacion_larga * HOUR_MS;
    return el('tr', { 'data-testid': 'board-row', 'data-tag': spool.tag_spool, 'class': forgotten ? 'forgotten' : null }, [
      el('td', { 'class': 'col-tag' }, [spool.tag_spool]),
      el('td', { 'class': 'col-worker' }, [spool.ocupado_por_nombre || '#' + spool.ocupado_por]),
      el('td', { 'class': 'col-op' }, [
        el('span', { 'class': 'badge estado-' + spool.estado }, [Z.texts.operacion(spool.operacion_actual)])
      ]),
      el('td', { 'class': 'col-since' }, [
        el('span', { 'class': 'since-time' }, [Z.clock.timeOfDay(spool.timestamp_ocupacion)]),
        el('span', { 'class': 'since-elapsed' }, [Z.ui.elapsed(spool.timestamp_ocupacion)])
      ])
    ]);
  }

  function renderRows(spools) {
    // Longest held first: those are the ones a supervisor has to look at.
    var occupied = spools.filter(function (spool) { return spool.ocupado_por; })
      .sort(function (a, b) { return occupiedSince(a) - occupiedSince(b); });
    Z.ui.clear(nodes.rows);
    occupied.forEach(function (spool) { nodes.rows.appendChild(row(spool)); });
    Z.ui.show(nodes.empty, !occupied.length);
    nodes.occupiedCount.textContent = occupied.length ? '(' + occupied.length + ')' : '';
  }

  function pageSeconds() {
    var match = /[?&]pagina_s=(\d+(?:\.\d+)?)/.exec(window.location.search);
    var seconds = match ? parseFloat(match[1]) : PAGE_S.standard;
    return Math.min(Math.max(seconds, PAGE_S.min), PAGE_S.max);
  }

  // Shows the rows of the current page, as many as fit between the list's top and the
  // screen's bottom. Measured, not counted: a name that wraps makes its row taller, and the
  // offline notice pushes the list down.
  function paginate() {
    var rows = nodes.rows.children;
    var room;
    var pageOf = [];
    var pages = 0;
    var used = 0;
    var i;
    for (i = 0; i < rows.length; i += 1) { Z.ui.show(rows[i], true); }
    room = window.innerHeight - BOTTOM_GAP_PX -
      (nodes.rows.getBoundingClientRect().top + (window.pageYOffset || 0));
    for (i = 0; i < rows.length; i += 1) {
      if (!pages || (used > 0 && used + rows[i].offsetHeight > room)) {
        pages += 1;
        used = 0;
      }
      pageOf.push(pages - 1);
      used += rows[i].offsetHeight;
    }
    if (page >= pages) { page = 0; }
    for (i = 0; i < rows.length; i += 1) { Z.ui.show(rows[i], pageOf[i] === page); }
    nodes.page.textContent = pages > 1 ? 'Página ' + (page + 1) + '/' + pages : '';
  }

  function turnPage() {
    page += 1;
    paginate();
  }

  function render() {
    var spools = feed.list();
    renderCounts(spools);
    renderHolds(spools);
    renderAlerts(spools);
    renderRows(spools);
    paginate();
  }

  // Time passing turns spools into alerts: look again on every tick, not only on changes.
  function tick() {
    Z.ui.tickElapsed();
    if (thresholds) {
      renderAlerts(feed.list());
      paginate();
    }
  }

  function start() {
    nodes = {
      connection: Z.ui.byId('connection'),
      stale: Z.ui.byId('board-stale'),
      rows: Z.ui.byId('board-rows'),
      empty: Z.ui.byId('board-empty'),
      total: Z.ui.byId('board-total'),
      occupiedCount: Z.ui.byId('occupied-count'),
      page: Z.ui.byId('board-page'),
      holds: Z.ui.byId('board-holds'),
      alerts: Z.ui.byId('board-alerts'),
      alertCount: Z.ui.byId('alert-count'),
      alertsSection: Z.ui.byId('board-alerts-section'),
      counts: {}
    };
    Z.texts.ESTADOS.forEach(function (estado) {
      var count = el('span', { 'class': 'count-n', 'data-testid': 'board-count-' + estado }, ['–']);
      nodes.counts[estado] = count;
      Z.ui.byId('board-counts').appendChild(el('div', { 'class': 'count estado-' + estado }, [
        count,
        el('span', { 'class': 'count-label' }, [Z.texts.estado(estado)])
      ]));
    });
    Z.ui.keepToken(Z.ui.byId('station-link'));
    Z.ui.keepToken(Z.ui.byId('reportes-link'));
    feed = new Z.Feed({
      onChange: render,
      onState: function (connection, info) {
        Z.ui.showConnection(nodes.connection, connection, info);
        // Say how old the figures are, so nobody acts on a frozen board as if it were live.
        nodes.stale.textContent = connection === 'online' || !feed.lastAnswerMs ? '' :
          'Sin conexión con el servidor: datos de las ' +
          Z.clock.clockTime(feed.lastAnswerMs) + '. Reintentando…';
        paginate();
      }
    });
    feed.start();
    loadThresholds();
    loadMotivos();
    setInterval(tick, TICK_MS);
    setInterval(turnPage, pageSeconds() * 1000);
    window.addEventListener('resize', paginate);
  }

  start();
}(window.ZEUES = window.ZEUES || {}));
