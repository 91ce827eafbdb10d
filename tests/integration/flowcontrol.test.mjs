// flowcontrol.test.mjs - Upstash-Flow-Control-Key/-Value across 4 workers:
// never more than `parallelism` deliveries of a key in flight, never more
// than `rate` starts per `period`, waiting deliveries kept in order and
// counted (GET /v2/flowControl/{key} through @upstash/qstash's
// client.flowControl.get, and in all as `parked` in /v2/stats and
// stepflow_queue_parked), and a worker killed while holding a slot does
// not leak it.  Messages are published with the official client, so its
// header format is what the coordinator parses.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before } from 'node:test';
import { Client } from '@upstash/qstash';
import { startStack, endpoint, waitFor, test, sleep, hdr } from './lib/stack.mjs';
import { parsePromText, sampleValue } from './lib/promtext.mjs';

let stack, ep, client;
// Per-path behaviour of the endpoint, set by each test.
const routes = new Map();

before(async () => {
  ep = await endpoint(async (req, all) => {
    const r = routes.get(req.path);
    return r ? r(req, all) : { status: 200 };
  });
  stack = await startStack({ workers: 4 });
  client = new Client({ baseUrl: stack.url, token: stack.token, retry: false });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

/** Publishes `n` JSON messages {i} to `path` with `flowControl`; returns ids. */
async function publishMany(path, n, flowControl, from = 0) {
  const ids = [];
  for (let i = from; i < from + n; i++) {
    const r = await client.publishJSON({ url: `${ep.url}${path}`, body: { i }, flowControl });
    ids.push(r.messageId);
  }
  return ids;
}

const bodyIndex = (req) => JSON.parse(req.text).i;

test('parallelism: at most N in flight across 4 workers, all delivered once', async () => {
  const key = `par-${Date.now()}`;
  let inflight = 0, maxInflight = 0;
  routes.set('/par', async () => {
    inflight++;
    maxInflight = Math.max(maxInflight, inflight);
    await sleep(150);
    inflight--; // before the response: the next start can only follow it
    return { status: 200 };
  });
  const ids = await publishMany('/par', 24, { key, parallelism: 2 });
  // While they run: some wait, at most two hold a slot.
  const seen = await waitFor(async () => {
    const info = await client.flowControl.get(key);
    return info.waitListSize > 0 ? info : null;
  }, { message: 'a non-empty wait list' });
  assert.equal(seen.flowControlKey, key);
  assert.equal(seen.parallelismMax, 2);
  assert.ok(seen.parallelismCount <= 2, JSON.stringify(seen));
  await waitFor(() => ep.to('/par').length >= 24, { timeout: 30000, message: '24 deliveries' });
  await stack.waitIdle();
  const got = ep.to('/par').map((r) => hdr(r, 'Upstash-Message-Id'));
  assert.equal(got.length, 24, 'each delivered once');
  assert.deepEqual(new Set(got), new Set(ids));
  assert.equal(maxInflight, 2, `max in flight ${maxInflight}`);
  const end = await client.flowControl.get(key);
  assert.equal(end.waitListSize, 0);
  assert.equal(end.parallelismCount, 0);
  // The deliveries were spread over the workers, not serialised by one.
  const parked = stack.workers.filter((w) => /fc_parked/.test(w.log())).length;
  assert.ok(parked >= 2, `workers that parked messages: ${parked}`);
});

test('rate: at most R starts in any period, all delivered', async () => {
  const key = `rate-${Date.now()}`;
  routes.set('/rate', () => ({ status: 200 }));
  const t0 = Date.now();
  await publishMany('/rate', 12, { key, rate: 3, period: '1s' });
  await waitFor(() => ep.to('/rate').length >= 12, { timeout: 30000, message: '12 deliveries' });
  const at = ep.to('/rate').map((r) => r.at).sort((a, b) => a - b);
  // Starts are granted in Redis; arrivals add network jitter, hence the
  // slack.  Every 4 consecutive arrivals span (almost) a whole period.
  for (let i = 0; i + 3 < at.length; i++) {
    assert.ok(at[i + 3] - at[i] >= 850, `arrivals ${i}..${i + 3} within ${at[i + 3] - at[i]} ms`);
  }
  assert.ok(Date.now() - t0 >= 2800, '12 at 3/s take 3 periods');
  const info = await client.flowControl.get(key);
  assert.equal(info.rateMax, 3);
  assert.equal(info.ratePeriod, 1);
  assert.ok(info.rateCount <= 3, JSON.stringify(info));
  assert.ok(Math.abs(info.ratePeriodStart - Date.now() / 1000) < 5, `ratePeriodStart ${info.ratePeriodStart} (unix s)`);
  await stack.waitIdle();
  assert.equal(ep.to('/rate').length, 12);
});

test('waiting deliveries keep their order and are counted', async () => {
  const key = `fifo-${Date.now()}`;
  let open;
  const gate = new Promise((r) => { open = r; });
  routes.set('/fifo', async (req) => {
    if (bodyIndex(req) === 0) await gate; // holds the only slot
    return { status: 200 };
  });
  await publishMany('/fifo', 1, { key, parallelism: 1 });
  await waitFor(() => ep.to('/fifo').length === 1, { message: 'the first delivery' });
  // Each next message is parked before the following one is published, so
  // the wait list order is the publish order.
  for (let i = 1; i <= 8; i++) {
    await publishMany('/fifo', 1, { key, parallelism: 1 }, i);
    await waitFor(async () => (await client.flowControl.get(key)).waitListSize === i,
      { message: `waitListSize ${i}` });
  }
  const info = await client.flowControl.get(key);
  assert.equal(info.parallelismCount, 1);
  assert.equal(ep.to('/fifo').length, 1, 'nothing overtook the held slot');
  open();
  await waitFor(() => ep.to('/fifo').length >= 9, { message: '9 deliveries' });
  assert.deepEqual(ep.to('/fifo').map(bodyIndex), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  await stack.waitIdle();
  assert.equal((await client.flowControl.get(key)).waitListSize, 0);
});

test('parked messages are counted: /v2/stats parked and stepflow_queue_parked', async () => {
  const key = `parked-${Date.now()}`;
  let open;
  const gate = new Promise((r) => { open = r; });
  routes.set('/parked', async (req) => {
    if (bodyIndex(req) === 0) await gate; // holds the only slot
    return { status: 200 };
  });
  const parked = async () => (await stack.api('GET', '/v2/stats')).json.queues.messages.parked;
  const gauge = async () => sampleValue(parsePromText(await fetch(`${stack.url}/metrics`).then((r) => r.text())),
    'stepflow_queue_parked', { queue: 'msg' });
  assert.equal(await parked(), 0, 'nothing parked before');
  await publishMany('/parked', 1, { key, parallelism: 1 });
  await waitFor(() => ep.to('/parked').length === 1, { message: 'the first delivery' });
  await publishMany('/parked', 5, { key, parallelism: 1 }, 1);
  await waitFor(async () => (await client.flowControl.get(key)).waitListSize === 5, { message: 'five waiting' });
  assert.equal(await parked(), 5, 'parked = the wait list');
  // The cluster gauge (refreshed every 5 s) says the same.
  await waitFor(async () => (await gauge()) === 5, { timeout: 12000, message: 'stepflow_queue_parked 5' });
  open();
  await waitFor(() => ep.to('/parked').length >= 6, { message: '6 deliveries' });
  await stack.waitIdle();
  assert.equal(await parked(), 0, 'none parked once they drained');
  await waitFor(async () => (await gauge()) === 0, { timeout: 12000, message: 'stepflow_queue_parked 0' });
});

test('a worker killed while holding a slot does not leak it', async () => {
  const key = `crash-${Date.now()}`;
  let open;
  const hang = new Promise((r) => { open = r; });
  routes.set('/crash', async (req, all) => {
    const first = all.filter((r) => r.path === '/crash' && bodyIndex(r) === 0)[0];
    if (req === first) await hang; // the first attempt never answers
    return { status: 200 };
  });
  const [id0] = await publishMany('/crash', 1, { key, parallelism: 1 });
  await waitFor(() => ep.to('/crash').length === 1, { message: 'the first delivery' });
  await publishMany('/crash', 3, { key, parallelism: 1 }, 1);
  await waitFor(async () => (await client.flowControl.get(key)).waitListSize === 3,
    { message: 'three waiting' });
  // The worker holding message 0: the owner of its pending entry.
  const pending = await stack.redis.call('XPENDING', stack.key('{msg}:stream'), 'workers', '-', '+', 100);
  const owners = new Set(pending.map((p) => p[1]));
  const victim = stack.workers.find((w) => w.alive && owners.has(w.consumer));
  assert.ok(victim, `a worker holds the entry (${[...owners]})`);
  await victim.kill();
  // Its entry is reclaimed and the slot freed (lease): all four arrive.
  await waitFor(() => new Set(ep.to('/crash').map(bodyIndex)).size === 4 &&
    ep.to('/crash').filter((r) => bodyIndex(r) === 0).length === 2,
  { timeout: 30000, message: 'every message delivered, message 0 again' });
  assert.equal(hdr(ep.to('/crash').filter((r) => bodyIndex(r) === 0)[1], 'Upstash-Message-Id'), id0);
  assert.equal(hdr(ep.to('/crash').filter((r) => bodyIndex(r) === 0)[1], 'Upstash-Retried'), '0',
    'a crash does not use up a retry');
  await stack.waitIdle();
  const info = await client.flowControl.get(key);
  assert.equal(info.waitListSize, 0);
  assert.equal(info.parallelismCount, 0);
  open();
});

test('limiter script: parking and waking are idempotent', async () => {
  // fc_limit.lua driven directly on a private stream and key prefix (the
  // workers never see them): resent acquires must not park twice, nor
  // start an entry that was parked and woken as another entry meanwhile.
  const script = fs.readFileSync(new URL('../../common/lua/fc_limit.lua', import.meta.url), 'utf8');
  const S = stack.key('{msg}:fctest-stream');
  const F = stack.key('{msg}:fctest:');
  const call = (...args) => stack.redis.call('EVAL', script, 1, S, ...args);
  const acquire = (id, entry) => call('acquire', F, 'k', id, entry, 'g', `env-${id}`, 1, 0, 1000, 5000);
  const read = async () => {
    const r = await stack.redis.call('XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', 10, 'STREAMS', S, '>');
    return r[0][1].map(([entry, fv]) => ({ entry, id: fv[3], m: fv[5] }));
  };
  await stack.redis.call('XGROUP', 'CREATE', S, 'g', '0', 'MKSTREAM');
  await stack.redis.call('XADD', S, '*', 'v', '1', 'id', 'a', 'm', 'env-a');
  await stack.redis.call('XADD', S, '*', 'v', '1', 'id', 'b', 'm', 'env-b');
  const [ea, eb] = await read();
  assert.deepEqual(await acquire('a', ea.entry), [1, 0]);
  const parked = await acquire('b', eb.entry);
  assert.equal(parked[0], 0);
  assert.deepEqual(await acquire('b', eb.entry), [-1, 0], 'a resent park is a no-op');
  assert.deepEqual(await stack.redis.call('LRANGE', `${F}wait:k`, 0, -1), ['b']);
  assert.equal(await stack.redis.call('GET', `${F}parked`), '1', 'parked once');
  assert.deepEqual(await stack.redis.call('XRANGE', S, eb.entry, eb.entry), [], 'parked entry deleted');
  const info = await call('info', F, 'k');
  assert.deepEqual(info.slice(0, 7), [1, 1, 1, 1, 0, 0, 1000]);
  // Releasing a wakes b: a new entry with the same envelope, slot granted.
  const rel = await call('release', F, 'k', 'a', ea.entry, 5000);
  assert.equal(rel[0], 1);
  assert.equal(await stack.redis.call('GET', `${F}parked`), '0', 'woken: no longer parked');
  assert.deepEqual(await acquire('b', eb.entry), [-1, 0], 'the old entry of b does not start');
  const [woken] = await read();
  assert.equal(woken.id, 'b');
  assert.equal(woken.m, 'env-b');
  assert.deepEqual(await acquire('b', woken.entry), [1, 0], 'the woken entry starts on its grant');
  assert.deepEqual((await call('info', F, 'k')).slice(0, 4), [1, 0, 1, 1]);
  await call('release', F, 'k', 'b', woken.entry, 5000);
  assert.deepEqual((await call('info', F, 'k')).slice(0, 4), [1, 0, 1, 0]);
  assert.deepEqual(await call('info', F, 'nope'), [0]);
});

/**
 * fc_limit.lua on a private stream, group and key prefix (the workers never
 * see them): call(op, ...args) after F; add(id) XADDs an entry of message
 * `id`; read() takes the new entries [{entry, id, m}] for the group.
 */
async function limiter(tag) {
  const script = fs.readFileSync(new URL('../../common/lua/fc_limit.lua', import.meta.url), 'utf8');
  const S = stack.key(`{msg}:fc${tag}-stream`);
  const F = stack.key(`{msg}:fc${tag}:`);
  await stack.redis.call('XGROUP', 'CREATE', S, 'g', '0', 'MKSTREAM');
  return {
    S, F,
    call: (op, ...args) => stack.redis.call('EVAL', script, 1, S, op, F, ...args),
    add: (id) => stack.redis.call('XADD', S, '*', 'v', '1', 'id', id, 'm', `env-${id}`),
    read: async () => {
      const r = await stack.redis.call('XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', 1000, 'STREAMS', S, '>');
      return r ? r[0][1].map(([entry, fv]) => ({ entry, id: fv[3], m: fv[5] })) : [];
    },
  };
}

test('limiter script: a resent acquire of a parked entry neither starts nor wakes it', async () => {
  // rate 2 per 500 ms: y and z start, x parks; the acquire of x is sent
  // again (its reply was lost) once the window has room.
  const L = await limiter('resend');
  const acquire = (id, entry) => L.call('acquire', 'k', id, entry, 'g', `env-${id}`, 0, 2, 500, 5000);
  for (const id of ['y', 'z', 'x']) await L.add(id);
  const [ey, ez, ex] = await L.read();
  assert.deepEqual(await acquire('y', ey.entry), [1, 0]);
  assert.deepEqual(await acquire('z', ez.entry), [1, 0]);
  assert.equal((await acquire('x', ex.entry))[0], 0, 'x parked');
  await sleep(700);
  assert.deepEqual(await acquire('x', ex.entry), [-1, 0], 'the parked entry does not start');
  assert.deepEqual(await L.read(), [], 'nor is x woken as another entry by the resend');
  assert.deepEqual(await stack.redis.call('LRANGE', `${L.F}wait:k`, 0, -1), ['x']);
  // The tick wakes it: one new entry, which starts on its grant.
  assert.equal((await L.call('tick', 5000, 100))[0], 1);
  const woken = await L.read();
  assert.deepEqual(woken.map((e) => e.id), ['x']);
  assert.deepEqual(await acquire('x', woken[0].entry), [1, 0]);
});

test('limiter script: a late release of an older attempt leaves a newer attempt\'s slot', async () => {
  const L = await limiter('late');
  const acquire = (id, entry) => L.call('acquire', 'k', id, entry, 'g', `env-${id}`, 2, 0, 1000, 5000);
  await L.add('a'); // the first attempt
  await L.add('a'); // a newer attempt of the same message (e.g. reclaimed)
  const [e1, e2] = await L.read();
  assert.deepEqual(await acquire('a', e1.entry), [1, 0]);
  assert.deepEqual(await acquire('a', e2.entry), [1, 0]);
  assert.deepEqual(await stack.redis.call('ZRANGE', `${L.F}run:k`, 0, -1),
    [`a:${e1.entry}`, `a:${e2.entry}`].sort());
  await L.call('release', 'k', 'a', e1.entry, 5000);
  assert.deepEqual(await stack.redis.call('ZRANGE', `${L.F}run:k`, 0, -1), [`a:${e2.entry}`]);
  assert.equal((await L.call('info', 'k'))[3], 1, 'the newer attempt still counts');
  assert.equal(await L.call('renew', 'k', 'a', e2.entry, 5000), 1);
  await L.call('release', 'k', 'a', e2.entry, 5000);
  assert.equal((await L.call('info', 'k'))[3], 0);
});

test('limiter script: one tick wakes at most 500 messages over all keys', async () => {
  const L = await limiter('cap');
  for (const key of ['k1', 'k2', 'k3']) {
    const ids = Array.from({ length: 300 }, (_, i) => `${key}-m${i}`);
    await stack.redis.call('RPUSH', `${L.F}wait:${key}`, ...ids);
    await stack.redis.call('HSET', `${L.F}env:${key}`, ...ids.flatMap((id) => [id, `env-${id}`]));
    await stack.redis.call('ZADD', `${L.F}wake`, 0, key);
  }
  // k1 whole, k2 in part; the rest is due at once (wake in 0 ms).
  assert.deepEqual(await L.call('tick', 5000, 100), [2, 0]);
  assert.equal(await stack.redis.call('XLEN', L.S), 500);
  assert.equal(await stack.redis.call('LLEN', `${L.F}wait:k2`), 100);
  assert.deepEqual(await L.call('tick', 5000, 100), [2, -1]);
  assert.equal(await stack.redis.call('XLEN', L.S), 900);
  // Wait lists written by hand were never counted: the count stays at 0.
  assert.equal(await stack.redis.call('GET', `${L.F}parked`), '0');
});

test('unknown key is 404, malformed value is 400', async () => {
  const r = await stack.api('GET', '/v2/flowControl/never-used-key');
  assert.equal(r.status, 404, r.text);
  assert.ok(r.json && r.json.error, r.text);
  const bad = await stack.api('POST', `/v2/publish/${ep.url}/x`, {
    headers: { 'Upstash-Flow-Control-Key': 'k', 'Upstash-Flow-Control-Value': 'parallelism=zero' },
  });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.json.error, /Flow-Control-Value/);
  const noauth = await stack.api('GET', '/v2/flowControl/x', { token: null });
  assert.equal(noauth.status, 401);
});

test('processes exit 0 on SIGTERM (no sanitizer report)', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) {
    if (e.signal === 'SIGKILL') continue; // the worker killed above
    assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
  }
});
