// qstash.test.mjs - the official @upstash/qstash client (pinned in
// tests/package-lock.json) against a real coordinator and workers: publish,
// batch, DLQ list/filter/retry, and Receiver verification of signatures.
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { Client, Receiver } from '@upstash/qstash';
import { startStack, endpoint, waitFor, test, hdr } from '../integration/lib/stack.mjs';

describe('Client against stepflow', () => {
  let stack, ep, client;
  let failStatus = 500;
  before(async () => {
    ep = await endpoint((req) => {
      if (req.path === '/fail') return { status: failStatus, body: 'nope' };
      return { status: 200, body: 'ok' };
    });
    stack = await startStack({ workers: 1 });
    client = new Client({ baseUrl: stack.url, token: stack.token, retry: false });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (ep) await ep.close();
  });

  test('publishJSON with retries, retryDelay, delay, failureCallback and headers', async () => {
    const t0 = Date.now();
    const res = await client.publishJSON({
      url: `${ep.url}/pj`,
      body: { hello: 'sdk', n: 1 },
      retries: 2,
      retryDelay: '100 * (retried + 1)',
      delay: '1s',
      failureCallback: `${ep.url}/pj-failed`,
      headers: { 'X-Custom': 'custom-value' },
    });
    assert.match(res.messageId, /^msg_/);
    const got = await waitFor(() => ep.to('/pj')[0], { timeout: 15000, message: 'delivery to /pj' });
    assert.ok(got.at - t0 >= 1000, `delay 1s honoured (${got.at - t0} ms)`);
    assert.deepEqual(JSON.parse(got.text), { hello: 'sdk', n: 1 });
    assert.equal(hdr(got, 'X-Custom'), 'custom-value');
    assert.match(hdr(got, 'Content-Type'), /application\/json/);
    assert.equal(hdr(got, 'Upstash-Message-Id'), res.messageId);
    assert.equal(hdr(got, 'Upstash-Retried'), '0');
    await stack.waitIdle();
    assert.equal(ep.to('/pj-failed').length, 0, 'no failure callback on success');
  });

  test('batchJSON of 3: each delivered', async () => {
    const res = await client.batchJSON([1, 2, 3].map((i) => ({
      url: `${ep.url}/b${i}`, body: { i }, headers: { 'X-Item': `i${i}` },
    })));
    assert.equal(res.length, 3);
    for (let i = 1; i <= 3; i++) {
      const got = await waitFor(() => ep.to(`/b${i}`)[0], { message: `delivery to /b${i}` });
      assert.deepEqual(JSON.parse(got.text), { i });
      assert.equal(hdr(got, 'X-Item'), `i${i}`);
      assert.equal(hdr(got, 'Upstash-Message-Id'), res[i - 1].messageId);
    }
  });

  let failed; // { messageId, dlqId }
  test('an exhausted message: dlq.listMessages returns it with the SDK fields', async () => {
    const { messageId } = await client.publishJSON({
      url: `${ep.url}/fail`, body: { doomed: true }, retries: 1, retryDelay: '100',
      failureCallback: `${ep.url}/fail-cb`, label: 'compat',
    });
    await waitFor(() => ep.to('/fail').length >= 2, { message: '2 attempts at /fail' });
    const m = await waitFor(async () => (await client.dlq.listMessages()).messages.find((x) => x.messageId === messageId),
      { timeout: 20000, message: 'listMessages() has the message' });
    assert.equal(typeof m.dlqId, 'string');
    assert.equal(m.url, `${ep.url}/fail`);
    assert.equal(m.method, 'POST');
    assert.equal(Number(m.responseStatus), 500);
    assert.equal(Number(m.maxRetries), 1);
    assert.ok(Number(m.createdAt) > 0, 'createdAt');
    assert.equal(m.failureCallback, `${ep.url}/fail-cb`);
    failed = { messageId, dlqId: m.dlqId };

    // The failure callback was published and delivered.
    const cb = await waitFor(() => ep.to('/fail-cb')[0], { message: 'failure callback delivery' });
    assert.equal(JSON.parse(cb.text).sourceMessageId, messageId);

    const byUrl = await client.dlq.listMessages({ filter: { url: `${ep.url}/fail` } });
    assert.ok(byUrl.messages.some((x) => x.dlqId === m.dlqId), 'filter by url finds it');
    assert.ok(byUrl.messages.every((x) => x.url === `${ep.url}/fail`), 'filter by url only returns that url');
    const byOther = await client.dlq.listMessages({ filter: { url: `${ep.url}/other` } });
    assert.equal(byOther.messages.length, 0, 'filter by another url finds nothing');
    const byLabel = await client.dlq.listMessages({ filter: { label: 'compat' } });
    assert.ok(byLabel.messages.some((x) => x.dlqId === m.dlqId), 'filter by label finds it');
    const byIds = await client.dlq.listMessages({ dlqIds: [m.dlqId] });
    assert.deepEqual(byIds.messages.map((x) => x.dlqId), [m.dlqId], 'list by dlqIds');
  });

  test('dlq.retry(dlqId) re-publishes and the fixed endpoint receives it', async () => {
    assert.ok(failed, 'previous test produced a DLQ entry');
    failStatus = 200;
    const before = ep.to('/fail').length;
    const res = await client.dlq.retry(failed.dlqId);
    assert.ok(res && Array.isArray(res.responses), `retry answer: ${JSON.stringify(res)}`);
    const got = await waitFor(() => ep.to('/fail').length > before && ep.to('/fail').at(-1),
      { timeout: 20000, message: 'the retried message at /fail' });
    assert.deepEqual(JSON.parse(got.text), { doomed: true });
    assert.equal(hdr(got, 'Upstash-Retried'), '0');
  });
});

describe('Receiver verifies Upstash-Signature', () => {
  const currentSigningKey = 'sig_current_' + Math.random().toString(36).slice(2);
  const nextSigningKey = 'sig_next_' + Math.random().toString(36).slice(2);
  let stack, ep;
  before(async () => {
    ep = await endpoint(() => ({ status: 200 }));
    stack = await startStack({
      workers: 1,
      env: { STEPFLOW_CURRENT_SIGNING_KEY: currentSigningKey, STEPFLOW_NEXT_SIGNING_KEY: nextSigningKey },
    });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (ep) await ep.close();
  });

  test('signature accepted with the right keys, rejected with wrong ones', async () => {
    const url = `${ep.url}/signed`;
    const body = JSON.stringify({ signed: true, at: Date.now() });
    await stack.publish(url, body, { 'Content-Type': 'application/json' });
    const got = await waitFor(() => ep.to('/signed')[0], { message: 'signed delivery' });
    const signature = hdr(got, 'Upstash-Signature');
    assert.ok(signature, 'Upstash-Signature present');
    assert.equal(got.text, body);

    const ok = await new Receiver({ currentSigningKey, nextSigningKey }).verify({ signature, body: got.text, url });
    assert.equal(ok, true);
    // Rotation: a receiver that has the signing key as its "next" key accepts too.
    assert.equal(await new Receiver({ currentSigningKey: 'rotated-away', nextSigningKey: currentSigningKey })
      .verify({ signature, body: got.text, url }), true);

    await assert.rejects(new Receiver({ currentSigningKey: 'wrong1', nextSigningKey: 'wrong2' })
      .verify({ signature, body: got.text, url }), 'wrong keys are rejected');
    await assert.rejects(new Receiver({ currentSigningKey, nextSigningKey })
      .verify({ signature, body: got.text + 'tampered', url }), 'a tampered body is rejected');
    await assert.rejects(new Receiver({ currentSigningKey, nextSigningKey })
      .verify({ signature, body: got.text, url: `${ep.url}/elsewhere` }), 'another url is rejected');
  });
});
