// keys.test.mjs - signing keys in Redis: the coordinator seeds
// P:signing-keys from its environment, GET /v2/keys shows the pair,
// POST /v2/keys/rotate makes next the current key and a new next, and the
// workers pick the rotation up (re-read every 5 s): deliveries then verify
// with @upstash/qstash's Receiver holding the new pair, signed with the new
// current key.  A restart does not undo a rotation; without the hash the
// workers fall back to their configured key.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { Receiver } from '@upstash/qstash';
import { startStack, endpoint, waitFor, test, hdr } from './lib/stack.mjs';

const envCurrent = `sig_envcurrent${Math.random().toString(36).slice(2, 10)}`;
const envNext = `sig_envnext${Math.random().toString(36).slice(2, 10)}`;
let stack, ep;

before(async () => {
  ep = await endpoint(() => ({ status: 200 }));
  stack = await startStack({
    workers: 2,
    env: { STEPFLOW_CURRENT_SIGNING_KEY: envCurrent, STEPFLOW_NEXT_SIGNING_KEY: envNext },
  });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

/** Publishes one message and returns its delivery {signature, body, url}. */
let seq = 0;
async function deliver() {
  const path = `/k${seq++}`;
  const body = JSON.stringify({ n: seq });
  const id = await stack.publish(`${ep.url}${path}`, body, { 'Content-Type': 'application/json' });
  const got = await waitFor(() => ep.to(path)[0], { message: `delivery of ${id}` });
  return { signature: hdr(got, 'Upstash-Signature'), body: got.text, url: `${ep.url}${path}` };
}

/** 1 when `d` verifies with a Receiver holding exactly `current` (next wrong). */
async function signedWith(current, d) {
  try {
    return await new Receiver({ currentSigningKey: current, nextSigningKey: 'sig_wrongwrongwrong' }).verify(d);
  } catch { return false; }
}

/** Publishes until a delivery is signed with `current` (workers re-read the keys every 5 s). */
async function waitSignedWith(current) {
  return waitFor(async () => {
    const d = await deliver();
    return (await signedWith(current, d)) ? d : null;
  }, { timeout: 20000, interval: 200, message: `a delivery signed with ${current}` });
}

/** Waits until every worker has logged `n` key changes (it re-reads them every 5 s). */
async function waitWorkersChanged(n) {
  await waitFor(() => stack.workers.every((w) => (w.log().match(/signing_key_changed/g) || []).length >= n),
    { timeout: 20000, message: `every worker on key change #${n}` });
}

let rotated;

test('GET /v2/keys shows the configured pair; deliveries verify', async () => {
  const r = await stack.api('GET', '/v2/keys');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { current: envCurrent, next: envNext });
  const d = await deliver();
  assert.equal(await new Receiver({ currentSigningKey: envCurrent, nextSigningKey: envNext }).verify(d), true);
  assert.equal(await signedWith(envCurrent, d), true, 'signed with the current key');
  const noauth = await stack.api('GET', '/v2/keys', { token: null });
  assert.equal(noauth.status, 401);
});

test('rotate: next becomes current, a new next; workers sign with it', async () => {
  const r = await stack.api('POST', '/v2/keys/rotate');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.current, envNext);
  assert.match(r.json.next, /^sig_[1-9A-HJ-NP-Za-km-z]{28}$/);
  assert.notEqual(r.json.next, envNext);
  rotated = r.json;
  assert.deepEqual((await stack.api('GET', '/v2/keys')).json, rotated);

  await waitWorkersChanged(1);
  await waitSignedWith(rotated.current);
  // From now on every delivery is signed with the new current key: the
  // Receiver configured with the new pair accepts it, one that knows only
  // the old current key rejects it.
  for (let i = 0; i < 4; i++) {
    const d = await deliver();
    assert.equal(await new Receiver({ currentSigningKey: rotated.current, nextSigningKey: rotated.next }).verify(d), true);
    await assert.rejects(new Receiver({ currentSigningKey: envCurrent, nextSigningKey: 'sig_wrongwrongwrong' }).verify(d));
  }

  // Rotating again: the earlier "next" is now current.
  const again = await stack.api('POST', '/v2/keys/rotate');
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.current, rotated.next);
  rotated = again.json;
  await waitWorkersChanged(2);
  await waitSignedWith(rotated.current);
});

test('a restarted coordinator does not undo the rotation', async () => {
  const c2 = await stack.startCoordinator();
  const r = await stack.api('GET', '/v2/keys', { base: c2.url });
  assert.deepEqual(r.json, rotated);
  const d = await deliver();
  assert.equal(await signedWith(rotated.current, d), true);
});

test('without the hash, workers fall back to their configured key', async () => {
  await stack.redis.call('DEL', stack.key('signing-keys'));
  await waitWorkersChanged(3);
  for (let i = 0; i < 3; i++) assert.equal(await signedWith(envCurrent, await deliver()), true);
  const r = await stack.api('GET', '/v2/keys');
  assert.deepEqual(r.json, { current: '', next: '' });
});

test('processes exit 0 on SIGTERM', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
