// crash.test.mjs - kill -9 of a worker with deliveries in flight loses
// nothing and burns no retry; SIGTERM drains in-flight deliveries and exits 0;
// a check whose reply comes back after the drain's hand-back starts nothing.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import fs from 'node:fs';
import { startStack, endpoint, waitFor, test, hdr, mp, sleep, pairs } from './lib/stack.mjs';

let stack, ep;
before(async () => {
  ep = await endpoint((req) => {
    if (req.path === '/slow') return { status: 200, delayMs: 300 };
    if (req.path === '/drain') return { status: 200, delayMs: 1500 };
    return { status: 200 };
  });
  stack = await startStack({
    workers: 2,
    workerEnv: { STEPFLOW_CONCURRENCY: '50', STEPFLOW_DEFAULT_TIMEOUT_MS: '5000', STEPFLOW_DRAIN_MS: '8000' },
  });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

async function publishMany(path, n) {
  const ids = [];
  for (let off = 0; off < n; off += 100) {
    const items = [];
    for (let i = off; i < Math.min(n, off + 100); i++) {
      items.push({ destination: `${ep.url}${path}`, body: `m${i}`, headers: { 'Upstash-Retries': '3' } });
    }
    const r = await stack.api('POST', '/v2/batch', {
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(items),
    });
    assert.equal(r.status, 200, r.text);
    ids.push(...r.json.map((x) => x.messageId));
  }
  return ids;
}

function deliveries(path) {
  const by = new Map();
  for (const r of ep.to(path)) {
    const id = hdr(r, 'Upstash-Message-Id');
    if (!by.has(id)) by.set(id, []);
    by.get(id).push(r);
  }
  return by;
}

async function pendingOf(consumer) {
  const s = await stack.redis.call('XPENDING', stack.key('{msg}:stream'), 'workers');
  const row = (s[3] || []).find((c) => c[0] === consumer);
  return row ? Number(row[1]) : 0;
}

test('kill -9 of a worker mid-delivery: every message delivered, none lost, no retry burnt', async () => {
  const [victim, survivor] = stack.workers;
  const ids = await publishMany('/slow', 300);
  assert.equal(new Set(ids).size, 300);
  await waitFor(async () => ep.to('/slow').length >= 20 && (await pendingOf(victim.consumer)) >= 5,
    { timeout: 20000, message: 'victim worker with deliveries in flight' });
  const inflight = await pendingOf(victim.consumer);
  console.log(`kill -9 ${victim.name} with ${inflight} pending entries; endpoint has seen ${ep.to('/slow').length}`);
  await victim.kill();
  assert.ok(survivor.alive);

  const want = new Set(ids);
  await waitFor(() => {
    const got = deliveries('/slow');
    return [...want].every((id) => got.has(id));
  }, { timeout: 45000, interval: 200, message: 'all 300 messages delivered' });
  await stack.waitIdle({ timeout: 30000 });

  const got = deliveries('/slow');
  const dups = [...got].filter(([, rs]) => rs.length > 1);
  console.log(`delivered ${got.size} distinct, ${ep.to('/slow').length} requests, ${dups.length} duplicates:`);
  for (const [id, rs] of dups.slice(0, 20)) console.log(`  ${id} x${rs.length} retried=${rs.map((r) => hdr(r, 'Upstash-Retried')).join(',')}`);
  if (dups.length > 20) console.log(`  ... and ${dups.length - 20} more`);
  const stray = [...got.keys()].filter((id) => !want.has(id));
  assert.deepEqual(stray, [], 'no unknown message ids');
  for (const [id, rs] of got) {
    for (const r of rs) assert.equal(hdr(r, 'Upstash-Retried'), '0', `${id}: a crash must not burn a retry`);
  }
  assert.equal((await stack.dlqList()).length, 0, 'DLQ empty');
  // The victim's pending entries were all claimed away.
  assert.equal(await pendingOf(victim.consumer), 0);
});

test('SIGTERM drains in-flight deliveries, exits 0, loses nothing', async () => {
  // Leave one draining worker alone with the queue.
  const survivor = stack.workers.find((w) => w.alive);
  const s = await survivor.stop(20000);
  assert.equal(s.code, 0, `survivor exit ${JSON.stringify(s)}`);
  const w = await stack.startWorker({ STEPFLOW_CONCURRENCY: '10' });
  const ids = await publishMany('/drain', 60);
  await waitFor(async () => ep.to('/drain').length >= 5 && (await pendingOf(w.consumer)) >= 5,
    { timeout: 20000, message: 'deliveries in flight on the draining worker' });
  const seenAtTerm = ep.to('/drain').length;
  const r = await w.stop(20000);
  console.log(`SIGTERM with ${seenAtTerm} requests seen: exit ${JSON.stringify(r)}`);
  assert.equal(r.code, 0, `exit code 0 after SIGTERM: ${JSON.stringify(r)}`);
  assert.ok(r.ms < 8000 + 4000, `exited within the grace period (${r.ms} ms)`);
  // Everything it started was finished and acked, the rest handed back.
  assert.equal(await pendingOf(w.consumer), 0, 'no entries left pending on the drained worker');
  // ... and it left both groups (a rolling restart would pile them up).
  for (const q of ['{msg}', '{dlq}:cb']) {
    const rows = (await stack.redis.call('XINFO', 'CONSUMERS', stack.key(`${q}:stream`), 'workers')).map(pairs);
    assert.ok(!rows.some((c) => c.name === w.consumer), `${w.consumer} still in ${q}: ${JSON.stringify(rows)}`);
  }

  await stack.startWorker({ STEPFLOW_CONCURRENCY: '50' });
  const want = new Set(ids);
  await waitFor(() => {
    const got = deliveries('/drain');
    return [...want].every((id) => got.has(id));
  }, { timeout: 30000, interval: 200, message: 'all 60 drain messages delivered' });
  await stack.waitIdle();
  const dups = [...deliveries('/drain')].filter(([, rs]) => rs.length > 1);
  for (const [id, rs] of dups) console.log(`  duplicate ${id} x${rs.length}`);
  assert.equal(dups.length, 0, 'a drained (finished and acked) delivery is not sent again');
  assert.equal((await stack.dlqList()).length, 0, 'DLQ empty');
});

test('SIGTERM: a flow-control acquire answered after the hand-back starts no attempt', async () => {
  // A stack of its own: one worker with a short grace, no coordinator.
  const s2 = await startStack({ workers: 1, coordinator: false, workerEnv: { STEPFLOW_DRAIN_MS: '200' } });
  try {
    const [a] = s2.workers;
    const id = `msg_drainfc${Date.now()}`;
    const env = mp({
      v: 1, k: 0, id, url: `${ep.url}/drainfc`, mt: 'POST', r: 0, rd: 0, c: Date.now(),
      b: Buffer.from('x'), fk: `drain-${Date.now()}`, fp: 1,
    });
    // The worker reads the entry at once, but its acquire (a script: a
    // write) waits out the pause, past the hand-back 200 ms into the drain.
    const [added] = await s2.redis.pipeline(
      ['XADD', s2.key('{msg}:stream'), '*', 'v', '1', 'id', id, 'm', env],
      ['CLIENT', 'PAUSE', '2000', 'WRITE']);
    assert.match(String(added), /^\d+-\d+$/);
    await waitFor(async () => {
      const p = await s2.redis.call('XPENDING', s2.key('{msg}:stream'), 'workers');
      return Number(p[0]) === 1;
    }, { message: 'the entry read by the worker' });
    await sleep(100);
    const r = await a.stop(20000);
    assert.equal(r.code, 0, `exit ${JSON.stringify(r)}`);
    assert.equal(ep.to('/drainfc').length, 0, 'no attempt started after the hand-back');
    assert.match(a.log(), /drain_skip /);
    // The entry stayed pending: another worker reclaims and delivers it.
    await s2.startWorker();
    await waitFor(() => ep.to('/drainfc').length === 1, { timeout: 20000, message: 'the reclaimed delivery' });
    await s2.waitIdle();
    assert.equal(ep.to('/drainfc').length, 1);
  } finally {
    await s2.stop();
  }
});

test('consumers_prune.lua: consumers with nothing pending leave the group, never one with pending entries', async () => {
  const stream = stack.key('prunetest:stream');
  await stack.redis.call('XGROUP', 'CREATE', stream, 'g', '$', 'MKSTREAM');
  await stack.redis.call('XADD', stream, '*', 'f', '1');
  await stack.redis.call('XREADGROUP', 'GROUP', 'g', 'busy', 'COUNT', '1', 'STREAMS', stream, '>');
  await stack.redis.call('XGROUP', 'CREATECONSUMER', stream, 'g', 'gone');
  await stack.redis.call('XGROUP', 'CREATECONSUMER', stream, 'g', 'fresh');
  await stack.redis.call('XGROUP', 'CREATECONSUMER', stream, 'g', 'me');
  const script = fs.readFileSync(new URL('../../common/lua/consumers_prune.lua', import.meta.url), 'utf8');
  const names = async () => (await stack.redis.call('XINFO', 'CONSUMERS', stream, 'g')).map(pairs).map((c) => c.name).sort();
  // a long idle threshold: only the leaving consumer goes
  assert.equal(Number(await stack.redis.call('EVAL', script, '1', stream, 'g', 'me', '3600000')), 1);
  assert.deepEqual(await names(), ['busy', 'fresh', 'gone']);
  // idle threshold 0: every consumer without pending entries goes, 'busy' stays
  await sleep(5);
  assert.equal(Number(await stack.redis.call('EVAL', script, '1', stream, 'g', '', '0')), 2);
  assert.deepEqual(await names(), ['busy']);
  // the pending entry is still there to be reclaimed
  const p = await stack.redis.call('XPENDING', stream, 'g');
  assert.equal(Number(p[0]), 1);
  // no stream / no group: 0, no error
  assert.equal(Number(await stack.redis.call('EVAL', script, '1', stack.key('nostream'), 'g', 'x', '0')), 0);
});

test('remaining processes exit 0 on SIGTERM', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) {
    if (name === stack.workers[0].name) continue; // the kill -9 victim
    assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
  }
});
