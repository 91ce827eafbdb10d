// badinput.test.mjs - malformed API requests get 4xx JSON errors; garbage
// written straight into the stream lands in the DLQ and the worker goes on.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startStack, endpoint, waitFor, test, hdr } from './lib/stack.mjs';

let stack, ep;
before(async () => {
  ep = await endpoint(() => ({ status: 200 }));
  stack = await startStack({ workers: 1, coordEnv: { STEPFLOW_MAX_BODY_BYTES: '1024' } });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

function assertJsonError(r, status, what) {
  assert.equal(r.status, status, `${what}: status ${r.status} ${r.text}`);
  assert.ok(r.json && typeof r.json.error === 'string' && r.json.error.length > 0,
    `${what}: JSON {error} body, got ${r.text}`);
  return r.json.error;
}

const dest = () => `${ep.url}/ok`;

test('401 without a token and with a wrong token', async () => {
  assertJsonError(await stack.api('POST', `/v2/publish/${dest()}`, { token: null, body: 'x' }), 401, 'no token');
  assertJsonError(await stack.api('POST', `/v2/publish/${dest()}`, { token: 'wrong', body: 'x' }), 401, 'wrong token');
  assertJsonError(await stack.api('GET', '/v2/dlq', { token: null }), 401, 'dlq without token');
  assert.equal(ep.requests.length, 0, 'nothing was delivered');
});

test('400 for an invalid destination', async () => {
  assertJsonError(await stack.api('POST', '/v2/publish/not-a-url', { body: 'x' }), 400, 'not-a-url');
  assertJsonError(await stack.api('POST', '/v2/publish/ftp://example.com/x', { body: 'x' }), 400, 'ftp url');
});

test('400 naming the problem for bad Upstash-* headers', async () => {
  const pub = (headers) => stack.api('POST', `/v2/publish/${dest()}`, { body: 'x', headers });
  let e = assertJsonError(await pub({ 'Upstash-Retries': 'abc' }), 400, 'Upstash-Retries: abc');
  assert.match(e, /retries/i);
  e = assertJsonError(await pub({ 'Upstash-Retry-Delay': '1000 * (retried +' }), 400, 'unfinished expression');
  assert.match(e, /retry.?delay/i);
  assert.match(e, /\d/, `the error names the position: ${e}`);
  e = assertJsonError(await pub({ 'Upstash-Retry-Delay': 'bogus(1)' }), 400, 'unknown function');
  e = assertJsonError(await pub({ 'Upstash-Delay': '10x' }), 400, 'Upstash-Delay: 10x');
  assert.match(e, /delay/i);
  e = assertJsonError(await pub({ 'Upstash-Not-Before': 'soon' }), 400, 'Upstash-Not-Before: soon');
  assert.match(e, /not.?before/i);
  assert.equal(ep.requests.length, 0, 'nothing was delivered');
});

test('400 for bad batch JSON', async () => {
  const batch = (body) => stack.api('POST', '/v2/batch', { body, headers: { 'Content-Type': 'application/json' } });
  assertJsonError(await batch('[{"destination": '), 400, 'truncated JSON');
  assertJsonError(await batch('{"destination": "x"}'), 400, 'not an array');
  assertJsonError(await batch('[{"body": "no destination"}]'), 400, 'missing destination');
  assertJsonError(await batch(JSON.stringify([{ destination: 'not-a-url' }])), 400, 'bad destination in batch');
});

test('413 for a body over STEPFLOW_MAX_BODY_BYTES, and just under is fine', async () => {
  assertJsonError(await stack.api('POST', `/v2/publish/${dest()}`, { body: 'x'.repeat(4096) }), 413, '4 KiB body');
  const id = await stack.publish(`${ep.url}/small`, 'y'.repeat(1000));
  await waitFor(() => ep.to('/small').some((r) => hdr(r, 'Upstash-Message-Id') === id), { message: 'small delivery' });
});

test('404 JSON for unknown routes', async () => {
  assertJsonError(await stack.api('GET', '/v2/nope'), 404, 'GET /v2/nope');
  assertJsonError(await stack.api('POST', '/nothing/here', { body: 'x' }), 404, 'POST /nothing/here');
});

test('garbage stream entries land in the DLQ as malformed; the worker keeps going', async () => {
  const stream = stack.key('{msg}:stream');
  await stack.redis.cli('XADD', stream, '*', 'v', '1', 'id', 'junk', 'm', 'notmsgpack');
  await stack.redis.cli('XADD', stream, '*', 'foo', 'bar');
  const found = await waitFor(async () => {
    const list = await stack.dlqList();
    const entries = [];
    for (const m of list) {
      const r = await stack.api('GET', `/v2/dlq/${m.dlqId}`);
      if (r.status === 200 && typeof r.json.reason === 'string' && r.json.reason.startsWith('malformed')) entries.push(r.json);
    }
    return entries.length >= 2 && entries;
  }, { timeout: 20000, interval: 200, message: 'two malformed entries in the DLQ' });
  for (const e of found) console.log(`malformed entry ${e.dlqId}: ${e.reason}`);

  const id = await stack.publish(`${ep.url}/after`, 'still alive');
  await waitFor(() => ep.to('/after').some((r) => hdr(r, 'Upstash-Message-Id') === id),
    { message: 'a normal message after the garbage' });
  await stack.waitIdle();
  assert.ok(stack.workers[0].alive, 'the worker survived');
});

test('worker and coordinator exit 0 on SIGTERM', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
