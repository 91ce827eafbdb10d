/* app.js - the stepflow operator dashboard (plain JavaScript, no framework,
 * no build step; served by the coordinator from the binary, see ui.h).
 *
 * It uses only the public HTTP API with `Authorization: Bearer <token>`,
 * so any coordinator replica can serve it:
 *   GET  /v2/stats                                   overview, DLQ counts
 *   GET  /v2/dlq?<filter>&cursor&count               DLQ table
 *   GET  /v2/dlq/{dlqId}                             entry detail
 *   POST|DELETE /v2/workflows/dlq/callback/{dlqId}   retry / cancel the failure function
 *   POST /v2/workflows/dlq/resume|restart[/{dlqId}]  new runs from failed ones
 *   POST /v2/dlq/retry[/{dlqId}]                     publish a message again
 *   DELETE /v2/dlq[/{dlqId}]                         delete entries
 *   GET  /v2/workflows/events?groupBy=workflowRunId  runs and their steps
 *   DELETE /v2/workflows/runs/{runId}?cancel=true    cancel a run
 *
 * Views are chosen by the URL fragment (#/overview, #/dlq?<filter>,
 * #/dlq/<dlqId>, #/runs?<filter>, #/runs/<runId>), so a filtered view can
 * be bookmarked.  Everything the API returns is put on the page with
 * textContent / createElement, never parsed as markup, and the page runs
 * under Content-Security-Policy default-src 'self'. */
'use strict';

(() => {
  const TOKEN_KEY = 'stepflow.token';
  const POLL_MS = 5000;         // overview refresh
  const SETTLE_POLL_MS = 2000;  // an entry / run whose state is still moving
  const SVGNS = 'http://www.w3.org/2000/svg';

  const CB_STATES = ['CALLBACK_FAIL', 'CALLBACK_INPROGRESS', 'CALLBACK_SUCCESS',
    'CALLBACK_CANCELED', 'NONE'];
  const CB_STATE_TEXT = {
    CALLBACK_FAIL: 'failure function failed',
    CALLBACK_INPROGRESS: 'failure function running',
    CALLBACK_SUCCESS: 'failure function succeeded',
    CALLBACK_CANCELED: 'failure function canceled',
    NONE: 'no failure function',
  };
  const RUN_STATES = ['RUN_STARTED', 'RUN_SUCCESS', 'RUN_FAILED', 'RUN_CANCELED'];

  /* ------------------------------------------------------------------ */
  /* DOM helpers: every text goes through textContent / text nodes.      */

  const $ = (id) => document.getElementById(id);
  const BOOL_PROPS = new Set(['checked', 'disabled', 'hidden', 'selected', 'open', 'required']);
  const SVG_TAGS = new Set(['svg', 'g', 'rect', 'line', 'text', 'title', 'path']);

  /** Creates an element: h('a', {href, class, testid, text, onclick}, ...children). */
  function h(tag, props, ...kids) {
    const el = SVG_TAGS.has(tag) ? document.createElementNS(SVGNS, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (BOOL_PROPS.has(k)) { el[k] = Boolean(v); continue; }
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') el.textContent = String(v);
      else if (k === 'testid') el.setAttribute('data-testid', v);
      else if (k === 'value') el.value = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    add(el, kids);
    return el;
  }

  function add(el, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === undefined || k === null || k === false) continue;
      el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return el;
  }

  const pad = (n, w = 2) => String(n).padStart(w, '0');

  /** <time> in local time, ISO 8601 (UTC) on hover. */
  function timeEl(ms, testid) {
    const n = Number(ms);
    if (!n || !Number.isFinite(n)) return h('span', { class: 'muted', text: '—' });
    const d = new Date(n);
    const local = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return h('time', { datetime: d.toISOString(), title: d.toISOString(), testid, text: local });
  }

  function fmtNum(n) {
    const x = Number(n);
    return Number.isFinite(x) ? x.toLocaleString('en-US') : '—';
  }

  /** 75 -> "1m 15s" */
  function fmtAge(s) {
    let x = Math.max(0, Math.round(Number(s) || 0));
    if (x < 60) return `${x}s`;
    const d = Math.floor(x / 86400); x %= 86400;
    const hh = Math.floor(x / 3600); x %= 3600;
    const m = Math.floor(x / 60); const sec = x % 60;
    if (d) return `${d}d ${hh}h`;
    if (hh) return `${hh}h ${pad(m)}m`;
    return `${m}m ${pad(sec)}s`;
  }

  function cbBadge(state, testid) {
    const s = state || 'NONE';
    return h('span', {
      class: `badge cb-${s.toLowerCase()}`, testid, title: CB_STATE_TEXT[s] || s,
      text: s === 'NONE' ? 'none' : s,
    });
  }

  function runBadge(state, testid) {
    const s = state || 'RUN_STARTED';
    return h('span', { class: `badge ${s.toLowerCase().replace('_', '-')}`, testid, text: s });
  }

  function stepBadge(state) {
    const s = state || '';
    return h('span', { class: `badge ${s.toLowerCase().replace('_', '-')}`, text: s || '—' });
  }

  function statusBadge(status) {
    const n = Number(status);
    if (!n) return h('span', { class: 'muted', text: status === 0 ? 'no response' : '—' });
    return h('span', { class: `http ${n >= 200 && n < 300 ? 'ok' : 'bad'}`, text: String(n) });
  }

  function labelChips(entry) {
    const labels = Array.isArray(entry.labels) ? entry.labels : (entry.label ? [entry.label] : []);
    if (!labels.length) return h('span', { class: 'muted', text: '—' });
    return h('span', { class: 'chips' }, labels.map((l) => h('span', { class: 'chip', text: l })));
  }

  const dash = () => h('span', { class: 'muted', text: '—' });
  const orDash = (v) => (v === undefined || v === null || v === '' ? dash() : String(v));

  /** Decodes base64 into bytes; null when it is not base64. */
  function b64bytes(b64) {
    try {
      const bin = atob(b64);
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out;
    } catch { return null; }
  }

  /** A body for display: JSON pretty-printed, base64 decoded when flagged. */
  function bodyView(text, base64, testid) {
    let note = null;
    let shown = text;
    if ((shown === undefined || shown === null) && typeof base64 === 'string') {
      const bytes = b64bytes(base64);
      let decoded = null;
      if (bytes) {
        try { decoded = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch { decoded = null; }
      }
      if (decoded !== null) {
        shown = decoded;
        note = 'decoded from base64';
      } else {
        shown = base64;
        note = `binary, ${bytes ? bytes.length : '?'} bytes, shown as base64`;
      }
    }
    if (shown === undefined || shown === null || shown === '') {
      return h('p', { class: 'muted', testid, text: 'empty body' });
    }
    let pretty = String(shown);
    const t = pretty.trim();
    if (t.startsWith('{') || t.startsWith('[')) {
      try {
        pretty = JSON.stringify(JSON.parse(t), null, 2);
        note = note ? `${note}, JSON` : 'JSON';
      } catch { /* not JSON: as is */ }
    }
    return h('div', { class: 'body' },
      note && h('p', { class: 'note', text: note }),
      h('pre', { testid, tabindex: '0', text: pretty }));
  }

  /** A short body (an error's response) in a small box, JSON pretty-printed. */
  function smallBody(text) {
    if (!text) return null;
    let shown = String(text);
    const t = shown.trim();
    if (t.startsWith('{') || t.startsWith('[')) {
      try { shown = JSON.stringify(JSON.parse(t), null, 2); } catch { /* as is */ }
    }
    return h('pre', { class: 'small', tabindex: '0', text: shown });
  }

  /**
   * A workflow delivery's body is the run's steps so far, each with its
   * own base64 body: the same list with those bodies decoded, or null when
   * "text" is not such a list.
   */
  function decodedSteps(text) {
    let items;
    try { items = JSON.parse(text); } catch { return null; }
    if (!Array.isArray(items) || !items.length ||
      !items.every((x) => x && typeof x === 'object' && typeof x.body === 'string' && 'callType' in x)) return null;
    return items.map((x) => {
      const bytes = b64bytes(x.body);
      let body = x.body;
      if (bytes) {
        try {
          body = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
          try { body = JSON.parse(body); } catch { /* text */ }
        } catch { /* binary: keep base64 */ }
      }
      return { ...x, body };
    });
  }

  /** Headers ({name: [values]} or {name: value}) as a table. */
  function headersView(headers, testid) {
    const rows = [];
    for (const [name, v] of Object.entries(headers || {})) {
      for (const one of (Array.isArray(v) ? v : [v])) {
        rows.push(h('tr', {}, h('th', { scope: 'row', text: name }), h('td', { class: 'mono', text: String(one) })));
      }
    }
    if (!rows.length) return h('p', { class: 'muted', testid, text: 'no headers' });
    return h('table', { class: 'kv headers', testid }, h('tbody', {}, rows));
  }

  /** A definition list from [label, value-node-or-text] pairs (empty values skipped). */
  function facts(pairs, testid) {
    const dl = h('dl', { class: 'facts', testid });
    for (const [k, v, id] of pairs) {
      if (v === undefined || v === null || v === '') continue;
      dl.append(h('dt', { text: k }), h('dd', { testid: id }, v));
    }
    return dl;
  }

  /* ------------------------------------------------------------------ */
  /* Toasts and confirmation                                              */

  /** Shows a result in the live region; errors also as role=alert. */
  function notify(kind, text) {
    const box = h('div', { class: `toast ${kind}`, testid: 'toast', 'data-kind': kind, role: kind === 'error' ? 'alert' : null });
    const close = h('button', { type: 'button', class: 'quiet close', 'aria-label': 'Dismiss', text: '×' });
    close.addEventListener('click', () => box.remove());
    add(box, [h('span', { text }), close]);
    $('toasts').append(box);
    setTimeout(() => box.remove(), kind === 'error' ? 20000 : 10000);
  }

  /** Asks for confirmation with the <dialog>; resolves true on "confirm". */
  function confirmAction({ title, text, ok = 'Confirm', danger = false }) {
    const dlg = $('confirm');
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    const okBtn = $('confirm-ok');
    okBtn.textContent = ok;
    okBtn.className = danger ? 'danger' : '';
    return new Promise((resolve) => {
      const done = (v) => {
        okBtn.removeEventListener('click', onOk);
        $('confirm-cancel').removeEventListener('click', onCancel);
        dlg.removeEventListener('cancel', onEsc);
        if (dlg.open) dlg.close();
        resolve(v);
      };
      const onOk = () => done(true);
      const onCancel = () => done(false);
      const onEsc = (e) => { e.preventDefault(); done(false); };
      okBtn.addEventListener('click', onOk);
      $('confirm-cancel').addEventListener('click', onCancel);
      dlg.addEventListener('cancel', onEsc);
      dlg.showModal();
      $('confirm-cancel').focus();
    });
  }

  /* ------------------------------------------------------------------ */
  /* The API                                                              */

  const auth = { token: null, dev: false, signedIn: false };

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /** Query string from an object (array values repeat the key; empty skipped). */
  function qs(query) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) {
      for (const one of (Array.isArray(v) ? v : [v])) {
        if (one !== undefined && one !== null && one !== '') p.append(k, String(one));
      }
    }
    const s = p.toString();
    return s ? `?${s}` : '';
  }

  /**
   * Calls the API; resolves with the parsed JSON ({} for an empty body),
   * rejects with ApiError(status, the API's {"error"} text).  A 401 while
   * signed in signs out (the token was changed or revoked).
   */
  async function api(method, path, { query, headers, token } = {}) {
    const hdrs = { Accept: 'application/json', ...(headers || {}) };
    const tok = token === undefined ? auth.token : token;
    if (tok) hdrs.Authorization = `Bearer ${tok}`;
    let res;
    try {
      res = await fetch(path + qs(query), { method, headers: hdrs, cache: 'no-store', credentials: 'omit' });
    } catch (e) {
      throw new ApiError(0, `the coordinator is unreachable (${e.message})`);
    }
    const text = await res.text();
    let json;
    try { json = text ? JSON.parse(text) : {}; } catch { json = undefined; }
    if (!res.ok) {
      const msg = json && typeof json.error === 'string' ? json.error
        : (text.slice(0, 200) || res.statusText || 'error');
      const err = new ApiError(res.status, msg);
      if (res.status === 401 && token === undefined && auth.signedIn) signOut(`Signed out: the coordinator refused the token (401 ${msg}).`);
      throw err;
    }
    if (json === undefined) throw new ApiError(res.status, 'the coordinator answered something that is not JSON');
    return json;
  }

  const errText = (e) => (e instanceof ApiError
    ? (e.status ? `${e.status}: ${e.message}` : e.message) : String(e && e.message ? e.message : e));

  /* ------------------------------------------------------------------ */
  /* Sign-in                                                              */

  /** Checks a token (null = none, dev mode) with a cheap authenticated call. */
  async function probe(token) {
    await api('GET', '/v2/dlq', { query: { count: 1 }, token: token || null });
  }

  function showSignedIn() {
    auth.signedIn = true;
    $('signin').hidden = true;
    $('nav').hidden = false;
    $('who').hidden = false;
    $('who-text').textContent = auth.dev ? 'dev mode (no token)' : 'signed in with a token';
    $('sign-out').hidden = auth.dev;
    route();
  }

  function showSignIn(message) {
    auth.signedIn = false;
    stopView();
    $('view').replaceChildren();
    $('nav').hidden = true;
    $('who').hidden = true;
    $('signin').hidden = false;
    const e = $('signin-error');
    e.hidden = !message;
    e.textContent = message || '';
    $('token').focus();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    auth.token = null;
    auth.dev = false;
    showSignIn(message);
  }

  async function onSignIn(ev) {
    ev.preventDefault();
    const input = $('token');
    const token = input.value.trim();
    const btn = $('signin-submit') || ev.submitter;
    $('signin-error').hidden = true;
    if (btn) btn.disabled = true;
    try {
      await probe(token || null);
      auth.token = token || null;
      auth.dev = !token;
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      input.value = '';
      showSignedIn();
    } catch (e) {
      let msg;
      if (e.status === 401) {
        msg = token ? `The coordinator refused this token (401: ${e.message}).`
          : 'This coordinator needs a token (it is not running with STEPFLOW_DEV).';
      } else {
        msg = `Cannot sign in: ${errText(e)}`;
      }
      showSignIn(msg);
    } finally {
      if (btn) btn.disabled = false;
    }
  }

  async function start() {
    $('signin-form').addEventListener('submit', onSignIn);
    $('sign-out').addEventListener('click', () => signOut('Signed out.'));
    window.addEventListener('hashchange', () => { if (auth.signedIn) route(); });
    document.addEventListener('click', onListLink);
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) {
      auth.token = saved;
      showSignedIn();
      return;
    }
    // No token yet: a coordinator in dev mode needs none.
    try {
      await probe(null);
      auth.dev = true;
      showSignedIn();
    } catch (e) {
      showSignIn(e.status === 401 ? '' : `Cannot reach the coordinator: ${errText(e)}`);
    }
  }

  /* ------------------------------------------------------------------ */
  /* Routing: one view at a time; its timers die with it.                 */

  let current = null; // {live, timers}

  function stopView() {
    if (!current) return;
    current.alive = false;
    for (const t of current.timers) clearInterval(t);
    current = null;
  }

  function newViewCtx() {
    stopView();
    const ctx = {
      alive: true,
      timers: [],
      live() { return ctx.alive; },
      every(ms, fn) {
        let busy = false;
        const t = setInterval(async () => {
          if (busy || !ctx.alive) return;
          busy = true;
          try { await fn(); } finally { busy = false; }
        }, ms);
        ctx.timers.push(t);
      },
    };
    current = ctx;
    return ctx;
  }

  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const q = raw.indexOf('?');
    const path = q >= 0 ? raw.slice(0, q) : raw;
    const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
    let parts;
    try { parts = path.split('/').filter(Boolean).map(decodeURIComponent); } catch { parts = []; }
    return { parts, params };
  }

  function route() {
    if (!auth.signedIn) return;
    const { parts, params } = parseHash();
    const ctx = newViewCtx();
    const root = $('view');
    root.replaceChildren();
    const section = parts[0] || 'overview';
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.route === section) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    let p;
    if (section === 'dlq' && parts[1]) p = viewDlqEntry(root, ctx, parts[1]);
    else if (section === 'dlq') p = viewDlq(root, ctx, params);
    else if (section === 'runs' && parts[1]) p = viewRun(root, ctx, parts[1]);
    else if (section === 'runs') p = viewRuns(root, ctx, params);
    else p = viewOverview(root, ctx);
    Promise.resolve(p).catch((e) => {
      if (ctx.live()) root.append(h('p', { class: 'error', role: 'alert', text: `Error: ${errText(e)}` }));
    });
    document.title = `stepflow · ${{ dlq: 'DLQ', runs: 'runs' }[section] || 'overview'}`;
  }

  /** Sets the fragment; route() runs on hashchange (or now when unchanged). */
  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  /** Page 1 next time the list is shown (see dlqPaging). */
  function resetPaging(paging) {
    Object.assign(paging, { key: null, stack: [], cursor: '' });
  }

  /**
   * A click on a link to a list (#/dlq, #/dlq?..., #/runs...: the
   * navigation, the counts per state) shows its first page; the "back"
   * links (data-keep-page) return to the page left.  A link to the view
   * already shown reloads it, since no hashchange follows.
   */
  function onListLink(ev) {
    const a = ev.target instanceof Element ? ev.target.closest('a[href^="#/"]') : null;
    if (!a || a.hasAttribute('data-keep-page')) return;
    const href = a.getAttribute('href');
    const m = /^#\/(dlq|runs)(\?.*)?$/.exec(href);
    if (!m) return;
    resetPaging(m[1] === 'dlq' ? dlqPaging : runsPaging);
    if (location.hash === href) {
      ev.preventDefault();
      route();
    }
  }

  /* ------------------------------------------------------------------ */
  /* Overview                                                             */

  function card(label, value, testid, hint) {
    return h('div', { class: 'card' },
      h('div', { class: 'card-label', text: label }),
      h('div', { class: 'card-value', testid, text: value }),
      hint && h('div', { class: 'card-hint', text: hint }));
  }

  /** Bars of delivered (and failed on top) per minute, oldest left. */
  function perMinuteChart(perMinute) {
    const W = 1000; const H = 160; const top = 16; const bottom = 18;
    const data = (perMinute || []).slice(-60);
    const n = Math.max(data.length, 1);
    const max = Math.max(1, ...data.map((m) => (Number(m.delivered) || 0) + (Number(m.failed) || 0)));
    const slot = W / n;
    const bw = Math.max(1, slot - 2);
    const scale = (H - top - bottom) / max;
    const last = data[data.length - 1] || {};
    const total = data.reduce((a, m) => ({ d: a.d + (Number(m.delivered) || 0), f: a.f + (Number(m.failed) || 0) }), { d: 0, f: 0 });
    const svg = h('svg', {
      viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', testid: 'chart-per-minute',
      'data-delivered': total.d, 'data-failed': total.f,
      'aria-label': `Deliveries per minute over the last ${data.length} minutes: ` +
        `${total.d} delivered, ${total.f} failed; last minute ${Number(last.delivered) || 0} delivered, ${Number(last.failed) || 0} failed.`,
    });
    svg.append(h('line', { x1: 0, x2: W, y1: H - bottom, y2: H - bottom, class: 'axis' }));
    data.forEach((m, i) => {
      const d = Number(m.delivered) || 0; const f = Number(m.failed) || 0;
      const x = i * slot + 1;
      const hd = d * scale; const hf = f * scale;
      const when = new Date(Number(m.minute) || 0);
      const g = h('g', {}, h('title', {
        text: `${pad(when.getHours())}:${pad(when.getMinutes())} — ${d} delivered, ${f} failed, ` +
          `${Number(m.retried) || 0} retried, ${Number(m.published) || 0} published`,
      }));
      // an invisible full-height rect makes the hover target usable
      g.append(h('rect', { x, y: top, width: bw, height: H - top - bottom, class: 'hover' }));
      if (hd > 0) g.append(h('rect', { x, y: H - bottom - hd, width: bw, height: hd, class: 'bar-ok' }));
      if (hf > 0) g.append(h('rect', { x, y: H - bottom - hd - hf, width: bw, height: hf, class: 'bar-fail' }));
      svg.append(g);
    });
    svg.append(h('text', { x: 2, y: 11, class: 'tick', text: `${fmtNum(max)}/min` }));
    svg.append(h('text', { x: 2, y: H - 4, class: 'tick', text: `${data.length} min ago` }));
    svg.append(h('text', { x: W - 2, y: H - 4, class: 'tick end', text: 'now' }));
    return h('figure', { class: 'chart-box' }, svg,
      h('figcaption', {},
        h('span', { class: 'key ok' }), ' delivered ', h('span', { class: 'key fail' }), ' failed (went to the DLQ) · ',
        `last hour: ${fmtNum(total.d)} delivered, ${fmtNum(total.f)} failed`));
  }

  function stateCounts(byState, total, testidPrefix) {
    const list = h('ul', { class: 'state-counts', testid: `${testidPrefix}-counts` });
    list.append(h('li', {}, h('a', {
      href: '#/dlq', class: 'count-link', testid: `${testidPrefix}-count-all`,
    }, h('span', { class: 'count', text: fmtNum(total) }), ' all entries')));
    for (const s of CB_STATES) {
      list.append(h('li', {}, h('a', {
        href: `#/dlq?failureFunctionState=${s}`, class: 'count-link',
        testid: `${testidPrefix}-count-${s}`, title: `Show the entries whose ${CB_STATE_TEXT[s]}`,
      }, h('span', { class: 'count', text: fmtNum((byState || {})[s] || 0) }), ' ', cbBadge(s))));
    }
    return list;
  }

  function overviewContent(s) {
    const q = (s.queues || {});
    const mq = q.messages || {}; const cq = q.callbacks || {};
    const workers = Array.isArray(s.workers) ? s.workers : [];
    const inflight = workers.filter((w) => w.alive !== false).reduce((a, w) => a + (Number(w.inflight) || 0), 0);
    const dlq = s.dlq || {};
    const wf = s.workflows || {};
    const out = [];
    out.push(h('div', { class: 'cards' },
      card('Backlog', fmtNum(mq.backlog), 'stat-backlog', 'messages not yet read by a worker'),
      card('Pending', fmtNum(mq.pending), 'stat-pending', 'read, not yet acknowledged'),
      card('Oldest pending', fmtAge(mq.oldestPendingAgeSeconds), 'stat-oldest-pending'),
      card('Delayed', fmtNum(mq.delayed), 'stat-delayed', 'waiting for a delay or a retry'),
      card('In flight', fmtNum(inflight), 'stat-inflight', 'deliveries running on live workers'),
      card('Workers alive', fmtNum(s.workersAlive), 'stat-workers-alive'),
      card('DLQ entries', fmtNum(dlq.total), 'stat-dlq-total'),
      card('Runs running', fmtNum(wf.running), 'stat-runs', 'failed runs are DLQ entries')));

    out.push(h('section', { 'aria-labelledby': 'h-rate' },
      h('h2', { id: 'h-rate', text: 'Delivered and failed per minute' }),
      perMinuteChart(s.perMinute)));

    out.push(h('section', { 'aria-labelledby': 'h-dlq-states' },
      h('h2', { id: 'h-dlq-states', text: 'Dead-letter queue by failure-function state' }),
      stateCounts(dlq.byFailureFunctionState, dlq.total, 'overview')));

    const qrow = (name, x) => h('tr', {},
      h('th', { scope: 'row', text: name }),
      ...[x.length, x.backlog, x.pending].map((v) => h('td', { class: 'num', text: fmtNum(v) })),
      h('td', { class: 'num', text: fmtAge(x.oldestPendingAgeSeconds) }),
      h('td', { class: 'num', text: fmtNum(x.delayed) }));
    out.push(h('section', { 'aria-labelledby': 'h-queues' },
      h('h2', { id: 'h-queues', text: 'Queues' }),
      h('table', { class: 'grid', testid: 'queues' },
        h('thead', {}, h('tr', {}, ['Queue', 'Stream length', 'Backlog', 'Pending', 'Oldest pending', 'Delayed']
          .map((t, i) => h('th', { scope: 'col', class: i ? 'num' : null, text: t })))),
        h('tbody', {}, qrow('messages', mq), qrow('failure callbacks', cq)))));

    const wrows = workers.map((w) => h('tr', { testid: 'worker-row' },
      h('td', { class: 'mono', text: w.name || '' }),
      h('td', { text: w.host || '' }),
      h('td', { class: 'num', text: orDash(w.pid) }),
      h('td', { text: w.version || '' }),
      h('td', {}, h('span', { class: `badge ${w.alive === false ? 'dead' : 'alive'}`, text: w.alive === false ? 'gone' : 'alive' })),
      h('td', { class: 'num', text: `${fmtNum(w.inflight)} / ${fmtNum(w.concurrency)}` }),
      h('td', { class: 'num', text: fmtNum(w.delivered) }),
      h('td', { class: 'num', text: fmtNum(w.retried) }),
      h('td', { class: 'num', text: fmtNum(w.failed) }),
      h('td', {}, timeEl(w.startedAt)),
      h('td', {}, timeEl(w.lastSeen))));
    out.push(h('section', { 'aria-labelledby': 'h-workers' },
      h('h2', { id: 'h-workers', text: 'Workers' }),
      wrows.length
        ? h('div', { class: 'scroll' }, h('table', { class: 'grid', testid: 'workers' },
          h('thead', {}, h('tr', {}, ['Name', 'Host', 'PID', 'Version', 'State', 'In flight / slots', 'Delivered', 'Retried', 'Failed', 'Started', 'Last seen']
            .map((t) => h('th', { scope: 'col', text: t })))),
          h('tbody', {}, wrows)))
        : h('p', { class: 'muted', testid: 'workers-none', text: 'No worker has reported in the last minute.' })));
    return out;
  }

  async function viewOverview(root, ctx) {
    const status = h('p', { class: 'muted', testid: 'overview-updated', text: 'Loading…' });
    const problem = h('p', { class: 'error', role: 'alert', testid: 'overview-error', hidden: true });
    const body = h('div', { testid: 'overview' });
    add(root, [h('h1', { text: 'Overview' }), status, problem, body]);
    const tick = async () => {
      try {
        const s = await api('GET', '/v2/stats');
        if (!ctx.live()) return;
        body.replaceChildren(...overviewContent(s));
        problem.hidden = true;
        status.replaceChildren('Figures of ', timeEl(s.time || Date.now(), 'overview-time'),
          ` · refreshed every ${POLL_MS / 1000} s`);
      } catch (e) {
        if (!ctx.live()) return;
        problem.hidden = false;
        problem.textContent = `Statistics are unavailable (GET /v2/stats: ${errText(e)}). Retrying every ${POLL_MS / 1000} s.`;
        if (!body.firstChild) status.textContent = '';
      }
    };
    await tick();
    ctx.every(POLL_MS, tick);
  }

  /* ------------------------------------------------------------------ */
  /* DLQ list                                                             */

  /** The filter fields the DLQ view keeps in the fragment, all strings. */
  const DLQ_FIELDS = ['failureFunctionState', 'workflowUrl', 'workflowRunId', 'label', 'url',
    'fromDate', 'toDate', 'source', 'count'];

  function dlqFilter(params) {
    const f = {};
    for (const k of DLQ_FIELDS) {
      const v = params.get(k);
      if (v) f[k] = v;
    }
    if (f.failureFunctionState && !CB_STATES.includes(f.failureFunctionState)) delete f.failureFunctionState;
    if (f.source !== 'workflow') delete f.source;
    f.count = pageSize(f.count, '20');
    return f;
  }

  /** A page size from the fragment: an integer 1..100, else "dflt". */
  function pageSize(v, dflt) {
    const n = Number(v);
    return Number.isInteger(n) && n >= 1 && n <= 100 ? String(n) : dflt;
  }

  /** The per-page <select>: the usual sizes plus the current one. */
  function pageSizeSelect(id, sizes, current, testid) {
    const all = sizes.includes(current) ? sizes : [...sizes, current].sort((a, b) => a - b);
    return h('select', { id, testid }, all.map((n) => h('option', { value: n, text: n, selected: current === n })));
  }

  /** The filter without paging: what "all matching the filter" means. */
  function filterOnly(f) {
    const o = { ...f };
    delete o.count;
    return o;
  }

  function describeFilter(f) {
    const parts = [];
    const names = {
      failureFunctionState: 'state', workflowUrl: 'workflow URL', workflowRunId: 'run id',
      label: 'label', url: 'URL', source: 'source',
    };
    for (const [k, v] of Object.entries(filterOnly(f))) {
      if (k === 'fromDate') parts.push(`from ${new Date(Number(v)).toLocaleString()}`);
      else if (k === 'toDate') parts.push(`to ${new Date(Number(v)).toLocaleString()}`);
      else parts.push(`${names[k] || k} = ${v}`);
    }
    return parts.join(', ');
  }

  /** ms -> the value of an <input type=datetime-local> (local time). */
  function toLocalInput(ms) {
    const n = Number(ms);
    if (!n) return '';
    const d = new Date(n);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function fromLocalInput(v, endOfMinute) {
    if (!v) return '';
    const t = new Date(v).getTime();
    if (!Number.isFinite(t)) return '';
    return String(endOfMinute ? t + 59999 : t);
  }

  // Paging survives a visit to an entry and its "back to the list" link
  // (same filter, same page); applying a filter, "Clear", the navigation
  // and the count links start again at page 1 (resetPaging).
  const dlqPaging = { key: null, stack: [], cursor: '' };

  function field(label, input, hint) {
    const id = input.id;
    return h('div', { class: 'field' }, h('label', { for: id, text: label }), input,
      hint && h('span', { class: 'hint', text: hint }));
  }

  function dlqFilterForm(f) {
    const stateSel = h('select', { id: 'f-state', name: 'failureFunctionState', testid: 'filter-state' },
      h('option', { value: '', text: 'any' }),
      CB_STATES.map((s) => h('option', { value: s, text: s === 'NONE' ? 'none (no failure function)' : s, selected: f.failureFunctionState === s })));
    const text = (id, name, v, ph) => h('input', { id, name, type: 'text', value: v || '', placeholder: ph, testid: `filter-${name}`, spellcheck: 'false' });
    const from = h('input', { id: 'f-from', type: 'datetime-local', value: toLocalInput(f.fromDate), testid: 'filter-fromDate' });
    const to = h('input', { id: 'f-to', type: 'datetime-local', value: toLocalInput(f.toDate), testid: 'filter-toDate' });
    const wfOnly = h('input', { id: 'f-source', type: 'checkbox', checked: f.source === 'workflow', testid: 'filter-source' });
    const count = pageSizeSelect('f-count', ['20', '50', '100'], f.count, 'filter-count');
    const inputs = {
      failureFunctionState: stateSel,
      workflowUrl: text('f-wfurl', 'workflowUrl', f.workflowUrl, 'https://app.example/api/workflow'),
      workflowRunId: text('f-run', 'workflowRunId', f.workflowRunId, 'wfr_…'),
      label: text('f-label', 'label', f.label),
      url: text('f-url', 'url', f.url, 'destination URL'),
    };
    const form = h('form', { class: 'filters', testid: 'dlq-filter', 'aria-label': 'Filter the dead-letter queue' },
      field('Failure-function state', stateSel),
      field('Workflow URL', inputs.workflowUrl),
      field('Run id', inputs.workflowRunId),
      field('Label', inputs.label),
      field('URL (step or message destination)', inputs.url),
      field('From', from),
      field('To', to),
      h('div', { class: 'field check' }, wfOnly, h('label', { for: 'f-source', text: 'Workflow entries only' })),
      field('Per page', count),
      h('div', { class: 'field buttons' },
        h('button', { type: 'submit', testid: 'filter-apply', text: 'Apply filter' }),
        h('button', { type: 'button', class: 'quiet', testid: 'filter-clear', text: 'Clear', onclick: () => { resetPaging(dlqPaging); go('#/dlq'); } })));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const q = {};
      for (const [k, el] of Object.entries(inputs)) if (el.value.trim()) q[k] = el.value.trim();
      const fd = fromLocalInput(from.value, false);
      const td = fromLocalInput(to.value, true);
      if (fd) q.fromDate = fd;
      if (td) q.toDate = td;
      if (wfOnly.checked) q.source = 'workflow';
      if (count.value !== '20') q.count = count.value;
      resetPaging(dlqPaging);
      go(`#/dlq${qs(q)}`);
    });
    return form;
  }

  function dlqRow(e, selected, onToggle) {
    const id = e.dlqId || '';
    const state = e.failureCallbackInfo ? e.failureCallbackInfo.state : 'NONE';
    const box = h('input', { type: 'checkbox', class: 'sel', 'aria-label': `Select entry ${id}`, checked: selected.has(id), testid: 'dlq-select' });
    box.addEventListener('change', () => onToggle(id, box.checked));
    return h('tr', { testid: 'dlq-row', 'data-dlq-id': id, 'data-state': state },
      h('td', {}, box),
      h('td', {}, timeEl(e.dlqAt || e.createdAt)),
      h('td', { class: 'url', text: e.workflowUrl || '' }, e.workflowUrl ? null : dash()),
      h('td', { class: 'mono' }, e.workflowRunId
        ? h('a', { href: `#/runs/${encodeURIComponent(e.workflowRunId)}`, text: e.workflowRunId }) : dash()),
      h('td', { class: 'url', text: e.url || '' }),
      h('td', { class: 'num' }, statusBadge(e.responseStatus)),
      h('td', {}, cbBadge(state, 'dlq-row-state')),
      h('td', {}, labelChips(e)),
      h('td', {}, h('a', { href: `#/dlq/${encodeURIComponent(id)}`, testid: 'dlq-open', 'aria-label': `Open entry ${id}`, text: 'Open' })));
  }

  async function viewDlq(root, ctx, params) {
    const f = dlqFilter(params);
    const key = JSON.stringify(f);
    if (dlqPaging.key !== key) Object.assign(dlqPaging, { key, stack: [], cursor: '' });
    const selected = new Set();
    let page = [];
    let nextCursor = '';

    const counts = h('div', { class: 'counts-box', testid: 'dlq-counts' }, h('span', { class: 'muted', text: 'Counting…' }));
    const summary = h('p', { class: 'muted', testid: 'dlq-summary' });
    const tbody = h('tbody', { testid: 'dlq-rows' });
    const selectAll = h('input', { type: 'checkbox', id: 'sel-all', testid: 'select-all', 'aria-label': 'Select all entries on this page' });
    const prev = h('button', { type: 'button', class: 'quiet', testid: 'page-prev', text: '← Previous page' });
    const next = h('button', { type: 'button', class: 'quiet', testid: 'page-next', text: 'Next page →' });
    const pageNo = h('span', { class: 'muted', testid: 'page-number' });
    const scope = h('select', { id: 'bulk-scope', testid: 'bulk-scope' },
      h('option', { value: 'selected', text: 'the selected entries' }),
      h('option', { value: 'filter', text: 'all entries matching the filter' }));
    const progress = h('span', { class: 'progress', role: 'status', 'aria-live': 'polite', testid: 'bulk-progress' });

    const bulkButtons = [];
    const bulkBtn = (id, text, danger, fn) => {
      const b = h('button', { type: 'button', testid: `bulk-${id}`, class: danger ? 'danger' : null, text });
      b.addEventListener('click', () => runBulk(fn));
      bulkButtons.push(b);
      return b;
    };

    const updateSelection = () => {
      const n = selected.size;
      scope.options[0].textContent = `the selected entries (${n})`;
      selectAll.checked = page.length > 0 && n === page.length;
      selectAll.indeterminate = n > 0 && n < page.length;
      const none = scope.value === 'selected' && n === 0;
      for (const b of bulkButtons) b.disabled = none;
    };
    const onToggle = (id, on) => { if (on) selected.add(id); else selected.delete(id); updateSelection(); };
    selectAll.addEventListener('change', () => {
      selected.clear();
      if (selectAll.checked) for (const e of page) if (e.dlqId) selected.add(e.dlqId);
      for (const box of tbody.querySelectorAll('input.sel')) box.checked = selectAll.checked;
      updateSelection();
    });
    scope.addEventListener('change', updateSelection);

    const loadCounts = async () => {
      try {
        const s = await api('GET', '/v2/stats');
        if (!ctx.live()) return;
        const d = s.dlq || {};
        counts.replaceChildren(stateCounts(d.byFailureFunctionState, d.total, 'dlq'));
      } catch (e) {
        if (!ctx.live()) return;
        counts.replaceChildren(h('span', { class: 'muted', text: `Counts per state unavailable (GET /v2/stats: ${errText(e)}).` }));
      }
    };

    const loadPage = async () => {
      tbody.replaceChildren(h('tr', {}, h('td', { colspan: 9, class: 'muted', text: 'Loading…' })));
      prev.disabled = true;
      next.disabled = true;
      let res;
      try {
        res = await api('GET', '/v2/dlq', { query: { ...f, cursor: dlqPaging.cursor } });
      } catch (e) {
        if (!ctx.live()) return;
        tbody.replaceChildren(h('tr', {}, h('td', { colspan: 9, class: 'error', role: 'alert', text: `Cannot list the DLQ: ${errText(e)}` })));
        return;
      }
      if (!ctx.live()) return;
      page = Array.isArray(res.messages) ? res.messages : [];
      nextCursor = res.cursor || '';
      selected.clear();
      tbody.replaceChildren(...(page.length ? page.map((e) => dlqRow(e, selected, onToggle))
        : [h('tr', {}, h('td', { colspan: 9, class: 'muted', testid: 'dlq-empty', text: 'No entries match.' }))]));
      prev.disabled = dlqPaging.stack.length === 0;
      next.disabled = !nextCursor;
      pageNo.textContent = `Page ${dlqPaging.stack.length + 1}`;
      const filt = describeFilter(f);
      summary.textContent = `${page.length} ${page.length === 1 ? 'entry' : 'entries'} on this page` +
        (filt ? ` · filter: ${filt}` : ' · no filter') + (nextCursor ? ' · more on the next page' : '');
      updateSelection();
    };

    const refresh = () => Promise.all([loadPage(), loadCounts()]);

    prev.addEventListener('click', () => {
      dlqPaging.cursor = dlqPaging.stack.pop() || '';
      loadPage();
    });
    next.addEventListener('click', () => {
      if (!nextCursor) return;
      dlqPaging.stack.push(dlqPaging.cursor);
      dlqPaging.cursor = nextCursor;
      loadPage();
    });

    /* ---- bulk actions ---- */

    const byFilter = () => scope.value === 'filter';
    const selectedEntries = () => page.filter((e) => selected.has(e.dlqId));
    const stateOf = (e) => (e.failureCallbackInfo ? e.failureCallbackInfo.state : 'NONE');
    const scopeText = () => {
      if (!byFilter()) return `the ${selected.size} selected ${selected.size === 1 ? 'entry' : 'entries'}`;
      const filt = describeFilter(f);
      return filt ? `every entry matching the filter (${filt}), on every page` : 'EVERY entry in the dead-letter queue (no filter is set)';
    };

    /**
     * Every entry matching the filter, page by page (for actions the API
     * has no filter form of).  It reads to the last page even when the
     * operator leaves the view meanwhile: the action that follows must
     * not run on a partial list.
     */
    const collectMatching = async (pred) => {
      const out = [];
      let cursor = '';
      let seen = 0;
      do {
        let res;
        try {
          res = await api('GET', '/v2/dlq', { query: { ...filterOnly(f), count: 100, cursor } });
        } catch (e) {
          throw new Error(`nothing was changed: listing the matching entries failed (${errText(e)})`);
        }
        const msgs = res.messages || [];
        seen += msgs.length;
        for (const e of msgs) if (pred(e)) out.push(e);
        progress.textContent = `Looking through the DLQ: ${seen} entries read…`;
        cursor = res.cursor || '';
      } while (cursor);
      return out;
    };

    /** Calls "one" for each entry with a progress count; returns [ok, failures]. */
    const eachEntry = async (entries, verb, one) => {
      let ok = 0; const failed = [];
      for (let i = 0; i < entries.length; i++) {
        progress.textContent = `${verb} ${i + 1} of ${entries.length}…`;
        try { await one(entries[i]); ok++; } catch (e) { failed.push(`${entries[i].dlqId}: ${errText(e)}`); }
      }
      return [ok, failed];
    };

    /**
     * Repeats a filter-form request, following its cursor; sums "field".
     * A failure midway says how many were done before it (they stay done).
     */
    const followCursor = async (method, path, field, verb) => {
      let cursor = '';
      let total = 0;
      do {
        let res;
        try {
          res = await api(method, path, { query: { ...filterOnly(f), count: 100, cursor } });
        } catch (e) {
          throw new Error(`${total} done before the error: ${errText(e)}`);
        }
        const v = res[field];
        total += Array.isArray(v) ? v.length : (Number(v) || 0);
        progress.textContent = `${verb}: ${total} so far…`;
        cursor = res.cursor || '';
      } while (cursor);
      return total;
    };

    const idsQuery = (entries) => ({ dlqIds: entries.map((e) => e.dlqId) });

    /**
     * Runs a bulk action.  "fn" resolves false when it sent nothing (the
     * confirmation was cancelled, nothing matched): the page and the
     * selection then stay as they are.  After a request (or an error) the
     * page is read again.
     */
    async function runBulk(fn) {
      for (const b of bulkButtons) b.disabled = true;
      let sent = true;
      try {
        sent = (await fn()) !== false;
      } catch (e) {
        notify('error', `Bulk action failed: ${errText(e)}`);
      } finally {
        progress.textContent = '';
        if (ctx.live()) {
          if (sent) await refresh();
          updateSelection();
        }
      }
    }

    const resultOf = (what, ok, failed) => {
      if (failed.length) notify('error', `${what}: ${ok} done, ${failed.length} failed (${failed.slice(0, 3).join('; ')}${failed.length > 3 ? '; …' : ''}).`);
      else notify('ok', `${what}: ${ok} done.`);
    };

    const bulkDelete = async () => {
      if (!(await confirmAction({ title: 'Delete DLQ entries', text: `Delete ${scopeText()}? This cannot be undone.`, ok: 'Delete', danger: true }))) return false;
      let n;
      if (byFilter()) n = await followCursor('DELETE', '/v2/dlq', 'deleted', 'Deleting');
      else n = (await api('DELETE', '/v2/dlq', { query: idsQuery(selectedEntries()) })).deleted;
      notify('ok', `Deleted ${Number(n) || 0} ${Number(n) === 1 ? 'entry' : 'entries'}.`);
    };

    const bulkRetryMessages = async () => {
      if (!(await confirmAction({ title: 'Retry messages', text: `Publish the messages of ${scopeText()} again (workflow entries are skipped: resume or restart them)? Retried entries leave the DLQ.`, ok: 'Retry' }))) return false;
      const plain = (e) => !e.workflowRunId;
      const entries = byFilter() ? await collectMatching(plain) : selectedEntries().filter(plain);
      if (!entries.length) { notify('error', 'Retry messages: no plain message (non-workflow entry) to retry.'); return false; }
      let ok = 0; const failed = [];
      for (let i = 0; i < entries.length; i += 100) {
        const chunk = entries.slice(i, i + 100);
        progress.textContent = `Retrying ${i + chunk.length} of ${entries.length}…`;
        try {
          const res = await api('POST', '/v2/dlq/retry', { query: idsQuery(chunk) });
          ok += Array.isArray(res.responses) ? res.responses.length : chunk.length;
        } catch (e) { failed.push(errText(e)); }
      }
      resultOf('Retry messages', ok, failed);
    };

    const bulkRerun = (mode) => async () => {
      const verb = mode === 'resume' ? 'Resume' : 'Restart';
      const how = mode === 'resume' ? 'continuing after their last successful step' : 'from their initial payload';
      if (!(await confirmAction({ title: `${verb} workflow runs`, text: `${verb} the failed runs of ${scopeText()} as new runs, ${how}? Only workflow entries are used; their DLQ entries are deleted.`, ok: verb }))) return false;
      let n;
      if (byFilter()) {
        n = await followCursor('POST', `/v2/workflows/dlq/${mode}`, 'workflowRuns', `${verb}`);
      } else {
        const wf = selectedEntries().filter((e) => e.workflowRunId);
        if (!wf.length) { notify('error', `${verb}: none of the selected entries belongs to a workflow run.`); return false; }
        const res = await api('POST', `/v2/workflows/dlq/${mode}`, { query: idsQuery(wf) });
        n = (res.workflowRuns || []).length;
      }
      notify('ok', `${verb}: ${n} new ${n === 1 ? 'run' : 'runs'} started.`);
    };

    const bulkCallback = (retry) => async () => {
      const want = retry ? 'CALLBACK_FAIL' : 'CALLBACK_INPROGRESS';
      const what = retry ? 'Retry failure function' : 'Cancel failure function';
      if (!(await confirmAction({
        title: what,
        text: retry ? `Run the failure function again for ${scopeText()} (only entries in CALLBACK_FAIL)?`
          : `Cancel the running failure function of ${scopeText()} (only entries in CALLBACK_INPROGRESS)?`,
        ok: retry ? 'Retry' : 'Cancel it', danger: !retry,
      }))) return false;
      const match = (e) => stateOf(e) === want;
      const entries = byFilter() ? await collectMatching(match) : selectedEntries().filter(match);
      if (!entries.length) { notify('error', `${what}: no entry in ${want}.`); return false; }
      const [ok, failed] = await eachEntry(entries, retry ? 'Retrying' : 'Cancelling',
        (e) => api(retry ? 'POST' : 'DELETE', `/v2/workflows/dlq/callback/${encodeURIComponent(e.dlqId)}`));
      resultOf(what, ok, failed);
    };

    const bulk = h('div', { class: 'bulk', role: 'group', 'aria-label': 'Bulk actions', testid: 'bulk' },
      h('label', { for: 'bulk-scope', text: 'Act on' }), scope,
      bulkBtn('retry-callback', 'Retry failure function', false, bulkCallback(true)),
      bulkBtn('cancel-callback', 'Cancel failure function', false, bulkCallback(false)),
      bulkBtn('resume', 'Resume runs', false, bulkRerun('resume')),
      bulkBtn('restart', 'Restart runs', false, bulkRerun('restart')),
      bulkBtn('retry', 'Retry messages', false, bulkRetryMessages),
      bulkBtn('delete', 'Delete', true, bulkDelete),
      progress);

    add(root, [
      h('h1', { text: 'Dead-letter queue' }),
      counts,
      dlqFilterForm(f),
      bulk,
      summary,
      h('div', { class: 'scroll' }, h('table', { class: 'grid', testid: 'dlq-table' },
        h('caption', { class: 'sr-only', text: 'Dead-letter queue entries, newest first' }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, selectAll),
          ['Time', 'Workflow URL', 'Run id', 'Step / message URL', 'Response', 'Failure function', 'Labels', '']
            .map((t) => h('th', { scope: 'col', text: t })))),
        tbody)),
      h('div', { class: 'pager' }, prev, pageNo, next),
    ]);
    await refresh();
  }

  /* ------------------------------------------------------------------ */
  /* DLQ entry                                                            */

  function attemptsTable(attempts) {
    if (!Array.isArray(attempts) || !attempts.length) {
      return h('p', { class: 'muted', testid: 'attempts-none', text: 'No attempt history on this entry.' });
    }
    return h('table', { class: 'grid', testid: 'attempts' },
      h('thead', {}, h('tr', {}, ['#', 'Time', 'Status', 'Latency', 'Error'].map((t) => h('th', { scope: 'col', class: t === '#' ? 'num' : null, text: t })))),
      h('tbody', {}, attempts.map((a, i) => h('tr', { testid: 'attempt-row' },
        h('td', { class: 'num', text: String(i + 1) }),
        h('td', {}, timeEl(a.at)),
        h('td', {}, statusBadge(a.status)),
        h('td', { class: 'num', text: a.latencyMs === undefined ? '—' : `${fmtNum(a.latencyMs)} ms` }),
        h('td', { text: a.error || '' })))));
  }

  function ffErrorsTable(errors, testid) {
    if (!Array.isArray(errors) || !errors.length) return null;
    return h('table', { class: 'grid', testid },
      h('thead', {}, h('tr', {}, ['#', 'Time', 'Status', 'Error', 'Response body'].map((t) => h('th', { scope: 'col', class: t === '#' ? 'num' : null, text: t })))),
      h('tbody', {}, errors.map((x, i) => h('tr', {},
        h('td', { class: 'num', text: String(i + 1) }),
        h('td', {}, timeEl(x.time)),
        h('td', {}, statusBadge(x.status)),
        h('td', { text: x.error || '' }),
        h('td', {}, smallBody(x.body) || dash())))));
  }

  /** The run log of a workflow run (logs API), or null. */
  async function fetchRunLog(runId) {
    const res = await api('GET', '/v2/workflows/events', { query: { groupBy: 'workflowRunId', workflowRunId: runId, count: 1 } });
    return (res.runs || []).find((r) => r.workflowRunId === runId) || null;
  }

  async function viewDlqEntry(root, ctx, dlqId) {
    const back = h('a', { href: `#/dlq${dlqPaging.key ? qs(JSON.parse(dlqPaging.key)) : ''}`, class: 'back', testid: 'back-to-dlq', 'data-keep-page': '', text: '← Dead-letter queue' });
    const body = h('div', { testid: 'dlq-entry' }, h('p', { class: 'muted', text: 'Loading…' }));
    add(root, [back, h('h1', {}, 'DLQ entry ', h('span', { class: 'mono', text: dlqId })), body]);
    const path = `/v2/dlq/${encodeURIComponent(dlqId)}`;
    let lastState = null;

    const render = async () => {
      let e;
      try {
        e = await api('GET', path);
      } catch (err) {
        if (!ctx.live()) return;
        // Gone for good: stop following it (an error of another kind,
        // the coordinator unreachable say, is tried again).
        if (err.status === 404) lastState = 'GONE';
        body.replaceChildren(h('p', { class: err.status === 404 ? 'muted' : 'error', role: 'alert', testid: 'entry-missing',
          text: err.status === 404 ? 'This entry no longer exists: it was deleted, retried, resumed or restarted.'
            : `Cannot read the entry: ${errText(err)}` }));
        return;
      }
      if (!ctx.live()) return;
      lastState = e.failureCallbackInfo ? e.failureCallbackInfo.state : 'NONE';
      body.replaceChildren(...entryContent(e, render));
    };
    await render();
    // Follow a failure function that is still running (and an entry that
    // could not be read for a passing error).
    ctx.every(SETTLE_POLL_MS, async () => {
      if (lastState === 'CALLBACK_INPROGRESS' || lastState === null) await render();
    });
  }

  function entryContent(e, refresh) {
    const info = e.failureCallbackInfo || null;
    const state = info ? info.state : 'NONE';
    const id = e.dlqId;
    const enc = encodeURIComponent(id);
    const isWf = Boolean(e.workflowRunId);
    const out = [];

    /* actions */
    const act = (testid, text, enabled, why, spec) => {
      const b = h('button', { type: 'button', testid, class: spec.danger ? 'danger' : null, disabled: !enabled, title: enabled ? null : why, text });
      b.addEventListener('click', async () => {
        if (!(await confirmAction(spec.confirm))) return;
        b.disabled = true;
        try {
          const res = await api(spec.method, spec.path, {});
          notify('ok', spec.done(res));
          if (spec.leaves) go(spec.leaves(res));
          else await refresh();
        } catch (err) {
          notify('error', `${text} failed: ${errText(err)}`);
          await refresh();
        }
      });
      return b;
    };
    const ffUrl = e.failureCallback || (info && info.url) || '';
    out.push(h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions on this entry', testid: 'entry-actions' },
      act('action-retry-callback', 'Retry failure function', state === 'CALLBACK_FAIL',
        'only an entry whose failure function failed (CALLBACK_FAIL) can be retried', {
          method: 'POST', path: `/v2/workflows/dlq/callback/${enc}`,
          confirm: { title: 'Retry the failure function', text: `Call the failure function${ffUrl ? ` (${ffUrl})` : ''} of entry ${id} again, with its retry settings?`, ok: 'Retry failure function' },
          done: () => `Failure function of ${id} started again.`,
        }),
      act('action-cancel-callback', 'Cancel failure function', state === 'CALLBACK_INPROGRESS',
        'only a failure function in progress (CALLBACK_INPROGRESS) can be cancelled', {
          method: 'DELETE', path: `/v2/workflows/dlq/callback/${enc}`, danger: true,
          confirm: { title: 'Cancel the failure function', text: `Stop retrying the failure function of entry ${id}? Its state becomes CALLBACK_CANCELED.`, ok: 'Cancel it', danger: true },
          done: () => `Failure function of ${id} cancelled.`,
        }),
      act('action-resume', 'Resume run', isWf, 'only workflow entries can be resumed', {
        method: 'POST', path: `/v2/workflows/dlq/resume/${enc}`,
        confirm: { title: 'Resume the run', text: `Start a new run of ${e.workflowRunId || ''} that keeps the steps before the failed one? The DLQ entry is deleted.`, ok: 'Resume' },
        done: (r) => `Resumed as run ${r.workflowRunId || '?'}.`,
        leaves: (r) => (r.workflowRunId ? `#/runs/${encodeURIComponent(r.workflowRunId)}` : '#/dlq'),
      }),
      act('action-restart', 'Restart run', isWf, 'only workflow entries can be restarted', {
        method: 'POST', path: `/v2/workflows/dlq/restart/${enc}`,
        confirm: { title: 'Restart the run', text: `Start a new run of ${e.workflowUrl || 'this workflow'} from its initial payload? The DLQ entry is deleted.`, ok: 'Restart' },
        done: (r) => `Restarted as run ${r.workflowRunId || '?'}.`,
        leaves: (r) => (r.workflowRunId ? `#/runs/${encodeURIComponent(r.workflowRunId)}` : '#/dlq'),
      }),
      act('action-retry', 'Retry message', !isWf && !e.raw, isWf ? 'workflow entries are resumed or restarted instead' : 'a malformed entry holds no message to publish', {
        method: 'POST', path: `/v2/dlq/retry/${enc}`,
        confirm: { title: 'Retry the message', text: `Publish the original message to ${e.url || 'its destination'} again (a new message id)? The DLQ entry is deleted.`, ok: 'Retry' },
        done: (r) => `Published again as ${r.messageId || 'a new message'}.`,
        leaves: () => '#/dlq',
      }),
      act('action-delete', 'Delete', true, '', {
        method: 'DELETE', path: `/v2/dlq/${enc}`, danger: true,
        confirm: { title: 'Delete the entry', text: `Delete DLQ entry ${id}? This cannot be undone.`, ok: 'Delete', danger: true },
        done: () => `Deleted ${id}.`,
        leaves: () => '#/dlq',
      })));

    /* summary */
    out.push(h('section', { 'aria-labelledby': 'h-summary' },
      h('h2', { id: 'h-summary', text: 'Summary' }),
      facts([
        ['Failure function', cbBadge(state, 'ff-state'), 'ff-state-cell'],
        ['Reason', e.reason],
        ['Entered the DLQ', timeEl(e.dlqAt)],
        ['Message created', timeEl(e.createdAt)],
        ['Message id', e.messageId && h('span', { class: 'mono', text: e.messageId })],
        ['Workflow URL', e.workflowUrl],
        ['Run id', e.workflowRunId && h('a', { href: `#/runs/${encodeURIComponent(e.workflowRunId)}`, class: 'mono', testid: 'entry-run-link', text: e.workflowRunId })],
        ['Run created', Number(e.workflowCreatedAt) > 0 ? timeEl(e.workflowCreatedAt) : null],
        ['Labels', (e.labels || e.label) && labelChips(e)],
        ['Retries', e.maxRetries !== undefined ? `${e.maxRetries} (delay: ${e.retryDelayExpression || 'default backoff'})` : null],
        ['Not before', Number(e.notBefore) > 0 ? timeEl(e.notBefore) : null],
        ['Caller IP', e.callerIP],
      ], 'entry-summary')));

    /* request / response */
    out.push(h('section', { 'aria-labelledby': 'h-request' },
      h('h2', { id: 'h-request', text: 'Failed request' }),
      h('p', {}, h('span', { class: 'method', text: e.method || 'POST' }), ' ', h('span', { class: 'mono url', testid: 'request-url', text: e.url || '' })),
      h('h3', { text: 'Headers' }), headersView(e.header, 'request-headers'),
      h('h3', { text: 'Body' }), bodyView(e.body, e.bodyBase64, 'request-body'),
      isWf && decodedSteps(e.body) ? [
        h('h3', { text: 'Run steps in the body, decoded' }),
        h('pre', { testid: 'request-steps', tabindex: '0', text: JSON.stringify(decodedSteps(e.body), null, 2) }),
      ] : null));
    out.push(h('section', { 'aria-labelledby': 'h-response' },
      h('h2', { id: 'h-response', text: 'Last response' }),
      h('p', {}, 'Status ', statusBadge(e.responseStatus)),
      h('h3', { text: 'Headers' }), headersView(e.responseHeader, 'response-headers'),
      h('h3', { text: 'Body' }), bodyView(e.responseBody, e.responseBodyBase64, 'response-body')));
    out.push(h('section', { 'aria-labelledby': 'h-attempts' },
      h('h2', { id: 'h-attempts', text: 'Attempts' }), attemptsTable(e.attempts)));

    /* failure function */
    const ff = h('section', { 'aria-labelledby': 'h-ff', testid: 'failure-function' },
      h('h2', { id: 'h-ff', text: 'Failure function' }));
    if (!info) {
      ff.append(h('p', { class: 'muted', text: 'This message had no failure function (failure callback).' }));
    } else {
      ff.append(facts([
        ['State', cbBadge(state)],
        ['URL', ffUrl && h('span', { class: 'mono', text: ffUrl })],
        ['Last response status', info.responseStatus !== undefined ? statusBadge(info.responseStatus) : null, 'ff-response-status'],
      ]));
      if (info.responseStatus !== undefined || info.responseBody !== undefined || info.responseBodyBase64 !== undefined) {
        ff.append(h('h3', { text: 'Last response headers' }), headersView(info.responseHeaders, 'ff-response-headers'),
          h('h3', { text: 'Last response body' }), bodyView(info.responseBody, info.responseBodyBase64, 'ff-response-body'));
      }
      // GET /v2/dlq/{id} keeps the failed attempts of the current run
      // of the failure function (the last 10) for every entry with one.
      const errs = Array.isArray(info.errors) ? info.errors : [];
      ff.append(h('h3', { text: 'Errors per attempt' }), errs.length ? ffErrorsTable(errs, 'ff-errors')
        : h('p', { class: 'muted', testid: 'ff-errors-none', text: 'No failed attempt yet.' }));
    }
    out.push(ff);

    if (e.raw) {
      out.push(h('section', { 'aria-labelledby': 'h-raw' },
        h('h2', { id: 'h-raw', text: 'Raw stream entry (malformed)' }), bodyView(e.raw, undefined, 'entry-raw')));
    }
    return out;
  }

  /* ------------------------------------------------------------------ */
  /* Runs                                                                 */

  const runsPaging = { key: null, stack: [], cursor: '' };
  const RUN_FIELDS = ['state', 'workflowUrl', 'workflowRunId', 'label', 'count'];

  function runsFilter(params) {
    const f = {};
    for (const k of RUN_FIELDS) { const v = params.get(k); if (v) f[k] = v; }
    if (f.state && !RUN_STATES.includes(f.state)) delete f.state;
    f.count = pageSize(f.count, '20');
    return f;
  }

  function allSteps(log) {
    const rows = [];
    for (const g of log.steps || []) for (const s of g.steps || []) rows.push({ group: g.type, step: s });
    return rows;
  }

  /**
   * The steps a run finished: its sequential and parallel steps but the
   * initial payload; deliveries in flight or failed (the "next" group)
   * are not steps done.  `stepflow runs list` counts the same.
   */
  function stepsDone(log) {
    return allSteps(log).filter((x) => x.group !== 'next' && x.step.stepType !== 'Initial');
  }

  function cancelRunButton(runId, after) {
    const b = h('button', { type: 'button', class: 'danger', testid: 'run-cancel', text: 'Cancel run' });
    b.addEventListener('click', async () => {
      if (!(await confirmAction({ title: 'Cancel the run', text: `Cancel workflow run ${runId}? No further step runs and no failure function is called.`, ok: 'Cancel run', danger: true }))) return;
      b.disabled = true;
      try {
        await api('DELETE', `/v2/workflows/runs/${encodeURIComponent(runId)}`, { query: { cancel: 'true' } });
        notify('ok', `Run ${runId} cancelled.`);
      } catch (e) {
        notify('error', `Cancel failed: ${errText(e)}`);
      }
      await after();
    });
    return b;
  }

  async function viewRuns(root, ctx, params) {
    const f = runsFilter(params);
    const key = JSON.stringify(f);
    if (runsPaging.key !== key) Object.assign(runsPaging, { key, stack: [], cursor: '' });
    let nextCursor = '';
    const tbody = h('tbody', { testid: 'run-rows' });
    const prev = h('button', { type: 'button', class: 'quiet', testid: 'runs-prev', text: '← Previous page' });
    const next = h('button', { type: 'button', class: 'quiet', testid: 'runs-next', text: 'Next page →' });
    const pageNo = h('span', { class: 'muted' });

    const stateSel = h('select', { id: 'r-state', testid: 'runs-filter-state' },
      h('option', { value: '', text: 'any' }),
      RUN_STATES.map((s) => h('option', { value: s, text: s, selected: f.state === s })));
    const url = h('input', { id: 'r-url', type: 'text', value: f.workflowUrl || '', testid: 'runs-filter-url', spellcheck: 'false', placeholder: 'exact workflow URL' });
    const runId = h('input', { id: 'r-id', type: 'text', value: f.workflowRunId || '', testid: 'runs-filter-id', spellcheck: 'false', placeholder: 'wfr_…' });
    const label = h('input', { id: 'r-label', type: 'text', value: f.label || '', testid: 'runs-filter-label' });
    const count = pageSizeSelect('r-count', ['10', '20', '50'], f.count, 'runs-filter-count');
    const form = h('form', { class: 'filters', testid: 'runs-filter', 'aria-label': 'Filter the runs' },
      field('State', stateSel), field('Workflow URL', url), field('Run id', runId), field('Label', label), field('Per page', count),
      h('div', { class: 'field buttons' },
        h('button', { type: 'submit', testid: 'runs-filter-apply', text: 'Apply filter' }),
        h('button', { type: 'button', class: 'quiet', text: 'Clear', onclick: () => { resetPaging(runsPaging); go('#/runs'); } })));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const q = { state: stateSel.value, workflowUrl: url.value.trim(), workflowRunId: runId.value.trim(), label: label.value.trim() };
      if (count.value !== '20') q.count = count.value;
      resetPaging(runsPaging);
      go(`#/runs${qs(q)}`);
    });

    const load = async () => {
      prev.disabled = true; next.disabled = true;
      let res;
      try {
        res = await api('GET', '/v2/workflows/events', { query: { groupBy: 'workflowRunId', ...f, cursor: runsPaging.cursor } });
      } catch (e) {
        if (!ctx.live()) return;
        tbody.replaceChildren(h('tr', {}, h('td', { colspan: 8, class: 'error', role: 'alert', text: `Cannot list runs: ${errText(e)}` })));
        return;
      }
      if (!ctx.live()) return;
      const runs = res.runs || [];
      nextCursor = res.cursor || '';
      tbody.replaceChildren(...(runs.length ? runs.map((r) => {
        const steps = stepsDone(r);
        return h('tr', { testid: 'run-row', 'data-run-id': r.workflowRunId, 'data-state': r.workflowState },
          h('td', {}, timeEl(r.workflowRunCreatedAt)),
          h('td', { class: 'mono' }, h('a', { href: `#/runs/${encodeURIComponent(r.workflowRunId)}`, testid: 'run-open', text: r.workflowRunId })),
          h('td', { class: 'url', text: r.workflowUrl || '' }),
          h('td', {}, runBadge(r.workflowState, 'run-row-state')),
          h('td', {}, timeEl(r.workflowRunCompletedAt)),
          h('td', { class: 'num', text: String(steps.length) }),
          h('td', {}, labelChips(r)),
          h('td', {}, r.dlqId ? h('a', { href: `#/dlq/${encodeURIComponent(r.dlqId)}`, text: 'DLQ entry' }) : null,
            r.workflowState === 'RUN_STARTED' ? cancelRunButton(r.workflowRunId, load) : null));
      }) : [h('tr', {}, h('td', { colspan: 8, class: 'muted', testid: 'runs-empty', text: 'No runs match.' }))]));
      prev.disabled = runsPaging.stack.length === 0;
      next.disabled = !nextCursor;
      pageNo.textContent = `Page ${runsPaging.stack.length + 1}`;
    };
    prev.addEventListener('click', () => { runsPaging.cursor = runsPaging.stack.pop() || ''; load(); });
    next.addEventListener('click', () => {
      if (!nextCursor) return;
      runsPaging.stack.push(runsPaging.cursor);
      runsPaging.cursor = nextCursor;
      load();
    });

    add(root, [
      h('h1', { text: 'Workflow runs' }),
      form,
      h('div', { class: 'scroll' }, h('table', { class: 'grid', testid: 'runs-table' },
        h('caption', { class: 'sr-only', text: 'Workflow runs, newest first' }),
        h('thead', {}, h('tr', {}, ['Created', 'Run id', 'Workflow URL', 'State', 'Ended', 'Steps done', 'Labels', '']
          .map((t) => h('th', {
            scope: 'col', text: t,
            title: t === 'Steps done' ? 'steps the run finished, its initial payload and the deliveries in flight or failed not counted' : null,
          })))),
        tbody)),
      h('div', { class: 'pager' }, prev, pageNo, next),
    ]);
    await load();
  }

  function stepsTable(log) {
    const rows = allSteps(log);
    if (!rows.length) return h('p', { class: 'muted', text: 'No steps recorded.' });
    return h('table', { class: 'grid steps', testid: 'run-steps' },
      h('thead', {}, h('tr', {}, ['Group', 'Step', 'Name', 'Type', 'State', 'Time', 'Output / errors']
        .map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows.map(({ group, step }) => {
        const errs = Array.isArray(step.errors) ? step.errors : [];
        const detail = [];
        if (step.out !== undefined) detail.push(bodyView(typeof step.out === 'string' ? step.out : JSON.stringify(step.out)));
        for (const x of errs) {
          detail.push(h('div', { class: 'step-error' }, statusBadge(x.status), ' ', x.error || '', ' ', timeEl(x.time),
            smallBody(x.body)));
        }
        return h('tr', { testid: 'step-row', 'data-step-name': step.stepName || '', 'data-state': step.state || '' },
          h('td', {}, h('span', { class: `tag ${group}`, text: group !== 'next' ? group
            : (step.state === 'STEP_FAILED' ? 'failed delivery' : 'in flight') })),
          h('td', { class: 'num', text: step.stepId === undefined ? '—' : String(step.stepId) }),
          h('td', { text: step.stepName || '' }),
          h('td', { text: step.stepType || '' }),
          h('td', {}, stepBadge(step.state)),
          h('td', {}, timeEl(step.createdAt)),
          h('td', { class: 'detail' }, detail.length ? detail : dash()));
      })));
  }

  async function viewRun(root, ctx, runId) {
    const back = h('a', { href: `#/runs${runsPaging.key ? qs(JSON.parse(runsPaging.key)) : ''}`, class: 'back', 'data-keep-page': '', text: '← Workflow runs' });
    const body = h('div', { testid: 'run-detail' }, h('p', { class: 'muted', text: 'Loading…' }));
    add(root, [back, h('h1', {}, 'Run ', h('span', { class: 'mono', text: runId })), body]);
    let lastState = null;
    const render = async () => {
      let log;
      try {
        log = await fetchRunLog(runId);
      } catch (e) {
        if (ctx.live()) body.replaceChildren(h('p', { class: 'error', role: 'alert', text: `Cannot read the run: ${errText(e)}` }));
        return;
      }
      if (!ctx.live()) return;
      if (!log) {
        body.replaceChildren(h('p', { class: 'muted', testid: 'run-missing', text: 'No such run (finished runs are deleted after STEPFLOW_WORKFLOW_RETENTION_S).' }));
        return;
      }
      lastState = log.workflowState;
      const ff = log.failureFunction;
      const parts = [
        h('div', { class: 'actions' }, log.workflowState === 'RUN_STARTED' ? cancelRunButton(runId, render) : null,
          log.dlqId ? h('a', { class: 'button', href: `#/dlq/${encodeURIComponent(log.dlqId)}`, testid: 'run-dlq-link', text: 'Open its DLQ entry' }) : null),
        facts([
          ['State', runBadge(log.workflowState, 'run-state')],
          ['Workflow URL', log.workflowUrl && h('span', { class: 'mono', text: log.workflowUrl })],
          ['Created', timeEl(log.workflowRunCreatedAt)],
          ['Ended', Number(log.workflowRunCompletedAt) > 0 ? timeEl(log.workflowRunCompletedAt) : null],
          ['Labels', (log.labels || log.label) && labelChips(log)],
        ], 'run-summary'),
        h('section', { 'aria-labelledby': 'h-steps' }, h('h2', { id: 'h-steps', text: 'Steps' }), stepsTable(log)),
      ];
      if (log.workflowRunResponse !== undefined) {
        parts.push(h('section', { 'aria-labelledby': 'h-result' }, h('h2', { id: 'h-result', text: 'Result' }),
          bodyView(log.workflowRunResponse, undefined, 'run-result')));
      }
      if (ff) {
        parts.push(h('section', { 'aria-labelledby': 'h-run-ff', testid: 'run-failure-function' },
          h('h2', { id: 'h-run-ff', text: 'Failure function' }),
          facts([
            ['State', cbBadge(ff.state, 'run-ff-state')],
            ['URL', ff.url && h('span', { class: 'mono', text: ff.url })],
            ['Failed step status', ff.failStatus !== undefined ? statusBadge(ff.failStatus) : null],
            ['Failed step response', smallBody(ff.failResponse)],
            ['Last response status', ff.responseStatus !== undefined ? statusBadge(ff.responseStatus) : null],
            ['Last response body', smallBody(ff.responseBody)],
          ]),
          Array.isArray(ff.errors) && ff.errors.length ? [h('h3', { text: 'Errors per attempt' }), ffErrorsTable(ff.errors, 'run-ff-errors')] : null));
      }
      body.replaceChildren(...parts);
    };
    await render();
    ctx.every(SETTLE_POLL_MS * 2, async () => { if (lastState === 'RUN_STARTED') await render(); });
  }

  /* ------------------------------------------------------------------ */

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
