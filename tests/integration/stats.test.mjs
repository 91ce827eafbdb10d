// stats.test.mjs - GET /v2/stats, the overview the dashboard and the CLI
// read: 401 without the token, its JSON shape, the numbers after real
// deliveries (DLQ by failure-callback state, the worker's heartbeat
// figures, 60 per-minute buckets with the published and delivered
// counts), a backlog while no worker runs, and 503 while Redis is down
// (the coordinator's /metrics then says stepflow_redis_up 0, and counts
// the reconnect once Redis is back); a publish answered during the
// SIGTERM drain still reaches the per-minute counts.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startStack, endpoint, waitFor, test, sleep } from './lib/stack.mjs';
import { parsePromText, sampleValue } from './lib/promtext.mjs';

let stack, ep;
let flakyCalls = 0;

before(async () => {
  ep = await endpoint((req) => {
    switch (req.path) {
      case '/ok': return { status: 200 };
      case '/fail': return { status: 500, body: 'down' };
      case '/cb-fail': return { status: 500, body: 'cb down' };
      case '/flaky': return { status: flakyCalls++ === 0 ? 500 : 200 };
      default: return { status: 404 };
    }
  });
  stack = await startStack({ workers: 1 });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

async function stats() {
  const r = await stack.api('GET', '/v2/stats');
  assert.equal(r.status, 200, `GET /v2/stats: ${r.text}`);
  return r.json;
}

/** Polls /v2/stats until `pred(stats)` holds; returns those stats. */
async function statsWhen(pred, message, timeout = 20000) {
  let last;
  try {
    return await waitFor(async () => {
      last = await stats();
      return pred(last) ? last : false;
    }, { timeout, interval: 200, message });
  } catch (e) {
    throw new Error(`${e.message}\nlast /v2/stats: ${JSON.stringify({ ...last, perMinute: sum(last) })}`);
  }
}

/** The perMinute counts summed over the hour. */
function sum(s) {
  const t = { delivered: 0, retried: 0, failed: 0, published: 0 };
  for (const m of (s && s.perMinute) || []) for (const k of Object.keys(t)) t[k] += m[k];
  return t;
}

const QUEUE_KEYS = ['length', 'backlog', 'pending', 'oldestPendingAgeSeconds', 'delayed', 'parked'];
const STATES = ['CALLBACK_INPROGRESS', 'CALLBACK_SUCCESS', 'CALLBACK_FAIL', 'CALLBACK_CANCELED', 'NONE'];

test('401 without the token or with a wrong one', async () => {
  for (const token of [null, 'wrong']) {
    const r = await stack.api('GET', '/v2/stats', { token });
    assert.equal(r.status, 401, r.text);
    assert.equal(typeof r.json.error, 'string');
  }
});

test('the JSON shape: queues, dlq, workflows, workers, 60 per-minute buckets', async () => {
  const before = Date.now();
  const s = await stats();
  assert.ok(s.time >= before - 1000 && s.time <= Date.now() + 1000, `time ${s.time}`);
  for (const q of ['messages', 'callbacks']) {
    assert.deepEqual(Object.keys(s.queues[q]).sort(), [...QUEUE_KEYS].sort(), q);
    for (const k of QUEUE_KEYS) assert.ok(Number.isInteger(s.queues[q][k]) && s.queues[q][k] >= 0, `${q}.${k}`);
  }
  assert.equal(s.dlq.total, 0);
  assert.deepEqual(Object.keys(s.dlq.byFailureFunctionState).sort(), [...STATES].sort());
  assert.deepEqual(s.workflows, { running: 0 }); // failed runs are DLQ entries
  assert.ok(Array.isArray(s.workers));
  assert.equal(s.perMinute.length, 60);
  const thisMinute = s.time - (s.time % 60000);
  assert.equal(s.perMinute[59].minute, thisMinute, 'the last bucket is the current minute');
  for (let i = 0; i < 60; i++) {
    const m = s.perMinute[i];
    assert.deepEqual(Object.keys(m).sort(), ['delivered', 'failed', 'minute', 'published', 'retried']);
    if (i > 0) assert.equal(m.minute - s.perMinute[i - 1].minute, 60000, 'oldest first, one a minute');
  }
});

test('numbers after deliveries: DLQ by state, the worker heartbeat, per-minute counts', async () => {
  for (let i = 0; i < 5; i++) await stack.publish(`${ep.url}/ok`, `ok ${i}`);
  await stack.publish(`${ep.url}/flaky`, 'flaky', { 'Upstash-Retries': '2', 'Upstash-Retry-Delay': '100' });
  const plain = await stack.publish(`${ep.url}/fail`, 'x', { 'Upstash-Retries': '0' });
  const withCb = await stack.publish(`${ep.url}/fail`, 'x', {
    'Upstash-Retries': '0', 'Upstash-Failure-Callback': `${ep.url}/cb-fail`,
    'Upstash-Failure-Callback-Retries': '0',
  });
  await stack.waitDlq(plain);
  await stack.waitDlq(withCb);
  await stack.waitIdle();
  await stack.waitIdle({ queue: '{dlq}:cb' });

  const w = stack.workers[0];
  const s = await statsWhen((x) => {
    const t = sum(x);
    const me = x.workers.find((k) => k.name === w.consumer);
    return x.dlq.total === 2 && x.dlq.byFailureFunctionState.CALLBACK_FAIL === 1 &&
      t.published === 8 && t.delivered === 6 && t.retried === 1 && t.failed === 2 &&
      me && me.delivered === 6;
  }, 'DLQ states, heartbeat and per-minute counts');
  assert.deepEqual(s.dlq.byFailureFunctionState, {
    CALLBACK_INPROGRESS: 0, CALLBACK_SUCCESS: 0, CALLBACK_FAIL: 1, CALLBACK_CANCELED: 0, NONE: 1,
  });
  for (const q of ['messages', 'callbacks']) {
    for (const k of QUEUE_KEYS) assert.equal(s.queues[q][k], 0, `${q}.${k} after idle`);
  }
  assert.equal(s.workersAlive, 1);
  // Redis's own figures (the test Redis runs without AOF)
  assert.ok(s.redis.usedMemoryBytes > 100000, JSON.stringify(s.redis));
  assert.equal(typeof s.redis.maxMemoryBytes, 'number');
  assert.equal(s.redis.aofEnabled, 0);
  assert.equal(s.redis.persistenceOk, 1);
  assert.equal(s.workers.length, 1);
  const me = s.workers[0];
  assert.equal(me.name, w.consumer);
  assert.equal(me.pid, w.pid);
  assert.equal(me.alive, true);
  assert.equal(me.concurrency, 500);
  assert.equal(me.inflight, 0);
  assert.equal(me.retried, 1);
  assert.equal(me.failed, 2);
  assert.equal(typeof me.host, 'string');
  assert.match(me.version, /^\d+\.\d+\.\d+/);
  assert.ok(me.startedAt > 0 && me.startedAt <= me.lastSeen, JSON.stringify(me));
  assert.ok(s.time - me.lastSeen < 15000, 'seen within the alive window');
  // A bucket holds only what happened in its minute: nothing before the test.
  const busy = s.perMinute.filter((m) => m.published > 0);
  assert.ok(busy.length >= 1 && busy.length <= 2, JSON.stringify(busy));
  assert.ok(busy[0].minute >= s.time - 5 * 60000);
});

test('a backlog while no worker runs, drained by a new one', async () => {
  const exit = await stack.workers[0].stop();
  assert.equal(exit.code, 0);
  for (let i = 0; i < 20; i++) await stack.publish(`${ep.url}/ok`, `b${i}`);
  await stack.publish(`${ep.url}/ok`, 'later', { 'Upstash-Delay': '1s' });
  let s = await stats(); // read fresh: no refresh period to wait for
  assert.equal(s.queues.messages.backlog, 20, JSON.stringify(s.queues));
  assert.equal(s.queues.messages.length, 20);
  assert.equal(s.queues.messages.pending, 0);
  assert.equal(s.queues.messages.delayed, 1);
  assert.equal(s.workersAlive, 0, 'a graceful exit leaves the workers set');
  assert.deepEqual(s.workers, []);
  await stack.startWorker();
  s = await statsWhen((x) => x.queues.messages.length === 0 && x.queues.messages.delayed === 0 &&
    x.workersAlive === 1, 'drained');
  assert.equal(s.queues.messages.backlog, 0);
  assert.equal(s.workers.length, 1);
  assert.equal(s.workers[0].name, stack.workers[1].consumer);
});

test('503 while Redis is down; /metrics says so; both recover', async () => {
  await stack.redis.shutdown();
  const r = await waitFor(async () => {
    const x = await stack.api('GET', '/v2/stats');
    return x.status === 503 ? x : false;
  }, { timeout: 10000, message: '/v2/stats 503' });
  assert.equal(typeof r.json.error, 'string');
  assert.match(r.json.error, /redis/i);
  const down = await fetch(`${stack.url}/metrics`).then((x) => x.text());
  assert.equal(sampleValue(parsePromText(down), 'stepflow_redis_up', { conn: 'main' }), 0);

  await stack.redis.start();
  await waitFor(async () => (await stack.api('GET', '/v2/stats')).status === 200,
    { timeout: 20000, message: '/v2/stats 200 again' });
  const up = parsePromText(await fetch(`${stack.url}/metrics`).then((x) => x.text()));
  assert.equal(sampleValue(up, 'stepflow_redis_up', { conn: 'main' }), 1);
  assert.ok(sampleValue(up, 'stepflow_redis_reconnects_total', { conn: 'main' }) >= 1);
  await waitFor(async () => {
    const m = parsePromText(await fetch(`${stack.url}/metrics`).then((x) => x.text()));
    return sampleValue(m, 'stepflow_redis_up', { conn: 'indexer' }) === 1 &&
      sampleValue(m, 'stepflow_redis_reconnects_total', { conn: 'indexer' }) >= 1;
  }, { timeout: 20000, message: 'the indexer connection back' });
});

test('SIGTERM: a publish answered during the drain still counts in its minute', async () => {
  // A coordinator of its own (no worker), so the per-minute counts are
  // exactly its publishes.
  const s2 = await startStack({ workers: 0 });
  try {
    const published = async () => {
      let n = 0;
      for (const k of await s2.redis.call('KEYS', s2.key('{stats}:min:*'))) {
        n += Number((await s2.redis.call('HGET', k, 'published')) || 0);
      }
      return n;
    };
    await s2.publish(`${ep.url}/ok`, 'before the signal');
    // Writes wait 1.5 s: the next publish is answered only then, well into
    // the drain that SIGTERM starts meanwhile.
    await s2.redis.call('CLIENT', 'PAUSE', '1500', 'WRITE');
    const late = s2.publish(`${ep.url}/ok`, 'during the drain');
    await sleep(300);
    const exit = await s2.coordinators[0].stop(15000);
    assert.equal(exit.code, 0, JSON.stringify(exit));
    assert.equal(typeof (await late), 'string', 'the publish in flight was answered');
    assert.equal(await published(), 2, 'both publishes in the per-minute counts');
  } finally {
    await s2.stop();
  }
});

test('SIGTERM: every process exits 0 (no sanitizer report at exit)', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
