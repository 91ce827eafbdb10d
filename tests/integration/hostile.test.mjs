// hostile.test.mjs - no input can crash a worker or the coordinator.
//
// Replays a seeded, bounded sample of hostile input against a real stack:
//   (a) HTTP: random methods/paths/headers/bodies on the API, raw TCP
//       garbage and truncated requests;
//   (b) Redis: random entries written straight into P:{msg}:stream,
//       P:{dlq}:cb:stream and P:{msg}:delayed/payload;
//   (c) destinations that answer hostile things (huge or 10k headers, bad
//       status lines, 1xx only, endless bodies, closing mid-headers,
//       slowloris).
// After each batch both processes must be alive and answering: /healthz
// is 200 and a normal publish is delivered end to end.  Well-formed
// requests must get a reply (never a bare close) and never a 5xx other
// than 503; 4xx replies carry a JSON {error}.
//
// Reproducible: HOSTILE_SEED (default 20261129) fixes every choice;
// HOSTILE_SCALE (default 1) multiplies the number of cases per batch for a
// longer fuzzing run.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before } from 'node:test';
import { startStack, waitFor, test, hdr, pairs, endpoint, mp } from './lib/stack.mjs';

const SEED = Number(process.env.HOSTILE_SEED || 20261129);
const SCALE = Number(process.env.HOSTILE_SCALE || 1);

/* ---------------- seeded PRNG (mulberry32) ------------------------------ */

function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
    bytes: (n) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = r.int(256); return b; },
    str: (n, alphabet = 'abcXYZ019-_.~%/?#&=:;@!$\'()*+, \t"<>\\^`{|}\u00e9\u4e2d\u{1F600}') => {
      const chars = [...alphabet];
      let s = '';
      for (let i = 0; i < n; i++) s += chars[Math.floor(next() * chars.length)];
      return s;
    },
  };
  return r;
}


/* ---------------- raw HTTP over TCP ------------------------------------- */

/**
 * Writes `data` (Buffer or string, possibly in pieces with pauses) to
 * host:port and collects everything until the peer closes or `timeoutMs`
 * passes.  Returns {raw, status, body, json, closedEarly, timedOut}.
 */
function rawRequest(port, data, { timeoutMs = 5000, pieces = null } = {}) {
  return new Promise((resolve) => {
    const chunks = [];
    let timedOut = false;
    const sock = net.createConnection({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => { timedOut = true; sock.destroy(); }, timeoutMs);
    sock.on('connect', async () => {
      if (!pieces) { sock.write(data); return; }
      for (const p of pieces) {
        if (sock.destroyed) return;
        sock.write(p.data);
        if (p.pauseMs) await new Promise((r) => setTimeout(r, p.pauseMs));
      }
      if (pieces.end) sock.end();
    });
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      const text = raw.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const sep = text.indexOf('\r\n\r\n');
      let body = sep >= 0 ? raw.subarray(sep + 4).toString('utf8') : '';
      if (sep >= 0 && /\r\ntransfer-encoding: *chunked/i.test(text.slice(0, sep))) body = dechunk(body);
      let json;
      try { json = JSON.parse(body); } catch { json = undefined; }
      resolve({ raw, status: m ? Number(m[1]) : 0, body, json, timedOut, closedEarly: !m });
    });
  });
}

function dechunk(s) {
  let out = '';
  let p = 0;
  for (;;) {
    const eol = s.indexOf('\r\n', p);
    if (eol < 0) return out;
    const n = parseInt(s.slice(p, eol), 16);
    if (!(n > 0)) return out;
    out += s.slice(eol + 2, eol + 2 + n);
    p = eol + 2 + n + 2;
  }
}

/** A well-formed HTTP/1.1 request (Connection: close, exact length). */
function wellFormed(method, target, headers, body) {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body || '');
  let head = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
  head += `Content-Length: ${b.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'utf8'), b]);
}

/* ---------------- the stack and the hostile endpoints ------------------- */

let stack, ep, hostile;
const findings = []; // well-formed requests that broke the contract

// Hostile behaviours, chosen by the first path segment.
const behaviours = {
  hugeheader: (s) => s.end(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(300000)}\r\nContent-Length: 0\r\n\r\n`),
  manyheaders: (s) => {
    let h = 'HTTP/1.1 500 Oops\r\n';
    for (let i = 0; i < 10000; i++) h += `X-H${i}: ${i}\r\n`;
    s.end(`${h}Content-Length: 2\r\n\r\nno`);
  },
  badstatus: (s) => s.end('HTTP/1.1 abc what\r\n\r\n'),
  garbage: (s) => s.end('\x00\x01\x02 not http at all \xff\xfe\r\n\r\n'),
  hugestatus: (s) => s.end('HTTP/1.1 99999999999 X\r\nContent-Length: 0\r\n\r\n'),
  negstatus: (s) => s.end('HTTP/1.1 -200 X\r\nContent-Length: 0\r\n\r\n'),
  only1xx: (s) => { s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n'); },
  endless: (s) => {
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    const t = setInterval(() => { if (s.destroyed) clearInterval(t); else s.write(`4000\r\n${'z'.repeat(0x4000)}\r\n`); }, 5);
    s.on('close', () => clearInterval(t));
  },
  midheaders: (s) => s.end('HTTP/1.1 200 OK\r\nContent-Le'),
  slowloris: (s) => {
    s.write('HTTP/1.1 200 OK\r\n');
    const t = setInterval(() => { if (s.destroyed) clearInterval(t); else s.write('X'); }, 200);
    s.on('close', () => clearInterval(t));
  },
  badlength: (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: -5\r\nContent-Length: 99999999999999999999\r\n\r\nabc'),
  badchunk: (s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\nabc\r\n'),
  nullheader: (s) => s.end('HTTP/1.1 404 No\r\nX-A\x00: b\x00c\r\nNoColonHere\r\n: empty\r\nContent-Length: 0\r\n\r\n'),
  redirect: (s) => s.end('HTTP/1.1 302 Found\r\nLocation: /redirect\r\nContent-Length: 0\r\n\r\n'),
  gzipbomb: (s) => s.end(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 20\r\n\r\n${'\x1f\x8b'.repeat(10)}`, 'latin1')),
  overlong: (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 500 Smuggled\r\n\r\n'),
  bigbody: (s) => {
    s.write('HTTP/1.1 500 Big\r\nContent-Length: 20000000\r\n\r\n');
    const chunk = Buffer.alloc(1 << 20, 0x41);
    let n = 0;
    const more = () => { while (n < 20 && !s.destroyed) { n++; if (!s.write(chunk)) { s.once('drain', more); return; } } s.end(); };
    more();
  },
  reset: (s) => s.destroy(),
  silent: () => {},
};

const hits = {}; // requests seen by the hostile server, per behaviour

// One listener per behaviour: a reply that leaves junk behind on a kept-
// alive connection (bytes past Content-Length) then only poisons curl's
// next request to that same listener, as it would with any HTTP client.
async function hostileServer() {
  const sockets = new Set();
  const servers = {};
  for (const name of Object.keys(behaviours)) {
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      let buf = '';
      s.on('data', (d) => {
        if (buf === null) return;
        buf += d.toString('latin1');
        if (!buf.includes('\r\n\r\n')) return;
        buf = null;
        hits[name] = (hits[name] || 0) + 1;
        behaviours[name](s);
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    servers[name] = server;
  }
  return {
    /** URL of the listener that behaves like "name". */
    at: (name) => `http://127.0.0.1:${servers[name].address().port}/${name}`,
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(Object.values(servers).map((srv) => new Promise((r) => srv.close(r))));
    },
  };
}

before(async () => {
  ep = await endpoint(() => ({ status: 200, body: 'ok' }));
  hostile = await hostileServer();
  stack = await startStack({
    workers: 1,
    coordEnv: { STEPFLOW_MAX_BODY_BYTES: '4096' },
    env: { STEPFLOW_DEFAULT_TIMEOUT_MS: '2000', STEPFLOW_MAX_TIMEOUT_MS: '3000', STEPFLOW_LOG_LEVEL: 'warn' },
  });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
  if (hostile) await hostile.close();
});

const port = () => Number(new URL(stack.url).port);

let healthN = 0;
/** Both processes alive, /healthz 200, a normal publish delivered. */
async function assertHealthy(what) {
  assert.ok(stack.coordinators[0].alive, `${what}: coordinator died ${JSON.stringify(stack.coordinators[0].exit)}`);
  assert.ok(stack.workers[0].alive, `${what}: worker died ${JSON.stringify(stack.workers[0].exit)}`);
  const h = await stack.api('GET', '/healthz', { token: null });
  assert.equal(h.status, 200, `${what}: /healthz ${h.status}`);
  const path = `/alive${healthN++}`;
  const id = await stack.publish(`${ep.url}${path}`, `alive after ${what}`);
  await waitFor(() => ep.to(path).some((r) => hdr(r, 'Upstash-Message-Id') === id),
    { timeout: 15000, message: `normal delivery after ${what}` });
}

/** Checks the reply to a well-formed request; collects violations. */
const statuses = {};
function judge(what, r) {
  statuses[r.status] = (statuses[r.status] || 0) + 1;
  let bad = null;
  if (r.timedOut) bad = 'no reply (timed out)';
  else if (r.closedEarly) bad = 'connection closed without a reply';
  else if (r.status >= 500 && r.status !== 503) bad = `status ${r.status}`;
  else if (r.status >= 400 && !(r.json && typeof r.json.error === 'string')) bad = `status ${r.status} without a JSON {error}: ${r.body.slice(0, 200)}`;
  if (bad) findings.push(`${what}: ${bad}`);
}

/* ---------------- (a) HTTP ---------------------------------------------- */

function randDestination(R) {
  const gens = [
    () => `${ep.url}/fine${R.int(1000)}`,
    () => `${ep.url}/q?${R.str(R.int(40))}`,
    () => 'http://127.0.0.1:1/dead',
    () => hostile.at(R.pick(Object.keys(behaviours))),
    () => R.pick(['', 'not-a-url', 'http://', 'https://', 'http://[::1', 'http://:80/', 'http://127.0.0.1:99999/',
      'http://127.0.0.1:-1/', 'file:///etc/passwd', 'gopher://127.0.0.1:70/x', 'javascript:alert(1)',
      'HTTP://127.0.0.1:1/UPPER', 'http://user:pa%20ss@127.0.0.1:1/', 'http://127.0.0.1:1/%00%0d%0a',
      'http%3A%2F%2F127.0.0.1%3A1%2F', '%ZZ%', '//127.0.0.1:1/', 'http:/127.0.0.1:1', 'http://\u00fc.invalid/\u00e4',
      'http://127.0.0.1:1/\u{1F600}', 'http://127.0.0.1:1/a b', 'http://127.0.0.1:1/../../../']),
    () => `http://127.0.0.1:1/${'a'.repeat(R.pick([100, 2000, 9000]))}`,
    () => encodeURIComponent(`http://127.0.0.1:1/${R.str(30)}`),
    () => R.str(R.int(80)),
  ];
  return R.pick(gens)();
}

const upstashHeaders = ['Upstash-Retries', 'Upstash-Delay', 'Upstash-Not-Before', 'Upstash-Retry-Delay',
  'Upstash-Timeout', 'Upstash-Method', 'Upstash-Forward-X-A', 'Upstash-Failure-Callback', 'Upstash-Callback',
  'Upstash-Deduplication-Id', 'Upstash-Content-Based-Deduplication', 'Upstash-Label',
  'Upstash-Failure-Callback-Forward-X-B', 'Upstash-Failure-Callback-Retries', 'Upstash-Failure-Callback-Timeout',
  'Upstash-Failure-Callback-Retry-Delay', 'Upstash-Failure-Callback-Method', 'Upstash-Workflow-RunId',
  'Upstash-Workflow-Url', 'Upstash-Forward-Authorization', 'Content-Type', 'Upstash-Flow-Control-Key',
  'Upstash-Queue-Name', 'Upstash-Cron', 'Upstash-Callback-Forward-X',
  'Upstash-Workflow-Init', 'Upstash-Workflow-CallType', 'Upstash-Flow-Control-Value',
  'Upstash-Callback-Retries', 'Upstash-Callback-Workflow-RunId', 'Upstash-Failure-Callback-Workflow-Runid'];

function randHeaderValue(R) {
  return R.pick([
    () => String(R.int(5)),
    () => R.pick(['-1', '-9223372036854775808', '9223372036854775807', '99999999999999999999999', '1e9', '1e999',
      'NaN', 'Infinity', '0x10', ' 5 ', '+3', '', '0', '00000000000000000001', '1.5', '3s', '10d', '-5m', '1000000h',
      'true', 'null', '[]', '{}']),
    () => R.pick(['1000 * pow(2, retried)', 'max(10, min(20', 'retried/0', '1/0', '-retried', 'pow(10, 400)',
      'pow(2, 1000000)', `${'('.repeat(500)}1${')'.repeat(500)}`, `${'('.repeat(3000)}`, '1'.repeat(400),
      'exp(999)', 'retried retried', '1 +', '*', '%00', '\u00e9\u4e2d']),
    () => R.pick([`${ep.url}/cb`, 'http://127.0.0.1:1/cb', 'file:///etc/shadow', 'not a url']),
    () => R.pick(['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'get', 'X Y', '']),
    () => R.str(R.int(60)).replace(/[\r\n]/g, ''),
    () => 'v'.repeat(R.pick([1000, 3000])),
  ])();
}

function randJson(R, depth = 0) {
  const k = R.int(depth > 6 ? 5 : 8);
  switch (k) {
    case 0: return null;
    case 1: return R.pick([0, -1, 1e308, -1e308, 2 ** 53 + 1, 1.5, 9223372036854775807]);
    case 2: return R.chance(0.5) ? R.str(R.int(20)) : randDestination(R);
    case 3: return R.chance(0.5);
    case 4: return '';
    case 5: return Array.from({ length: R.int(4) }, () => randJson(R, depth + 1));
    default: {
      const o = {};
      const keys = ['destination', 'headers', 'body', 'method', 'queue', 'callback', 'failureCallback', 'delay',
        'notBefore', 'retries', 'x', ''];
      for (let i = R.int(5); i > 0; i--) o[R.pick(keys)] = randJson(R, depth + 1);
      if (R.chance(0.3)) o.headers = { 'Upstash-Retries': randJson(R, 7), [R.str(5)]: randJson(R, 7) };
      return o;
    }
  }
}

function randBatchBody(R) {
  return R.pick([
    () => JSON.stringify(Array.from({ length: R.int(5) }, () => randJson(R))),
    () => JSON.stringify(randJson(R)),
    () => `${'['.repeat(R.pick([100, 2000, 4000]))}`,
    () => `${'['.repeat(1500)}${']'.repeat(1500)}`,
    () => `[${Array(R.pick([500, 1500])).fill('1').join(',')}]`,
    () => `[${Array(R.pick([50, 150])).fill(`{"destination":"${ep.url}/b"}`).join(',')}]`,
    () => JSON.stringify([{ destination: `${ep.url}/b`, headers: { 'Upstash-Retries': 5, 'X-Num': 7, 'Upstash-Delay': null } }]),
    () => JSON.stringify([{ destination: `${ep.url}/b`, headers: [] }, { destination: 5 }, null, 'x']),
    () => JSON.stringify([{ destination: `${ep.url}/b`, body: { nested: true } }]),
    () => '{"destination": "\\u0000"}',
    () => '[{"destination":"\\ud800"}]',
    () => R.bytes(R.int(200)),
  ])();
}

function randQuery(R) {
  const params = ['cursor', 'count', 'messageId', 'url', 'topicName', 'label', 'fromDate', 'toDate', 'state',
    'responseStatus', 'callerIp', 'workflowRunId', 'workflowUrl', 'order', 'trimBody', 'dlqIds', 'x',
    'workflowRunIds', 'workflowUrlExactMatch', 'workflowUrlStartingWith', 'groupBy', 'cancel',
    'failureFunctionState', 'workflowCreatedAt', 'flowControlKey', 'source', 'host', 'path'];
  const vals = ['', '-1', '0', '1', '99999999999999999999', '1e9', 'abc', '%00', '%ZZ', '%', 'a%2Fb', '\u00e9',
    'CALLBACK_FAIL', 'latestFirst', 'earliestFirst', '9223372036854775807', '-9223372036854775808', 'null',
    'true', 'false', 'workflow', 'workflowRunId', 'RUN_STARTED', 'wfr_x'];
  const n = R.int(6);
  const parts = [];
  for (let i = 0; i < n; i++) {
    const v = R.chance(0.2) ? R.str(R.int(30)) : R.pick(vals);
    parts.push(`${R.pick(params)}=${encodeURIComponent(v).replace(/%25/g, R.chance(0.5) ? '%' : '%25')}`);
  }
  if (R.chance(0.1)) parts.push(`cursor=${'9'.repeat(3000)}`);
  if (R.chance(0.1)) parts.push('count&count=&=&&');
  return parts.join('&');
}

function randId(R) {
  return R.pick([
    () => R.str(R.int(20), 'abcdef0123456789'),
    () => 'a'.repeat(R.pick([300, 3000, 8000])),
    () => 'x%2Fy%2F..', () => 'a/b/c', () => '%00', () => '%', () => '..', () => encodeURIComponent(R.str(10)),
    () => `dlq_${R.str(8, '0123456789')}`, () => '\u00e9',
  ])();
}

function randApiRequest(R) {
  const kind = R.int(8);
  const usual = [null, 'POST', 'POST', 'POST', 'POST', null, 'GET', 'GET'][kind];
  let method = R.pick(['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS']);
  let target;
  let body = '';
  if (kind <= 2) {
    const d = randDestination(R);
    target = `/v2/publish/${d.replace(/[\s]/g, R.chance(0.5) ? '%20' : '+')}`;
    body = R.chance(0.3) ? R.bytes(R.int(300)) : R.chance(0.1) ? 'b'.repeat(5000) : R.str(R.int(100));
  } else if (kind === 3) {
    target = '/v2/batch';
    body = randBatchBody(R);
  } else if (kind === 4) {
    method = R.pick(['GET', 'GET', 'GET', 'DELETE', method]);
    target = `/v2/dlq${R.chance(0.8) ? `?${randQuery(R)}` : ''}`;
    if (R.chance(0.5)) body = JSON.stringify({ dlqIds: R.chance(0.5) ? [randId(R), 5, null] : randJson(R) });
  } else if (kind === 5) {
    method = R.pick(['GET', 'POST', 'DELETE', method]);
    target = R.pick([`/v2/dlq/${randId(R)}`, `/v2/dlq/retry/${randId(R)}`, '/v2/dlq/retry',
      `/v2/workflows/dlq/callback/${randId(R)}`, `/v2/workflows/dlq/${randId(R)}`,
      '/v2/workflows/runs', `/v2/workflows/runs/${randId(R)}`, '/v2/workflows/events',
      '/v2/workflows/dlq/resume', '/v2/workflows/dlq/restart', `/v2/workflows/dlq/resume/${randId(R)}`,
      `/v2/workflows/dlq/restart/${randId(R)}`, '/v2/keys', `/v2/flowControl/${randId(R)}`,
      `/v2/trigger/${randDestination(R)}`, '/v2/stats', '/metrics', `/ui/${randId(R)}`,
      '/ui/app.js', '/ui/', '/ui/../index.html', '/ui/%2e%2e/index.html']);
    if (R.chance(0.2)) method = 'HEAD';
    if (R.chance(0.5)) target += `?${randQuery(R)}`;
    if (R.chance(0.5)) body = JSON.stringify(randJson(R));
  } else if (kind === 6) {
    target = `/v2/${R.str(R.int(30), 'abc/%.-_')}`;
  } else {
    target = R.pick(['/v2', '/v2/', '/', '/healthz?x', '/readyz/', '/v2/publish', '/v2/publish/', '//v2//dlq']);
  }
  if (usual && R.chance(0.8)) method = usual;
  target = target.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c)); // well-formed request line
  const headers = [];
  if (R.chance(0.95)) headers.push(['Authorization', `Bearer ${stack.token}`]);
  else headers.push(['Authorization', R.pick(['', 'Bearer', 'Bearer ', `bearer ${stack.token}`, 'Basic x'])]);
  for (let i = R.int(6); i > 0; i--) headers.push([R.pick(upstashHeaders), randHeaderValue(R)]);
  if (R.chance(0.2)) { const h = R.pick(upstashHeaders); headers.push([h, '1'], [h, randHeaderValue(R)]); }
  // Header values must be printable for a well-formed request.
  for (const h of headers) h[1] = h[1].replace(/[^\x20-\x7e\u00a0-\uffff]/gu, '');
  return { method, target, headers, body };
}

async function httpBatch(R, n, label) {
  for (let i = 0; i < n; i++) {
    const q = randApiRequest(R);
    const r = await rawRequest(port(), wellFormed(q.method, q.target, q.headers, q.body), { timeoutMs: 10000 });
    if (q.method === 'HEAD' && r.status) continue; // no body to judge
    judge(`${label}#${i} ${q.method} ${q.target.slice(0, 120)}`, r);
  }
}

test('(a) random API requests: every well-formed one gets a non-5xx reply, 4xx with JSON', async () => {
  const R = prng(SEED);
  await httpBatch(R, 150 * SCALE, 'api');
  console.log(`reply statuses: ${JSON.stringify(statuses)}`);
  if (findings.length) console.log(`findings:\n  ${findings.slice(0, 30).join('\n  ')}`);
  assert.deepEqual(findings, [], 'contract violations');
  await assertHealthy('random API requests');
});

test('(a) random workflow step publishes against a live run: 2xx or a 4xx JSON, never a crash', async () => {
  const R = prng(SEED + 7);
  const wfUrl = `${ep.url}/wf-hostile`;
  const trig = await stack.api('POST', `/v2/trigger/${wfUrl}`, { body: '{"start":1}' });
  assert.equal(trig.status, 200, trig.text);
  const runId = trig.json.workflowRunId;
  const stepBodies = [
    () => JSON.stringify({ stepId: R.int(5), stepName: R.str(8), stepType: 'Run', out: R.str(20), concurrent: 1 }),
    () => JSON.stringify({ stepId: 0, targetStep: R.pick([-1, 0, 1, 2, 1e18]), concurrent: R.int(4) }),
    () => JSON.stringify({ stepId: R.pick(['1', null, 1.5, -3, 1e300, [], {}]), stepName: R.pick([5, null, '']) }),
    () => JSON.stringify(randJson(R)),
    () => R.bytes(R.int(200)),
    () => '',
    () => `{"stepId":1,"stepName":"${'n'.repeat(R.pick([10, 5000]))}","out":"${'o'.repeat(R.int(3000))}"}`,
  ];
  for (let i = 0; i < 60 * SCALE; i++) {
    const headers = [['Authorization', `Bearer ${stack.token}`], ['Upstash-Workflow-RunId', R.chance(0.8) ? runId : R.str(12)],
      ['Upstash-Workflow-Url', R.chance(0.8) ? wfUrl : R.str(20)]];
    if (R.chance(0.2)) headers.push(['Upstash-Workflow-Init', R.pick(['true', 'false', 'x'])]);
    if (R.chance(0.2)) headers.push(['Upstash-Workflow-CallType', R.pick(['step', 'toCallback', 'fromCallback', ''])]);
    if (R.chance(0.2)) headers.push(['Upstash-Callback', R.pick([wfUrl, 'nope', ''])]);
    if (R.chance(0.3)) headers.push([R.pick(upstashHeaders), randHeaderValue(R)]);
    for (const h of headers) h[1] = h[1].replace(/[^\x20-\x7e]/gu, '');
    const dest = R.chance(0.8) ? wfUrl : `${ep.url}/elsewhere`;
    const r = await rawRequest(port(), wellFormed('POST', `/v2/publish/${dest}`, headers, R.pick(stepBodies)()),
      { timeoutMs: 10000 });
    judge(`wf#${i}`, r);
  }
  for (const q of ['', '?cancel=true', '?cancel=false', '?cancel=maybe']) {
    judge(`run delete ${q}`, await rawRequest(port(), wellFormed('DELETE', `/v2/workflows/runs/${runId}${q}`,
      [['Authorization', `Bearer ${stack.token}`]], R.bytes(50)), { timeoutMs: 10000 }));
  }
  if (findings.length) console.log(`findings:\n  ${findings.slice(0, 30).join('\n  ')}`);
  assert.deepEqual(findings, [], 'contract violations');
  await assertHealthy('workflow step publishes');
});

test('(a) raw TCP garbage, malformed and truncated requests', async () => {
  const R = prng(SEED + 1);
  const auth = `Authorization: Bearer ${stack.token}\r\n`;
  const fixed = [
    'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
    'POST /v2/publish/http://127.0.0.1:1/ HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\nabc',
    'POST /v2/publish/http://127.0.0.1:1/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nab',
    `POST /v2/publish/http://127.0.0.1:1/ HTTP/1.1\r\n${auth}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    `POST /v2/publish/http://127.0.0.1:1/ HTTP/1.1\r\n${auth}Upstash-Forward-X: a\rInjected: b\r\n\r\n`,
    `POST /v2/publish/http://127.0.0.1:1/ HTTP/1.1\r\n${auth}Upstash-Forward-X: a\nInjected: b\r\nContent-Length: 0\r\n\r\n`,
    `POST /v2/publish/http://127.0.0.1:1/\r\nX: y HTTP/1.1\r\n${auth}\r\n`,
    `GET /v2/dlq HTTP/1.1\r\n${auth}${'X-Pad: y\r\n'.repeat(3000)}\r\n`,
    `GET /v2/dlq HTTP/1.1\r\n${auth}X-Long: ${'y'.repeat(200000)}\r\n\r\n`,
    `GET /${'v'.repeat(100000)} HTTP/1.1\r\n\r\n`,
    'GET / HTTP/9.9\r\n\r\n', 'GET\r\n\r\n', ' / HTTP/1.1\r\n\r\n', '\r\n\r\n\r\n', 'GET / HTTP/1.1\n\n',
    'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03',
    `POST /v2/batch HTTP/1.1\r\n${auth}Content-Length: 10\r\n\r\n[`,
    `POST /v2/batch HTTP/1.1\r\n${auth}Content-Length: 2\r\n\r\n[]GET /healthz HTTP/1.1\r\n\r\n`,
    `POST /v2/publish/${ep.url}/pipelined HTTP/1.1\r\n${auth}Content-Length: 1\r\n\r\nxGARBAGE\x00\xff\r\n\r\n`,
  ];
  const cases = fixed.map((s) => Buffer.from(s, 'latin1'));
  for (let i = 0; i < 40 * SCALE; i++) {
    const base = wellFormed('POST', `/v2/publish/${ep.url}/t${i}`, [['Authorization', `Bearer ${stack.token}`]], R.str(50));
    cases.push(R.pick([
      () => R.bytes(R.int(2000)),
      () => base.subarray(0, R.int(base.length)), // truncated
      () => { const b = Buffer.from(base); for (let k = R.int(8); k >= 0; k--) b[R.int(b.length)] = R.int(256); return b; },
    ])());
  }
  await Promise.all(cases.map((c, i) => rawRequest(port(), c, { timeoutMs: 3000 + (i % 5) * 100 })));
  // Slowloris clients and half-sent requests, all at once.
  await Promise.all(Array.from({ length: 10 }, (_, i) => rawRequest(port(), null, {
    timeoutMs: 2500,
    pieces: Array.from({ length: 10 }, (__, k) => ({ data: k === 0 ? 'POST /v2/publish/' : `x${i}`, pauseMs: 150 })),
  })));
  await assertHealthy('raw TCP garbage');
});

/* ---------------- (b) Redis --------------------------------------------- */

function envelope(R, overrides = {}) {
  return {
    v: 1, k: 0, id: `msg_hostile${R.int(1e9)}`, url: `${ep.url}/env`, mt: 'POST', r: 0, rd: 0,
    c: Date.now(), ...overrides,
  };
}

function randStreamEntry(R, cb) {
  const id = `msg_h${R.int(1e9)}`;
  const good = (env) => ['v', '1', 'id', env.id, 'm', mp(env), ...(cb ? ['dlq', `dlq_${R.int(1e6)}`] : [])];
  return R.pick([
    () => ['v', '1', 'id', id, 'm', R.bytes(R.int(200))],
    () => [R.str(R.int(10)) || 'f', R.bytes(R.int(50))],
    () => ['v', R.pick(['0', '2', '999999999999', '-1', '', 'x']), 'id', id, 'm', mp(envelope(R))],
    () => ['m', mp(envelope(R))],
    () => ['v', '1', 'id', id, 'm', mp(R.pick([[], 5, 'str', null, { v: 'x' }, [1, 2, { id: 3 }], Buffer.alloc(3)]))],
    () => ['v', '1', 'id', id, 'm', mp(envelope(R, { v: R.pick([2, 99, -1, 'one', null, 1.5]) }))],
    () => ['v', '1', 'id', id, 'm', mp(envelope(R, { id: R.pick([5, null, '', Buffer.from('x'), [1]]) }))],
    () => ['v', '1', 'id', id, 'm', mp(envelope(R, { r: R.pick([1e9, -1, 2 ** 62, 1.5, 'x']), rd: R.pick([-3, 1e12, 0]) }))],
    () => ['v', '1', 'id', id, 'm', mp(envelope(R, { to: R.pick([-5, -9007199254740991, 1e15, 0.5]) }))],
    () => ['v', '1', 'id', id, 'm', mp(envelope(R, { nb: R.pick([-1, 1e15, 2 ** 63 - 1]), c: R.pick([-1, 0, 'x']) }))],
    () => ['v', '1', 'id', id, 'm', mp(envelope(R, { k: R.pick([1, 2, 255, -1]) }))],
    () => ['v', '1', 'id', id, 'm', mp(envelope(R, { h: R.pick([{ a: 1 }, [['X', 'y']], 'str', [['Bad\r\nName', 'v'], ['X', 'a\r\nb']], [[1, 2, 3]]]) }))],
    () => ['v', '1', 'id', id, 'm', mp(envelope(R, { at: R.pick([[[1, 2]], 'x', [[1, 200, 3, 'err', 'extra']], Array(100).fill([1, 200, 3, null])]) }))],
    () => ['v', '1', 'id', id, 'm', mp(envelope(R, { b: R.pick(['string body', 5, null, Buffer.alloc(10000, 1)]) }))],
    () => ['v', '1', 'id', id, 'm', mp(envelope(R, { rdx: R.pick(['pow(2, 1000000)', '1/0', '(((', '', 5]) }))],
    () => ['v', '1', 'id', id, 'm', mp(envelope(R, { mt: R.pick(['', 'GET', 'X Y', 'P\r\nOST', 'DELETE', 'a'.repeat(5000)]) }))],
    () => ['v', '1', 'id', id, 'm', mp(envelope(R, { fc: R.pick(['file:///etc/passwd', '', 'http://127.0.0.1:1/', 5]) }))],
    () => ['v', '1', 'id', id, 'm', mp(envelope(R, { gen: R.pick([-1, 2 ** 62, 'x']), dlq: R.pick(['', 'nope', 'a'.repeat(2000)]) }))],
    () => good(envelope(R, { url: R.pick(['file:///etc/passwd', 'gopher://127.0.0.1:70/_x', '', 'http://',
      `http://127.0.0.1:1/${'u'.repeat(10240)}`, 'http://\u00fc.invalid/\u4e2d', 'http://127.0.0.1:1/\r\nX: y',
      'dict://127.0.0.1:1/', 'ftp://127.0.0.1:1/', hostile.at(R.pick(Object.keys(behaviours)))]) })),
    () => { const b = mp(envelope(R)); return ['v', '1', 'id', id, 'm', b.subarray(0, R.int(b.length))]; },
  ])();
}

async function xadd(stream, fields) {
  await stack.redis.call('XADD', stream, '*', ...fields);
}

test('(b) random entries in the message and callback streams, delayed set and payload', async () => {
  const R = prng(SEED + 2);
  const msg = stack.key('{msg}:stream');
  const cbs = stack.key('{dlq}:cb:stream');
  const delayed = stack.key('{msg}:delayed');
  const payload = stack.key('{msg}:payload');
  const dlqBefore = (await stack.dlqList('count=1000')).length;
  for (let i = 0; i < 60 * SCALE; i++) {
    await xadd(msg, randStreamEntry(R, false));
    await xadd(cbs, randStreamEntry(R, true));
    const member = R.chance(0.5) ? `msg_d${i}` : R.str(R.int(40)) || 'm';
    await stack.redis.call('ZADD', delayed, R.pick(['0', '-inf', String(Date.now()), '1e300', '-5']), member);
    if (R.chance(0.7)) {
      await stack.redis.call('HSET', payload, member, R.pick([
        () => R.bytes(R.int(100)), () => mp(envelope(R, { id: member })), () => mp([1, 2]), () => '',
        () => mp(envelope(R, { id: member, url: 'file:///etc/passwd' })),
      ])());
    }
  }
  // A known malformed entry must land in the DLQ with a reason.
  await xadd(msg, ['v', '1', 'id', 'msg_hostile_marker', 'm', Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff])]);
  await waitFor(async () => (await stack.dlqList('count=1000')).length > dlqBefore, { timeout: 20000, message: 'DLQ grows' });
  const found = await waitFor(async () => {
    for (const m of await stack.dlqList('count=1000')) {
      const r = await stack.api('GET', `/v2/dlq/${m.dlqId}`);
      if (r.status === 200 && typeof r.json.reason === 'string' && r.json.reason.startsWith('malformed')) return r.json;
    }
    return null;
  }, { timeout: 20000, interval: 250, message: 'a malformed entry with a reason in the DLQ' });
  assert.ok(found.reason.length > 'malformed'.length, `reason says why: ${found.reason}`);
  // Nothing in the message stream stays unacknowledged for ever.
  await waitFor(async () => {
    const pend = await stack.redis.call('XPENDING', msg, 'workers');
    return Number(pend[0]) === 0;
  }, { timeout: 30000, message: 'message stream fully acknowledged' });
  await assertHealthy('hostile stream entries');
  // A file:// destination is never fetched by anything: the DLQ list still answers.
  const list = await stack.api('GET', '/v2/dlq?count=1000');
  assert.equal(list.status, 200);
});

test('(b) garbage DLQ entries, indexes and events: the API answers 2xx/4xx', async () => {
  const R = prng(SEED + 3);
  const fields = ['v', 'dlqId', 'messageId', 'url', 'method', 'createdAt', 'dlqAt', 'label', 'callerIP',
    'workflowRunId', 'workflowUrl', 'workflowCreatedAt', 'reason', 'responseStatus', 'responseHeader',
    'responseBody', 'attempts', 'maxRetries', 'notBefore', 'retryDelay', 'failureCallback', 'callbackState',
    'callbackGen', 'callbackMessageId', 'callbackRetried', 'callbackResponseStatus', 'callbackResponseHeader',
    'callbackResponseBody', 'callbackUpdatedAt', 'm', 'cbm', 'raw'];
  const vals = () => R.pick([
    () => '', () => '-1', () => '99999999999999999999', () => '{"a":', () => '[1,2', () => '{"a":[1,{"b":2}]}',
    () => '[{"at":"x","status":{},"latencyMs":null}]', () => R.bytes(R.int(40)), () => 'NaN',
    () => R.pick(['CALLBACK_BOGUS', 'CALLBACK_INPROGRESS', 'CALLBACK_FAIL', 'CALLBACK_SUCCESS', 'CALLBACK_CANCELED']),
    () => mp(envelope(R)), () => mp([1]), () => R.str(R.int(30)),
  ])();
  const ids = [];
  for (let i = 0; i < 40 * SCALE; i++) {
    const id = `junk${i}`;
    ids.push(id);
    const args = [];
    for (const f of fields) if (R.chance(0.6)) args.push(f, f === 'dlqId' && R.chance(0.5) ? id : vals());
    if (args.length) await stack.redis.call('HSET', stack.key(`{dlq}:entry:${id}`), ...args);
    await stack.redis.call('ZADD', stack.key('{dlq}:idx:all'), String(Date.now() - R.int(1000)), id);
    await stack.redis.call('ZADD', stack.key('{dlq}:idx:state:CALLBACK_FAIL'), String(R.int(100)), id);
    await stack.redis.call('XADD', stack.key('{dlq}:events'), '*',
      ...(R.chance(0.5) ? ['dlqId', id, 'event', vals()] : [R.str(3) || 'x', vals()]));
  }
  const auth = [['Authorization', `Bearer ${stack.token}`]];
  const call = async (method, target, body = '') => {
    const r = await rawRequest(port(), wellFormed(method, target, auth, body), { timeoutMs: 10000 });
    judge(`dlq-junk ${method} ${target}`, r);
  };
  for (const q of ['', '?count=100', '?state=CALLBACK_FAIL', '?url=x', '?label=x', '?responseStatus=1',
    '?order=earliestFirst', '?fromDate=0']) await call('GET', `/v2/dlq${q}`);
  const third = Math.ceil(ids.length / 3);
  for (const id of ids.slice(0, third)) {
    await call('GET', `/v2/dlq/${id}`);
    await call('POST', `/v2/dlq/retry/${id}`);
    await call('POST', `/v2/workflows/dlq/callback/${id}`);
    await call('DELETE', `/v2/workflows/dlq/callback/${id}`);
  }
  await call('POST', '/v2/dlq/retry', JSON.stringify({ dlqIds: ids.slice(third, 2 * third) }));
  await call('DELETE', '/v2/dlq', JSON.stringify({ dlqIds: ids.slice(2 * third) }));
  await call('GET', '/v2/dlq?count=1000');
  if (findings.length) console.log(`findings:\n  ${findings.slice(0, 30).join('\n  ')}`);
  assert.deepEqual(findings, [], 'contract violations');
  await assertHealthy('garbage DLQ entries');
});

test('beyond the hard limits (64 KiB of headers, 4x the body limit) a 4xx still comes back', async () => {
  const auth = `Authorization: Bearer ${stack.token}\r\n`;
  const cases = [
    `GET /v2/dlq HTTP/1.1\r\nHost: x\r\n${auth}X-Long: ${'a'.repeat(200000)}\r\nConnection: close\r\n\r\n`,
    `GET /v2/dlq HTTP/1.1\r\nHost: x\r\n${auth}${'X-Pad: yy\r\n'.repeat(10000)}Connection: close\r\n\r\n`,
    `POST /v2/publish/${ep.url}/x HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\nContent-Length: 100000\r\n\r\n${'b'.repeat(100000)}`,
    `POST /v2/publish/${ep.url}/x HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\nContent-Length: 99999999999\r\n\r\nabc`,
    `GET /v2/dlq/${'a'.repeat(100000)} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`,
  ];
  for (const c of cases) {
    const r = await rawRequest(port(), c, { timeoutMs: 10000 });
    // libevent answers these itself (text/html), before any handler runs.
    assert.ok(r.status >= 400 && r.status < 500, `${c.slice(0, 60)}...: ${r.status} ${r.raw.toString('latin1').slice(0, 100)}`);
  }
  await assertHealthy('over-limit requests');
});

test('redis down: the API answers 503 JSON, and everything resumes when it is back', async () => {
  await stack.redis.shutdown();
  const R = prng(SEED + 4);
  for (let i = 0; i < 20; i++) {
    const q = randApiRequest(R);
    const r = await rawRequest(port(), wellFormed(q.method, q.target, q.headers, q.body), { timeoutMs: 10000 });
    if (q.method !== 'HEAD') judge(`redis-down ${q.method} ${q.target.slice(0, 100)}`, r);
  }
  const pub = await stack.api('POST', `/v2/publish/${ep.url}/down`, { body: 'x' });
  assert.equal(pub.status, 503, `publish with redis down: ${pub.status} ${pub.text}`);
  assert.ok(pub.json && pub.json.error, pub.text);
  assert.deepEqual(findings, [], 'contract violations');
  await stack.redis.start();
  await waitFor(async () => (await stack.api('GET', '/readyz', { token: null })).status === 200,
    { timeout: 20000, message: 'coordinator ready again' });
  await assertHealthy('redis restart');
});

/* ---------------- (c) hostile endpoints --------------------------------- */

test('(c) destinations that answer hostile things', async () => {
  const ids = [];
  for (const b of Object.keys(behaviours)) {
    ids.push(await stack.publish(hostile.at(b), `to ${b}`, { 'Upstash-Retries': '0', 'Upstash-Timeout': '2s' }));
  }
  // The callback job for a failure callback that points at a hostile endpoint, too.
  ids.push(await stack.publish(hostile.at('reset'), 'cb', {
    'Upstash-Retries': '0', 'Upstash-Failure-Callback': hostile.at('manyheaders'),
    'Upstash-Failure-Callback-Retries': '0',
  }));
  await assertHealthy('hostile endpoints (in flight)');
  // Every one of them ends (delivered or in the DLQ) within the timeouts.
  // (The delayed set keeps the far-future junk of (b), so only the stream.)
  const stream = stack.key('{msg}:stream');
  await waitFor(async () => {
    const pend = await stack.redis.call('XPENDING', stream, 'workers');
    const g = (await stack.redis.call('XINFO', 'GROUPS', stream)).map(pairs).find((x) => x.name === 'workers');
    const delayed = await stack.redis.call('ZMSCORE', stack.key('{msg}:delayed'), ...ids);
    return Number(pend[0]) === 0 && Number(g.lag) === 0 && delayed.every((x) => x === null);
  }, { timeout: 30000, interval: 250, message: 'hostile deliveries finished' });
  // Regression: a peer that closes in the middle of its headers after
  // "HTTP/1.1 200 OK" is a failed attempt, not a delivery (curl took it
  // for a complete 200).
  const mid = await stack.waitDlq(ids[Object.keys(behaviours).indexOf('midheaders')]);
  assert.match(String(mid.attempts && mid.attempts[0] && mid.attempts[0].error), /closed inside the response headers/,
    `midheaders DLQ entry: ${JSON.stringify(mid)}`);
  for (const b of Object.keys(behaviours)) assert.ok(hits[b] >= 1, `the worker called /${b}: ${JSON.stringify(hits)}`);
  await assertHealthy('hostile endpoints');
});

test('worker and coordinator survive everything and exit 0 on SIGTERM', async () => {
  await assertHealthy('the end');
  for (const p of [...stack.coordinators, ...stack.workers]) {
    const errs = p.log().split('\n').filter((l) => /level=(error|fatal)|Sanitizer|runtime error/.test(l));
    console.log(`${p.name}: ${errs.length} error lines${errs.length ? `, e.g.\n  ${errs.slice(0, 8).join('\n  ')}` : ''}`);
    assert.ok(!errs.some((l) => /Sanitizer|runtime error/.test(l)), `${p.name}: sanitizer report`);
  }
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
