// resilience.test.mjs - delivery semantics a demanding user checks:
// deduplication (explicit id and content based), Upstash-Delay and
// Upstash-Not-Before, a stalling endpoint vs Upstash-Timeout, a connection
// reset, X-RateLimit-Reset on a 429, and a Redis restart (AOF) under load
// that loses no acknowledged message and stops no process, nor a
// flow-control slot freed while Redis was down.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startStack, endpoint, waitFor, test, hdr, mp, sleep } from './lib/stack.mjs';

let stack, ep;
const resetOnce = new Set(); // message ids already reset once

before(async () => {
  ep = await endpoint((req) => {
    const id = hdr(req, 'Upstash-Message-Id');
    switch (req.path) {
      case '/ok': return { status: 200 };
      case '/stall': return { status: 200, delayMs: 4000 };
      case '/reset':
        if (!resetOnce.has(id)) { resetOnce.add(id); return { reset: true }; }
        return { status: 200, body: 'after reset' };
      case '/limited':
        if (hdr(req, 'Upstash-Retried') === '0') {
          return {
            status: 429,
            headers: { 'X-RateLimit-Reset': String(Math.ceil(Date.now() / 1000) + 2) },
            body: 'slow down',
          };
        }
        return { status: 200 };
      case '/limited-delta':
        if (hdr(req, 'Upstash-Retried') === '0') {
          return { status: 429, headers: { 'X-RateLimit-Reset-Requests': '2' }, body: 'slow down' };
        }
        return { status: 200 };
      case '/load': return { status: 200, delayMs: 50 };
      case '/fcdown': return { status: 200, delayMs: 1000 };
      case '/fail': return { status: 500, body: 'fail' };
      default: return { status: 404 };
    }
  });
  stack = await startStack({
    workers: 1,
    redisArgs: ['--appendonly', 'yes', '--appendfsync', 'always'],
    workerEnv: { STEPFLOW_CONCURRENCY: '50' },
  });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

const byId = (path, id) => ep.to(path).filter((r) => hdr(r, 'Upstash-Message-Id') === id);

test('Upstash-Deduplication-Id: the same id twice -> the same messageId, delivered once', async () => {
  const h = { 'Upstash-Deduplication-Id': `dedup-${Date.now()}`, 'Content-Type': 'text/plain' };
  const a = await stack.publish(`${ep.url}/ok`, 'first', h);
  const b = await stack.publish(`${ep.url}/ok`, 'second, same dedup id', h);
  assert.equal(b, a, 'same messageId');
  const other = await stack.publish(`${ep.url}/ok`, 'first', { ...h, 'Upstash-Deduplication-Id': `other-${Date.now()}` });
  assert.notEqual(other, a, 'another dedup id -> another message');
  await waitFor(() => byId('/ok', a).length >= 1 && byId('/ok', other).length >= 1,
    { timeout: 15000, message: 'deduplicated messages delivered' });
  await stack.waitIdle();
  assert.equal(byId('/ok', a).length, 1, 'delivered once');
  assert.equal(byId('/ok', a)[0].text, 'first', 'the first publish wins');
  assert.equal(byId('/ok', other).length, 1);
});

test('Upstash-Content-Based-Deduplication: same content -> same messageId; other body -> new one', async () => {
  const h = { 'Upstash-Content-Based-Deduplication': 'true', 'Content-Type': 'text/plain' };
  const body = `content ${Date.now()}`;
  const a = await stack.publish(`${ep.url}/ok`, body, h);
  const b = await stack.publish(`${ep.url}/ok`, body, h);
  assert.equal(b, a, 'same content -> same messageId');
  const c = await stack.publish(`${ep.url}/ok`, `${body} changed`, h);
  assert.notEqual(c, a, 'different body -> different message');
  const d = await stack.publish(`${ep.url}/ok?x=1`, body, h);
  assert.notEqual(d, a, 'different destination -> different message');
  await waitFor(() => [a, c, d].every((id) => byId('/ok', id).length >= 1),
    { timeout: 15000, message: 'content-deduplicated messages delivered' });
  await stack.waitIdle();
  assert.equal(byId('/ok', a).length, 1, 'delivered once');
  assert.equal(byId('/ok', c).length, 1);
  assert.equal(byId('/ok', d).length, 1);
});

test('Upstash-Delay: 2s is delivered after >= 2 s', async () => {
  const t0 = Date.now();
  const id = await stack.publish(`${ep.url}/ok`, 'delayed', { 'Upstash-Delay': '2s' });
  const r = await waitFor(() => byId('/ok', id)[0], { timeout: 15000, message: 'delayed delivery' });
  const waited = r.at - t0;
  assert.ok(waited >= 2000, `delivered after ${waited} ms, not before 2000`);
  assert.ok(waited < 6000, `delivered after ${waited} ms, not much later than due`);
  assert.equal(hdr(r, 'Upstash-Retried'), '0');
});

test('Upstash-Not-Before (now + 2 s) is delivered at or after that second', async () => {
  const nb = Math.ceil((Date.now() + 2000) / 1000);
  const id = await stack.publish(`${ep.url}/ok`, 'not before', { 'Upstash-Not-Before': String(nb) });
  const r = await waitFor(() => byId('/ok', id)[0], { timeout: 15000, message: 'not-before delivery' });
  assert.ok(r.at >= nb * 1000, `delivered ${nb * 1000 - r.at} ms before Not-Before`);
  assert.ok(r.at < nb * 1000 + 4000, `delivered ${r.at - nb * 1000} ms after Not-Before`);
});

test('an endpoint stalling past Upstash-Timeout: 1s fails the attempt, is retried, then DLQd with errors', async () => {
  const t0 = Date.now();
  const id = await stack.publish(`${ep.url}/stall`, 'stall', {
    'Upstash-Timeout': '1s', 'Upstash-Retries': '1', 'Upstash-Retry-Delay': '100',
  });
  const e = await stack.waitDlq(id, { timeout: 20000 });
  const took = Date.now() - t0;
  const calls = byId('/stall', id);
  assert.equal(calls.length, 2, 'two attempts');
  assert.deepEqual(calls.map((r) => hdr(r, 'Upstash-Retried')), ['0', '1'], 'Upstash-Retried increments');
  const gap = calls[1].at - calls[0].at;
  assert.ok(gap >= 1000, `the first attempt ran its 1 s timeout (${gap} ms)`);
  assert.ok(gap < 3500, `the first attempt was cut at ~1 s, not the endpoint's 4 s (${gap} ms)`);
  assert.ok(took < 8000, `DLQ entry after ${took} ms`);
  const entry = (await stack.api('GET', `/v2/dlq/${e.dlqId}`)).json;
  assert.ok(Array.isArray(entry.attempts), `attempts recorded: ${JSON.stringify(entry)}`);
  assert.equal(entry.attempts.length, 2);
  for (const a of entry.attempts) {
    assert.equal(typeof a.error, 'string', `attempt has an error: ${JSON.stringify(a)}`);
    assert.ok(a.error.length > 0);
    assert.ok(!a.status || a.status === 0, `no HTTP status for a timed-out attempt: ${JSON.stringify(a)}`);
  }
  assert.equal(entry.maxRetries, 1);
});

test('a connection reset is retried and then delivered', async () => {
  const id = await stack.publish(`${ep.url}/reset`, 'reset me', {
    'Upstash-Retries': '2', 'Upstash-Retry-Delay': '100',
  });
  await waitFor(() => byId('/reset', id).length >= 2, { timeout: 15000, message: 'retry after reset' });
  await stack.waitIdle();
  const calls = byId('/reset', id);
  assert.equal(calls.length, 2, 'reset once, delivered on the retry');
  assert.deepEqual(calls.map((r) => hdr(r, 'Upstash-Retried')), ['0', '1']);
  assert.equal(calls[1].text, 'reset me');
  assert.equal((await stack.dlqList()).some((m) => m.messageId === id), false, 'not in the DLQ');
});

test('X-RateLimit-Reset on a 429 delays the next attempt (unix time and delta seconds)', async () => {
  const h = { 'Upstash-Retries': '2', 'Upstash-Retry-Delay': '50' };
  const a = await stack.publish(`${ep.url}/limited`, 'rl', h);
  const b = await stack.publish(`${ep.url}/limited-delta`, 'rl delta', h);
  await waitFor(() => byId('/limited', a).length >= 2 && byId('/limited-delta', b).length >= 2,
    { timeout: 15000, message: 'the retries after the 429s' });
  const [a0, a1] = byId('/limited', a);
  const resetAt = (Math.ceil(a0.at / 1000) + 2) * 1000; // what /limited answered
  assert.ok(a1.at >= resetAt - 50, `unix-time reset: retried ${a1.at - a0.at} ms after the 429`);
  assert.ok(a1.at - a0.at >= 1000, `unix-time reset honoured, not the 50 ms retry delay (${a1.at - a0.at} ms)`);
  const [b0, b1] = byId('/limited-delta', b);
  assert.ok(b1.at - b0.at >= 2000, `delta reset: retried ${b1.at - b0.at} ms after the 429`);
  assert.ok(b1.at - b0.at < 6000, `delta reset not much later (${b1.at - b0.at} ms)`);
  await stack.waitIdle();
  assert.equal(byId('/limited', a).length, 2);
  assert.equal(byId('/limited-delta', b).length, 2);
});

test('redis restart (AOF) under load: every acknowledged message delivered, processes stay up', async () => {
  const acked = [];
  const refused = [];
  let down = false;
  let failuresWhileDown = 0;
  let sent = 0;
  const TOTAL = 200;

  async function publishOne(i) {
    try {
      const r = await stack.api('POST', `/v2/publish/${ep.url}/load`, {
        headers: { 'Upstash-Retries': '5', 'Upstash-Retry-Delay': '200' }, body: `load ${i}`,
      });
      if (r.status >= 200 && r.status < 300 && r.json && r.json.messageId) acked.push(r.json.messageId);
      else { refused.push(r.status); if (down) failuresWhileDown++; }
    } catch (e) {
      refused.push(String(e.message));
      if (down) failuresWhileDown++;
    }
  }
  // Four publishers in parallel; redis goes down after 100 acknowledgements.
  let shutdown = null;
  const publisher = async () => {
    while (sent < TOTAL && !(down && failuresWhileDown >= 8)) {
      const i = sent++;
      await publishOne(i);
      if (!shutdown && acked.length >= 100) {
        down = true;
        console.log(`shutting redis down with ${acked.length} acknowledged, ${ep.to('/load').length} delivered`);
        shutdown = stack.redis.shutdown();
      }
    }
  };
  await Promise.all([publisher(), publisher(), publisher(), publisher()]);
  assert.ok(shutdown, `redis was shut down (acked ${acked.length})`);
  await shutdown;
  console.log(`acked ${acked.length} before/while redis went down; refused: ${JSON.stringify(refused.slice(0, 10))}`);
  const c = stack.coordinators[0];
  await waitFor(async () => (await stack.api('GET', '/readyz', { token: null })).status === 503,
    { timeout: 10000, message: '/readyz 503 while redis is down' });
  // Publishing while redis is down is refused cleanly (no hang, no 2xx).
  const r = await stack.api('POST', `/v2/publish/${ep.url}/load`, { body: 'while down' });
  assert.equal(r.status, 503, `publish while down: ${r.status} ${r.text}`);
  assert.ok(c.alive, 'coordinator alive while redis is down');
  assert.ok(stack.workers[0].alive, 'worker alive while redis is down');

  await stack.redis.start();
  await waitFor(async () => (await stack.api('GET', '/readyz', { token: null })).status === 200,
    { timeout: 20000, message: '/readyz 200 after the restart' });
  // The rest of the load, after the restart.
  while (sent < TOTAL) await publishOne(sent++);
  const afterId = await stack.publish(`${ep.url}/load`, 'after restart');
  acked.push(afterId);

  const want = new Set(acked);
  const missing = () => [...want].filter((id) => byId('/load', id).length === 0);
  await waitFor(() => missing().length === 0,
    { timeout: 40000, interval: 250, message: `every acknowledged message delivered (${want.size})` })
    .catch((e) => { throw new Error(`${e.message}; missing ${missing().length}: ${missing().slice(0, 5)}`); });
  assert.ok(byId('/load', afterId).length >= 1, 'the message published after the restart was delivered');
  await stack.waitIdle({ timeout: 30000 });
  // A publish cut off by the shutdown may have been stored without its
  // answer reaching us: delivering it is fine, but it must be one of ours.
  const stray = ep.to('/load').filter((x) => !want.has(hdr(x, 'Upstash-Message-Id')));
  for (const x of stray) assert.match(x.text, /^load \d+$/, `unexpected delivery ${x.text}`);
  const dups = [...want].filter((id) => byId('/load', id).length > 1).length;
  console.log(`${want.size} messages, ${ep.to('/load').length} deliveries, ${dups} delivered more than once`);
  assert.equal((await stack.dlqList()).filter((m) => m.url === `${ep.url}/load`).length, 0, 'none in the DLQ');
  // The DLQ path (worker writes, coordinator's indexer indexes) works again.
  const failed = await stack.publish(`${ep.url}/fail`, 'after restart, fails', { 'Upstash-Retries': '0' });
  const entry = await stack.waitDlq(failed, { timeout: 20000 });
  assert.equal(entry.responseStatus, 500);
  assert.ok(c.alive, `coordinator did not exit: ${JSON.stringify(c.exit)}`);
  assert.ok(stack.workers[0].alive, `worker did not exit: ${JSON.stringify(stack.workers[0].exit)}`);
});

test('a flow-control slot freed while redis is down is released when it is back, before a drain ends', async () => {
  const aof = ['--appendonly', 'yes', '--appendfsync', 'always'];
  const s2 = await startStack({ workers: 1, coordinator: false, redisArgs: aof });
  try {
    const [w] = s2.workers;
    const key = `down-${Date.now()}`;
    const id = `msg_fcdown${Date.now()}`;
    await s2.redis.call('XADD', s2.key('{msg}:stream'), '*', 'v', '1', 'id', id, 'm', mp({
      v: 1, k: 0, id, url: `${ep.url}/fcdown`, mt: 'POST', r: 0, rd: 0, c: Date.now(),
      b: Buffer.from('x'), fk: key, fp: 1,
    }));
    const run = s2.key(`{msg}:fc:run:${key}`);
    await waitFor(() => ep.to('/fcdown').length === 1, { message: 'the attempt' });
    assert.equal(Number(await s2.redis.call('ZCARD', run)), 1, 'its slot is held');
    // SIGTERM, and redis goes away while the attempt runs: its ack and
    // its release wait for the link, and the drain for them.
    const stopped = w.stop(30000);
    await s2.redis.shutdown();
    await sleep(1500);
    assert.ok(w.alive, 'the drain waits for redis');
    await s2.redis.start();
    const r = await stopped;
    assert.equal(r.code, 0, `exit ${JSON.stringify(r)}`);
    assert.deepEqual(await s2.redis.call('ZRANGE', run, 0, -1), [], 'released, not left to its lease');
    assert.equal(Number((await s2.redis.call('XPENDING', s2.key('{msg}:stream'), 'workers'))[0]), 0, 'acked');
    assert.equal(ep.to('/fcdown').length, 1);
  } finally {
    await s2.stop();
  }
});

test('worker and coordinator exit 0 on SIGTERM', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
