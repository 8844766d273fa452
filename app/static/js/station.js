/* ZEUES station: the worker's tablet page (worker, operation, spool tag, card, actions, Mis spools). */
(function (Z) {
  'use strict';

  var el = Z.ui.el;
  var OPERATIONS = ['ARM', 'SOLD', 'METROLOGIA', 'REPARACION'];
  // Who may TOMAR each operation (SPEC §4 guards). The server decides; the page only avoids
  // offering a button that can only fail.
  var OPERATION_ROLES = {
    ARM: ['ARMADOR'],
    SOLD: ['SOLDADOR'],
    METROLOGIA: ['METROLOGIA'],
    REPARACION: ['SOLDADOR', 'ARMADOR']
  };
  var TICK_MS = 10000;
  // Tablets are shared: one left signed in would credit the next person's taps to the last.
  var IDLE_SIGN_OUT_MS = 5 * 60 * 1000;
  var SPOOL_REFRESH_CODES = ['SPOOL_OCCUPIED', 'SPOOL_BLOCKED', 'VERSION_CONFLICT', 'INVALID_TRANSITION',
    'NOT_HOLDER'];
  var PIN_MIN = 4;
  var PIN_MAX = 8;

  var state = {
    workers: null,
    // 'pin': the worker signs in with their PIN and every command carries the session's token;
    // 'open': a tap on the name is enough (SPEC §11, the server's ZEUES_AUTH).
    auth: 'pin',
    pinWorker: null,
    pin: '',
    signingIn: false,
    // The session's token lives here only: never in localStorage, sessionStorage or a cookie, so
    // closing the page forgets it and the next person on the tablet starts from the list.
    token: null,
    worker: null,
    operacion: null,
    tag: null,
    lookup: null,
    // A question the card asks before sending (null: none): {accion, operacion, text}, for the
    // verdict of an inspection, the reason of a hold, or why a supervisor releases someone's spool.
    choosing: null,
    busy: false,
    cardKey: null,
    mineKey: null
  };
  var feed;
  var nodes;
  var workerRetries = 0;
  var loadingWorkers = false;
  var motivoRetries = 0;
  var idleTimer = null;

  function hasRole(worker, role) {
    return worker.roles.indexOf(role) >= 0;
  }

  function canTake(worker, operacion) {
    return OPERATION_ROLES[operacion].some(function (role) { return hasRole(worker, role); });
  }

  // A supervisor sees every operation: they may pause or complete anyone's spool.
  function allowedOperations(worker) {
    return OPERATIONS.filter(function (op) {
      return canTake(worker, op) || hasRole(worker, 'SUPERVISOR');
    });
  }

  function mayRelease(worker, spool) {
    return spool.ocupado_por === worker.id || hasRole(worker, 'SUPERVISOR');
  }

  // SPEC §13: a supervisor releasing a spool someone else holds says why.
  function releasesOthers(worker, spool) {
    return !!spool.ocupado_por && spool.ocupado_por !== worker.id && hasRole(worker, 'SUPERVISOR');
  }

  function say(kind, text) {
    nodes.message.className = 'message' + (text ? ' message-' + kind : '');
    nodes.message.setAttribute('data-kind', text ? kind : '');
    nodes.message.textContent = text;
  }

  function focusScanField() {
    var field = state.worker ? nodes.tagInput : nodes.workerInput;
    if (state.pinWorker && !state.worker) { return; }
    if (document.activeElement !== field) { field.focus(); }
  }

  // ---- worker -------------------------------------------------------------------------

  // Fetched again each time the worker step shows, so office changes to the Trabajadores
  // sheet (a new hire, a deactivation) reach the tablet without a reload.
  function loadWorkers() {
    if (loadingWorkers) { return; }
    loadingWorkers = true;
    Z.api.workers(function (res) {
      if (res.status === 200 && res.data && res.data.workers) {
        loadingWorkers = false;
        state.workers = res.data.workers;
        state.auth = res.data.auth === 'open' ? 'open' : 'pin';
        if (workerRetries && !state.worker) { say('info', ''); }
        workerRetries = 0;
        renderWorkers();
        return;
      }
      // Without the list nobody can start: keep trying on our own, like the feed does.
      if (!state.worker) { say('error', Z.texts.problem(res.data && res.data.code, res.status)); }
      setTimeout(function () {
        loadingWorkers = false;
        loadWorkers();
      }, Z.http.retryAfterMs(res) || Z.http.reconnectMs(workerRetries));
      workerRetries += 1;
    });
  }

  // The reasons a spool may be put on hold; without them BLOQUEAR cannot be asked, so keep trying.
  function loadMotivos() {
    Z.api.motivos(function (res) {
      if (res.status === 200 && res.data && res.data.motivos) {
        Z.texts.setMotivos(res.data.motivos);
        state.cardKey = null;
        renderCard();
        return;
      }
      setTimeout(loadMotivos, Z.http.retryAfterMs(res) || Z.http.reconnectMs(motivoRetries));
      motivoRetries += 1;
    });
  }

  function renderWorkers() {
    var active = state.workers.filter(function (w) { return w.activo; });
    active.sort(function (a, b) {
      return Z.texts.fullName(a).localeCompare(Z.texts.fullName(b));
    });
    Z.ui.clear(nodes.workerList);
    active.forEach(function (worker) {
      var button = el('button', {
        type: 'button',
        'class': 'worker-option',
        'data-testid': 'worker-option',
        'data-worker-id': worker.id
      }, [
        el('span', { 'class': 'worker-name' }, [Z.texts.fullName(worker)]),
        el('span', { 'class': 'worker-roles' }, [
          '#' + worker.id + ' · ' + worker.roles.map(Z.texts.rol).join(', ')
        ])
      ]);
      button.addEventListener('click', function () { selectWorker(worker); });
      nodes.workerList.appendChild(button);
    });
  }

  function onWorkerForm(event) {
    var typed = nodes.workerInput.value.replace(/^\s+|\s+$/g, '');
    var id = parseInt(typed, 10);
    var worker = null;
    event.preventDefault();
    nodes.workerInput.value = '';
    if (!typed) { return; }
    if (!/^\d+$/.test(typed)) {
      say('error', 'Escriba o escanee su número de trabajador (solo cifras).');
      return;
    }
    if (!state.workers) {
      say('error', 'Todavía cargando la lista de trabajadores. Intente en unos segundos.');
      return;
    }
    state.workers.forEach(function (w) { if (w.id === id) { worker = w; } });
    if (!worker) {
      say('error', 'No existe el trabajador ' + id + '. Revise el número.');
    } else if (!worker.activo) {
      say('error', Z.texts.problem('WORKER_INACTIVE'));
    } else {
      selectWorker(worker);
    }
  }

  function selectWorker(worker) {
    if (state.auth === 'open') {
      enterWork(worker, null);
    } else if (!worker.tiene_pin) {
      say('error', Z.texts.problem('PIN_NOT_SET'));
    } else {
      askPin(worker);
    }
  }

  // ---- PIN ----------------------------------------------------------------------------

  function askPin(worker) {
    state.pinWorker = worker;
    state.pin = '';
    state.signingIn = false;
    nodes.pinWorker.textContent = Z.texts.fullName(worker) + ' · #' + worker.id;
    Z.ui.show(nodes.stepWorker, false);
    Z.ui.show(nodes.stepPin, true);
    renderPin();
    say('info', 'Hola, ' + worker.nombre + '. Ingrese su PIN y toque OK.');
    if (document.activeElement && document.activeElement.blur) { document.activeElement.blur(); }
    stillHere();
  }

  function renderPin() {
    var dots = '';
    var i;
    for (i = 0; i < state.pin.length; i += 1) { dots += '\u25CF'; }
    nodes.pinDots.textContent = dots || '\u00A0';
    nodes.pinOk.disabled = state.signingIn || state.pin.length < PIN_MIN;
    nodes.pinBorrar.disabled = state.signingIn || !state.pin.length;
  }

  function pinDigit(digit) {
    if (state.signingIn || state.pin.length >= PIN_MAX) { return; }
    state.pin += digit;
    renderPin();
  }

  function pinBorrar() {
    if (state.signingIn) { return; }
    state.pin = state.pin.slice(0, -1);
    renderPin();
  }

  function pinOk() {
    var worker = state.pinWorker;
    var pin = state.pin;
    if (!worker || state.signingIn || pin.length < PIN_MIN) { return; }
    // The digits are kept no longer than it takes to send them.
    state.pin = '';
    state.signingIn = true;
    renderPin();
    say('info', 'Verificando el PIN…');
    Z.api.signIn(worker.id, pin, function (res) {
      if (state.pinWorker !== worker) {
        // The worker went back to the list meanwhile: a session that opened anyway ends at once.
        if (res.status === 201 && res.data) { Z.api.signOut(res.data.token); }
        return;
      }
      state.signingIn = false;
      if (res.status === 201 && res.data && res.data.token) {
        enterWork(res.data.worker || worker, res.data.token);
        return;
      }
      renderPin();
      pinRefused(res);
    });
  }

  function pinRefused(res) {
    var code = res.data && res.data.code;
    var wait = Z.http.retryAfterMs(res);
    if (code === 'TOO_MANY_ATTEMPTS') {
      say('error', 'Demasiados intentos fallidos. Espere ' + Math.max(1, Math.ceil(wait / 60000)) +
        ' min e intente de nuevo.');
    } else if (code === 'PIN_NOT_SET' || code === 'WORKER_INACTIVE') {
      changeWorker();
      say('error', Z.texts.problem(code, res.status));
    } else {
      say('error', Z.texts.problem(code, res.status));
    }
  }

  // A keyboard (or a keypad) types the PIN too: digits, Backspace, Enter.
  function onPinKey(event) {
    var code = event.keyCode;
    if (code >= 48 && code <= 57) {
      pinDigit(String(code - 48));
    } else if (code >= 96 && code <= 105) {
      pinDigit(String(code - 96));
    } else if (code === 8) {
      pinBorrar();
    } else if (code === 13) {
      pinOk();
    } else {
      return;
    }
    event.preventDefault();
  }

  // ---- station ------------------------------------------------------------------------

  // token: the session opened with the worker's PIN (null in open mode).
  function enterWork(worker, token) {
    var operations = allowedOperations(worker);
    state.pinWorker = null;
    state.pin = '';
    state.token = token;
    Z.ui.show(nodes.stepPin, false);
    state.worker = worker;
    state.operacion = operations.length === 1 ? operations[0] : null;
    state.tag = null;
    state.lookup = null;
    state.choosing = null;
    state.mineKey = null;
    nodes.who.textContent = Z.texts.fullName(worker);
    Z.ui.show(nodes.stepWorker, false);
    Z.ui.show(nodes.stepWork, true);
    Z.ui.show(nodes.changeWorker, true);
    renderOperations();
    renderCard();
    renderMine();
    say('info', 'Hola, ' + worker.nombre + '. ' +
      (state.operacion ? 'Escanee un spool.' : 'Elija la operación y escanee un spool.'));
    focusScanField();
    stillHere();
    // The feed may still be connecting; this makes "Mis spools" right from the first second.
    Z.api.spoolsHeldBy(worker.id, function (res) {
      if (res.status === 200 && res.data && res.data.spools) { feed.put(res.data.spools); }
    });
  }

  // Any touch, click or key (a scan included) counts as someone being at the tablet.
  function stillHere() {
    clearTimeout(idleTimer);
    if (state.worker || state.pinWorker) { idleTimer = setTimeout(signOutIdle, IDLE_SIGN_OUT_MS); }
  }

  function signOutIdle() {
    if (state.busy) {
      stillHere();
      return;
    }
    changeWorker();
    say('info', 'Sesión cerrada tras 5 minutos sin uso. ¿Quién es usted?');
  }

  // Back to the list; the session ends on the server too (the idle sign-out included), so the
  // token is worth nothing even to someone who copied it.
  function changeWorker() {
    if (state.token) { Z.api.signOut(state.token); }
    state.token = null;
    state.pinWorker = null;
    state.pin = '';
    state.signingIn = false;
    Z.ui.show(nodes.stepPin, false);
    state.worker = null;
    state.operacion = null;
    state.tag = null;
    state.lookup = null;
    state.choosing = null;
    nodes.who.textContent = '';
    Z.ui.show(nodes.stepWork, false);
    Z.ui.show(nodes.stepWorker, true);
    Z.ui.show(nodes.changeWorker, false);
    say('info', '');
    focusScanField();
    loadWorkers();
  }

  // ---- operation ----------------------------------------------------------------------

  function renderOperations() {
    var allowed = allowedOperations(state.worker);
    OPERATIONS.forEach(function (op) {
      var button = nodes.operations[op];
      var selected = state.operacion === op;
      Z.ui.show(button, allowed.indexOf(op) >= 0);
      button.className = 'op' + (selected ? ' op-selected' : '');
      button.setAttribute('aria-pressed', selected ? 'true' : 'false');
    });
  }

  function selectOperation(op) {
    state.operacion = op;
    state.choosing = null;
    renderOperations();
    renderCard();
    say('info', Z.texts.operacion(op) + ': escanee un spool.');
    focusScanField();
  }

  // ---- spool card ---------------------------------------------------------------------

  function onTagForm(event) {
    var tag = nodes.tagInput.value.replace(/^\s+|\s+$/g, '');
    event.preventDefault();
    // Cleared at once so the scanner's next read starts on an empty field.
    nodes.tagInput.value = '';
    if (!tag) { return; }
    if (tag.length > 64) {
      say('error', Z.texts.problem('VALIDATION_ERROR'));
      return;
    }
    openSpool(tag);
  }

  // The card shows only a spool the server has just confirmed, and knows it by the tag the
  // server answered with: a worker may type it in lower case or with spaces around it, but
  // the feed, the card and every later command use the canonical tag_spool. The previous
  // card goes at once, so a tap while the lookup is under way cannot act on the wrong spool,
  // and it stays gone when the lookup fails.
  function openSpool(typed) {
    state.lookup = typed;
    state.tag = null;
    state.choosing = null;
    renderCard();
    say('info', 'Buscando ' + typed + '…');
    Z.api.spool(typed, function (res) {
      if (state.lookup !== typed) { return; }
      state.lookup = null;
      if (res.status === 200 && res.data) {
        state.tag = res.data.tag_spool;
        say('info', '');
        feed.put([res.data]);
      } else if (res.status === 404) {
        say('error', 'No existe el spool «' + typed + '». Revise el código.');
      } else {
        say('error', Z.texts.problem(res.data && res.data.code, res.status));
      }
      focusScanField();
    });
  }

  function currentSpool() {
    return state.tag ? feed.spools[state.tag] || null : null;
  }

  function visibleActions(spool) {
    var worker = state.worker;
    return spool.acciones.filter(function (a) {
      if (a.accion === 'TOMAR') {
        return a.operacion === state.operacion && canTake(worker, a.operacion);
      }
      if (a.accion === 'DESBLOQUEAR') { return hasRole(worker, 'SUPERVISOR'); }
      // PAUSAR, COMPLETAR and BLOQUEAR: the holder, or a supervisor.
      return mayRelease(worker, spool);
    });
  }

  function workerName(id) {
    var name = '#' + id;
    (state.workers || []).forEach(function (w) { if (w.id === id) { name = Z.texts.fullName(w); } });
    return name;
  }

  function fact(label, date, workerId, extra) {
    return el('li', { 'class': date ? 'fact done' : 'fact' }, [
      el('span', { 'class': 'fact-label' }, [label]),
      el('span', { 'class': 'fact-value' }, [
        date ? date + (workerId ? ' · ' + workerName(workerId) : '') + (extra ? ' · ' + extra : '') : '—'
      ])
    ]);
  }

  function actionButton(testid, label, sub, onTap, kind) {
    var button = el('button', {
      type: 'button',
      'class': 'action action-' + kind,
      'data-testid': testid
    }, [el('span', { 'class': 'action-label' }, [label]), sub ? el('span', { 'class': 'action-sub' }, [sub]) : null]);
    button.disabled = state.busy;
    button.addEventListener('click', onTap);
    return button;
  }

  function cancelButton() {
    return actionButton('cancelar', 'Cancelar', null, function () {
      state.choosing = null;
      renderCard();
      focusScanField();
    }, 'cancel');
  }

  // A text field inside a question; what is typed survives a redraw of the card.
  function choiceInput(testid, placeholder) {
    var input = el('input', {
      type: 'text',
      'class': 'choice-input',
      'data-testid': testid,
      maxlength: '200',
      placeholder: placeholder,
      autocomplete: 'off'
    });
    input.value = state.choosing.text;
    input.addEventListener('input', function () { state.choosing.text = input.value; });
    return input;
  }

  function choiceText() {
    return state.choosing.text.replace(/^\s+|\s+$/g, '');
  }

  function verdictButtons(spool, reason) {
    return ['APROBADO', 'RECHAZADO'].map(function (resultado) {
      return actionButton('resultado-' + resultado, resultado, null, function () {
        send(spool, 'COMPLETAR', 'METROLOGIA', { resultado: resultado, motivo: reason ? choiceText() : null });
      }, resultado);
    });
  }

  // BLOQUEAR: one button per reason, and a note (required for OTRO).
  function holdQuestion(spool) {
    var note = choiceInput('bloqueo-nota', 'Nota (obligatoria para «Otro»)');
    var reasons = Z.texts.motivos().map(function (m) {
      return actionButton('motivo-' + m.codigo, m.descripcion, null, function () {
        if (m.codigo === 'OTRO' && !choiceText()) {
          say('error', 'Escriba en la nota por qué se bloquea el spool.');
          note.focus();
          return;
        }
        send(spool, 'BLOQUEAR', null, { motivo: m.codigo, nota: choiceText() || null });
      }, 'motivo');
    });
    return el('div', { 'class': 'choice' }, [
      el('p', { 'class': 'choice-title' }, ['¿Por qué se bloquea?']),
      el('div', { 'class': 'motivos' }, reasons.length ? reasons : [
        el('p', { 'class': 'card-hint' }, ['Cargando los motivos…'])
      ]),
      el('div', { 'class': 'choice-row' }, [note, cancelButton()])
    ]);
  }

  // A supervisor's PAUSAR or COMPLETAR of someone else's spool: why, first.
  function reasonQuestion(spool, accion, operacion) {
    var input = choiceInput('motivo-texto', 'Motivo');
    var verdict = accion === 'COMPLETAR' && operacion === 'METROLOGIA';
    var confirm = actionButton('motivo-confirmar', Z.texts.accion(accion), Z.texts.operacion(operacion), function () {
      if (!choiceText()) {
        say('error', 'Escriba el motivo antes de ' + (accion === 'PAUSAR' ? 'pausar' : 'completar') + '.');
        input.focus();
        return;
      }
      send(spool, accion, operacion, { motivo: choiceText() });
    }, accion);
    return el('div', { 'class': 'choice' }, [
      el('p', { 'class': 'choice-title' }, [
        '¿Por qué libera el spool de ' + (spool.ocupado_por_nombre || workerName(spool.ocupado_por)) + '?'
      ]),
      el('div', { 'class': 'choice-row' }, [input]),
      el('div', { 'class': 'actions' }, (verdict ? verdictButtons(spool, true) : [confirm]).concat([cancelButton()]))
    ]);
  }

  function question(spool) {
    var asked = state.choosing;
    if (!asked || !mayRelease(state.worker, spool)) { return null; }
    if (asked.accion === 'BLOQUEAR') {
      return spool.acciones.some(function (a) { return a.accion === 'BLOQUEAR'; }) ? holdQuestion(spool) : null;
    }
    if (spool.operacion_actual !== asked.operacion) { return null; }
    if (releasesOthers(state.worker, spool)) { return reasonQuestion(spool, asked.accion, asked.operacion); }
    if (asked.accion === 'COMPLETAR' && asked.operacion === 'METROLOGIA') {
      return el('div', { 'class': 'choice' }, [
        el('p', { 'class': 'choice-title' }, ['Resultado de la inspección']),
        el('div', { 'class': 'actions' }, verdictButtons(spool, false).concat([cancelButton()]))
      ]);
    }
    return null;
  }

  function cardActions(spool) {
    var actions;
    var hint;
    var asked = question(spool);
    if (asked) { return asked; }
    actions = visibleActions(spool);
    if (actions.length) {
      return el('div', { 'class': 'actions' }, actions.map(function (a) {
        return actionButton('action-' + a.accion, Z.texts.accion(a.accion),
          a.operacion ? Z.texts.operacion(a.operacion) : null,
          function () { tap(spool, a.accion, a.operacion); }, a.accion);
      }));
    }
    if (spool.estado === 'BLOQUEADO') {
      hint = 'Bloqueado: solo un supervisor puede desbloquearlo.';
    } else if (spool.ocupado_por && !mayRelease(state.worker, spool)) {
      hint = 'Solo ' + spool.ocupado_por_nombre + ' o un supervisor puede pausarlo o completarlo.';
    } else if (!state.operacion) {
      hint = 'Elija una operación para ver las acciones.';
    } else if (spool.acciones.some(function (a) { return a.operacion; })) {
      hint = 'Este spool espera: ' + spool.acciones.filter(function (a) { return a.operacion; }).map(function (a) {
        return Z.texts.operacion(a.operacion);
      }).filter(function (label, i, all) { return all.indexOf(label) === i; }).join(', ') + '.';
    } else {
      hint = 'Sin acciones pendientes.';
    }
    return el('p', { 'class': 'card-hint' }, [hint]);
  }

  function holderLine(spool) {
    if (spool.ocupado_por) {
      return el('p', { 'class': 'card-holder' }, [
        'Ocupado por ', el('strong', {}, [spool.ocupado_por_nombre || workerName(spool.ocupado_por)]),
        ' · ' + Z.texts.operacion(spool.operacion_actual) + ' · hace ', Z.ui.elapsed(spool.timestamp_ocupacion),
        ' (desde las ' + Z.clock.timeOfDay(spool.timestamp_ocupacion) + ')'
      ]);
    }
    return el('p', { 'class': 'card-holder' }, ['Libre']);
  }

  function renderCard() {
    var spool = currentSpool();
    var asked = state.choosing ? state.choosing.accion + ' ' + state.choosing.operacion : '';
    var key = spool ? [spool.tag_spool, spool.version, state.operacion, asked, state.busy].join('|') : '';
    if (key === state.cardKey) { return; }
    state.cardKey = key;
    Z.ui.clear(nodes.card);
    Z.ui.show(nodes.card, !!spool);
    if (!spool) { return; }
    nodes.card.className = 'card estado-' + spool.estado;
    nodes.card.setAttribute('data-estado', spool.estado);
    nodes.card.appendChild(el('div', { 'class': 'card-head' }, [
      el('span', { 'class': 'card-tag' }, [spool.tag_spool]),
      Z.ui.estadoBadge(spool.estado)
    ]));
    nodes.card.appendChild(holderLine(spool));
    if (spool.estado === 'BLOQUEADO') {
      nodes.card.appendChild(el('p', { 'class': 'card-hold', 'data-testid': 'bloqueo' }, [
        el('strong', {}, ['Bloqueado: ' + Z.texts.motivo(spool.bloqueo_motivo)]),
        spool.bloqueo_nota ? ' · «' + spool.bloqueo_nota + '»' : '',
        ' · hace ', Z.ui.elapsed(spool.bloqueo_desde),
        ' · vuelve a ' + Z.texts.estado(spool.estado_previo)
      ]));
    }
    nodes.card.appendChild(el('ul', { 'class': 'facts' }, [
      fact('Armado', spool.fecha_armado, spool.armador),
      fact('Soldadura', spool.fecha_soldadura, spool.soldador),
      fact('Metrología', spool.fecha_metrologia, spool.metrologo, spool.resultado_metrologia),
      spool.reparacion_ciclo ? fact('Reparaciones', String(spool.reparacion_ciclo)) : null
    ]));
    nodes.card.appendChild(cardActions(spool));
  }

  // ---- commands -----------------------------------------------------------------------

  function ask(spool, accion, operacion, text) {
    state.tag = spool.tag_spool;
    state.lookup = null;
    state.choosing = { accion: accion, operacion: operacion, text: '' };
    renderCard();
    // From Mis spools the card may be off screen, and the question is asked there.
    nodes.card.scrollIntoView(false);
    say('info', text);
  }

  function tap(spool, accion, operacion) {
    var reason = (accion === 'PAUSAR' || accion === 'COMPLETAR') && releasesOthers(state.worker, spool);
    if (state.busy) { return; }
    if (accion === 'BLOQUEAR') {
      ask(spool, accion, operacion, 'Elija el motivo del bloqueo.');
    } else if (reason) {
      ask(spool, accion, operacion, 'Escriba por qué libera el spool de ' + spool.ocupado_por_nombre + '.');
      nodes.card.querySelector('[data-testid=motivo-texto]').focus();
    } else if (accion === 'COMPLETAR' && operacion === 'METROLOGIA') {
      // Metrología is completed with a verdict: ask for it before sending anything.
      ask(spool, accion, operacion, '¿Aprobado o rechazado?');
    } else {
      send(spool, accion, operacion, {});
    }
  }

  function successText(accion, operacion, extra, spool) {
    var tag = spool.tag_spool;
    if (accion === 'TOMAR') { return 'Spool ' + tag + ' tomado para ' + Z.texts.operacion(operacion) + '.'; }
    if (accion === 'PAUSAR') { return 'Spool ' + tag + ' pausado: queda libre.'; }
    if (accion === 'BLOQUEAR') { return 'Spool ' + tag + ' bloqueado: ' + Z.texts.motivo(extra.motivo) + '.'; }
    if (accion === 'DESBLOQUEAR') {
      return 'Spool ' + tag + ' desbloqueado: vuelve a ' + Z.texts.estado(spool.estado) + '.';
    }
    if (extra.resultado) { return 'Metrología de ' + tag + ': ' + extra.resultado + '.'; }
    return Z.texts.operacion(operacion) + ' de ' + tag + ' ' + Z.texts.completado(operacion) + '.';
  }

  // SPEC §9: a conflict whose refreshed spool is held by someone else says so plainly.
  function conflictText(code, fresh, workerId) {
    if (code !== 'SPOOL_OCCUPIED' && code !== 'VERSION_CONFLICT') { return null; }
    if (fresh && fresh.ocupado_por === workerId) { return 'Este spool ya es suyo.'; }
    if (fresh && fresh.ocupado_por) { return Z.texts.CONFLICT + ' (' + fresh.ocupado_por_nombre + ').'; }
    return code === 'SPOOL_OCCUPIED' ? Z.texts.CONFLICT + '.' : null;
  }

  function refreshSpool(tag) {
    Z.api.spool(tag, function (res) {
      if (res.status === 200 && res.data) { feed.put([res.data]); }
    });
  }

  // extra: what the question asked (resultado, motivo, nota); empty values are left out.
  function send(spool, accion, operacion, extra) {
    var body = {
      tag_spool: spool.tag_spool,
      worker_id: state.worker.id,
      version: spool.version
    };
    var name;
    if (operacion) { body.operacion = operacion; }
    for (name in extra) {
      if (extra.hasOwnProperty(name) && extra[name]) { body[name] = extra[name]; }
    }
    state.busy = true;
    state.choosing = null;
    state.tag = spool.tag_spool;
    state.lookup = null;
    renderCard();
    renderMine();
    say('info', 'Enviando ' + Z.texts.accion(accion) + '…');
    Z.api.command(accion, body, state.token, function (attempt) {
      say('info', 'Sin respuesta del servidor. Reintentando (' + attempt + ')…');
    }, function (res) {
      state.busy = false;
      if (res.status === 200 && res.data && res.data.spool) {
        feed.put([res.data.spool]);
        say('ok', successText(accion, operacion, extra, res.data.spool));
      } else {
        failed(res, accion, body);
      }
      renderCard();
      renderMine();
      focusScanField();
    });
  }

  function failed(res, accion, body) {
    var problem = res.data || {};
    var code = problem.code;
    if (res.status === 401) {
      // Expired, signed out elsewhere, or a new PIN: only the worker can open a new session.
      state.token = null;
      changeWorker();
      say('error', Z.texts.problem('UNAUTHENTICATED'));
      return;
    }
    if (res.status === 0) {
      // The server may have applied it: the same tap is safe because it reuses its key.
      say('error', 'Sin respuesta del servidor: puede que no se haya guardado. Revise el Wi-Fi y toque ' +
        Z.texts.accion(accion) + ' de nuevo (no se aplicará dos veces).');
      return;
    }
    if (problem.spool) {
      feed.put([problem.spool]);
    } else if (SPOOL_REFRESH_CODES.indexOf(code) >= 0) {
      refreshSpool(body.tag_spool);
    }
    // Put on hold meanwhile: the tap carried a version, so the server may answer VERSION_CONFLICT
    // first (SPEC §5 order); the refreshed spool tells why as plainly as SPOOL_BLOCKED does.
    if ((code === 'SPOOL_BLOCKED' || code === 'VERSION_CONFLICT') && problem.spool &&
        problem.spool.estado === 'BLOQUEADO') {
      say('error', Z.texts.blocked(problem.spool.bloqueo_motivo));
      return;
    }
    say('error', conflictText(code, problem.spool, body.worker_id) || Z.texts.problem(code, res.status));
  }

  // ---- Mis spools ---------------------------------------------------------------------

  function mySpools() {
    var id = state.worker.id;
    return feed.list().filter(function (spool) { return spool.ocupado_por === id; })
      .sort(function (a, b) {
        return Z.clock.parseIso(a.timestamp_ocupacion) - Z.clock.parseIso(b.timestamp_ocupacion);
      });
  }

  function mineRow(spool) {
    var operacion = spool.operacion_actual;
    var open = el('button', { type: 'button', 'class': 'mine-open' }, [
      el('span', { 'class': 'mine-tag' }, [spool.tag_spool]),
      el('span', { 'class': 'mine-sub' }, [Z.texts.operacion(operacion) + ' · hace ', Z.ui.elapsed(spool.timestamp_ocupacion)])
    ]);
    open.addEventListener('click', function () { openSpool(spool.tag_spool); });
    return el('div', { 'class': 'mine-row', 'data-testid': 'mis-spool', 'data-tag': spool.tag_spool }, [
      open,
      el('div', { 'class': 'mine-actions' }, ['PAUSAR', 'COMPLETAR'].map(function (accion) {
        return actionButton('mis-spool-' + accion, Z.texts.accion(accion), null, function () {
          tap(spool, accion, operacion);
        }, accion);
      }))
    ]);
  }

  function renderMine() {
    var mine;
    var key;
    if (!state.worker) { return; }
    mine = mySpools();
    key = mine.map(function (s) { return s.version; }).join(',') + '|' + state.busy;
    if (key === state.mineKey) { return; }
    state.mineKey = key;
    nodes.mineCount.textContent = mine.length ? '(' + mine.length + ')' : '';
    Z.ui.clear(nodes.mine);
    if (!mine.length) {
      nodes.mine.appendChild(el('p', { 'class': 'empty' }, ['No tiene spools ocupados.']));
    }
    mine.forEach(function (spool) { nodes.mine.appendChild(mineRow(spool)); });
  }

  // ---- wiring -------------------------------------------------------------------------

  function onFeedChange(tags) {
    if (!state.worker) { return; }
    if (state.tag && (tags === null || tags.indexOf(state.tag) >= 0)) { renderCard(); }
    renderMine();
  }

  // A keyboard-wedge scanner types wherever the focus is; after a tap on a button that is
  // the button, so printable keys are sent back to the scan field.
  function onKeyDown(event) {
    var target = event.target;
    var code = event.keyCode;
    var printable = (code >= 48 && code <= 90) || (code >= 96 && code <= 111) || (code >= 186 && code <= 222);
    if (state.pinWorker && !state.worker) {
      onPinKey(event);
      return;
    }
    if (!printable || event.ctrlKey || event.altKey || event.metaKey) { return; }
    if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA')) { return; }
    focusScanField();
  }

  function start() {
    nodes = {
      message: Z.ui.byId('message'),
      connection: Z.ui.byId('connection'),
      who: Z.ui.byId('who'),
      changeWorker: Z.ui.byId('change-worker'),
      stepWorker: Z.ui.byId('step-worker'),
      stepPin: Z.ui.byId('step-pin'),
      pinWorker: Z.ui.byId('pin-worker'),
      pinDots: Z.ui.byId('pin-dots'),
      pinOk: Z.ui.byId('pin-ok'),
      pinBorrar: Z.ui.byId('pin-borrar'),
      stepWork: Z.ui.byId('step-work'),
      workerInput: Z.ui.byId('worker-input'),
      workerList: Z.ui.byId('worker-list'),
      tagInput: Z.ui.byId('tag-input'),
      card: Z.ui.byId('spool-card'),
      mine: Z.ui.byId('mis-spools'),
      mineCount: Z.ui.byId('mine-count'),
      operations: {}
    };
    OPERATIONS.forEach(function (op) {
      var button = Z.ui.byId('operation-' + op);
      nodes.operations[op] = button;
      button.addEventListener('click', function () { selectOperation(op); });
    });
    Array.prototype.forEach.call(document.querySelectorAll('#pin-pad [data-digit]'), function (key) {
      key.addEventListener('click', function () { pinDigit(key.getAttribute('data-digit')); });
    });
    nodes.pinOk.addEventListener('click', pinOk);
    nodes.pinBorrar.addEventListener('click', pinBorrar);
    Z.ui.byId('pin-back').addEventListener('click', changeWorker);
    Z.ui.keepToken(Z.ui.byId('board-link'));
    Z.ui.byId('worker-form').addEventListener('submit', onWorkerForm);
    Z.ui.byId('tag-form').addEventListener('submit', onTagForm);
    nodes.changeWorker.addEventListener('click', changeWorker);
    document.addEventListener('keydown', onKeyDown);
    ['touchstart', 'mousedown', 'keydown'].forEach(function (type) {
      document.addEventListener(type, stillHere, true);
    });

    feed = new Z.Feed({
      onChange: onFeedChange,
      onState: function (connection, info) {
        Z.ui.showConnection(nodes.connection, connection, info);
      }
    });
    feed.start();
    setInterval(Z.ui.tickElapsed, TICK_MS);
    loadMotivos();
    changeWorker();
  }

  start();
}(window.ZEUES = window.ZEUES || {}));
