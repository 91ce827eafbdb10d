// worker_metrics.test.mjs - the worker's operations listener
// (STEPFLOW_METRICS_LISTEN) and heartbeat, checked against what happened:
// 10 deliveries with 2 failures give exact counters, a latency histogram
// with one observation per attempt, a scrape that `promtool check metrics`
// and a strict parser accept; /healthz and /readyz follow Redis; the
// heartbeat keys carry the worker's figures and the minute buckets its
// counts, and a SIGTERM exit removes the worker.  Garbage requests to the
// listener get a 4xx and leave the worker running; /readyz answers 503
// "event loop stalled" after the worker's loop did not turn for 3 s.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before } from 'node:test';
import { startStack, endpoint, waitFor, test, pairs, BIN_DIR } from './lib/stack.mjs';
import { parsePromText, parsePromTextFull, sampleValue } from './lib/promtext.mjs';
import { readyzAcrossStall } from './lib/stall.mjs';

let stack, ep, worker;
before(async () => {
  ep = await endpoint((req) => (req.path.startsWith('/fail') ? { status: 500, body: 'no' } : { status: 200 }));
  stack = await startStack({
    workers: 1,
    // AOF: the Redis restart below keeps the heartbeat keys and buckets.
    redisArgs: ['--appendonly', 'yes'],
    workerEnv: { STEPFLOW_LOG_LEVEL: 'debug', STEPFLOW_LOG_FORMAT: 'text' },
  });
  [worker] = stack.workers;
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

async function scrapeText(w = worker) {
  const res = await fetch(`${w.url}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200, '/metrics status');
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return res.text();
}

const scrape = async (w) => parsePromText(await scrapeText(w));

async function getJson(path, w = worker) {
  const res = await fetch(`${w.url}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, json: await res.json() };
}

/** Runs promtool check metrics on `text`; resolves {code, out}. */
function promtool(text) {
  return new Promise((resolve, reject) => {
    const p = execFile('promtool', ['check', 'metrics'], { timeout: 20000 }, (err, stdout, stderr) => {
      if (err && err.code === 'ENOENT') {
        reject(new Error('promtool not found: install Debian\'s prometheus package (scripts/test does)'));
        return;
      }
      resolve({ code: err ? err.code : 0, out: `${stdout}${stderr}` });
    });
    p.stdin.end(text);
  });
}

/** Sends raw bytes to the listener; resolves with the reply text ('' if closed). */
function raw(bytes, w = worker) {
  const { port } = new URL(w.url);
  return new Promise((resolve) => {
    const sock = net.createConnection({ port: Number(port), host: '127.0.0.1' });
    let out = '';
    sock.setTimeout(5000, () => sock.destroy());
    sock.on('connect', () => sock.end(bytes));
    sock.on('data', (d) => { out += d.toString('latin1'); });
    sock.on('error', () => {}); // a reset after the reply is fine
    sock.on('close', () => resolve(out));
  });
}

const statusOf = (reply) => Number((/^HTTP\/1\.[01] (\d{3})/.exec(reply) || [])[1]);

/** Sums the fields of every P:{stats}:min:* bucket. */
async function minuteTotals() {
  const keys = await stack.redis.call('KEYS', stack.key('{stats}:min:*'));
  const sum = { delivered: 0, retried: 0, failed: 0 };
  for (const k of keys) {
    const h = pairs(await stack.redis.call('HGETALL', k));
    for (const f of Object.keys(sum)) sum[f] += Number(h[f] || 0);
    const ttl = Number(await stack.redis.call('TTL', k));
    assert.ok(ttl > 0 && ttl <= 7200, `${k} TTL ${ttl}`);
    assert.match(k, /:\{stats\}:min:\d+$/);
    assert.equal(Number(k.split(':').pop()) % 60000, 0, `${k} starts a minute`);
  }
  return sum;
}

const ids = { ok: [], fail: [] };

test('10 deliveries with 2 failures: exact counters, one latency observation per attempt', async () => {
  const log0 = worker.log();
  assert.match(log0, /metrics_listen addr=127\.0\.0\.1:\d+/, 'logs its listen address');
  const before0 = await scrape();
  assert.equal(sampleValue(before0, 'stepflow_deliveries_total', { queue: 'msg', outcome: 'success' }), 0);
  const h = { 'Upstash-Retries': '1', 'Upstash-Retry-Delay': '100' };
  for (let i = 0; i < 8; i++) ids.ok.push(await stack.publish(`${ep.url}/ok/${i}`, `ok ${i}`, h));
  for (let i = 0; i < 2; i++) ids.fail.push(await stack.publish(`${ep.url}/fail/${i}`, `fail ${i}`, h));
  for (const id of ids.fail) await stack.waitDlq(id);
  await stack.waitIdle();
  const m = await waitFor(async () => {
    const s = await scrape();
    const v = (o) => sampleValue(s, 'stepflow_deliveries_total', { queue: 'msg', outcome: o });
    return v('success') === 8 && v('exhausted') === 2 &&
      sampleValue(s, 'stepflow_inflight_deliveries', { queue: 'msg' }) === 0 && s;
  }, { timeout: 10000, message: 'counters reach 8 success / 2 exhausted, nothing in flight' });

  const out = (q, o) => sampleValue(m, 'stepflow_deliveries_total', { queue: q, outcome: o });
  assert.deepEqual(
    ['success', 'retry', 'non_retryable', 'exhausted', 'dropped'].map((o) => out('msg', o)),
    [8, 2, 0, 2, 0], 'msg deliveries by outcome');
  for (const o of ['success', 'retry', 'non_retryable', 'exhausted', 'dropped']) {
    assert.equal(out('cb', o), 0, `cb ${o}`);
  }
  assert.equal(ep.requests.length, 12, '12 HTTP attempts reached the endpoint');
  const hc = sampleValue(m, 'stepflow_delivery_duration_seconds_count', { queue: 'msg' });
  assert.equal(hc, 12, 'latency histogram: one observation per attempt');
  assert.equal(sampleValue(m, 'stepflow_delivery_duration_seconds_bucket', { queue: 'msg', le: '+Inf' }), 12);
  const sum = sampleValue(m, 'stepflow_delivery_duration_seconds_sum', { queue: 'msg' });
  assert.ok(sum > 0 && sum < 12 * 5, `latency sum ${sum} s`);
  assert.equal(sampleValue(m, 'stepflow_delivery_duration_seconds_count', { queue: 'cb' }), 0);
  assert.equal(sampleValue(m, 'stepflow_inflight_deliveries', { queue: 'msg' }), 0);
  assert.equal(sampleValue(m, 'stepflow_inflight_deliveries', { queue: 'cb' }), 0);
  assert.equal(sampleValue(m, 'stepflow_oldest_inflight_seconds', { queue: 'msg' }), 0);
  assert.equal(sampleValue(m, 'stepflow_worker_concurrency'), 500);
  assert.equal(sampleValue(m, 'stepflow_reclaimed_deliveries_total', { queue: 'msg' }), 0);
  assert.equal(sampleValue(m, 'stepflow_malformed_entries_total', { queue: 'msg' }), 0);
  assert.equal(sampleValue(m, 'stepflow_callback_reports_total'), 0);
  for (const o of ['success', 'retry', 'failed']) {
    assert.equal(sampleValue(m, 'stepflow_failure_callbacks_total', { outcome: o }), 0, `failure callbacks ${o}`);
  }
  for (const c of ['main', 'read-msg', 'read-cb']) {
    assert.equal(sampleValue(m, 'stepflow_redis_up', { conn: c }), 1, `redis_up ${c}`);
    assert.equal(sampleValue(m, 'stepflow_redis_reconnects_total', { conn: c }), 0, `reconnects ${c}`);
  }
  assert.equal(sampleValue(m, 'stepflow_build_info', { version: '0.1.0', process: 'worker' }), 1);
  const started = sampleValue(m, 'stepflow_process_start_time_seconds');
  assert.ok(Math.abs(started - Date.now() / 1000) < 600, `start time ${started}`);

  // The per-attempt debug line carries the ids and the outcome.
  const lines = worker.log().split('\n').filter((l) => / delivery queue=msg /.test(l));
  const outcomes = lines.map((l) => / outcome=(\w+)/.exec(l)[1]).sort();
  assert.deepEqual(outcomes, [...Array(2).fill('exhausted'), ...Array(2).fill('retry'), ...Array(8).fill('success')]);
  for (const l of lines) assert.match(l, /messageId=msg_\S+ attempt=[12] status=(200|500) outcome=\w+ ms=\d+/);
  for (const id of ids.fail) {
    assert.match(worker.log(), new RegExp(`level=info dlq messageId=${id} dlqId=\\S+ attempt=2 status=500 `));
  }
});

test('the scrape passes promtool check metrics and the strict parser', async () => {
  const text = await scrapeText();
  const { types, help } = parsePromTextFull(text);
  const r = await promtool(text);
  assert.equal(r.code, 0, `promtool check metrics:\n${r.out}`);
  assert.equal(r.out.trim(), '', 'no lint remarks');
  assert.equal(types.stepflow_deliveries_total, 'counter');
  assert.equal(types.stepflow_delivery_duration_seconds, 'histogram');
  assert.equal(types.stepflow_inflight_deliveries, 'gauge');
  for (const name of Object.keys(types)) {
    assert.match(name, /^stepflow_/, `${name} prefixed`);
    assert.ok(help[name], `${name} has HELP`);
  }
});

test('cluster gauges: DLQ size and state, queues, workers alive, their age', async () => {
  const m = await waitFor(async () => {
    const s = await scrape();
    return sampleValue(s, 'stepflow_dlq_entries') === 2 && sampleValue(s, 'stepflow_workers_alive') === 1 && s;
  }, { timeout: 15000, message: 'the 5 s cluster figures show the DLQ entries' });
  assert.equal(sampleValue(m, 'stepflow_dlq_callback_state_entries', { state: 'NONE' }), 2);
  assert.equal(sampleValue(m, 'stepflow_dlq_callback_state_entries', { state: 'CALLBACK_FAIL' }), 0);
  for (const q of ['msg', 'cb']) {
    for (const g of ['queue_backlog', 'queue_pending', 'queue_delayed', 'queue_oldest_pending_age_seconds']) {
      assert.equal(sampleValue(m, `stepflow_${g}`, { queue: q }), 0, `${g} ${q}`);
    }
  }
  assert.equal(sampleValue(m, 'stepflow_workflow_runs', { state: 'running' }), 0);
  const age = sampleValue(m, 'stepflow_stats_age_seconds');
  assert.ok(age >= 0 && age < 10, `stats age ${age}`);
});

test('heartbeat: the worker hash, the live set and the minute buckets', async () => {
  const hashKey = stack.key(`{stats}:worker:${worker.consumer}`);
  const h = await waitFor(async () => {
    const x = pairs(await stack.redis.call('HGETALL', hashKey));
    return x.delivered === '8' && x.failed === '2' && x;
  }, { timeout: 15000, message: 'a heartbeat with the counts' });
  assert.equal(h.pid, String(worker.pid));
  assert.equal(h.version, '0.1.0');
  assert.ok(h.host, 'host');
  assert.equal(h.concurrency, '500');
  assert.equal(h.inflight, '0');
  assert.equal(h.retried, '2');
  assert.equal(h.dropped, '0');
  assert.equal(h.callbacksOk, '0');
  assert.equal(h.callbacksFailed, '0');
  assert.ok(Math.abs(Number(h.lastSeen) - Date.now()) < 15000, `lastSeen ${h.lastSeen}`);
  assert.ok(Number(h.startedAt) <= Number(h.lastSeen), 'startedAt <= lastSeen');
  const ttl = Number(await stack.redis.call('TTL', hashKey));
  assert.ok(ttl > 0 && ttl <= 60, `hash TTL ${ttl}`);
  const score = await stack.redis.call('ZSCORE', stack.key('{stats}:workers'), worker.consumer);
  assert.ok(Math.abs(Number(score) - Date.now()) < 15000, `live set score ${score}`);
  assert.deepEqual(await minuteTotals(), { delivered: 8, retried: 2, failed: 2 }, 'minute buckets');
  // Later beats add nothing: the counts are sent once.
  const seen = Number(h.lastSeen);
  await waitFor(async () => Number(await stack.redis.call('HGET', hashKey, 'lastSeen')) > seen,
    { timeout: 15000, message: 'the next heartbeat' });
  assert.deepEqual(await minuteTotals(), { delivered: 8, retried: 2, failed: 2 }, 'minute buckets after another beat');
});

test('failure callbacks, a dropped callback and an Upstash-Callback report are counted', async () => {
  const base = await scrape();
  const v = (m, name, labels) => sampleValue(m, name, labels);
  const cbOpts = (cbPath, extra = {}) => ({
    'Upstash-Retries': '0', 'Upstash-Failure-Callback': `${ep.url}${cbPath}`, ...extra,
  });
  // A: the message fails, its callback succeeds.
  const a = await stack.publish(`${ep.url}/fail/a`, 'a', cbOpts('/cb-ok'));
  // B: the callback fails twice: CALLBACK_FAIL.
  const b = await stack.publish(`${ep.url}/fail/b`, 'b', cbOpts('/fail/cb-b', {
    'Upstash-Failure-Callback-Retries': '1', 'Upstash-Failure-Callback-Retry-Delay': '100',
  }));
  // C: delivered, with an Upstash-Callback report.
  await stack.publish(`${ep.url}/ok/c`, 'c', { 'Upstash-Callback': `${ep.url}/report` });
  // D: the callback fails once, is cancelled while it waits for its retry:
  // the retry is dropped.
  const d = await stack.publish(`${ep.url}/fail/d`, 'd', cbOpts('/fail/cb-d', {
    'Upstash-Failure-Callback-Retries': '1', 'Upstash-Failure-Callback-Retry-Delay': '3000',
  }));
  const dEntry = await stack.waitDlq(d);
  await waitFor(() => ep.to('/fail/cb-d').length === 1, { timeout: 10000, message: 'first callback attempt of D' });
  const cancel = await stack.api('DELETE', `/v2/workflows/dlq/callback/${dEntry.dlqId}`);
  assert.equal(cancel.status, 200, `cancel: ${cancel.text}`);
  for (const id of [a, b]) await stack.waitDlq(id);
  await waitFor(() => ep.to('/report').length === 1, { timeout: 10000, message: 'the report delivered' });
  const m = await waitFor(async () => {
    const x = await scrape();
    return v(x, 'stepflow_deliveries_total', { queue: 'cb', outcome: 'dropped' }) === 1 &&
      v(x, 'stepflow_failure_callbacks_total', { outcome: 'failed' }) === 1 &&
      v(x, 'stepflow_failure_callbacks_total', { outcome: 'success' }) === 1 &&
      v(x, 'stepflow_inflight_deliveries', { queue: 'cb' }) === 0 && x;
  }, { timeout: 15000, message: 'callback counters settle' });
  const delta = (name, labels) => v(m, name, labels) - v(base, name, labels);
  const D = 'stepflow_deliveries_total';
  assert.deepEqual({
    msgSuccess: delta(D, { queue: 'msg', outcome: 'success' }),
    msgExhausted: delta(D, { queue: 'msg', outcome: 'exhausted' }),
    msgRetry: delta(D, { queue: 'msg', outcome: 'retry' }),
    cbSuccess: delta(D, { queue: 'cb', outcome: 'success' }),
    cbRetry: delta(D, { queue: 'cb', outcome: 'retry' }),
    cbExhausted: delta(D, { queue: 'cb', outcome: 'exhausted' }),
    cbDropped: delta(D, { queue: 'cb', outcome: 'dropped' }),
    fcbSuccess: delta('stepflow_failure_callbacks_total', { outcome: 'success' }),
    fcbRetry: delta('stepflow_failure_callbacks_total', { outcome: 'retry' }),
    fcbFailed: delta('stepflow_failure_callbacks_total', { outcome: 'failed' }),
    reports: delta('stepflow_callback_reports_total'),
    msgAttempts: delta('stepflow_delivery_duration_seconds_count', { queue: 'msg' }),
    cbAttempts: delta('stepflow_delivery_duration_seconds_count', { queue: 'cb' }),
  }, {
    msgSuccess: 2, // C and its report
    msgExhausted: 3, // A, B, D
    msgRetry: 0,
    cbSuccess: 1, // A's callback
    cbRetry: 2, // B's and D's first callback attempts
    cbExhausted: 1, // B's second
    cbDropped: 1, // D's retry after the cancel
    fcbSuccess: 1,
    fcbRetry: 2,
    fcbFailed: 1,
    reports: 1,
    msgAttempts: 5,
    cbAttempts: 4,
  });
  const hashKey = stack.key(`{stats}:worker:${worker.consumer}`);
  await waitFor(async () => {
    const h = pairs(await stack.redis.call('HGETALL', hashKey));
    return h.callbacksOk === '1' && h.callbacksFailed === '1' && h.dropped === '1' &&
      h.delivered === String(v(m, D, { queue: 'msg', outcome: 'success' })) &&
      h.failed === String(v(m, D, { queue: 'msg', outcome: 'exhausted' }));
  }, { timeout: 15000, message: 'the heartbeat carries the callback figures' });
});

test('garbage requests get a 4xx and the worker stays up', async () => {
  let r = await getJson('/nope');
  assert.equal(r.status, 404);
  assert.deepEqual(r.json, { error: 'not found' });
  r = await fetch(`${worker.url}/metrics`, { method: 'POST', body: 'x', signal: AbortSignal.timeout(5000) });
  assert.equal(r.status, 405);
  assert.deepEqual(await r.json(), { error: 'method not allowed' });
  r = await fetch(`${worker.url}/readyz`, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
  assert.equal(r.status, 405);
  await r.arrayBuffer();
  const head = await fetch(`${worker.url}/healthz`, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
  assert.equal(head.status, 200);
  assert.equal((await head.arrayBuffer()).byteLength, 0, 'HEAD has no body');

  const cases = {
    'huge header': `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
    'many headers': `GET /metrics HTTP/1.1\r\nHost: x\r\n${'X-H: 1\r\n'.repeat(5000)}\r\n`,
    'huge body': `POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n${'b'.repeat(100000)}`,
    'bad request line': 'GARBAGE\r\n\r\n',
    'bad version': 'GET /metrics HTTP/9.9\r\n\r\n',
    'binary': Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256)),
    'bad content-length': 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
  };
  for (const [name, bytes] of Object.entries(cases)) {
    const reply = await raw(bytes);
    const st = statusOf(reply);
    // The reply to a body cut short may be lost in the connection's reset;
    // anything else must be answered, with a 4xx.
    if (!reply && name === 'huge body') continue;
    assert.ok(st >= 400 && st < 500, `${name}: got ${JSON.stringify(reply.slice(0, 80))}`);
  }
  // Half a request, then nothing: the listener must not wait forever or
  // block others.
  const { port } = new URL(worker.url);
  const idle = net.createConnection({ port: Number(port), host: '127.0.0.1' });
  idle.on('error', () => {});
  idle.write('GET /metr');
  r = await getJson('/healthz');
  assert.equal(r.status, 200);
  idle.destroy();
  assert.ok(worker.alive, 'worker still running');
  assert.deepEqual((await getJson('/healthz')).json, { status: 'ok' });
  assert.equal((await getJson('/readyz')).status, 200);
});

test('/readyz answers 503 "event loop stalled" after the loop did not turn for 3 s', async () => {
  // A probe's request is read only once the loop turns again, so the
  // worker reports a stall for 3 s after it (see common/loop_watch.h).
  assert.equal((await getJson('/readyz')).status, 200);
  const text = await readyzAcrossStall(worker.proc, worker.url);
  assert.match(text, /^HTTP\/1\.1 503/, text);
  assert.match(text, /"error":\s*"event loop stalled"/, text);
  assert.match(worker.log(), /event_loop_stalled ms=\d+/);
  // Ready again once the loop has turned normally for a while.
  await waitFor(async () => (await getJson('/readyz')).status === 200,
    { timeout: 8000, message: '/readyz 200 again' });
});

test('/readyz is 503 while Redis is down, /healthz stays 200, reconnects are counted', async () => {
  let r = await getJson('/readyz');
  assert.deepEqual(r, { status: 200, json: { status: 'ready' } });
  const before0 = await scrape();
  await stack.redis.shutdown();
  try {
    r = await waitFor(async () => {
      const x = await getJson('/readyz');
      return x.status === 503 && x;
    }, { timeout: 10000, message: '/readyz 503 with Redis down' });
    assert.deepEqual(r.json, { error: 'redis unavailable' });
    assert.deepEqual(await getJson('/healthz'), { status: 200, json: { status: 'ok' } });
    const m = await scrape();
    assert.equal(sampleValue(m, 'stepflow_redis_up', { conn: 'main' }), 0);
  } finally {
    await stack.redis.start();
  }
  await waitFor(async () => (await getJson('/readyz')).status === 200,
    { timeout: 15000, message: '/readyz 200 after Redis is back' });
  const m = await waitFor(async () => {
    const s = await scrape();
    return ['main', 'read-msg', 'read-cb'].every((c) => sampleValue(s, 'stepflow_redis_up', { conn: c }) === 1) && s;
  }, { timeout: 10000, message: 'every connection up' });
  for (const c of ['main', 'read-msg', 'read-cb']) {
    assert.equal(sampleValue(m, 'stepflow_redis_reconnects_total', { conn: c }), 1, `reconnects ${c}`);
  }
  // Delivery counts are untouched by the outage.
  assert.equal(sampleValue(m, 'stepflow_deliveries_total', { queue: 'msg', outcome: 'success' }),
    sampleValue(before0, 'stepflow_deliveries_total', { queue: 'msg', outcome: 'success' }));
});

test('SIGTERM: /readyz says draining, the worker leaves the live set, exit 0', async () => {
  const delivered = sampleValue(await scrape(), 'stepflow_deliveries_total', { queue: 'msg', outcome: 'success' });
  const slow = await endpoint(() => ({ status: 200, delayMs: 1500 }));
  try {
    await stack.publish(`${slow.url}/slow`, 'x');
    await waitFor(() => slow.requests.length === 1, { timeout: 10000, message: 'the slow delivery started' });
    // the delivery held in flight shows in its age (0 when none is)
    assert.equal(sampleValue(await scrape(), 'stepflow_oldest_inflight_seconds', { queue: 'cb' }), 0);
    await waitFor(async () => sampleValue(await scrape(), 'stepflow_oldest_inflight_seconds', { queue: 'msg' }) >= 0.5,
      { timeout: 5000, message: 'oldest in-flight age grows' });
    const exited = worker.stop(30000);
    const r = await waitFor(async () => {
      const x = await getJson('/readyz').catch(() => null);
      return x && x.status === 503 && x;
    }, { timeout: 5000, interval: 20, message: '/readyz 503 while draining' });
    assert.deepEqual(r.json, { error: 'draining' });
    const e = await exited;
    assert.equal(e.code, 0, `exit ${JSON.stringify(e)}`);
  } finally {
    await slow.close();
  }
  assert.equal(await stack.redis.call('ZSCORE', stack.key('{stats}:workers'), worker.consumer), null, 'left the live set');
  assert.equal(await stack.redis.call('EXISTS', stack.key(`{stats}:worker:${worker.consumer}`)), 0, 'hash deleted');
  const t = await minuteTotals();
  assert.equal(t.delivered, delivered + 1, 'the minute buckets have every delivery, the last one sent on exit');
});

test('a listener that cannot bind is a start-up error', async () => {
  const busy = net.createServer();
  await new Promise((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const { port } = busy.address();
  try {
    const r = await new Promise((resolve) => {
      execFile(path.join(BIN_DIR, 'stepflow-worker'), [], {
        timeout: 10000,
        env: {
          ...process.env, STEPFLOW_REDIS_URL: stack.redis.url, STEPFLOW_PREFIX: stack.prefix,
          STEPFLOW_METRICS_LISTEN: `127.0.0.1:${port}`, STEPFLOW_LOG_FORMAT: 'text',
        },
      }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stderr }));
    });
    assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
    assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+ \(STEPFLOW_METRICS_LISTEN\): Address already in use/);
  } finally {
    busy.close();
  }
});
