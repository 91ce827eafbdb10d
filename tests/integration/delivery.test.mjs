// delivery.test.mjs - one message is delivered once with method, body and
// forwarded headers intact; a batch publish delivers each of its messages.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startStack, endpoint, waitFor, test, hdr } from './lib/stack.mjs';

let stack, ep;
before(async () => {
  ep = await endpoint(() => ({ status: 200, body: 'ok' }));
  stack = await startStack({ workers: 1 });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

test('one message: delivered once, method, body and headers intact', async () => {
  const body = JSON.stringify({ hello: 'world', n: 42, s: 'ünïcødé' });
  const id = await stack.publish(`${ep.url}/one`, body, {
    'Content-Type': 'application/json',
    'Upstash-Method': 'PUT',
    'Upstash-Forward-X-Foo': 'bar',
    'Upstash-Forward-X-Multi-Word': 'a b c',
  });
  assert.match(id, /^msg_/);
  const got = await waitFor(() => ep.to('/one')[0], { message: 'delivery to /one' });
  assert.equal(got.method, 'PUT');
  assert.equal(got.text, body);
  assert.equal(hdr(got, 'X-Foo'), 'bar');
  assert.equal(hdr(got, 'X-Multi-Word'), 'a b c');
  assert.equal(hdr(got, 'Content-Type'), 'application/json');
  assert.equal(hdr(got, 'Upstash-Message-Id'), id);
  assert.equal(hdr(got, 'Upstash-Retried'), '0');
  // Once: wait until the queue is quiet (acked, nothing delayed), then count.
  await stack.waitIdle();
  assert.equal(ep.to('/one').length, 1, 'delivered exactly once');
  assert.equal((await stack.dlqList()).length, 0, 'DLQ empty');
});

test('default method is POST and an empty body stays empty', async () => {
  const id = await stack.publish(`${ep.url}/empty`, '');
  const got = await waitFor(() => ep.to('/empty')[0], { message: 'delivery to /empty' });
  assert.equal(got.method, 'POST');
  assert.equal(got.body.length, 0);
  assert.equal(hdr(got, 'Upstash-Message-Id'), id);
});

test('batch publish delivers each message', async () => {
  const items = [1, 2, 3].map((i) => ({
    destination: `${ep.url}/batch${i}`,
    headers: { 'Content-Type': 'text/plain', 'Upstash-Forward-X-Item': String(i) },
    body: `item-${i}`,
  }));
  const r = await stack.api('POST', '/v2/batch', {
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(items),
  });
  assert.equal(r.status, 200, r.text);
  assert.ok(Array.isArray(r.json), `batch answer is an array: ${r.text}`);
  assert.equal(r.json.length, 3);
  for (let i = 1; i <= 3; i++) {
    const got = await waitFor(() => ep.to(`/batch${i}`)[0], { message: `delivery to /batch${i}` });
    assert.equal(got.text, `item-${i}`);
    assert.equal(hdr(got, 'X-Item'), String(i));
    assert.equal(hdr(got, 'Upstash-Message-Id'), r.json[i - 1].messageId);
    assert.equal(hdr(got, 'Upstash-Retried'), '0');
  }
  await stack.waitIdle();
  for (let i = 1; i <= 3; i++) assert.equal(ep.to(`/batch${i}`).length, 1);
});

test('coordinator and worker exit 0 on SIGTERM', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
