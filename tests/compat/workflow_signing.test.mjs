// workflow_signing.test.mjs - issue 3, test 8: with signing keys on the
// workers and the same keys in the app's environment
// (QSTASH_CURRENT_SIGNING_KEY / QSTASH_NEXT_SIGNING_KEY), serve() verifies
// every delivery (steps, sleeps, context.call reports, failure callbacks);
// an app with other keys rejects them, and so does the verifying app for a
// forged or tampered request.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe } from 'node:test';
import { Client } from '@upstash/workflow';
import { startStack, waitFor, test } from '../integration/lib/stack.mjs';
import { startWorkflowApp, reqHeader } from './lib/wfapp.mjs';
import { waitRunState, waitDlq, uid } from './lib/wf.mjs';

/** An Upstash-Signature JWT (HS256) as QStash makes it, with `key`. */
function forgeSignature(key, url, body) {
  const b64u = (b) => Buffer.from(b).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const header = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const claims = b64u(JSON.stringify({
    iss: 'Upstash', sub: url, exp: now + 300, nbf: now - 5, iat: now, jti: `jwt_${uid()}`,
    body: crypto.createHash('sha256').update(body).digest('base64url'),
  }));
  const sig = crypto.createHmac('sha256', key).update(`${header}.${claims}`).digest('base64url');
  return `${header}.${claims}.${sig}`;
}

describe('8. signing: every delivery verified by serve(), wrong keys rejected', () => {
  const current = `sig_${uid()}${uid()}`;
  const next = `sig_${uid()}${uid()}`;
  let stack, good, bad, client;
  before(async () => {
    stack = await startStack({
      workers: 1,
      env: { STEPFLOW_CURRENT_SIGNING_KEY: current, STEPFLOW_NEXT_SIGNING_KEY: next },
    });
    const base = { QSTASH_URL: stack.url, QSTASH_TOKEN: stack.token };
    good = await startWorkflowApp({
      env: { ...base, QSTASH_CURRENT_SIGNING_KEY: current, QSTASH_NEXT_SIGNING_KEY: next },
    });
    bad = await startWorkflowApp({
      env: { ...base, QSTASH_CURRENT_SIGNING_KEY: `sig_wrong${uid()}`, QSTASH_NEXT_SIGNING_KEY: `sig_wrong${uid()}` },
    });
    client = new Client({ baseUrl: stack.url, token: stack.token, retry: false });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (good) await good.close();
    if (bad) await bad.close();
  });

  test('with the right keys: steps, a sleep, a context.call report and a failure callback all verify', async () => {
    const failures = [];
    const url = good.route('/signed', async (context) => {
      // Non-ASCII, slashes and U+2028 in outputs: express re-serializes the
      // body before serve() checks its hash, so the engine's JSON must be
      // byte-identical to JSON.stringify's.
      const a = await context.run('s-1', () => ({ n: context.requestPayload.v + 1, t: 'héllo ✓ 😀 </x> \u2028 "q"' }));
      await context.sleep('s-nap', 1);
      const r = await context.call('s-call', { url: `${stack.url}/healthz`, method: 'GET' });
      const b = await context.run('s-2', () => ({ a, callStatus: r.status }));
      if (context.requestPayload.fail) {
        await context.run('s-fail', () => { throw new Error('signed failure'); });
      }
      return b;
    }, { failureFunction: async ({ context, failResponse }) => { failures.push({ id: context.workflowRunId, failResponse }); } });

    const ok = await client.trigger({ url, body: { v: 1 } });
    const log = await waitRunState(client, stack, ok.workflowRunId, 'RUN_SUCCESS');
    assert.deepEqual(JSON.parse(log.workflowRunResponse),
      { a: { n: 2, t: 'héllo ✓ 😀 </x> \u2028 "q"' }, callStatus: 200 });

    const failing = await client.trigger({ url, body: { v: 1, fail: true }, retries: 0 });
    await waitRunState(client, stack, failing.workflowRunId, 'RUN_FAILED');
    await waitFor(() => failures.length === 1, { timeout: 20000, message: 'failure function (signed callback)' });
    assert.deepEqual(failures, [{ id: failing.workflowRunId, failResponse: 'signed failure' }]);

    const reqs = good.to('/signed');
    assert.ok(reqs.length >= 10, `deliveries: ${reqs.length}`);
    assert.ok(reqs.every((r) => reqHeader(r, 'Upstash-Signature')), 'every delivery signed');
    // Only the deliberately failing step answered non-2xx.
    const non2xx = reqs.filter((r) => r.status !== 200);
    assert.equal(non2xx.length, 1, JSON.stringify(non2xx.map((r) => [r.status, r.reply])));
    assert.equal(non2xx[0].reply.message, 'signed failure');
  });

  test('with wrong keys the SDK rejects the delivery and the route never runs', async () => {
    let invoked = 0;
    const url = bad.route('/wrongkey', async (context) => {
      invoked++;
      await context.run('never', () => 'x');
    });
    const { workflowRunId } = await client.trigger({ url, body: { x: 1 }, retries: 0 });
    await waitRunState(client, stack, workflowRunId, 'RUN_FAILED');
    const entry = await waitDlq(client, workflowRunId);
    assert.equal(Number(entry.responseStatus), 500);
    assert.match(entry.responseBody, /Failed to verify that the Workflow request comes from QStash/);
    const reqs = bad.to('/wrongkey');
    assert.ok(reqs.length >= 1 && reqs.every((r) => r.status === 500), JSON.stringify(reqs.map((r) => r.status)));
    assert.equal(invoked, 0, 'the route function never ran');
  });

  test('a forged or tampered request to the verifying endpoint is rejected', async () => {
    let invoked = 0;
    const url = good.route('/forged', async (context) => { invoked++; await context.run('x', () => 1); });
    const body = JSON.stringify({ evil: true });
    const post = (sig, b = body) => fetch(url, {
      method: 'POST', body: b, headers: { 'Content-Type': 'application/json', 'Upstash-Signature': sig },
    });
    const wrongKey = await post(forgeSignature('sig_not_the_key', url, body));
    assert.equal(wrongKey.status, 500);
    assert.match((await wrongKey.json()).message, /Failed to verify/);
    const tampered = await post(forgeSignature(current, url, body), JSON.stringify({ evil: 'more' }));
    assert.equal(tampered.status, 500);
    assert.match((await tampered.json()).message, /Failed to verify/);
    assert.equal(invoked, 0);
  });
});
