// dlq.test.mjs - the DLQ API in depth: every list filter (OR within one,
// AND across), cursor paging, count limits, the /v2/workflows/dlq aliases,
// single and bulk delete, retry, cancelling a callback that is still
// retrying, the callback's own retry settings and forwarded headers, and
// indexing by a second coordinator while the first is stopped.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startStack, endpoint, waitFor, test, hdr } from './lib/stack.mjs';

let stack, ep;
let retryTargetStatus = 500;

before(async () => {
  ep = await endpoint((req) => {
    switch (req.path) {
      case '/a': return { status: 500, body: 'a down' };
      case '/b': return { status: 503, body: 'b down' };
      case '/bulk': return { status: 500, body: 'bulk down' };
      case '/retry-target': return { status: retryTargetStatus, body: 'rt' };
      case '/cb-ok': return { status: 200, body: 'cb ok' };
      case '/cb-fail': return { status: 500, body: 'cb fail' };
      case '/cb-slow': return { status: 500, body: 'cb slow fail' };
      case '/cb1': return { status: 500, body: 'cb1 fail' };
      case '/c2': return { status: 500, body: 'c2 down' };
      default: return { status: 404 };
    }
  });
  stack = await startStack({ workers: 1 });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

const cbState = (e) => e && e.failureCallbackInfo && e.failureCallbackInfo.state;

async function getEntry(dlqId, prefix = '/v2/dlq') {
  const r = await stack.api('GET', `${prefix}/${dlqId}`);
  assert.equal(r.status, 200, `GET ${prefix}/${dlqId}: ${r.text}`);
  return r.json;
}

/** Publishes a message that fails once (Upstash-Retries: 0) and waits for
 *  its DLQ entry to be listed; returns the listed entry. */
async function exhaust(path, headers = {}, body = `payload for ${path}`) {
  const id = await stack.publish(`${ep.url}${path}`, body, {
    'Content-Type': 'text/plain', 'Upstash-Retries': '0', ...headers,
  });
  return stack.waitDlq(id, { query: 'count=100' });
}

// name -> listed entry of the fixed set built by the first test.
const E = {};
const nameOf = new Map(); // dlqId -> name

/** Names of the fixed set's entries that `GET /v2/dlq?query` returns. */
async function names(query, prefix = '/v2/dlq') {
  const { entries } = await walk(query, 100, prefix);
  return entries.filter((m) => nameOf.has(m.dlqId)).map((m) => nameOf.get(m.dlqId)).sort();
}

async function expectNames(query, want) {
  const sorted = [...want].sort();
  let got;
  try {
    await waitFor(async () => {
      got = await names(query);
      return JSON.stringify(got) === JSON.stringify(sorted);
    }, { timeout: 10000, message: `GET /v2/dlq?${query}` });
  } catch {
    assert.deepEqual(got, sorted, `GET /v2/dlq?${query}`);
  }
}

test('five exhausted messages with different urls, labels and callbacks land in the DLQ', async () => {
  E.e1 = await exhaust('/a', { 'Upstash-Label': 'x', 'Upstash-Failure-Callback': `${ep.url}/cb-ok` });
  E.e2 = await exhaust('/a', {
    'Upstash-Label': 'a,b', 'Upstash-Failure-Callback': `${ep.url}/cb-fail`,
    'Upstash-Failure-Callback-Retries': '0',
  });
  E.e3 = await exhaust('/b', { 'Upstash-Label': 'b' });
  E.e4 = await exhaust('/b', { 'Upstash-Label': 'a' });
  E.e5 = await exhaust('/a');
  for (const [n, e] of Object.entries(E)) nameOf.set(e.dlqId, n);
  assert.equal(nameOf.size, 5, 'five distinct dlqIds');

  // Callback outcomes settle on the entries.
  await waitFor(async () => cbState(await getEntry(E.e1.dlqId)) === 'CALLBACK_SUCCESS',
    { timeout: 20000, message: 'e1 CALLBACK_SUCCESS' });
  await waitFor(async () => cbState(await getEntry(E.e2.dlqId)) === 'CALLBACK_FAIL',
    { timeout: 20000, message: 'e2 CALLBACK_FAIL' });
  assert.equal(ep.to('/cb-fail').length, 1, 'Failure-Callback-Retries: 0 -> one callback call');

  const e2 = await getEntry(E.e2.dlqId);
  // SDK DlqMessage: `label` "only contains the first one", `labels` all
  assert.equal(e2.label, 'a');
  assert.deepEqual(e2.labels, ['a', 'b']);
  assert.equal(e2.url, `${ep.url}/a`);
  assert.equal(e2.responseStatus, 500);
  assert.equal(e2.responseBody, 'a down');
  assert.equal(e2.body, 'payload for /a');
  assert.equal(e2.maxRetries, 0);
  assert.equal(e2.failureCallback, `${ep.url}/cb-fail`);
  const e3 = await getEntry(E.e3.dlqId);
  assert.equal(e3.responseStatus, 503);
  assert.equal(e3.failureCallbackInfo, undefined, 'no callback -> no failureCallbackInfo');
  assert.deepEqual(e3.labels, ['b'], JSON.stringify(e3));
  const e5 = await getEntry(E.e5.dlqId);
  assert.equal(e5.label, undefined);
  // dlqAt increases in the order the entries were produced.
  const ats = ['e1', 'e2', 'e3', 'e4', 'e5'].map((n) => E[n].dlqAt);
  for (const a of ats) assert.equal(typeof a, 'number');
  for (let i = 1; i < ats.length; i++) assert.ok(ats[i] > ats[i - 1], `dlqAt increasing: ${ats}`);
});

test('GET /v2/dlq filters: failureFunctionState (repeatable = OR)', async () => {
  await expectNames('failureFunctionState=CALLBACK_SUCCESS', ['e1']);
  await expectNames('failureFunctionState=CALLBACK_FAIL', ['e2']);
  await expectNames('failureFunctionState=CALLBACK_SUCCESS&failureFunctionState=CALLBACK_FAIL', ['e1', 'e2']);
  await expectNames('failureFunctionState=CALLBACK_INPROGRESS', []);
  await expectNames('failureFunctionState=NONE', ['e3', 'e4', 'e5']);
  const r = await stack.api('GET', '/v2/dlq?failureFunctionState=BOGUS');
  assert.equal(r.status, 400, `unknown state -> 400: ${r.text}`);
  assert.equal(typeof (r.json && r.json.error), 'string');
});

test('GET /v2/dlq filters: url, label (comma lists split), responseStatus, messageId, dlqIds', async () => {
  await expectNames(`url=${encodeURIComponent(`${ep.url}/b`)}`, ['e3', 'e4']);
  await expectNames(`url=${encodeURIComponent(`${ep.url}/a`)}&url=${encodeURIComponent(`${ep.url}/b`)}`,
    ['e1', 'e2', 'e3', 'e4', 'e5']);
  await expectNames(`url=${encodeURIComponent(`${ep.url}/nowhere`)}`, []);
  await expectNames('label=a', ['e2', 'e4']);
  await expectNames('label=b', ['e2', 'e3']);
  await expectNames('label=x', ['e1']);
  await expectNames('label=a&label=x', ['e1', 'e2', 'e4']);
  await expectNames('label=a%2Cb', []); // the list itself is not a label
  await expectNames('responseStatus=503', ['e3', 'e4']);
  await expectNames('responseStatus=500', ['e1', 'e2', 'e5']);
  await expectNames('responseStatus=404', []);
  await expectNames(`messageId=${E.e3.messageId}`, ['e3']);
  await expectNames(`messageId=${E.e3.messageId}&messageId=${E.e1.messageId}`, ['e1', 'e3']);
  await expectNames(`dlqIds=${E.e1.dlqId}&dlqIds=${E.e5.dlqId}`, ['e1', 'e5']);
  await expectNames(`dlqIds=${E.e4.dlqId}`, ['e4']);
});

test('GET /v2/dlq filters: fromDate/toDate are inclusive on dlqAt', async () => {
  await expectNames(`fromDate=${E.e3.dlqAt}`, ['e3', 'e4', 'e5']);
  await expectNames(`toDate=${E.e2.dlqAt}`, ['e1', 'e2']);
  await expectNames(`fromDate=${E.e2.dlqAt}&toDate=${E.e4.dlqAt}`, ['e2', 'e3', 'e4']);
  await expectNames(`fromDate=${E.e5.dlqAt + 1}`, []);
  for (const bad of ['fromDate=yesterday', 'toDate=-5', 'responseStatus=abc']) {
    const r = await stack.api('GET', `/v2/dlq?${bad}`);
    assert.equal(r.status, 400, `${bad} -> 400: ${r.text}`);
  }
});

test('GET /v2/dlq filters: AND across dimensions', async () => {
  await expectNames(`label=a&url=${encodeURIComponent(`${ep.url}/b`)}`, ['e4']);
  await expectNames('responseStatus=500&label=a', ['e2']);
  await expectNames(`failureFunctionState=CALLBACK_FAIL&url=${encodeURIComponent(`${ep.url}/b`)}`, []);
  await expectNames('failureFunctionState=CALLBACK_SUCCESS&label=x', ['e1']);
  await expectNames('failureFunctionState=CALLBACK_SUCCESS&label=a', []);
  await expectNames(`label=b&fromDate=${E.e3.dlqAt}`, ['e3']);
  await expectNames(`failureFunctionState=NONE&label=a&label=b`, ['e3', 'e4']);
  await expectNames(`dlqIds=${E.e1.dlqId}&dlqIds=${E.e3.dlqId}&label=b`, ['e3']);
});

/** Walks every page of GET prefix?query&count=N; returns {entries, pages}. */
async function walk(query, count, prefix = '/v2/dlq') {
  const entries = [];
  const pages = [];
  let cursor;
  for (let i = 0; i < 500; i++) {
    const q = [`count=${count}`, query, cursor ? `cursor=${encodeURIComponent(cursor)}` : '']
      .filter(Boolean).join('&');
    const r = await stack.api('GET', `${prefix}?${q}`);
    assert.equal(r.status, 200, `GET ${prefix}?${q}: ${r.text}`);
    assert.ok(Array.isArray(r.json.messages), r.text);
    assert.ok(r.json.messages.length <= count, `page of ${r.json.messages.length} > count ${count}`);
    pages.push(r.json.messages.length);
    entries.push(...r.json.messages);
    cursor = r.json.cursor;
    if (!cursor) return { entries, pages };
  }
  throw new Error('paging did not end after 500 pages');
}

function assertNewestFirstOnce(entries, what) {
  const ids = entries.map((m) => m.dlqId);
  assert.equal(new Set(ids).size, ids.length, `${what}: every entry exactly once`);
  for (let i = 1; i < entries.length; i++) {
    assert.ok(entries[i].dlqAt <= entries[i - 1].dlqAt,
      `${what}: newest first (${entries[i - 1].dlqAt} then ${entries[i].dlqAt})`);
  }
}

test('cursor paging with count=2: every entry once, newest first, ends without a cursor', async () => {
  const all = (await stack.api('GET', '/v2/dlq?count=100')).json.messages;
  assert.equal(all.length, 5);
  const { entries, pages } = await walk('', 2);
  assert.deepEqual(entries.map((m) => m.dlqId), all.map((m) => m.dlqId));
  assert.deepEqual(entries.map((m) => nameOf.get(m.dlqId)), ['e5', 'e4', 'e3', 'e2', 'e1']);
  assertNewestFirstOnce(entries, 'count=2');
  assert.ok(pages.length >= 3, `pages ${pages}`);
  // Paging through a filtered list.
  const f = await walk(`url=${encodeURIComponent(`${ep.url}/a`)}`, 1);
  assert.deepEqual(f.entries.map((m) => nameOf.get(m.dlqId)), ['e5', 'e2', 'e1']);
  const g = await walk('label=a&label=b', 1);
  assert.deepEqual(g.entries.map((m) => nameOf.get(m.dlqId)), ['e4', 'e3', 'e2']);
  // A garbage cursor is refused, not crashed on.
  for (const bad of ['nonsense', '-', '12-', 'abc-def']) {
    const r = await stack.api('GET', `/v2/dlq?cursor=${encodeURIComponent(bad)}`);
    assert.equal(r.status, 400, `cursor=${bad} -> ${r.status} ${r.text}`);
    assert.equal(typeof (r.json && r.json.error), 'string', `JSON error: ${r.text}`);
  }
  const ok = await stack.api('GET', '/readyz', { token: null });
  assert.equal(ok.status, 200, 'coordinator still fine after bad cursors');
});

const bulkIds = [];

test('count: invalid values are 400, more than 100 is capped at 100', async () => {
  for (const bad of ['0', '-1', 'abc', '1.5', '']) {
    const r = await stack.api('GET', `/v2/dlq?count=${bad}`);
    if (bad === '') assert.equal(r.status, 200, `count= (empty) -> default: ${r.text}`);
    else assert.equal(r.status, 400, `count=${bad} -> 400: ${r.text}`);
  }
  // 103 more entries, quickly (one attempt each).
  const items = [];
  for (let i = 0; i < 103; i++) {
    items.push({ destination: `${ep.url}/bulk`, body: `bulk ${i}`, headers: { 'Upstash-Retries': '0' } });
  }
  const r = await stack.api('POST', '/v2/batch', {
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(items),
  });
  assert.equal(r.status, 200, r.text);
  const want = new Set(r.json.map((x) => x.messageId));
  assert.equal(want.size, 103);
  const url = encodeURIComponent(`${ep.url}/bulk`);
  await waitFor(async () => (await walk(`url=${url}`, 100)).entries.length === 103,
    { timeout: 30000, interval: 200, message: '103 /bulk entries listed' });
  for (const c of ['101', '1000', '99999999999']) {
    const x = await stack.api('GET', `/v2/dlq?count=${c}`);
    assert.equal(x.status, 200, `count=${c}: ${x.text}`);
    assert.equal(x.json.messages.length, 100, `count=${c} is capped at 100`);
    assert.ok(x.json.cursor, 'more pages -> a cursor');
  }
  const def = await stack.api('GET', '/v2/dlq');
  assert.ok(def.json.messages.length > 0 && def.json.messages.length <= 100, 'default count sane');
  // The whole DLQ (108) paged by 2 and by 100: same entries, newest first.
  const by2 = await walk('', 2);
  const by100 = await walk('', 100);
  assert.equal(by2.entries.length, 108);
  assert.deepEqual(by2.entries.map((m) => m.dlqId), by100.entries.map((m) => m.dlqId));
  assertNewestFirstOnce(by2.entries, 'whole DLQ by 2');
  const bulk = by100.entries.filter((m) => m.url === `${ep.url}/bulk`);
  assert.deepEqual(new Set(bulk.map((m) => m.messageId)), want);
  bulkIds.push(...bulk.map((m) => m.dlqId));
});

test('GET /v2/workflows/dlq answers the same data as /v2/dlq', async () => {
  const a = await stack.api('GET', '/v2/dlq?count=100&label=a&label=x');
  const b = await stack.api('GET', '/v2/workflows/dlq?count=100&label=a&label=x');
  assert.equal(b.status, 200, b.text);
  assert.deepEqual(b.json.messages.map((m) => m.dlqId), a.json.messages.map((m) => m.dlqId));
  assert.deepEqual(b.json.messages.map((m) => nameOf.get(m.dlqId)).sort(), ['e1', 'e2', 'e4']);
  const w = await walk('', 7, '/v2/workflows/dlq');
  const p = await walk('', 7);
  assert.deepEqual(w.entries.map((m) => m.dlqId), p.entries.map((m) => m.dlqId));
  const one = await getEntry(E.e2.dlqId, '/v2/workflows/dlq');
  assert.deepEqual(one, await getEntry(E.e2.dlqId));
  const s = await stack.api('GET', '/v2/workflows/dlq?failureFunctionState=CALLBACK_FAIL');
  assert.deepEqual(s.json.messages.filter((m) => nameOf.has(m.dlqId)).map((m) => nameOf.get(m.dlqId)), ['e2']);
});

test('DELETE /v2/dlq/{id}: 200, then GET and DELETE answer 404, the lists drop it', async () => {
  const id = E.e4.dlqId;
  const r = await stack.api('DELETE', `/v2/dlq/${id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal((await stack.api('GET', `/v2/dlq/${id}`)).status, 404);
  assert.equal((await stack.api('GET', `/v2/workflows/dlq/${id}`)).status, 404);
  const again = await stack.api('DELETE', `/v2/dlq/${id}`);
  assert.equal(again.status, 404, again.text);
  await expectNames('', ['e1', 'e2', 'e3', 'e5']);
  await expectNames('label=a', ['e2']);
  await expectNames(`url=${encodeURIComponent(`${ep.url}/b`)}`, ['e3']);
  await expectNames('failureFunctionState=NONE', ['e3', 'e5']);
  nameOf.delete(id);
});

test('DELETE /v2/dlq?dlqIds=..: bulk delete of 100 + an unknown id', async () => {
  assert.equal(bulkIds.length, 103);
  const first = bulkIds.slice(0, 99);
  const q = [...first, 'dlq_does_not_exist'].map((x) => `dlqIds=${encodeURIComponent(x)}`).join('&');
  const r = await stack.api('DELETE', `/v2/dlq?${q}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.deleted, 99, `deleted count: ${r.text}`);
  const rest = bulkIds.slice(99);
  const r2 = await stack.api('DELETE', `/v2/dlq?${rest.map((x) => `dlqIds=${x}`).join('&')}`);
  assert.equal(r2.status, 200, r2.text);
  assert.equal(r2.json.deleted, 4);
  for (const id of [bulkIds[0], bulkIds[50], bulkIds[102]]) {
    assert.equal((await stack.api('GET', `/v2/dlq/${id}`)).status, 404);
  }
  const url = encodeURIComponent(`${ep.url}/bulk`);
  await waitFor(async () => (await stack.dlqList(`count=100&url=${url}`)).length === 0,
    { timeout: 10000, message: 'no /bulk entries listed' });
  await expectNames('', ['e1', 'e2', 'e3', 'e5']);
  const tooMany = Array.from({ length: 101 }, (_, i) => `dlqIds=x${i}`).join('&');
  const r3 = await stack.api('DELETE', `/v2/dlq?${tooMany}`);
  assert.equal(r3.status, 400, `101 dlqIds -> 400: ${r3.text}`);
});

test('POST /v2/dlq/retry/{id} re-publishes: new messageId, delivered, entry gone', async () => {
  const e = await exhaust('/retry-target', { 'X-Keep': 'me', 'Upstash-Forward-X-Fw': 'fw' }, 'retry me');
  assert.equal(ep.to('/retry-target').length, 1);
  retryTargetStatus = 200;
  const r = await stack.api('POST', `/v2/dlq/retry/${e.dlqId}`);
  assert.equal(r.status, 200, r.text);
  const newId = (r.json && r.json.messageId) ||
    (r.json && r.json.responses && r.json.responses[0] && r.json.responses[0].messageId);
  assert.equal(typeof newId, 'string', `retry answer names the new message: ${r.text}`);
  assert.notEqual(newId, e.messageId, 'a new messageId');
  const got = await waitFor(() => ep.to('/retry-target').find((x) => hdr(x, 'Upstash-Message-Id') === newId),
    { timeout: 20000, message: 'the re-published message delivered' });
  assert.equal(got.text, 'retry me');
  assert.equal(hdr(got, 'X-Fw'), 'fw', 'forwarded header kept');
  assert.equal(hdr(got, 'Upstash-Retried'), '0', 'a fresh retry budget');
  assert.equal((await stack.api('GET', `/v2/dlq/${e.dlqId}`)).status, 404, 'entry gone');
  await waitFor(async () => !(await stack.dlqList('count=100')).some((m) => m.dlqId === e.dlqId),
    { timeout: 10000, message: 'retried entry no longer listed' });
  await stack.waitIdle();
  assert.equal(ep.to('/retry-target').length, 2, 'delivered exactly once more');
  const again = await stack.api('POST', `/v2/dlq/retry/${e.dlqId}`);
  assert.equal(again.status, 404, `retry of a gone entry -> 404: ${again.text}`);
});

test('DELETE /v2/workflows/dlq/callback/{id} cancels a retrying callback for good', async () => {
  const retryDelay = 3000;
  const e = await exhaust('/a', {
    'Upstash-Failure-Callback': `${ep.url}/cb-slow`,
    'Upstash-Failure-Callback-Retries': '5',
    'Upstash-Failure-Callback-Retry-Delay': String(retryDelay),
  });
  nameOf.set(e.dlqId, 'cancel');
  await waitFor(() => ep.to('/cb-slow').length >= 1, { timeout: 20000, message: 'first callback call' });
  const firstAt = ep.to('/cb-slow')[0].at;
  assert.equal(cbState(await getEntry(e.dlqId)), 'CALLBACK_INPROGRESS');
  await expectNames('failureFunctionState=CALLBACK_INPROGRESS', ['cancel']);

  const r = await stack.api('DELETE', `/v2/workflows/dlq/callback/${e.dlqId}`);
  assert.equal(r.status, 200, r.text);
  assert.ok(Date.now() < firstAt + retryDelay, 'cancelled before the second attempt was due');
  assert.equal(cbState(await getEntry(e.dlqId)), 'CALLBACK_CANCELED');
  await expectNames('failureFunctionState=CALLBACK_CANCELED', ['cancel']);
  await expectNames('failureFunctionState=CALLBACK_INPROGRESS', []);

  // Past the second attempt's due time (+1.5 s), with the callback queue quiet.
  await waitFor(() => Date.now() > firstAt + retryDelay + 1500,
    { timeout: retryDelay + 5000, interval: 200, message: 'past the next due time' });
  await stack.waitIdle({ queue: '{dlq}:cb' });
  assert.equal(ep.to('/cb-slow').length, 1, 'the cancelled callback is not called again');
  assert.equal(cbState(await getEntry(e.dlqId)), 'CALLBACK_CANCELED', 'state stays CALLBACK_CANCELED');
  const twice = await stack.api('DELETE', `/v2/workflows/dlq/callback/${e.dlqId}`);
  assert.equal(twice.status, 400, `cancelling again -> 400: ${twice.text}`);
  const unknown = await stack.api('DELETE', '/v2/workflows/dlq/callback/dlq_nope');
  assert.equal(unknown.status, 404, unknown.text);
});

test("the callback's own settings: Failure-Callback-Retries 1 while the message has 3; Forward-X-Foo", async () => {
  const id = await stack.publish(`${ep.url}/a`, 'own settings', {
    'Upstash-Retries': '3', 'Upstash-Retry-Delay': '50',
    'Upstash-Failure-Callback': `${ep.url}/cb1`,
    'Upstash-Failure-Callback-Retries': '1',
    'Upstash-Failure-Callback-Retry-Delay': '100',
    'Upstash-Failure-Callback-Forward-X-Foo': 'foo-value',
  });
  const attempts = () => ep.to('/a').filter((x) => hdr(x, 'Upstash-Message-Id') === id);
  await waitFor(() => attempts().length >= 4, { timeout: 20000, message: '4 attempts of the message' });
  const e = await stack.waitDlq(id, { query: 'count=100' });
  nameOf.set(e.dlqId, 'own');
  await waitFor(async () => cbState(await getEntry(e.dlqId)) === 'CALLBACK_FAIL',
    { timeout: 20000, message: 'callback CALLBACK_FAIL' });
  await stack.waitIdle();
  await stack.waitIdle({ queue: '{dlq}:cb' });
  const cbs = ep.to('/cb1');
  assert.equal(attempts().length, 4, 'the message: 1 + 3 attempts');
  assert.equal(cbs.length, 2, 'the callback: 1 + 1 attempts');
  assert.deepEqual(cbs.map((x) => hdr(x, 'Upstash-Retried')), ['0', '1']);
  for (const c of cbs) {
    assert.equal(hdr(c, 'X-Foo'), 'foo-value', 'Failure-Callback-Forward-X-Foo arrives as X-Foo');
    assert.equal(JSON.parse(c.text).dlqId, e.dlqId);
  }
  for (const a of attempts()) assert.equal(hdr(a, 'X-Foo'), undefined, 'X-Foo is for the callback only');
  assert.ok(cbs[1].at - cbs[0].at >= 90, `callback retry delay honoured (${cbs[1].at - cbs[0].at} ms)`);
  const entry = await getEntry(e.dlqId);
  assert.equal(entry.maxRetries, 3);
  assert.equal(entry.failureCallbackInfo.responseStatus, 500);
  assert.equal(entry.failureCallbackInfo.responseBody, 'cb1 fail');
});

test('two coordinators: entries written while one is stopped are indexed by the other', async () => {
  const c1 = stack.coordinators[0];
  const c2 = await stack.startCoordinator();
  const s = await c1.stop(15000);
  assert.equal(s.code, 0, `coordinator1 exit ${JSON.stringify(s)}`);
  const api2 = (m, p, o = {}) => stack.api(m, p, { ...o, base: c2.url });

  const ids = [];
  for (let i = 0; i < 3; i++) {
    const r = await api2('POST', `/v2/publish/${ep.url}/c2`, {
      headers: { 'Upstash-Retries': '0', 'Upstash-Label': 'c2' }, body: `c2 ${i}`,
    });
    assert.ok(r.status >= 200 && r.status < 300, r.text);
    ids.push(r.json.messageId);
  }
  const listed = await waitFor(async () => {
    const l = await api2('GET', '/v2/dlq?label=c2&count=100');
    return l.status === 200 && l.json.messages.length === 3 && l.json.messages;
  }, { timeout: 20000, message: 'coordinator2 indexes the entries' });
  assert.deepEqual(new Set(listed.map((m) => m.messageId)), new Set(ids));

  // An entry written while no coordinator runs at all is indexed by the
  // next one to start: publish with a delay, stop c2, let the worker fail it.
  const late = await api2('POST', `/v2/publish/${ep.url}/c2`, {
    headers: { 'Upstash-Retries': '0', 'Upstash-Label': 'c2', 'Upstash-Delay': '1s' }, body: 'late',
  });
  assert.ok(late.status >= 200 && late.status < 300, late.text);
  const lateId = late.json.messageId;
  const s2 = await c2.stop(15000);
  assert.equal(s2.code, 0, `coordinator2 exit ${JSON.stringify(s2)}`);
  await waitFor(() => ep.to('/c2').some((x) => hdr(x, 'Upstash-Message-Id') === lateId),
    { timeout: 20000, message: 'delayed message attempted with no coordinator up' });
  const c3 = await stack.startCoordinator();
  const l3 = await waitFor(async () => {
    const l = await stack.api('GET', '/v2/dlq?label=c2&count=100', { base: c3.url });
    return l.status === 200 && l.json.messages.length === 4 && l.json.messages;
  }, { timeout: 20000, message: 'coordinator3 indexes the entry written while none ran' });
  assert.equal(l3[0].messageId, lateId, 'newest first');
  const pending = await stack.redis.call('XPENDING', stack.key('{dlq}:events'), 'indexer');
  await waitFor(async () => Number((await stack.redis.call('XPENDING', stack.key('{dlq}:events'), 'indexer'))[0]) === 0,
    { timeout: 40000, interval: 250, message: `no DLQ events left pending (was ${JSON.stringify(pending)})` });
});

test('worker and coordinators exit 0 on SIGTERM', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
