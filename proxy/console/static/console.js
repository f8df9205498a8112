// loopguard console: buttons call the admin API (as curl would) with the
// session's CSRF header; the decisions list refreshes itself. No framework,
// nothing loaded from elsewhere.
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="loopguard-csrf"]');
  var csrf = meta ? meta.content : '';

  function flash(msg, bad) {
    var f = document.getElementById('flash');
    if (!f) return;
    f.textContent = msg;
    f.className = bad ? 'error' : 'ok';
    f.hidden = false;
  }

  // A message saved before a reload is shown after it.
  try {
    var saved = sessionStorage.getItem('loopguard-flash');
    if (saved) {
      sessionStorage.removeItem('loopguard-flash');
      var o = JSON.parse(saved);
      flash(o.msg, o.bad);
    }
  } catch (e) { /* storage unavailable: no message */ }

  function api(method, path) {
    return fetch(path, {
      method: method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'X-Loopguard-Csrf': csrf, 'Accept': 'application/json' }
    });
  }

  function toLogin() {
    location.href = '/ui/login?next=' + encodeURIComponent(location.pathname + location.search);
  }

  function errorText(text) {
    try { var j = JSON.parse(text); if (j && j.error) return j.error; } catch (e) { /* not JSON */ }
    return text.trim().slice(0, 300);
  }

  // Action buttons: data-method, data-path (the admin API call), data-done
  // (message), data-then (where to go after; default: reload), data-confirm
  // (a second click is needed, the button showing this text).
  document.addEventListener('click', function (ev) {
    var b = ev.target.closest('button.act');
    if (!b) return;
    if (b.dataset.confirm && b.dataset.armed !== '1') {
      b.dataset.armed = '1';
      b.textContent = b.dataset.confirm;
      return;
    }
    b.disabled = true;
    api(b.dataset.method, b.dataset.path).then(function (resp) {
      if (resp.status === 401) { toLogin(); return; }
      return resp.text().then(function (text) {
        if (!resp.ok) {
          b.disabled = false;
          flash(b.dataset.method + ' ' + b.dataset.path + ': ' + resp.status + ' ' + errorText(text), true);
          return;
        }
        try { sessionStorage.setItem('loopguard-flash', JSON.stringify({ msg: b.dataset.done || 'done' })); } catch (e) { /* no message */ }
        if (b.dataset.then) location.href = b.dataset.then; else location.reload();
      });
    }).catch(function (e) { b.disabled = false; flash(String(e), true); });
  });

  // Rows of the decision tables open the decision's explanation.
  document.addEventListener('click', function (ev) {
    if (ev.target.closest('a, button, input, select')) return;
    var tr = ev.target.closest('tr[data-seq]');
    if (tr) location.href = '/ui/decisions/' + tr.dataset.seq;
  });

  // The live decisions list.
  var tbody = document.getElementById('decisions');
  if (tbody && tbody.dataset.api) {
    var live = document.getElementById('live');
    setInterval(function () {
      if (live && !live.checked) return;
      api('GET', tbody.dataset.api).then(function (resp) {
        if (resp.status === 401 || resp.status === 403) { toLogin(); return; } // no token, or no longer the right one
        if (!resp.ok) return;
        return resp.json().then(function (data) { if (!live || live.checked) render(data); });
      }).catch(function () { /* next tick */ });
    }, 2000);
  }

  function pad(n, w) { n = String(n); while (n.length < w) n = '0' + n; return n; }

  function clock(s) {
    var t = new Date(s);
    if (isNaN(t.getTime()) || t.getFullYear() < 2) return '—';
    return pad(t.getHours(), 2) + ':' + pad(t.getMinutes(), 2) + ':' + pad(t.getSeconds(), 2) + '.' + pad(t.getMilliseconds(), 3);
  }

  function cell(tr, text, cls) {
    var td = document.createElement('td');
    if (cls) td.className = cls;
    if (text instanceof Node) td.appendChild(text); else td.textContent = text == null ? '' : String(text);
    tr.appendChild(td);
  }

  function row(d) {
    var action = d.observed ? 'would_drop' : d.action;
    var tr = document.createElement('tr');
    tr.dataset.seq = d.seq;
    tr.dataset.action = action;
    var a = document.createElement('a');
    a.href = '/ui/decisions/' + d.seq;
    a.textContent = '#' + d.seq;
    cell(tr, a);
    cell(tr, clock(d.time));
    cell(tr, d.provider);
    cell(tr, d.source);
    var badge = document.createElement('span');
    badge.className = 'badge a-' + action;
    badge.textContent = d.observed ? 'would drop' : d.action;
    cell(tr, badge);
    cell(tr, d.layer);
    cell(tr, d.reason);
    cell(tr, d.record ? (d.object || '') + '/' + d.record : '');
    cell(tr, d.detail, 'detail');
    return tr;
  }

  function render(data) {
    var ds = data.decisions || [];
    var frag = document.createDocumentFragment();
    ds.forEach(function (d) { frag.appendChild(row(d)); });
    tbody.replaceChildren(frag);
    var shown = document.getElementById('shown');
    if (shown) shown.textContent = ds.length;
    var total = document.getElementById('total');
    if (total) total.textContent = data.total;
    var empty = document.getElementById('empty');
    if (empty) empty.hidden = ds.length > 0;
  }
})();
