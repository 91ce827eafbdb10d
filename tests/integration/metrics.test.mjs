// metrics.test.mjs - the coordinator's GET /metrics, scraped while things
// happen and checked against them: publish requests by status, messages
// stored, HTTP requests by route and status and their latency, DLQ entries
// by failure-callback state (with and without a callback, a callback that
// fails for good), DLQ index events, workflow runs, live workers, and the
// queue figures: a backlog built up while no worker runs, the delayed set,
// a pending entry and its age, all going back to 0 once drained.  Every
// scrape is parsed by the strict parser (lib/promtext.mjs) and the text
// is checked with `promtool check metrics` too.  Also: a request whose
// client reset the connection is counted once, as 499; /readyz answers 503
// "event loop stalled" after the coordinator's loop did not turn for 3 s.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { after, before } from 'node:test';
import { startStack, endpoint, waitFor, sleep, test } from './lib/stack.mjs';
import { parsePromText, sampleValue } from './lib/promtext.mjs';
import { readyzAcrossStall } from './lib/stall.mjs';

let stack, ep;
let slowRelease = null; // resolves the /slow request the test holds

before(async () => {
  ep = await endpoint(async (req) => {
    switch (req.path) {
      case '/ok': case '/cb-ok': return { status: 200, body: 'ok' };
      case '/fail': return { status: 500, body: 'down' };
      case '/cb-fail': return { status: 500, body: 'cb down' };
      case '/slow':
        await new Promise((resolve) => { slowRelease = resolve; });
        return { status: 200 };
      default: return { status: 404 };
    }
  });
  stack = await startStack({ workers: 1 });
});
after(async () => {
  if (slowRelease) slowRelease();
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

function promtoolPath() {
  try {
    return execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim() || null;
  } catch { return null; }
}
const PROMTOOL = promtoolPath();

/** `promtool check metrics` on `text`: resolves {code, out}. */
function promtool(text) {
  return new Promise((resolve, reject) => {
    const p = spawn(PROMTOOL, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
    p.stdin.end(text);
  });
}

/** GET /metrics: checks the content type; returns {text, samples}. */
async function scrape(base = stack.url) {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10000) });
  const text = await res.text();
  assert.equal(res.status, 200, `GET /metrics: ${text}`);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return { text, samples: parsePromText(text) };
}

/** The value of one sample (0 when the series does not exist yet). */
const val = (samples, name, labels = {}) => sampleValue(samples, name, labels) ?? 0;

/**
 * Scrapes until every [name, labels, want] of `expect` holds (the cluster
 * figures are refreshed every 5 s); returns the last samples, or fails
 * with the figures that differ.
 */
async function expectMetrics(expect, { timeout = 20000, message = 'metrics' } = {}) {
  let samples = {};
  try {
    return await waitFor(async () => {
      ({ samples } = await scrape());
      return expect.every(([n, l, want]) => val(samples, n, l) === want) ? samples : false;
    }, { timeout, interval: 250, message });
  } catch (e) {
    const diff = expect.filter(([n, l, want]) => val(samples, n, l) !== want)
      .map(([n, l, want]) => `${n}${JSON.stringify(l)} = ${val(samples, n, l)}, want ${want}`);
    throw new Error(`${e.message}\n  ${diff.join('\n  ')}`);
  }
}

const cbState = async (dlqId) => {
  const r = await stack.api('GET', `/v2/dlq/${dlqId}`);
  return r.json && r.json.failureCallbackInfo && r.json.failureCallbackInfo.state;
};

/** Publishes to `path` with 0 retries and waits for the DLQ entry. */
async function exhaust(path, headers = {}) {
  const id = await stack.publish(`${ep.url}${path}`, 'x', { 'Upstash-Retries': '0', ...headers });
  return stack.waitDlq(id);
}

test('the text parses strictly and passes promtool; build info, start time, Redis links', async () => {
  const { text, samples } = await scrape();
  if (PROMTOOL) {
    const r = await promtool(text);
    assert.equal(r.code, 0, `promtool check metrics:\n${r.out}`);
    assert.equal(r.out.trim(), '', `promtool check metrics found problems:\n${r.out}`);
  } else {
    process.stderr.write('promtool not found: only the strict parser checked the text\n');
  }
  assert.equal(val(samples, 'stepflow_build_info', { process: 'coordinator' }), 1);
  assert.match(samples.stepflow_build_info[0].labels.version, /^\d+\.\d+\.\d+/);
  const start = val(samples, 'stepflow_process_start_time_seconds');
  const startedMs = Date.now() - start * 1000;
  assert.ok(start > 1.6e9 && startedMs >= -1000 && startedMs < 120000,
    `start time ${start} is within the last two minutes`);
  for (const conn of ['main', 'indexer']) {
    assert.equal(val(samples, 'stepflow_redis_up', { conn }), 1, `redis_up{conn=${conn}}`);
    assert.equal(val(samples, 'stepflow_redis_reconnects_total', { conn }), 0);
  }
  const age = val(samples, 'stepflow_stats_age_seconds');
  assert.ok(age >= 0 && age < 15, `stats age ${age} s`);
});

test("Redis's own figures: memory, maxmemory, AOF and persistence health, as INFO says", async () => {
  await stack.redis.call('CONFIG', 'SET', 'maxmemory', '900mb');
  const samples = await expectMetrics([
    ['stepflow_redis_memory_max_bytes', {}, 900 * 1024 * 1024],
    ['stepflow_redis_aof_enabled', {}, 0], // the test Redis runs without AOF
    ['stepflow_redis_persistence_ok', {}, 1],
  ], { message: 'redis figures' });
  const used = val(samples, 'stepflow_redis_memory_used_bytes');
  const info = String(await stack.redis.call('INFO', 'memory'));
  const now = Number(/used_memory:(\d+)/.exec(info)[1]);
  assert.ok(used > 100000 && Math.abs(used - now) < now * 0.5, `used ${used} vs INFO ${now}`);
  await stack.redis.call('CONFIG', 'SET', 'maxmemory', '0');
  await expectMetrics([['stepflow_redis_memory_max_bytes', {}, 0]], { message: 'maxmemory 0' });
});

test('publish requests, stored messages, DLQ states, index events, runs and workers add up', async () => {
  // 6 delivered, 4 failed for good: 2 without callback, 1 whose callback
  // succeeds, 1 whose callback fails for good (no retry).
  for (let i = 0; i < 6; i++) await stack.publish(`${ep.url}/ok`, `m${i}`);
  const none1 = await exhaust('/fail');
  const none2 = await exhaust('/fail');
  const cbOk = await exhaust('/fail', { 'Upstash-Failure-Callback': `${ep.url}/cb-ok` });
  const cbFail = await exhaust('/fail', {
    'Upstash-Failure-Callback': `${ep.url}/cb-fail`, 'Upstash-Failure-Callback-Retries': '0',
  });
  // A batch of two, a workflow run started (its endpoint answers 200 and
  // publishes no next step, so the run stays running).
  const b = await stack.api('POST', '/v2/batch', {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify([{ destination: `${ep.url}/ok`, body: 'b1' },
      { destination: `${ep.url}/ok`, body: 'b2' }]),
  });
  assert.equal(b.status, 200, b.text);
  const t = await stack.api('POST', `/v2/trigger/${ep.url}/ok`, { body: '{"run":1}' });
  assert.equal(t.status, 200, t.text);
  // Refused: 3 publishes and a batch (400), a publish without token (401).
  const bad = [
    await stack.api('POST', '/v2/publish/not-a-url', { body: 'x' }),
    await stack.api('POST', `/v2/publish/${ep.url}/ok`, { body: 'x', headers: { 'Upstash-Retries': 'abc' } }),
    await stack.api('POST', `/v2/publish/${ep.url}/ok`, { body: 'x', headers: { 'Upstash-Delay': '10x' } }),
    await stack.api('POST', '/v2/batch', { body: '{"not": "an array"}' }),
  ];
  for (const r of bad) assert.equal(r.status, 400, r.text);
  const unauth = await stack.api('POST', `/v2/publish/${ep.url}/ok`, { body: 'x', token: null });
  assert.equal(unauth.status, 401);

  await waitFor(async () => (await cbState(cbOk.dlqId)) === 'CALLBACK_SUCCESS',
    { timeout: 20000, message: 'callback to /cb-ok succeeds' });
  await waitFor(async () => (await cbState(cbFail.dlqId)) === 'CALLBACK_FAIL',
    { timeout: 20000, message: 'callback to /cb-fail fails for good' });
  assert.ok(none1.dlqId && none2.dlqId);
  await stack.waitIdle();
  await stack.waitIdle({ queue: '{dlq}:cb' });

  const samples = await expectMetrics([
    // 10 publishes + 1 batch + 1 trigger answered 200; 4 x 400; 1 x 401
    ['stepflow_publish_requests_total', { code: '200' }, 12],
    ['stepflow_publish_requests_total', { code: '400' }, 4],
    ['stepflow_publish_requests_total', { code: '401' }, 1],
    ['stepflow_published_messages_total', {}, 13],
    ['stepflow_http_requests_total', { route: 'publish', code: '200' }, 10],
    ['stepflow_http_requests_total', { route: 'publish', code: '400' }, 3],
    ['stepflow_http_requests_total', { route: 'publish', code: '401' }, 1],
    ['stepflow_http_requests_total', { route: 'batch', code: '200' }, 1],
    ['stepflow_http_requests_total', { route: 'batch', code: '400' }, 1],
    ['stepflow_http_requests_total', { route: 'trigger', code: '200' }, 1],
    ['stepflow_http_request_duration_seconds_count', { route: 'publish' }, 14],
    ['stepflow_http_request_duration_seconds_count', { route: 'batch' }, 2],
    // 4 entries created + 2 callback outcomes, one coordinator indexing
    ['stepflow_dlq_index_events_total', {}, 6],
    ['stepflow_dlq_entries', {}, 4],
    ['stepflow_dlq_callback_state_entries', { state: 'NONE' }, 2],
    ['stepflow_dlq_callback_state_entries', { state: 'CALLBACK_SUCCESS' }, 1],
    ['stepflow_dlq_callback_state_entries', { state: 'CALLBACK_FAIL' }, 1],
    ['stepflow_dlq_callback_state_entries', { state: 'CALLBACK_INPROGRESS' }, 0],
    ['stepflow_dlq_callback_state_entries', { state: 'CALLBACK_CANCELED' }, 0],
    ['stepflow_workflow_runs', { state: 'running' }, 1],
    ['stepflow_workers_alive', {}, 1],
    ...['msg', 'cb'].flatMap((queue) => [
      ['stepflow_queue_length', { queue }, 0],
      ['stepflow_queue_backlog', { queue }, 0],
      ['stepflow_queue_pending', { queue }, 0],
      ['stepflow_queue_delayed', { queue }, 0],
      ['stepflow_queue_oldest_pending_age_seconds', { queue }, 0],
    ]),
  ], { message: 'coordinator metrics after the publishes' });

  // Runs by state: running only (failed runs are counted as DLQ entries).
  assert.deepEqual(samples.stepflow_workflow_runs.map((s) => s.labels), [{ state: 'running' }]);
  // The latency histogram is consistent: every publish took under 30 s.
  const within = val(samples, 'stepflow_http_request_duration_seconds_bucket', { route: 'publish', le: '30' });
  assert.equal(within, 14);
  assert.ok(val(samples, 'stepflow_http_request_duration_seconds_sum', { route: 'publish' }) > 0);
  // 404 and 405 land on route="other" / their route.
  assert.equal((await stack.api('GET', '/no/such/path')).status, 404);
  assert.equal((await stack.api('PUT', '/v2/dlq')).status, 405);
  const s2 = (await scrape()).samples;
  assert.equal(val(s2, 'stepflow_http_requests_total', { route: 'other', code: '404' }), 1);
  assert.equal(val(s2, 'stepflow_http_requests_total', { route: 'other', code: '405' }), 1);
  assert.ok(val(s2, 'stepflow_http_requests_total', { route: 'metrics', code: '200' }) >= 2);
  if (PROMTOOL) {
    const r = await promtool((await scrape()).text);
    assert.equal(r.code, 0, r.out);
  }
});

test('backlog and delayed set while no worker runs, then drained to 0; a pending entry and its age', async () => {
  const w = stack.workers[0];
  const exit = await w.stop();
  assert.equal(exit.code, 0, `worker exit ${JSON.stringify(exit)}`);
  for (let i = 0; i < 20; i++) await stack.publish(`${ep.url}/ok`, `backlog ${i}`);
  for (let i = 0; i < 3; i++) {
    await stack.publish(`${ep.url}/ok`, `delayed ${i}`, { 'Upstash-Delay': '2s' });
  }
  // No worker moves due messages while none runs: they stay delayed.
  await expectMetrics([
    ['stepflow_queue_backlog', { queue: 'msg' }, 20],
    ['stepflow_queue_length', { queue: 'msg' }, 20],
    ['stepflow_queue_pending', { queue: 'msg' }, 0],
    ['stepflow_queue_delayed', { queue: 'msg' }, 3],
    ['stepflow_queue_backlog', { queue: 'cb' }, 0],
    ['stepflow_workers_alive', {}, 0], // a graceful exit leaves at once
  ], { message: 'backlog of 20 and 3 delayed' });

  await stack.startWorker();
  await expectMetrics([
    ['stepflow_queue_backlog', { queue: 'msg' }, 0],
    ['stepflow_queue_length', { queue: 'msg' }, 0],
    ['stepflow_queue_pending', { queue: 'msg' }, 0],
    ['stepflow_queue_delayed', { queue: 'msg' }, 0],
    ['stepflow_workers_alive', {}, 1],
  ], { timeout: 30000, message: 'queue drained by the new worker' });
  assert.ok(ep.to('/ok').filter((q) => /^(backlog|delayed) /.test(q.text)).length >= 23);

  // One delivery held by the endpoint: pending 1, its age grows.
  await stack.publish(`${ep.url}/slow`, 'slow');
  let samples;
  try {
    samples = await waitFor(async () => {
      const s = (await scrape()).samples;
      return val(s, 'stepflow_queue_pending', { queue: 'msg' }) === 1 &&
        val(s, 'stepflow_queue_oldest_pending_age_seconds', { queue: 'msg' }) >= 1 ? s : false;
    }, { timeout: 20000, interval: 250, message: 'one pending entry at least 1 s old' });
  } finally {
    await waitFor(() => slowRelease, { message: '/slow request arrived' });
    slowRelease();
  }
  assert.equal(val(samples, 'stepflow_queue_backlog', { queue: 'msg' }), 0);
  assert.ok(val(samples, 'stepflow_queue_oldest_pending_age_seconds', { queue: 'msg' }) < 60);
  await stack.waitIdle();
  await expectMetrics([
    ['stepflow_queue_pending', { queue: 'msg' }, 0],
    ['stepflow_queue_oldest_pending_age_seconds', { queue: 'msg' }, 0],
  ], { message: 'pending back to 0' });
});

test('a request whose client reset the connection before the reply counts as 499', async () => {
  // Redis stopped (SIGSTOP): GET /v2/stats waits for its replies; the
  // client resets the connection meanwhile; once Redis is back the reply
  // cannot be written and the request is counted with status 499.
  const { port } = new URL(stack.url);
  const sock = net.createConnection({ port: Number(port), host: '127.0.0.1' });
  await once(sock, 'connect');
  stack.redis.proc.kill('SIGSTOP');
  try {
    sock.write(`GET /v2/stats HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${stack.token}\r\n\r\n`);
    await sleep(300);
    sock.resetAndDestroy();
    await sleep(300);
  } finally {
    stack.redis.proc.kill('SIGCONT');
  }
  await expectMetrics([['stepflow_http_requests_total', { route: 'stats', code: '499' }, 1]],
    { timeout: 10000, message: 'the abandoned /v2/stats counted as 499' });
  assert.equal((await stack.api('GET', '/v2/stats')).status, 200, 'the coordinator goes on');
});

test('/readyz answers 503 "event loop stalled" after the loop did not turn for 3 s', async () => {
  // A probe's request is read only once the loop turns again, so the
  // coordinator reports a stall for 3 s after it (see common/loop_watch.h).
  const coord = stack.coordinators[0];
  const text = await readyzAcrossStall(coord.proc, coord.url);
  assert.match(text, /^HTTP\/1\.1 503/, text);
  assert.match(text, /"error":\s*"event loop stalled"/, text);
  assert.match(coord.log(), /event_loop_stalled ms=\d+/);
  // Ready again once the loop has turned normally for a while.
  await waitFor(async () => (await stack.api('GET', '/readyz', { token: null })).status === 200,
    { timeout: 8000, message: '/readyz 200 again' });
});

test('SIGTERM: every process exits 0 (no sanitizer report at exit)', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
