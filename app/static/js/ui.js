/* ZEUES ui: small DOM helpers shared by the station and the board (no innerHTML: sheet text is untrusted). */
(function (Z) {
  'use strict';

  // el('button', {'class': 'big', 'data-testid': 'x'}, ['text', childNode])
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    var name;
    for (name in attrs || {}) {
      if (attrs.hasOwnProperty(name) && attrs[name] !== null && attrs[name] !== undefined) {
        node.setAttribute(name, attrs[name]);
      }
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === '') { return; }
      node.appendChild(typeof child === 'string' || typeof child === 'number' ?
        document.createTextNode(String(child)) : child);
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
  }

  function byId(id) {
    return document.getElementById(id);
  }

  // The hidden attribute, not an inline style: the pages' Content-Security-Policy allows no style
  // attribute in the HTML, and their first state is written with it.
  function show(node, visible) {
    if (visible) {
      node.removeAttribute('hidden');
    } else {
      node.setAttribute('hidden', '');
    }
  }

  // A link to the other page keeps the page's read token (?token=, SPEC §11), so a board opened
  // with one can reach the station and back.
  function keepToken(link) {
    if (Z.http.pageToken) {
      link.setAttribute('href', link.getAttribute('href') + '?token=' + encodeURIComponent(Z.http.pageToken));
    }
  }

  // A span that keeps saying how long ago `iso` was; see tickElapsed.
  function elapsed(iso) {
    return el('span', { 'class': 'js-elapsed', 'data-since': iso }, [Z.clock.elapsedSince(iso)]);
  }

  // Only the time texts are rewritten: rebuilding the buttons every few seconds would eat
  // taps that land mid-rebuild.
  function tickElapsed() {
    var nodes = document.querySelectorAll('.js-elapsed');
    var i;
    for (i = 0; i < nodes.length; i += 1) {
      nodes[i].textContent = Z.clock.elapsedSince(nodes[i].getAttribute('data-since'));
    }
  }

  function estadoBadge(estado) {
    return el('span', { 'class': 'badge estado-' + estado }, [Z.texts.estado(estado)]);
  }

  // The connection indicator: data-state online/offline is the hook; the text is for people.
  function showConnection(node, state, info) {
    node.setAttribute('data-state', state);
    node.textContent = state === 'online' ? 'En línea' : info.connecting ? 'Conectando…' : 'Sin conexión';
    document.body.className = document.body.className.replace(/\s*is-offline/g, '') +
      (state === 'online' ? '' : ' is-offline');
  }

  Z.ui = {
    el: el,
    clear: clear,
    byId: byId,
    show: show,
    keepToken: keepToken,
    elapsed: elapsed,
    tickElapsed: tickElapsed,
    estadoBadge: estadoBadge,
    showConnection: showConnection
  };
}(window.ZEUES = window.ZEUES || {}));
