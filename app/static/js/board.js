/* ZEUES board: the supervisors' live board (occupied spools and counts per estado), fed by §6. */
(function (Z) {
  'use strict';

  var el = Z.ui.el;
  var TICK_MS = 10000;
  // Longer than a shift: most likely a spool someone forgot to pause, for a supervisor to release.
  var FORGOTTEN_MS = 8 * 60 * 60 * 1000;
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
    renderRows(spools);
    paginate();
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
        paginate();
      }
    });
    feed.start();
    setInterval(Z.ui.tickElapsed, TICK_MS);
    setInterval(turnPage, pageSeconds() * 1000);
    window.addEventListener('resize', paginate);
  }

  start();
}(window.ZEUES = window.ZEUES || {}));
