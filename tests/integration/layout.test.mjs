// layout.test.mjs - P:layout: set by the first process, and a process that
// finds a newer layout in Redis exits 1 without touching the data (at start
// and on a reconnect).
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startStack, waitFor, test, Proc, pairs } from './lib/stack.mjs';

let stack;
before(async () => { stack = await startStack({ workers: 1 }); });
after(async () => { if (stack) await stack.stop(); });

test('the first process writes the layout version', async () => {
  await waitFor(async () => (await stack.redis.call('GET', stack.key('layout'))) === '1',
    { message: 'P:layout = 1' });
});

test('a newer layout in Redis: a starting worker exits 1 and says why, touching nothing', async () => {
  for (const w of stack.workers) await w.stop();
  await stack.redis.call('SET', stack.key('layout'), '2');
  const stream = stack.key('{msg}:stream');
  await stack.redis.call('XADD', stream, '*', 'v', '2', 'id', 'msg_from_the_future', 'm', 'x');
  const keysBefore = (await stack.redis.call('KEYS', `${stack.prefix}:*`)).sort();
  const w = new Proc('worker-new', 'stepflow-worker',
    { ...stack.baseEnv(), STEPFLOW_CONSUMER: 'worker-new' }, stack.logDir);
  await waitFor(() => !w.alive, { timeout: 15000, message: 'the worker exits' });
  assert.equal(w.exit.code, 1, JSON.stringify(w.exit));
  // Nothing read, nothing written: the entry waits unread, no heartbeat.
  const groups = (await stack.redis.call('XINFO', 'GROUPS', stream)).map(pairs);
  const g = groups.find((x) => x.name === 'workers');
  assert.equal(Number(g.pending), 0, JSON.stringify(g));
  assert.ok(!(await stack.consumers()).some((c) => c.name === 'worker-new'));
  assert.deepEqual((await stack.redis.call('KEYS', `${stack.prefix}:*`)).sort(), keysBefore);
  assert.match(w.log(), /redis_layout_newer/);
  assert.match(w.log(), /found=2/);
});

test('a newer layout seen on a reconnect: the coordinator exits 1', async () => {
  const coord = stack.coordinators[0];
  // Drop the coordinator's links; it reconnects and checks again.
  await stack.redis.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
  await waitFor(() => !coord.alive, { timeout: 15000, message: 'coordinator exits' });
  assert.equal(coord.exit.code, 1);
  assert.match(coord.log(), /redis_layout_newer/);
  // The data was left alone.
  assert.equal(await stack.redis.call('GET', stack.key('layout')), '2');
  await stack.redis.call('SET', stack.key('layout'), '1'); // let stop() finish cleanly
});
