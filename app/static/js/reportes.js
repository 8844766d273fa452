/* ZEUES reportes: the §14 figures of a range of dates as tables and bar charts drawn here in SVG. */
(function (Z) {
  'use strict';

  var el = Z.ui.el;
  var SVG = 'http://www.w3.org/2000/svg';
  var OPERACIONES = ['ARM', 'SOLD', 'METROLOGIA', 'REPARACION'];
  // A year's log takes the server about a second; a busy server or slow Wi-Fi gets more.
  var REPORT_TIMEOUT_MS = 60000;
  // More bars than this are unreadable on a tablet: days are then grouped, several to a bar.
  var MAX_BARRAS = 60;
  var DIA_MS = 24 * 60 * 60 * 1000;
  // A chart is drawn in its box's own pixels, so its text keeps the page's size on a half-width
  // chart too; on paper the SVG scales to the sheet, keeping its proportions.
  var ANCHO_MINIMO = 300;
  var ALTO = 260;
  var BARRA_MAXIMA = 90;
  var MARGEN = { izquierda: 52, derecha: 10, arriba: 22, abajo: 36 };
  var REDIBUJAR_MS = 200;

  var nodos;
  var carga = 0; // the answers of an older request are dropped when a newer one was sent
  var dibujados = []; // [contenedor, datos] of every chart, redrawn when the screen turns

  // --- dates (YYYY-MM-DD, plant dates: counted in UTC so the tablet's zone never shifts them) ---

  function parseFecha(texto) {
    var m = /^(\d{4})-(\d\d)-(\d\d)$/.exec(texto || '');
    return m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : NaN;
  }

  function dos(n) {
    return (n < 10 ? '0' : '') + n;
  }

  function fechaIso(ms) {
    var d = new Date(ms);
    return d.getUTCFullYear() + '-' + dos(d.getUTCMonth() + 1) + '-' + dos(d.getUTCDate());
  }

  function fechaCorta(texto) {
    var d = new Date(parseFecha(texto));
    return dos(d.getUTCDate()) + '/' + dos(d.getUTCMonth() + 1);
  }

  function fechaLarga(texto) {
    return fechaCorta(texto) + '/' + texto.substr(0, 4);
  }

  // --- numbers, the Spanish way ----------------------------------------------------------------

  function numero(valor, decimales) {
    if (valor === null || valor === undefined) { return '–'; }
    return valor.toFixed(decimales).replace('.', ',');
  }

  function horas(valor) {
    return numero(valor, 1);
  }

  function porcentaje(fraccion) {
    return fraccion === null || fraccion === undefined ? '–' : numero(fraccion * 100, 1) + ' %';
  }

  // A round top for the value axis: 1, 2 or 5 times a power of ten.
  function techo(maximo) {
    var potencia = Math.pow(10, Math.floor(Math.log(maximo) / Math.LN10));
    var pasos = [1, 2, 5, 10];
    var i;
    for (i = 0; i < pasos.length; i += 1) {
      if (pasos[i] * potencia >= maximo) { return pasos[i] * potencia; }
    }
    return 10 * potencia;
  }

  // --- charts ------------------------------------------------------------------------------------

  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG, tag);
    var name;
    for (name in attrs) {
      if (attrs.hasOwnProperty(name)) { node.setAttribute(name, attrs[name]); }
    }
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  // datos: {titulo, barras: [{etiqueta, partes: [{valor, clase, nombre}]}], formato, maximo?, vacio,
  // leyenda?: [{clase, nombre}]}. Stacked bars, a value axis with two guides, a label under each
  // bar (every few bars when there are many).
  function barras(contenedor, datos) {
    var totales = datos.barras.map(function (barra) {
      return barra.partes.reduce(function (suma, parte) { return suma + (parte.valor || 0); }, 0);
    });
    var mayor = Math.max.apply(null, totales.concat([0]));
    var lienzo = Math.max(ANCHO_MINIMO, contenedor.clientWidth - 16);
    var ancho = lienzo - MARGEN.izquierda - MARGEN.derecha;
    var alto = ALTO - MARGEN.arriba - MARGEN.abajo;
    var paso = ancho / Math.max(1, datos.barras.length);
    var grueso = Math.min(paso * 0.7, BARRA_MAXIMA);
    var cadaEtiqueta = Math.ceil(datos.barras.length / Math.max(2, Math.floor(ancho / 64)));
    var tope;
    var raiz;

    recordar(contenedor, datos);
    Z.ui.clear(contenedor);
    if (mayor <= 0) {
      contenedor.appendChild(el('p', { 'class': 'empty chart-vacio' }, [datos.vacio]));
      return;
    }
    tope = datos.maximo || techo(mayor);
    raiz = svg('svg', {
      'viewBox': '0 0 ' + lienzo + ' ' + ALTO,
      'width': '100%',
      'class': 'chart-svg',
      'role': 'img',
      'aria-label': datos.titulo
    });
    [0.5, 1].forEach(function (fraccion) {
      var y = MARGEN.arriba + alto * (1 - fraccion);
      raiz.appendChild(svg('path', { 'class': 'guia', 'd': 'M' + MARGEN.izquierda + ' ' + y + 'H' + (lienzo - MARGEN.derecha) }));
      raiz.appendChild(svg('text', { 'class': 'eje-valor', 'x': MARGEN.izquierda - 6, 'y': y + 5 }, [datos.formato(tope * fraccion)]));
    });
    raiz.appendChild(svg('path', {
      'class': 'eje',
      'd': 'M' + MARGEN.izquierda + ' ' + MARGEN.arriba + 'V' + (MARGEN.arriba + alto) + 'H' + (lienzo - MARGEN.derecha)
    }));
    datos.barras.forEach(function (barra, i) {
      var x = MARGEN.izquierda + paso * i + (paso - grueso) / 2;
      var base = MARGEN.arriba + alto;
      barra.partes.forEach(function (parte) {
        var h = alto * Math.min(parte.valor || 0, tope) / tope;
        if (h <= 0) { return; }
        base -= h;
        raiz.appendChild(svg('rect', {
          'class': 'barra ' + parte.clase,
          'x': x.toFixed(1),
          'y': base.toFixed(1),
          'width': grueso.toFixed(1),
          'height': h.toFixed(1)
        }, [svg('title', {}, [parte.nombre + ' · ' + barra.etiqueta + ': ' + datos.formato(parte.valor)])]));
      });
      if (totales[i] > 0 && datos.barras.length <= 31) {
        raiz.appendChild(svg('text', { 'class': 'valor', 'x': (x + grueso / 2).toFixed(1), 'y': (base - 5).toFixed(1) },
          [datos.formato(totales[i])]));
      }
      if (i % cadaEtiqueta === 0) {
        raiz.appendChild(svg('text', { 'class': 'etiqueta', 'x': (x + grueso / 2).toFixed(1), 'y': ALTO - MARGEN.abajo + 20 },
          [barra.etiqueta]));
      }
    });
    contenedor.appendChild(raiz);
    if (datos.leyenda) {
      contenedor.appendChild(el('p', { 'class': 'leyenda' }, datos.leyenda.map(function (item) {
        return el('span', { 'class': 'leyenda-item' }, [el('span', { 'class': 'muestra ' + item.clase }), item.nombre]);
      })));
    }
  }

  function recordar(contenedor, datos) {
    var i;
    for (i = 0; i < dibujados.length; i += 1) {
      if (dibujados[i][0] === contenedor) { dibujados[i][1] = datos; return; }
    }
    dibujados.push([contenedor, datos]);
  }

  // After a turn of the tablet (or a resize), once it settles: each chart in its new width.
  var esperaRedibujo = null;
  function redibujar() {
    clearTimeout(esperaRedibujo);
    esperaRedibujo = setTimeout(function () {
      dibujados.forEach(function (par) { barras(par[0], par[1]); });
    }, REDIBUJAR_MS);
  }

  function leyendaOperaciones() {
    return OPERACIONES.map(function (op) { return { clase: 'seg-' + op, nombre: Z.texts.operacion(op) }; });
  }

  // Every day of the range, grouped so that no more than MAX_BARRAS bars are drawn.
  function chartCompletadas(resumen) {
    var desde = parseFecha(resumen.desde);
    var dias = Math.round((parseFecha(resumen.hasta) - desde) / DIA_MS) + 1;
    var grupo = Math.ceil(dias / MAX_BARRAS);
    var porFecha = {};
    var lista = [];
    var inicio;
    var d;
    resumen.completadas_por_dia.forEach(function (dia) { porFecha[dia.fecha] = dia; });
    for (inicio = 0; inicio < dias; inicio += grupo) {
      var suma = { ARM: 0, SOLD: 0, METROLOGIA: 0, REPARACION: 0 };
      for (d = inicio; d < Math.min(dias, inicio + grupo); d += 1) {
        var dia = porFecha[fechaIso(desde + d * DIA_MS)];
        if (dia) { OPERACIONES.forEach(function (op) { suma[op] += dia[op]; }); }
      }
      lista.push({ etiqueta: fechaCorta(fechaIso(desde + inicio * DIA_MS)), suma: suma });
    }
    nodos.completadasGrupo.textContent = grupo > 1 ? '(cada barra, ' + grupo + ' días)' : '';
    barras(nodos.chartCompletadas, {
      titulo: 'Completadas por ' + (grupo > 1 ? grupo + ' días' : 'día'),
      barras: lista.map(function (item) {
        return {
          etiqueta: item.etiqueta,
          partes: OPERACIONES.map(function (op) {
            return { valor: item.suma[op], clase: 'seg-' + op, nombre: Z.texts.operacion(op) };
          })
        };
      }),
      formato: function (v) { return numero(v, 0); },
      vacio: 'Ninguna operación completada en estas fechas.',
      leyenda: leyendaOperaciones()
    });
  }

  function chartHoras(resumen) {
    barras(nodos.chartHoras, {
      titulo: 'Horas activas por operación',
      barras: resumen.operaciones.map(function (fila) {
        return {
          etiqueta: Z.texts.operacion(fila.operacion),
          partes: [{ valor: fila.horas_activas, clase: 'seg-' + fila.operacion, nombre: 'Horas' }]
        };
      }),
      formato: horas,
      vacio: 'Nadie trabajó un spool en estas fechas.'
    });
  }

  function chartPrimeraPasada(resumen) {
    barras(nodos.chartPrimeraPasada, {
      titulo: 'Primera pasada por semana',
      barras: resumen.primera_pasada_por_semana.map(function (semana) {
        return {
          etiqueta: fechaCorta(semana.semana),
          partes: [{
            valor: semana.primera_pasada * 100,
            clase: 'seg-primera',
            nombre: semana.aprobados + ' de ' + semana.spools + ' spools'
          }]
        };
      }),
      maximo: 100,
      formato: function (v) { return numero(v, 0) + ' %'; },
      vacio: 'Ningún spool tuvo su primera inspección en estas fechas.'
    });
  }

  // --- tables ------------------------------------------------------------------------------------

  function fila(celdas, attrs) {
    return el('tr', attrs || {}, celdas.map(function (celda) {
      return el('td', { 'class': typeof celda === 'string' && /^[\d–]/.test(celda) ? 'num' : null }, [celda]);
    }));
  }

  function tablaOperaciones(resumen) {
    Z.ui.clear(nodos.operaciones);
    resumen.operaciones.forEach(function (op) {
      nodos.operaciones.appendChild(fila([
        Z.texts.operacion(op.operacion),
        String(op.completadas),
        horas(op.horas_activas),
        horas(op.mediana_horas_por_spool),
        horas(op.horas_espera_mediana),
        op.primera_pasada === null ? '–' : porcentaje(op.primera_pasada) + ' de ' + op.primera_pasada_spools,
        op.rechazos === null ? '–' : String(op.rechazos)
      ], { 'data-testid': 'fila-operacion', 'data-operacion': op.operacion }));
    });
  }

  function tablaEnCurso(resumen) {
    var filas = resumen.en_curso.filter(function (estado) { return estado.spools > 0; });
    Z.ui.clear(nodos.enCurso);
    filas.forEach(function (estado) {
      nodos.enCurso.appendChild(fila([
        Z.ui.estadoBadge(estado.estado),
        String(estado.spools),
        estado.edad_horas_mediana === null ? '–' : horas(estado.edad_horas_mediana) + ' h',
        estado.tag_mas_antiguo ? estado.tag_mas_antiguo + ' (' + horas(estado.edad_horas_max) + ' h)' : '–'
      ], { 'data-estado': estado.estado }));
    });
    if (!filas.length) {
      nodos.enCurso.appendChild(el('tr', {}, [el('td', { 'colspan': '4', 'class': 'empty' }, ['Nada en curso.'])]));
    }
  }

  function tablaTrabajadores(respuesta) {
    Z.ui.clear(nodos.trabajadores);
    respuesta.trabajadores.forEach(function (w) {
      var celdas = [w.nombre || '#' + w.worker_id];
      w.operaciones.forEach(function (op) {
        celdas.push(op.completadas || op.horas_activas ? op.completadas + ' · ' + horas(op.horas_activas) + ' h' : '–');
      });
      celdas.push(w.soldaduras_inspeccionadas === null ? '–' :
        w.soldaduras_rechazadas + ' de ' + w.soldaduras_inspeccionadas);
      nodos.trabajadores.appendChild(fila(celdas, { 'data-testid': 'fila-trabajador', 'data-worker': w.worker_id }));
    });
  }

  // --- loading ------------------------------------------------------------------------------------

  function estado(state, texto) {
    nodos.estado.setAttribute('data-state', state);
    nodos.estado.className = 'message ' + (state === 'error' ? 'message-error' : 'message-info');
    nodos.estado.textContent = texto;
  }

  function problema(res) {
    var data = res.data || {};
    if (data.code === 'VALIDATION_ERROR' && data.detail) { return 'Fechas no válidas: ' + data.detail; }
    return Z.texts.problem(data.code, res.status);
  }

  function consulta(desde, hasta) {
    return '?desde=' + encodeURIComponent(desde) + '&hasta=' + encodeURIComponent(hasta);
  }

  function pedir(url, done) {
    Z.http.request({ url: url, timeoutMs: REPORT_TIMEOUT_MS }, done);
  }

  // One report after the other: each reads the whole log, and the server's one worker does one at a time.
  function cargar(desde, hasta) {
    var esta = carga += 1;
    var q = desde && hasta ? consulta(desde, hasta) : '';
    estado('cargando', 'Calculando…');
    pedir('/api/reportes/resumen' + q, function (res) {
      if (esta !== carga) { return; }
      if (res.status !== 200) { estado('error', problema(res)); return; }
      mostrarResumen(res.data);
      pedir('/api/reportes/trabajadores' + consulta(res.data.desde, res.data.hasta), function (otra) {
        if (esta !== carga) { return; }
        if (otra.status !== 200) { estado('error', problema(otra)); return; }
        tablaTrabajadores(otra.data);
        estado('listo', 'Datos calculados a las ' + Z.clock.timeOfDay(res.data.generado) + '.');
      });
    });
  }

  function mostrarResumen(resumen) {
    var q = consulta(resumen.desde, resumen.hasta);
    nodos.desde.value = resumen.desde;
    nodos.hasta.value = resumen.hasta;
    nodos.periodo.textContent = fechaLarga(resumen.desde) + ' – ' + fechaLarga(resumen.hasta);
    nodos.csvResumen.setAttribute('href', '/api/reportes/resumen' + q + '&formato=csv');
    nodos.csvTrabajadores.setAttribute('href', '/api/reportes/trabajadores' + q + '&formato=csv');
    if (window.history && window.history.replaceState) {
      // A page opened with a read token (?token=, SPEC §11) keeps it, so a reload still reads.
      window.history.replaceState(null, '', '/reportes' + q + (Z.http.pageToken ?
        '&token=' + encodeURIComponent(Z.http.pageToken) : ''));
    }
    tablaOperaciones(resumen);
    chartCompletadas(resumen);
    chartHoras(resumen);
    chartPrimeraPasada(resumen);
    tablaEnCurso(resumen);
  }

  function parametro(nombre) {
    var m = new RegExp('[?&]' + nombre + '=([^&]*)').exec(window.location.search);
    return m ? decodeURIComponent(m[1]) : '';
  }

  function atajo(dias) {
    var hasta = parseFecha(nodos.hasta.value);
    if (isNaN(hasta)) { return; }
    nodos.desde.value = fechaIso(hasta - (dias - 1) * DIA_MS);
    cargar(nodos.desde.value, nodos.hasta.value);
  }

  // --- one spool's timeline -------------------------------------------------------------------------

  function momento(iso) {
    var ms = Z.clock.parseIso(iso);
    var d = new Date(ms);
    return dos(d.getDate()) + '/' + dos(d.getMonth() + 1) + ' ' + Z.clock.clockTime(ms);
  }

  function lineaDeTiempo(tag) {
    var destino = nodos.spoolLinea;
    Z.ui.clear(destino);
    // Printed only once it shows a spool.
    Z.ui.byId('seccion-spool').className = 'bloque seccion-spool con-linea';
    destino.appendChild(el('p', { 'class': 'muted' }, ['Buscando ' + tag + '…']));
    pedir('/api/reportes/spools/' + encodeURIComponent(tag), function (res) {
      Z.ui.clear(destino);
      if (res.status !== 200) {
        destino.appendChild(el('p', { 'class': 'message message-error' }, [Z.texts.problem(res.data && res.data.code, res.status)]));
        return;
      }
      destino.appendChild(el('p', {}, [el('strong', {}, [res.data.tag_spool]), ' ', Z.ui.estadoBadge(res.data.estado)]));
      if (!res.data.tramos.length) {
        destino.appendChild(el('p', { 'class': 'empty' }, ['Sin eventos registrados.']));
        return;
      }
      destino.appendChild(el('p', { 'class': 'resumen-estados' }, res.data.horas_por_estado.map(function (item) {
        return el('span', { 'class': 'resumen-estado' }, [Z.texts.estado(item.estado), ': ', horas(item.horas), ' h']);
      })));
      destino.appendChild(el('table', { 'class': 'reporte' }, [
        el('thead', {}, [el('tr', {}, [el('th', {}, ['Desde']), el('th', {}, ['Estado']), el('th', {}, ['Horas']),
          el('th', {}, ['Evento']), el('th', {}, ['Trabajador'])])]),
        el('tbody', {}, res.data.tramos.map(function (tramo) {
          return fila([momento(tramo.desde), Z.ui.estadoBadge(tramo.estado), horas(tramo.horas),
            tramo.evento_tipo, tramo.worker_nombre], { 'data-testid': 'tramo' });
        }))
      ]));
    });
  }

  // With read tokens (ZEUES_READ_AUTH=token) a plain link to a CSV would go without the token, which
  // travels in a header only (http.js): the page fetches the file itself and hands it to the browser
  // to save, under the name the server gives it.
  function descargaConToken(link) {
    link.addEventListener('click', function (event) {
      var url = link.getAttribute('href');
      event.preventDefault();
      estado('cargando', 'Preparando el archivo…');
      Z.http.request({ url: url, blob: true, accept: 'text/csv', timeoutMs: REPORT_TIMEOUT_MS }, function (res) {
        var nombre = /filename="([^"]+)"/.exec(res.header('Content-Disposition') || '');
        var guardar;
        if (res.status !== 200 || !res.data) {
          estado('error', Z.texts.problem(null, res.status));
          return;
        }
        guardar = el('a', { 'href': window.URL.createObjectURL(res.data), 'download': nombre ? nombre[1] : 'zeues.csv' });
        document.body.appendChild(guardar);
        guardar.click();
        document.body.removeChild(guardar);
        setTimeout(function () { window.URL.revokeObjectURL(guardar.href); }, 0);
        estado('listo', 'Archivo descargado.');
      });
    });
  }

  function start() {
    var atajos;
    var i;
    nodos = {
      estado: Z.ui.byId('estado'),
      periodo: Z.ui.byId('periodo'),
      desde: Z.ui.byId('desde'),
      hasta: Z.ui.byId('hasta'),
      operaciones: Z.ui.byId('operaciones'),
      enCurso: Z.ui.byId('en-curso'),
      trabajadores: Z.ui.byId('trabajadores'),
      chartCompletadas: Z.ui.byId('chart-completadas'),
      chartHoras: Z.ui.byId('chart-horas'),
      chartPrimeraPasada: Z.ui.byId('chart-primera-pasada'),
      completadasGrupo: Z.ui.byId('completadas-grupo'),
      csvResumen: Z.ui.byId('csv-resumen'),
      csvTrabajadores: Z.ui.byId('csv-trabajadores'),
      spoolLinea: Z.ui.byId('spool-linea')
    };
    Z.ui.byId('filtros').addEventListener('submit', function (event) {
      event.preventDefault();
      cargar(nodos.desde.value, nodos.hasta.value);
    });
    atajos = document.querySelectorAll('[data-dias]');
    for (i = 0; i < atajos.length; i += 1) {
      atajos[i].addEventListener('click', function () { atajo(parseInt(this.getAttribute('data-dias'), 10)); });
    }
    Z.ui.byId('imprimir').addEventListener('click', function () { window.print(); });
    if (Z.http.pageToken) {
      descargaConToken(nodos.csvResumen);
      descargaConToken(nodos.csvTrabajadores);
    }
    window.addEventListener('resize', redibujar);
    Z.ui.byId('spool-form').addEventListener('submit', function (event) {
      var tag = Z.ui.byId('spool-tag').value.replace(/^\s+|\s+$/g, '');
      event.preventDefault();
      if (tag) { lineaDeTiempo(tag); }
    });
    cargar(parametro('desde'), parametro('hasta'));
  }

  start();
}(window.ZEUES = window.ZEUES || {}));
