/* ZEUES board: the supervisors' live board (occupied spools and counts per estado), fed by §6. */
(function (Z) {
  'use strict';

  var el = Z.ui.el;
  var TICK_MS = 10000;
  // Longer than a shift: most likely a spool someone forgot to pause, for a supervisor to release.
  var FORGOTTEN_MS = 8 * 60 * 60 * 1000;

  var feed;
  var nodes;

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

  function row(spool) {
    var since = occupiedSince(spool);
    var forgotten = !isNaN(since) && Z.clock.now() - since > FORGOTTEN_MS;
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

  function render() {
    var spools = feed.list();
    renderCounts(spools);
    renderRows(spools);
  }

  function start() {
    nodes = {
      connection: Z.ui.byId('connection'),
      stale: Z.ui.byId('board-stale'),
      rows: Z.ui.byId('board-rows'),
      empty: Z.ui.byId('board-empty'),
      total: Z.ui.byId('board-total'),
      occupiedCount: Z.ui.byId('occupied-count'),
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
    feed = new Z.Feed({
      onChange: render,
      onState: function (connection, info) {
        Z.ui.showConnection(nodes.connection, connection, info);
        // Say how old the figures are, so nobody acts on a frozen board as if it were live.
        nodes.stale.textContent = connection === 'online' || !feed.lastAnswerMs ? '' :
          'Sin conexión con el servidor: datos de las ' +
          Z.clock.clockTime(feed.lastAnswerMs) + '. Reintentando…';
      }
    });
    feed.start();
    setInterval(Z.ui.tickElapsed, TICK_MS);
  }

  start();
}(window.ZEUES = window.ZEUES || {}));
