// logs.test.mjs - what operators read: with STEPFLOW_LOG_FORMAT=json (the
// default) every line both processes write is one JSON object with time,
// level and msg, and the events of a message carry its ids as fields;
// STEPFLOW_LOG_LEVEL filters; STEPFLOW_LOG_FORMAT=text gives key=value lines.
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { startStack, endpoint, waitFor, test } from './lib/stack.mjs';

const stacks = [];
let ep;
after(async () => {
  for (const s of stacks) await s.stop();
  if (ep) await ep.close();
});

async function stackWith(env) {
  const s = await startStack({ workers: 1, env });
  stacks.push(s);
  return s;
}

/** Every non-empty line of the process's output, parsed; throws on a line
 *  that is not one JSON object. */
function jsonLines(proc) {
  return proc.log().split('\n').filter((l) => l.length > 0).map((l) => {
    let o;
    try { o = JSON.parse(l); } catch { throw new Error(`${proc.name}: not JSON: ${l}`); }
    assert.equal(typeof o, 'object', `${proc.name}: not an object: ${l}`);
    assert.match(o.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, l);
    assert.ok(['debug', 'info', 'warn', 'error'].includes(o.level), l);
    assert.equal(typeof o.msg, 'string', l);
    return o;
  });
}

test('json: one object per line, ids and status as fields', async () => {
  ep = await endpoint((req) => (req.path === '/fail' ? { status: 500, body: 'no' } : { status: 200 }));
  const stack = await stackWith({ STEPFLOW_LOG_FORMAT: 'json', STEPFLOW_LOG_LEVEL: 'debug' });
  const ok = await stack.publish(`${ep.url}/ok`, 'x');
  const bad = await stack.publish(`${ep.url}/fail`, 'y', {
    'Upstash-Retries': '1', 'Upstash-Retry-Delay': '50',
  });
  const entry = await stack.waitDlq(bad);
  await stack.waitIdle();
  await waitFor(() => ep.to('/ok').length === 1, { message: 'ok delivered' });

  const w = jsonLines(stack.workers[0]);
  const c = jsonLines(stack.coordinators[0]);
  assert.ok(c.some((o) => o.msg === 'listening' && typeof o.addr === 'string'), 'coordinator start line');
  // The DLQ event names the message, the entry and the last status (a number).
  const dlq = w.find((o) => o.msg === 'dlq' && o.messageId === bad);
  assert.ok(dlq, `a dlq event for ${bad}: ${JSON.stringify(w.filter((o) => o.messageId === bad))}`);
  assert.equal(dlq.level, 'info');
  assert.equal(dlq.dlqId, entry.dlqId);
  assert.equal(dlq.status, 500);
  // Per-attempt events (debug) carry messageId, attempt and status.
  const attempts = w.filter((o) => o.messageId === bad && o.attempt !== undefined);
  assert.ok(attempts.length >= 2, `attempt events for ${bad}: ${JSON.stringify(attempts)}`);
  for (const a of attempts) assert.equal(typeof a.attempt, 'number');
  assert.ok(w.some((o) => o.messageId === ok && o.status === 200), `an event with status 200 for ${ok}`);
});

test('level filter: warn hides info and debug', async () => {
  // STEPFLOW_CONCURENCY (misspelt) makes every process log one warning
  const stack = await stackWith({ STEPFLOW_LOG_FORMAT: 'json', STEPFLOW_LOG_LEVEL: 'warn', STEPFLOW_CONCURENCY: '3' });
  const id = await stack.publish(`${ep.url}/fail`, 'z', { 'Upstash-Retries': '0' });
  await stack.waitDlq(id);
  const procs = [...stack.workers, ...stack.coordinators];
  for (const p of procs) await p.stop(); // stack.stop() would delete the logs
  let warned = 0;
  for (const p of procs) {
    for (const o of jsonLines(p)) {
      assert.ok(o.level === 'warn' || o.level === 'error', JSON.stringify(o));
      warned++;
    }
  }
  assert.ok(warned >= procs.length, 'each process logged its warning: the filter had lines to show');
  await stack.stop();
});

test('a misspelt STEPFLOW_* variable is logged at start; the test harness variables are not passed on', async () => {
  const stack = await stackWith({ STEPFLOW_LOG_FORMAT: 'json', STEPFLOW_CONCURENCY: '3' });
  const procs = [...stack.workers, ...stack.coordinators];
  for (const p of procs) await p.stop(); // stack.stop() would delete the logs
  for (const p of procs) {
    const ignored = jsonLines(p).filter((o) => o.msg === 'config_env_ignored');
    assert.deepEqual(ignored.map((o) => [o.level, o.name, o.reason]),
      [['warn', 'STEPFLOW_CONCURENCY', 'unknown setting (see --help)']], p.name);
  }
  await stack.stop();
});

test('text: key=value lines', async () => {
  const stack = await stackWith({ STEPFLOW_LOG_FORMAT: 'text', STEPFLOW_LOG_LEVEL: 'info' });
  const id = await stack.publish(`${ep.url}/fail`, 'z', { 'Upstash-Retries': '0' });
  await stack.waitDlq(id);
  await waitFor(() => stack.workers[0].log().includes(`messageId=${id}`), { message: 'text dlq line' });
  const lines = stack.workers[0].log().split('\n').filter((l) => l.startsWith('ts='));
  assert.ok(lines.length > 0);
  assert.ok(lines.some((l) => / level=info dlq messageId=\S+ dlqId=\S+ .*status=500/.test(l)),
    lines.join('\n'));
});
