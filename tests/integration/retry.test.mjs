// retry.test.mjs - retries follow Upstash-Retry-Delay, Upstash-Retried
// counts up, and Retry-After on a 429 sets the next attempt's time.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startStack, endpoint, waitFor, test, hdr } from './lib/stack.mjs';

let stack, ep;
before(async () => {
  ep = await endpoint((req) => {
    const seen = ep.to(req.path).length; // includes this one
    if (req.path === '/flaky') return { status: seen <= 2 ? 500 : 200, body: `attempt ${seen}` };
    if (req.path === '/limited' || req.path === '/limited-delay') {
      return seen === 1 ? { status: 429, headers: { 'Retry-After': '1' }, body: 'slow down' } : { status: 200 };
    }
    return { status: 200 };
  });
  stack = await startStack({ workers: 1 });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

test('fails twice then succeeds: 3 attempts spaced by the retry-delay expression', async () => {
  const id = await stack.publish(`${ep.url}/flaky`, 'payload', {
    'Upstash-Retries': '3',
    'Upstash-Retry-Delay': '1000 * (retried + 1)',
  });
  const reqs = await waitFor(() => ep.to('/flaky').length >= 3 && ep.to('/flaky'),
    { timeout: 30000, message: '3 attempts at /flaky' });
  assert.deepEqual(reqs.map((r) => hdr(r, 'Upstash-Retried')), ['0', '1', '2']);
  for (const r of reqs) {
    assert.equal(hdr(r, 'Upstash-Message-Id'), id);
    assert.equal(r.text, 'payload');
  }
  const gap1 = reqs[1].at - reqs[0].at;
  const gap2 = reqs[2].at - reqs[1].at;
  console.log(`gaps: ${gap1} ms, ${gap2} ms`);
  assert.ok(gap1 >= 1000 && gap1 < 2500, `first gap ${gap1} ms, want [1000, 2500)`);
  assert.ok(gap2 >= 2000 && gap2 < 3500, `second gap ${gap2} ms, want [2000, 3500)`);
  await stack.waitIdle();
  assert.equal(ep.to('/flaky').length, 3, 'no attempt after the success');
  assert.equal((await stack.dlqList()).length, 0, 'DLQ empty');
});

test('429 with Retry-After: 1 reschedules after >= 1 s (not the 12 s default)', async () => {
  const id = await stack.publish(`${ep.url}/limited`, 'x', { 'Upstash-Retries': '3' });
  const reqs = await waitFor(() => ep.to('/limited').length >= 2 && ep.to('/limited'),
    { timeout: 15000, message: '2 attempts at /limited' });
  const gap = reqs[1].at - reqs[0].at;
  console.log(`Retry-After gap: ${gap} ms`);
  assert.ok(gap >= 1000, `gap ${gap} ms >= 1000`);
  assert.ok(gap < 6000, `gap ${gap} ms < 6000: Retry-After must replace the 12 s default backoff`);
  assert.equal(hdr(reqs[1], 'Upstash-Retried'), '1');
  assert.equal(hdr(reqs[1], 'Upstash-Message-Id'), id);
});

test('Retry-After wins over a shorter retry-delay expression', async () => {
  await stack.publish(`${ep.url}/limited-delay`, 'x', {
    'Upstash-Retries': '3', 'Upstash-Retry-Delay': '10',
  });
  const reqs = await waitFor(() => ep.to('/limited-delay').length >= 2 && ep.to('/limited-delay'),
    { timeout: 15000, message: '2 attempts at /limited-delay' });
  const gap = reqs[1].at - reqs[0].at;
  assert.ok(gap >= 1000 && gap < 4000, `gap ${gap} ms, want [1000, 4000)`);
});

test('worker and coordinator exit 0 on SIGTERM', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
