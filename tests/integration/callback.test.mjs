// callback.test.mjs - the failure-callback story: a message and its failure
// callback both fail for good (CALLBACK_FAIL); the callback endpoint is then
// fixed and a manual retry of the callback succeeds (CALLBACK_SUCCESS);
// further retries and cancels are refused with 400.
import assert from 'node:assert/strict';
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

test('worker and coordinator exit 0 on SIGTERM', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
