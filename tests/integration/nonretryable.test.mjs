// nonretryable.test.mjs - 489 + Upstash-NonRetryable-Error: true fails at
// once into the DLQ; the DLQ API shows the last response and the reason.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startStack, endpoint, waitFor, test, hdr } from './lib/stack.mjs';

let stack, ep;
before(async () => {
  ep = await endpoint((req) => {
    if (req.path === '/nr') {
      return { status: 489, headers: { 'Upstash-NonRetryable-Error': 'true', 'X-Why': 'bad' }, body: 'do not retry' };
    }
    if (req.path === '/489-plain') return { status: 489, body: 'plain 489' };
    return { status: 200 };
  });
  stack = await startStack({ workers: 1 });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

function bodyText(entry) {
  if (typeof entry.responseBody === 'string') return entry.responseBody;
  if (typeof entry.responseBodyBase64 === 'string') return Buffer.from(entry.responseBodyBase64, 'base64').toString();
  return undefined;
}

test('489 non-retryable: exactly one attempt, then a DLQ entry', async () => {
  const id = await stack.publish(`${ep.url}/nr`, 'the payload', {
    'Upstash-Retries': '3', 'Upstash-Retry-Delay': '100', 'Content-Type': 'text/plain',
  });
  const listed = await stack.waitDlq(id);
  assert.ok(listed.dlqId, `listed entry has a dlqId: ${JSON.stringify(listed)}`);
  assert.equal(listed.url, `${ep.url}/nr`);
  await stack.waitIdle();
  assert.equal(ep.to('/nr').length, 1, 'exactly one attempt');
  assert.equal(hdr(ep.to('/nr')[0], 'Upstash-Message-Id'), id);

  const r = await stack.api('GET', `/v2/dlq/${listed.dlqId}`);
  assert.equal(r.status, 200, r.text);
  const e = r.json;
  assert.equal(e.dlqId, listed.dlqId);
  assert.equal(e.messageId, id);
  assert.equal(e.url, `${ep.url}/nr`);
  assert.equal(e.method, 'POST');
  assert.equal(Number(e.responseStatus), 489);
  assert.equal(bodyText(e), 'do not retry');
  assert.equal(typeof e.reason, 'string');
  assert.match(e.reason, /489|non.?retryable/i);
  assert.equal(Number(e.maxRetries), 3);
  const body = e.body ?? (e.bodyBase64 && Buffer.from(e.bodyBase64, 'base64').toString());
  assert.equal(body, 'the payload', 'original body kept on the entry');
});

test('489 without the non-retryable header is retried like any failure', async () => {
  const id = await stack.publish(`${ep.url}/489-plain`, 'p', {
    'Upstash-Retries': '1', 'Upstash-Retry-Delay': '100',
  });
  const listed = await stack.waitDlq(id);
  assert.equal(ep.to('/489-plain').length, 2, 'two attempts (1 + 1 retry)');
  const r = await stack.api('GET', `/v2/dlq/${listed.dlqId}`);
  assert.equal(Number(r.json.responseStatus), 489);
  assert.match(r.json.reason, /exhaust|retr/i);
});

test('unknown dlqId -> 404 JSON', async () => {
  const r = await stack.api('GET', '/v2/dlq/dlq_doesnotexist');
  assert.equal(r.status, 404);
  assert.equal(typeof (r.json && r.json.error), 'string', r.text);
});

test('worker and coordinator exit 0 on SIGTERM', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
