// callback.test.mjs - the failure-callback story: a message and its failure
// callback both fail for good (CALLBACK_FAIL); the callback endpoint is then
// fixed and a manual retry of the callback succeeds (CALLBACK_SUCCESS);
// further retries and cancels are refused with 400; the retry clears the
// previous run's errors; cb_result.lua applies an attempt once even when it
// is sent again after a lost reply.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before } from 'node:test';
import { startStack, endpoint, waitFor, test, hdr } from './lib/stack.mjs';

let stack, ep;
let cbStatus = 500;
const b64 = (s) => Buffer.from(s).toString('base64');

before(async () => {
  ep = await endpoint((req) => {
    if (req.path === '/target') return { status: 500, body: 'target down' };
    if (req.path === '/cb') return { status: cbStatus, body: cbStatus === 200 ? 'cb ok' : 'cb down' };
    return { status: 404 };
  });
  stack = await startStack({ workers: 1 });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

const state = { id: null, dlqId: null };

async function getEntry(dlqId) {
  const r = await stack.api('GET', `/v2/dlq/${dlqId}`);
  assert.equal(r.status, 200, `GET /v2/dlq/${dlqId}: ${r.text}`);
  return r.json;
}

const cbState = (e) => e && e.failureCallbackInfo && e.failureCallbackInfo.state;

test('endpoint and callback both fail: 3 + 3 calls, entry ends in CALLBACK_FAIL', async () => {
  state.id = await stack.publish(`${ep.url}/target`, 'source payload', {
    'Content-Type': 'text/plain',
    'Upstash-Retries': '2',
    'Upstash-Retry-Delay': '100',
    'Upstash-Failure-Callback': `${ep.url}/cb`,
    'Upstash-Forward-X-Src': 'yes',
  });
  await waitFor(() => ep.to('/target').length >= 3, { timeout: 20000, message: '3 calls to /target' });
  const cbs = await waitFor(() => ep.to('/cb').length >= 3 && ep.to('/cb'),
    { timeout: 20000, message: '3 calls to the failure callback' });

  const targets = ep.to('/target');
  assert.deepEqual(targets.map((r) => hdr(r, 'Upstash-Retried')), ['0', '1', '2']);
  assert.deepEqual(cbs.map((r) => hdr(r, 'Upstash-Retried')), ['0', '1', '2']);

  // The callback body (PROTOCOL.md, "Failure callbacks and the DLQ").
  const cb = cbs[0];
  assert.equal(cb.method, 'POST');
  let j;
  assert.doesNotThrow(() => { j = JSON.parse(cb.text); }, `callback body is JSON: ${cb.text}`);
  assert.equal(Number(j.status), 500);
  assert.equal(j.body, b64('target down'));
  assert.equal(j.sourceMessageId, state.id);
  assert.equal(typeof j.dlqId, 'string');
  assert.ok(j.dlqId.length > 0);
  assert.equal(j.url, `${ep.url}/target`);
  assert.equal(Number(j.retried), 2);
  assert.equal(Number(j.maxRetries), 2);
  assert.equal(j.sourceBody, b64('source payload'));
  assert.equal(j.method, 'POST');
  assert.equal(typeof j.header, 'object');
  for (const r of cbs) assert.equal(JSON.parse(r.text).dlqId, j.dlqId, 'same dlqId in every callback attempt');
  state.dlqId = j.dlqId;

  const e = await waitFor(async () => {
    const x = await getEntry(state.dlqId);
    return cbState(x) === 'CALLBACK_FAIL' && x;
  }, { timeout: 20000, message: 'failureCallbackInfo.state CALLBACK_FAIL' });
  assert.equal(e.messageId, state.id);
  assert.equal(Number(e.responseStatus), 500);
  assert.equal(Number(e.failureCallbackInfo.responseStatus), 500);
  assert.equal(e.failureCallback, `${ep.url}/cb`);
  // One error per failed callback attempt, oldest first, with the response.
  const errs = e.failureCallbackInfo.errors;
  assert.ok(Array.isArray(errs), JSON.stringify(e.failureCallbackInfo));
  assert.equal(errs.length, 3);
  for (const x of errs) assert.equal(Number(x.status), 500, JSON.stringify(x));
  assert.equal(Number(e.failureCallbackInfo.attempts), 3);

  await waitFor(async () => (await stack.dlqList('failureFunctionState=CALLBACK_FAIL'))
    .some((m) => m.dlqId === state.dlqId),
  { timeout: 20000, message: 'GET /v2/dlq?failureFunctionState=CALLBACK_FAIL lists the entry' });
  // Quiet queue, then still exactly 3 + 3.
  await stack.waitIdle();
  await stack.waitIdle({ queue: '{dlq}:cb' });
  assert.equal(ep.to('/target').length, 3);
  assert.equal(ep.to('/cb').length, 3);
});

test('manual callback retry after the fix: one more call, CALLBACK_SUCCESS', async () => {
  assert.ok(state.dlqId, 'previous test produced a dlqId');
  cbStatus = 200;
  const r = await stack.api('POST', `/v2/workflows/dlq/callback/${state.dlqId}`);
  assert.equal(r.status, 200, r.text);
  await waitFor(() => ep.to('/cb').length >= 4, { timeout: 20000, message: 'the 4th callback call' });
  const e = await waitFor(async () => {
    const x = await getEntry(state.dlqId);
    return cbState(x) === 'CALLBACK_SUCCESS' && x;
  }, { timeout: 20000, message: 'state CALLBACK_SUCCESS' });
  assert.equal(Number(e.failureCallbackInfo.responseStatus), 200);
  // The retry started a new run: the previous run's errors are gone.
  assert.deepEqual(e.failureCallbackInfo.errors || [], [], JSON.stringify(e.failureCallbackInfo));
  assert.equal(Number(e.failureCallbackInfo.attempts), 1);
  const last = ep.to('/cb')[3];
  assert.equal(hdr(last, 'Upstash-Retried'), '0', 'fresh attempt budget');
  assert.equal(JSON.parse(last.text).dlqId, state.dlqId);

  await waitFor(async () => (await stack.dlqList('failureFunctionState=CALLBACK_SUCCESS'))
    .some((m) => m.dlqId === state.dlqId),
  { timeout: 20000, message: 'CALLBACK_SUCCESS list has the entry' });
  await waitFor(async () => !(await stack.dlqList('failureFunctionState=CALLBACK_FAIL'))
    .some((m) => m.dlqId === state.dlqId),
  { timeout: 20000, message: 'CALLBACK_FAIL list no longer has the entry' });
  await stack.waitIdle({ queue: '{dlq}:cb' });
  assert.equal(ep.to('/cb').length, 4, 'called exactly once more');
  assert.equal(ep.to('/target').length, 3, 'the source message is not re-sent');
});

test('a second callback retry is refused with 400 JSON', async () => {
  const r = await stack.api('POST', `/v2/workflows/dlq/callback/${state.dlqId}`);
  assert.equal(r.status, 400, r.text);
  assert.equal(typeof (r.json && r.json.error), 'string', `JSON error: ${r.text}`);
  assert.ok(r.json.error.length > 0);
});

test('cancelling the callback of a CALLBACK_SUCCESS entry -> 400', async () => {
  const r = await stack.api('DELETE', `/v2/workflows/dlq/callback/${state.dlqId}`);
  assert.equal(r.status, 400, r.text);
  assert.equal(typeof (r.json && r.json.error), 'string', `JSON error: ${r.text}`);
  const e = await getEntry(state.dlqId);
  assert.equal(cbState(e), 'CALLBACK_SUCCESS', 'state unchanged');
});

test('callback retry for an unknown dlqId -> 404', async () => {
  const r = await stack.api('POST', '/v2/workflows/dlq/callback/dlq_nope');
  assert.equal(r.status, 404, r.text);
});

test('cb_result.lua: an attempt sent again after a lost reply is applied once', async () => {
  // The script driven directly on a private entry and events stream (the
  // indexer never sees them).
  const script = fs.readFileSync(new URL('../../common/lua/cb_result.lua', import.meta.url), 'utf8');
  const entry = stack.key('{dlq}:cbtest-entry');
  const events = stack.key('{dlq}:cbtest-events');
  await stack.redis.call('HSET', entry, 'callbackState', 'CALLBACK_INPROGRESS', 'callbackGen', '3',
    'callbackRetried', '0', 'callbackUpdatedAt', '1');
  const error = (t) => JSON.stringify({ error: 'HTTP 500', body: 'no', headers: {}, status: 500, time: t });
  const result = (gen, outcome, retried, now) => stack.redis.call('EVAL', script, 2, entry, events,
    'dlq_cbtest', gen, outcome, '500', '{}', 'no', String(retried), String(now), error(now));
  const errors = async () => JSON.parse(await stack.redis.call('HGET', entry, 'callbackErrors')).length;
  assert.equal(await result('3', 'retry', 1, 1000), 1);
  assert.equal(await result('3', 'retry', 1, 1000), 2, 'the same attempt again: already applied');
  assert.equal(await errors(), 1, 'its error recorded once');
  assert.equal(await result('3', 'fail', 2, 2000), 1, 'the next attempt');
  assert.equal(await result('3', 'fail', 2, 2000), 2);
  assert.equal(await stack.redis.call('HGET', entry, 'callbackState'), 'CALLBACK_FAIL');
  assert.equal(await errors(), 2);
  assert.equal(await stack.redis.call('XLEN', events), 1, 'one state-change event');
  assert.equal(await result('2', 'retry', 3, 3000), 0, 'an older generation is stale');
  assert.equal(await result('3', 'retry', 3, 3000), 0, 'a new attempt after the final state is stale');
});

test('worker and coordinator exit 0 on SIGTERM', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
