// callback_report.test.mjs - what the worker does after a message's final
// outcome and before delivering a workflow message:
//   - Upstash-Callback: one report per message, after it was delivered or
//     failed for good, to the callback URL (published with @upstash/qstash's
//     `callback` option, and from a raw envelope so the worker is tested
//     whatever the coordinator does);
//   - a message whose workflow run is cancelled, finished or unknown is
//     never delivered;
//   - a workflow step's retries and failure are recorded in the run's next
//     hash, its failure marks the run RUN_FAILED, and its failure callback
//     carries the run's initial payload as sourceBody.
// Runs are seeded with redis-cli-like commands: the coordinator's run
// bookkeeping is not needed for what the worker does.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { readFileSync } from 'node:fs';
import { Client } from '@upstash/qstash';
import { startStack, endpoint, waitFor, test, hdr, pairs, redisClient, sleep, mp } from './lib/stack.mjs';

let stack, ep, client;
const b64 = (s) => Buffer.from(s).toString('base64');
const hooks = new Map(); // path -> responder, set by a test

before(async () => {
  ep = await endpoint((req) => {
    if (hooks.has(req.path)) return hooks.get(req.path)(req);
    if (req.path.startsWith('/ok') || req.path === '/wf') return { status: 200, body: 'fine' };
    if (req.path.startsWith('/fail')) return { status: 500, body: 'nope', headers: { 'X-Why': 'broken' } };
    if (req.path.startsWith('/report') || req.path.startsWith('/fcb')) return { status: 200 };
    return { status: 404 };
  });
  stack = await startStack({ workers: 1 });
  client = new Client({ baseUrl: stack.url, token: stack.token });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

/* ---------------- raw envelopes (common/message.c) ----------------------- */

let seq = 0;
/** An envelope (message.c keys) with defaults; body given as a string. */
function envelope({ body = '', ...over } = {}) {
  seq++;
  return {
    v: 1, k: 0, id: `msg_cbr${Date.now()}x${seq}`, url: `${ep.url}/ok`, mt: 'POST',
    r: 0, rd: 0, c: Date.now(), b: Buffer.from(body), ...over,
  };
}

/** XADDs an envelope to the message stream as the coordinator would. */
async function enqueue(env) {
  await stack.redis.call('XADD', stack.key('{msg}:stream'), '*', 'v', '1', 'id', env.id, 'm', mp(env));
  return env.id;
}

/** Seeds a run hash P:{wf}:run:<id> in `state` with its steps list. */
async function seedRun(runId, state, { url, initial = '{"order":1}' } = {}) {
  await stack.redis.call('HSET', stack.key(`{wf}:run:${runId}`), 'v', '1', 'workflowRunId', runId,
    'workflowUrl', url || `${ep.url}/wf`, 'state', state, 'createdAt', String(Date.now()));
  const item0 = JSON.stringify({ messageId: `msg_init_${runId}`, body: b64(initial), callType: 'step', createdAt: Date.now() });
  await stack.redis.call('RPUSH', stack.key(`{wf}:steps:${runId}`), item0);
  return item0;
}

/** Seeds the coordinator's STEP_PROGRESS entry for `msgId` in the next hash. */
async function seedNext(runId, msgId, retries) {
  await stack.redis.call('HSET', stack.key(`{wf}:next:${runId}`), msgId, JSON.stringify({
    messageId: msgId, stepName: 'step-a', stepType: 'Run', state: 'STEP_PROGRESS',
    retries, createdAt: Date.now(), errors: [],
  }));
}

const nextEntry = async (runId, msgId) => {
  const v = await stack.redis.call('HGET', stack.key(`{wf}:next:${runId}`), msgId);
  return v === null ? null : JSON.parse(v);
};
const runHash = async (runId) => pairs(await stack.redis.call('HGETALL', stack.key(`{wf}:run:${runId}`)));

/** Requests to `path` that are reports of message `id`. */
const reportsOf = (path, id) => ep.to(path).filter((r) => JSON.parse(r.text).sourceMessageId === id);

async function quiet() {
  await stack.waitIdle();
  await stack.waitIdle({ queue: '{dlq}:cb' });
}

/* ---------------- Upstash-Callback with the qstash client ---------------- */

test('client callback, endpoint answers 200: exactly one report with status, body, retried', async () => {
  const { messageId } = await client.publish({
    url: `${ep.url}/ok/a`, body: 'hello', callback: `${ep.url}/report/a`, retries: 2,
  });
  const rep = await waitFor(() => ep.to('/report/a')[0], { message: 'report of the 200 delivery' });
  await quiet();
  assert.equal(ep.to('/ok/a').length, 1);
  assert.equal(ep.to('/report/a').length, 1, 'exactly one report');
  assert.equal(rep.method, 'POST');
  assert.match(hdr(rep, 'Upstash-Message-Id'), /^msg_/);
  assert.notEqual(hdr(rep, 'Upstash-Message-Id'), messageId, 'the report is a message of its own');
  const j = JSON.parse(rep.text);
  assert.equal(j.status, 200);
  assert.equal(j.body, b64('fine'));
  assert.equal(j.retried, 0);
  assert.equal(j.maxRetries, 2);
  assert.equal(j.sourceMessageId, messageId);
  assert.equal(j.url, `${ep.url}/ok/a`);
  assert.equal(j.method, 'POST');
  assert.equal(j.sourceBody, b64('hello'));
  assert.equal(typeof j.header, 'object');
  assert.ok(Array.isArray(j.header['Content-Type']), JSON.stringify(j.header));
  assert.equal(j.dlqId, undefined);
});

test('client callback, endpoint answers 500 with retries 1: two attempts, one report, no DLQ entry', async () => {
  const { messageId } = await client.publish({
    url: `${ep.url}/fail/b`, body: 'payload-b', callback: `${ep.url}/report/b`, retries: 1, retryDelay: '100',
  });
  const rep = await waitFor(() => ep.to('/report/b')[0], { timeout: 20000, message: 'report of the failed message' });
  await quiet();
  assert.equal(ep.to('/fail/b').length, 2, '1 + 1 retry');
  assert.equal(ep.to('/report/b').length, 1, 'exactly one report');
  const j = JSON.parse(rep.text);
  assert.equal(j.status, 500);
  assert.equal(j.body, b64('nope'));
  assert.deepEqual(j.header['X-Why'], ['broken']);
  assert.equal(j.retried, 1, 'retried == maxRetries: no more attempts follow');
  assert.equal(j.maxRetries, 1);
  assert.equal(j.sourceMessageId, messageId);
  assert.equal(j.sourceBody, b64('payload-b'));
  assert.ok(!(await stack.dlqList()).some((m) => m.messageId === messageId),
    'reported to the callback instead of the DLQ');
});

test('client callback and failureCallback: report, DLQ entry and failure callback', async () => {
  const { messageId } = await client.publish({
    url: `${ep.url}/fail/c`, body: 'payload-c', callback: `${ep.url}/report/c`,
    failureCallback: `${ep.url}/fcb/c`, retries: 0,
  });
  await waitFor(() => ep.to('/report/c').length === 1 && ep.to('/fcb/c').length === 1,
    { timeout: 20000, message: 'report and failure callback' });
  const e = await stack.waitDlq(messageId);
  await quiet();
  assert.equal(ep.to('/fail/c').length, 1);
  assert.equal(ep.to('/report/c').length, 1);
  assert.equal(ep.to('/fcb/c').length, 1);
  assert.equal(JSON.parse(ep.to('/report/c')[0].text).status, 500);
  assert.equal(JSON.parse(ep.to('/fcb/c')[0].text).dlqId, e.dlqId);
});

/* ---------------- Upstash-Callback from a raw envelope ------------------- */

test('raw envelope with a callback template: report keeps the template settings', async () => {
  const tpl = mp({
    v: 1, k: 0, id: 'tpl', url: `${ep.url}/report/raw`, mt: 'PUT', r: 0, rd: 0, c: 0,
    h: [['X-From-Tpl', 'yes']], l: 'tpl-label',
  });
  const ok = await enqueue(envelope({ url: `${ep.url}/ok/raw`, body: 'raw ok', ct: tpl, r: 3, rd: 0 }));
  const bad = await enqueue(envelope({ url: `${ep.url}/fail/raw`, body: 'raw bad', ct: tpl, r: 0 }));
  await waitFor(() => reportsOf('/report/raw', ok).length && reportsOf('/report/raw', bad).length,
    { timeout: 20000, message: 'both reports' });
  await quiet();
  assert.equal(ep.to('/report/raw').length, 2);
  const [rok] = reportsOf('/report/raw', ok);
  const [rbad] = reportsOf('/report/raw', bad);
  assert.equal(rok.method, 'PUT', 'method of the template');
  assert.equal(hdr(rok, 'X-From-Tpl'), 'yes');
  assert.equal(hdr(rok, 'Content-Type'), 'application/json');
  const jo = JSON.parse(rok.text);
  assert.deepEqual([jo.status, jo.retried, jo.maxRetries, jo.body, jo.sourceBody],
    [200, 0, 3, b64('fine'), b64('raw ok')]);
  const jb = JSON.parse(rbad.text);
  assert.deepEqual([jb.status, jb.retried, jb.maxRetries, jb.body], [500, 0, 0, b64('nope')]);
  const dlqIds = (await stack.dlqList()).map((m) => m.messageId);
  assert.ok(!dlqIds.includes(ok) && !dlqIds.includes(bad), 'nothing dead-lettered');
});

test('raw envelope whose callback template does not decode: the failure is dead-lettered, not lost', async () => {
  const junk = Buffer.from('not an envelope');
  const bad = await enqueue(envelope({ url: `${ep.url}/fail/junktpl`, body: 'j bad', ct: junk, r: 0 }));
  const ok = await enqueue(envelope({ url: `${ep.url}/ok/junktpl`, body: 'j ok', ct: junk, r: 0 }));
  const e = await stack.waitDlq(bad);
  await quiet();
  assert.equal(Number(e.responseStatus), 500);
  assert.equal(ep.to('/fail/junktpl').length, 1);
  assert.equal(ep.to('/ok/junktpl').length, 1);
  assert.ok(!(await stack.dlqList()).some((m) => m.messageId === ok), 'the delivered one is just acked');
  assert.match(stack.workers[0].log(), /callback_report_skipped messageId=/);
});

test('a report write answered -BUSY is sent again: delivered once, reported once', async () => {
  // While a script runs past busy-reply-threshold every other command is
  // answered -BUSY.  The endpoint starts such a script (0.8 s: shorter than
  // claim-idle, so the entry is not reclaimed meanwhile) before it answers,
  // so the report (queue_callback.lua) meets it.
  const BUSY = "local t0 = redis.call('TIME') " +
    "repeat local t = redis.call('TIME') " +
    "until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > tonumber(ARGV[1]) return 1";
  await stack.redis.call('CONFIG', 'SET', 'lua-time-limit', '50');
  const busy = redisClient(stack.redis.port);
  let ran;
  hooks.set('/ok/busy', async () => {
    ran = busy.call('EVAL', BUSY, 0, 800000);
    await sleep(200);
    return { status: 200, body: 'fine' };
  });
  try {
    const id = await enqueue(envelope({
      url: `${ep.url}/ok/busy`, body: 'b', r: 3, ct: mp({ v: 1, k: 0, id: 'tpl', url: `${ep.url}/report/busy`, mt: 'POST', r: 0, rd: 0, c: 0 }),
    }));
    await waitFor(() => ran, { message: 'the busy script started' });
    await ran;
    await waitFor(() => reportsOf('/report/busy', id).length === 1, { timeout: 20000, message: 'the report' });
    await quiet(); // a given-up entry would stay pending until delivered again
    assert.equal(ep.to('/ok/busy').length, 1, 'delivered once');
    assert.equal(reportsOf('/report/busy', id).length, 1, 'reported once');
    assert.match(stack.workers[0].log(), /final_write_error .*BUSY/);
  } finally {
    hooks.delete('/ok/busy');
    busy.close();
    await stack.redis.call('CONFIG', 'SET', 'lua-time-limit', '5000');
  }
});

/* ---------------- run state check ---------------------------------------- */

test('a message of a cancelled, finished or unknown run is not delivered; a running one is', async () => {
  await seedRun('wfr_cancelled', 'RUN_CANCELED');
  await seedRun('wfr_done', 'RUN_SUCCESS');
  await seedRun('wfr_live', 'RUN_STARTED');
  const mk = (run) => envelope({ url: `${ep.url}/wf`, wr: run, wu: `${ep.url}/wf`, wc: Date.now(), body: `[]${run}` });
  const dropped = [];
  for (const run of ['wfr_cancelled', 'wfr_done', 'wfr_unknown']) {
    const env = mk(run);
    await seedNext(run, env.id, 0);
    dropped.push({ run, id: await enqueue(env) });
  }
  const live = await enqueue(mk('wfr_live'));
  await waitFor(() => ep.to('/wf').some((r) => hdr(r, 'Upstash-Message-Id') === live),
    { message: 'delivery of the running run' });
  await quiet();
  const delivered = ep.to('/wf').map((r) => hdr(r, 'Upstash-Message-Id'));
  assert.deepEqual(delivered, [live], 'only the running run\'s message');
  assert.equal((await runHash('wfr_live')).state, 'RUN_STARTED');
  for (const d of dropped) {
    assert.ok(!delivered.includes(d.id), `${d.run}: not delivered`);
    assert.equal(await nextEntry(d.run, d.id), null, `${d.run}: next-hash entry removed`);
  }
  assert.equal(Number(await stack.redis.call('XLEN', stack.key('{msg}:stream'))), 0, 'entries deleted');
  const dlqIds = (await stack.dlqList()).map((m) => m.messageId);
  assert.ok(dropped.every((d) => !dlqIds.includes(d.id)), 'dropped, not dead-lettered');
  assert.match(stack.workers[0].log(), /wf_drop messageId=\S+ runId=wfr_cancelled state=RUN_CANCELED/);
});

test('a retry of a run cancelled meanwhile is dropped', async () => {
  await seedRun('wfr_later', 'RUN_STARTED');
  const env = envelope({ url: `${ep.url}/fail/wf-later`, wr: 'wfr_later', wu: `${ep.url}/fail/wf-later`, r: 3, rdx: '800' });
  await enqueue(env);
  await waitFor(() => ep.to('/fail/wf-later').length === 1, { message: 'first attempt' });
  await stack.redis.call('HSET', stack.key('{wf}:run:wfr_later'), 'state', 'RUN_CANCELED');
  await quiet();
  assert.equal(ep.to('/fail/wf-later').length, 1, 'no attempt after the cancel');
  assert.equal((await runHash('wfr_later')).state, 'RUN_CANCELED');
});

/* ---------------- workflow step states and run failure ------------------- */

test('a failing step: STEP_RETRY then STEP_FAILED in the next hash, run RUN_FAILED, failure callback with the initial payload', async () => {
  const run = 'wfr_fail1';
  const url = `${ep.url}/fail/wf1`;
  const item0 = await seedRun(run, 'RUN_STARTED', { url, initial: '{"order":42}' });
  const step = JSON.stringify({ messageId: 'msg_s1', body: b64('{"stepId":1}'), callType: 'step', createdAt: 1 });
  const env = envelope({
    url, wr: run, wu: url, wc: 1700000000000, r: 1, rdx: '1500', body: `[${item0},${step}]`,
    fc: `${ep.url}/fcb/wf1`, h: [['Upstash-Workflow-RunId', run]],
  });
  await seedNext(run, env.id, 1);
  await enqueue(env);

  const retry = await waitFor(async () => {
    const e = await nextEntry(run, env.id);
    return e && e.state === 'STEP_RETRY' && e;
  }, { message: 'STEP_RETRY in the next hash' });
  assert.equal(retry.stepName, 'step-a', 'the coordinator fields are kept');
  assert.equal(retry.errors.length, 1);
  assert.equal(retry.errors[0].error, 'HTTP 500');
  assert.equal(retry.errors[0].status, 500);
  assert.equal(retry.errors[0].body, 'nope');
  assert.deepEqual(retry.errors[0].headers['X-Why'], ['broken']);
  assert.ok(Math.abs(retry.errors[0].time - Date.now()) < 60000);
  assert.equal((await runHash(run)).state, 'RUN_STARTED', 'a retry does not fail the run');

  const failed = await waitFor(async () => {
    const e = await nextEntry(run, env.id);
    return e && e.state === 'STEP_FAILED' && e;
  }, { timeout: 20000, message: 'STEP_FAILED in the next hash' });
  assert.equal(failed.errors.length, 2);

  const dlq = await stack.waitDlq(env.id);
  const r = await waitFor(async () => {
    const h = await runHash(run);
    return h.state === 'RUN_FAILED' && h;
  }, { message: 'run RUN_FAILED' });
  assert.equal(r.dlqId, dlq.dlqId);
  assert.ok(Number(r.completedAt) > 0);
  assert.equal(r.failedAt, r.completedAt);
  assert.equal(await stack.redis.call('ZSCORE', stack.key('{wf}:failed'), run), r.failedAt);
  assert.equal(Number(await stack.redis.call('LLEN', stack.key(`{wf}:steps:${run}`))), 1, 'steps kept');

  const cb = await waitFor(() => ep.to('/fcb/wf1')[0], { message: 'failure callback' });
  const j = JSON.parse(cb.text);
  assert.equal(j.sourceBody, b64('{"order":42}'), 'the initial payload, not the step list');
  assert.equal(j.workflowRunId, run);
  assert.equal(j.workflowUrl, url);
  assert.equal(j.workflowCreatedAt, 1700000000000);
  assert.equal(j.dlqId, dlq.dlqId);
  await quiet();
  assert.equal(ep.to('/fail/wf1').length, 2);
});

test('a poison step (reclaimed more than 10 times): STEP_FAILED, DLQ entry, run RUN_FAILED, never delivered', async () => {
  const run = 'wfr_poison';
  const url = `${ep.url}/fail/poison`;
  await seedRun(run, 'RUN_STARTED', { url });
  const env = envelope({ url, wr: run, wu: url, wc: 1700000000000, r: 3, body: '' });
  await seedNext(run, env.id, 3);
  // Read by a consumer that "crashed" 11 times: only the worker's reclaim
  // (XAUTOCLAIM, then the delivery count) sees it.
  const S = stack.key('{msg}:stream');
  const [, , , tx] = await stack.redis.pipeline(['MULTI'],
    ['XADD', S, '*', 'v', '1', 'id', env.id, 'm', mp(env)],
    ['XREADGROUP', 'GROUP', 'workers', 'ghost', 'COUNT', 1, 'STREAMS', S, '>'], ['EXEC']);
  const entry = tx[0];
  assert.equal(tx[1][0][1][0][0], entry, 'the ghost consumer has it');
  await stack.redis.call('XCLAIM', S, 'workers', 'ghost', 0, entry, 'IDLE', 60000, 'RETRYCOUNT', 11);
  const failed = await waitFor(async () => {
    const e = await nextEntry(run, env.id);
    return e && e.state === 'STEP_FAILED' && e;
  }, { timeout: 20000, message: 'STEP_FAILED in the next hash' });
  assert.equal(failed.errors.length, 1);
  assert.equal(failed.errors[0].error, 'no response');
  const dlq = await stack.waitDlq(env.id);
  assert.match(dlq.reason || '', /worker crashed/);
  await waitFor(async () => (await runHash(run)).state === 'RUN_FAILED', { message: 'run RUN_FAILED' });
  await quiet();
  assert.equal(ep.to('/fail/poison').length, 0);
});

test('a failing lazy step (empty body): sourceBody comes from the run\'s first step', async () => {
  const run = 'wfr_lazy';
  const url = `${ep.url}/fail/lazy`;
  await seedRun(run, 'RUN_STARTED', { url, initial: 'lazy initial' });
  const env = envelope({ url, wr: run, wu: url, wc: 1, r: 0, fc: `${ep.url}/fcb/lazy` });
  await enqueue(env);
  const cb = await waitFor(() => ep.to('/fcb/lazy')[0], { timeout: 20000, message: 'failure callback' });
  assert.equal(JSON.parse(cb.text).sourceBody, b64('lazy initial'));
  await waitFor(async () => (await runHash(run)).state === 'RUN_FAILED', { message: 'run RUN_FAILED' });
});

test('a step without a next-hash entry gets one; its errors are capped at the last 10', async () => {
  const run = 'wfr_many';
  const url = `${ep.url}/fail/many`;
  await seedRun(run, 'RUN_STARTED', { url });
  const env = envelope({ url, wr: run, wu: url, r: 11, rdx: '10' });
  await enqueue(env);
  const e = await waitFor(async () => {
    const x = await nextEntry(run, env.id);
    return x && x.state === 'STEP_FAILED' && x;
  }, { timeout: 20000, message: 'STEP_FAILED after 12 attempts' });
  assert.equal(ep.to('/fail/many').length, 12);
  assert.equal(e.messageId, env.id);
  assert.equal(e.retries, 11);
  assert.equal(e.errors.length, 10, 'the last 10 errors');
  assert.ok(e.errors.every((x) => x.status === 500 && x.error === 'HTTP 500'));
  const times = e.errors.map((x) => x.time);
  assert.deepEqual([...times].sort((a, b) => a - b), times, 'oldest first');
  // wf_next.lua itself: a run that is not running gets no entry back (a
  // finished run's next hash was deleted).
  await seedRun('wfr_gone', 'RUN_SUCCESS', { url });
  const late = envelope({ url, wr: 'wfr_gone', wu: url, r: 1, rdx: '10' });
  const [nextKey, runKey] = [stack.key('{wf}:next:wfr_gone'), stack.key('{wf}:run:wfr_gone')];
  const script = readFileSync(new URL('../../common/lua/wf_next.lua', import.meta.url), 'utf8');
  const err = JSON.stringify({ error: 'HTTP 500', body: '', headers: {}, status: 500, time: 1 });
  assert.equal(await stack.redis.call('EVAL', script, 2, nextKey, runKey, late.id, 'STEP_RETRY', err, 1, 1), 0);
  assert.equal(Number(await stack.redis.call('EXISTS', nextKey)), 0);
});

test('a delivered step leaves the next hash; a context.call failure does not fail the run', async () => {
  const run = 'wfr_ok';
  const wfUrl = `${ep.url}/ok/wf`;
  await seedRun(run, 'RUN_STARTED', { url: wfUrl });
  const okEnv = envelope({ url: wfUrl, wr: run, wu: wfUrl, body: '[]' });
  await seedNext(run, okEnv.id, 0);
  await enqueue(okEnv);
  // A context.call: another URL, with its report to the workflow URL.
  const tpl = mp({ v: 1, k: 0, id: 'tpl', url: `${ep.url}/report/call`, r: 0, rd: 0, c: 0, wr: run, wu: wfUrl });
  const call = envelope({ url: `${ep.url}/fail/call`, wr: run, wu: wfUrl, r: 0, ct: tpl, body: 'call body' });
  await enqueue(call);
  await waitFor(() => reportsOf('/report/call', call.id).length === 1, { timeout: 20000, message: 'call report' });
  await quiet();
  assert.equal(await nextEntry(run, okEnv.id), null, 'delivered: entry removed');
  assert.equal(await nextEntry(run, call.id), null, 'a call is not a step: no entry written');
  assert.equal((await runHash(run)).state, 'RUN_STARTED');
  assert.equal((await stack.dlqList()).some((m) => m.messageId === call.id), false);
  const j = JSON.parse(reportsOf('/report/call', call.id)[0].text);
  assert.equal(j.status, 500);
  assert.equal(j.sourceBody, b64('call body'));
});
