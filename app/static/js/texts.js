/* ZEUES texts: every Spanish word the pages show, including one message per API error code. */
(function (Z) {
  'use strict';

  // In the order a spool flows through the shop, which is also the board's order; a hold
  // (SPEC §13) can stop a spool anywhere, so it comes last.
  var ESTADOS = [
    ['DISPONIBLE', 'Disponible'],
    ['OCUPADO_ARM', 'En armado'],
    ['ARM_COMPLETADO', 'Armado completo'],
    ['OCUPADO_SOLD', 'En soldadura'],
    ['SOLD_COMPLETADO', 'Soldadura completa'],
    ['OCUPADO_METROLOGIA', 'En metrología'],
    ['APROBADO', 'Aprobado'],
    ['RECHAZADO', 'Rechazado'],
    ['EN_REPARACION', 'En reparación'],
    ['BLOQUEADO', 'Bloqueado']
  ];

  var OPERACIONES = {
    ARM: 'Armado',
    SOLD: 'Soldadura',
    METROLOGIA: 'Metrología',
    REPARACION: 'Reparación'
  };

  // The participle agrees with the operation's noun: "Armado … completado", "Soldadura …
  // completada".
  var COMPLETADO = {
    ARM: 'completado',
    SOLD: 'completada',
    METROLOGIA: 'completada',
    REPARACION: 'completada'
  };

  var ROLES = {
    ARMADOR: 'Armador',
    SOLDADOR: 'Soldador',
    METROLOGIA: 'Metrología',
    SUPERVISOR: 'Supervisor'
  };

  var ACCIONES = {
    TOMAR: 'TOMAR',
    PAUSAR: 'PAUSAR',
    COMPLETAR: 'COMPLETAR',
    BLOQUEAR: 'BLOQUEAR',
    DESBLOQUEAR: 'DESBLOQUEAR'
  };

  var ALERTAS = {
    OCUPACION_LARGA: 'Ocupado hace mucho',
    BLOQUEO_LARGO: 'Bloqueado hace mucho'
  };

  var CONFLICT = 'Otro trabajador tomó este spool';

  // One sentence per SPEC §5 code, written for someone holding a scanner, not a developer.
  var ERRORS = {
    VALIDATION_ERROR: 'Dato no válido. Revise el código escaneado e intente de nuevo.',
    NOT_FOUND: 'No se encontró el spool o el trabajador. Revise el código.',
    METHOD_NOT_ALLOWED: 'El servidor no acepta esta acción. Avise al supervisor.',
    WORKER_INACTIVE: 'Trabajador inactivo. Consulte con su supervisor.',
    ROLE_NOT_AUTHORIZED: 'Su rol no le permite esta operación.',
    NOT_HOLDER: 'Este spool lo tiene otro trabajador: solo él o un supervisor puede pausarlo o completarlo.',
    SPOOL_OCCUPIED: CONFLICT,
    SPOOL_BLOCKED: 'Este spool está bloqueado: solo un supervisor puede desbloquearlo.',
    INVALID_TRANSITION: 'Esta acción ya no corresponde al estado del spool. Revise el estado actual.',
    VERSION_CONFLICT: 'El spool cambió mientras tanto. Revise el estado actual y vuelva a tocar.',
    IDEMPOTENCY_KEY_REUSED: 'No se pudo repetir la acción. Tóquela de nuevo.',
    PAYLOAD_TOO_LARGE: 'Datos demasiado largos. Revise el código escaneado.',
    SOURCE_UNAVAILABLE: 'La planilla no responde. Intente de nuevo en unos segundos.',
    UNAUTHENTICATED: 'Su sesión terminó. Toque su nombre e ingrese su PIN de nuevo.',
    INVALID_CREDENTIALS: 'PIN incorrecto. Intente de nuevo.',
    FORBIDDEN: 'No tiene permiso para esta acción. Avise al supervisor.',
    TOO_MANY_ATTEMPTS: 'Demasiados intentos fallidos. Espere unos minutos e intente de nuevo.',
    PIN_NOT_SET: 'Usted todavía no tiene PIN. Pida uno a su supervisor.',
    INTERNAL: 'Error del servidor. Intente de nuevo o avise al supervisor.',
    NETWORK: 'Sin conexión con el servidor. Revise el Wi-Fi y toque de nuevo.'
  };

  var ESTADO_LABELS = {};
  ESTADOS.forEach(function (pair) { ESTADO_LABELS[pair[0]] = pair[1]; });

  // The reasons for a hold come from the server (GET /api/motivos): the office may add its own.
  var motivos = [];
  var MOTIVO_LABELS = {};

  function setMotivos(list) {
    motivos = list;
    MOTIVO_LABELS = {};
    list.forEach(function (m) { MOTIVO_LABELS[m.codigo] = m.descripcion; });
  }

  // SPOOL_BLOCKED names the hold's reason: say which, in the office's words.
  function blocked(codigo) {
    return 'Este spool está bloqueado (' + motivo(codigo) + '): solo un supervisor puede desbloquearlo.';
  }

  function motivo(codigo) {
    return MOTIVO_LABELS[codigo] || codigo || '';
  }

  function problem(code, status) {
    if (ERRORS[code]) { return ERRORS[code]; }
    if (!status) { return ERRORS.NETWORK; }
    return status >= 500 ? ERRORS.INTERNAL : 'Error inesperado (' + status + '). Avise al supervisor.';
  }

  function fullName(worker) {
    return worker ? worker.nombre + ' ' + worker.apellido : '';
  }

  Z.texts = {
    ESTADOS: ESTADOS.map(function (pair) { return pair[0]; }),
    CONFLICT: CONFLICT,
    estado: function (code) { return ESTADO_LABELS[code] || code; },
    operacion: function (code) { return OPERACIONES[code] || code; },
    completado: function (code) { return COMPLETADO[code] || 'completado'; },
    rol: function (code) { return ROLES[code] || code; },
    accion: function (code) { return ACCIONES[code] || code; },
    alerta: function (code) { return ALERTAS[code] || code; },
    motivo: motivo,
    motivos: function () { return motivos; },
    setMotivos: setMotivos,
    blocked: blocked,
    problem: problem,
    fullName: fullName
  };
}(window.ZEUES = window.ZEUES || {}));
