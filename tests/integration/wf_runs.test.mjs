// wf_runs.test.mjs - the coordinator's workflow runs API, driven with
// fetch and with @upstash/workflow's own Client (baseUrl = coordinator):
//   - GET /v2/workflows/runs/{id} (serve()'s lazy fetch): the step items
//     exactly as stored, 404 once the run is not running;
//   - DELETE /v2/workflows/runs/{id}?cancel=false|true: RUN_SUCCESS with
//     the result / RUN_CANCELED, next states dropped, deletion scheduled;
//   - client.cancel by ids, exact URL, URL prefix, label, host/path, dates
//     and {all, count};
//   - client.logs: step groups (init, sequential, parallel, next), result,
//     labels, dlqId + failureFunction, cursor paging and every filter;
//   - GET /v2/dlq?source=workflow and the flowControlKey filter;
//   - client.dlq.resume / restart (new runs through the real publish path,
//     DLQ entries dropped), the /{dlqId} routes and their errors;
//   - the expiry sweep (failed runs scheduled, due runs deleted, a running
//     run never).
// Runs are seeded with HSET/RPUSH where the publish side is not the point;
// resume/restart start from a run created by POST /v2/trigger.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { Client } from '@upstash/workflow';
import { startStack, endpoint, waitFor, test, pairs, hdr } from './lib/stack.mjs';

const RETENTION_S = 3600;
let stack, ep, client, r;
const b64 = (s) => Buffer.from(s).toString('base64');
const uid = () => Math.random().toString(36).slice(2, 10);

before(async () => {
  ep = await endpoint((req) => {
    if (req.path.startsWith('/fail')) return { status: 500, body: 'down' };
    return { status: 200, body: 'ok' };
  });
  stack = await startStack({
    workers: 1, coordEnv: { STEPFLOW_WORKFLOW_RETENTION_S: String(RETENTION_S) },
  });
  client = new Client({ baseUrl: stack.url, token: stack.token });
  r = (...a) => stack.redis.call(...a);
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

const wfKey = (what, id) => stack.key(`{wf}:${what}:${id}`);
const runHash = async (id) => pairs(await r('HGETALL', wfKey('run', id)));

/** One steps-list item as the coordinator stores it. */
const item = (messageId, body, createdAt) =>
  JSON.stringify({ messageId, body: b64(body), callType: 'step', createdAt });

let seq = 0;
/**
 * Seeds a run: hash, steps (item 0 = payload, then `steps` = step JSON
 * objects, each {step, messageId?}), step index, runs zset, next hash
 * (`next` = {messageId: state object}).  Returns {id, items, url, createdAt}.
 */
async function seedRun(o = {}) {
  const id = o.id || `wfr_seed${++seq}_${uid()}`;
  const createdAt = o.createdAt ?? Date.now();
  const url = o.url ?? `${ep.url}/wf`;
  const f = ['v', '1', 'workflowRunId', id, 'workflowUrl', url,
    'state', o.state || 'RUN_STARTED', 'createdAt', String(createdAt), 'retries', String(o.retries ?? 3),
    'initMessageId', `msg_${id}_0`];
  for (const [k, v] of Object.entries({
    label: o.label, callerIP: o.callerIP, flowControlKey: o.fcKey, dlqId: o.dlqId,
    completedAt: o.completedAt, response: o.response, retryDelay: o.retryDelay,
  })) if (v !== undefined) f.push(k, String(v));
  await r('HSET', wfKey('run', id), ...f);
  const items = [item(`msg_${id}_0`, o.payload ?? '{"in":1}', createdAt)];
  (o.steps || []).forEach((s, i) => items.push(
    item(s.messageId || `msg_${id}_${i + 1}`, JSON.stringify(s.step), createdAt + i + 1)));
  await r('RPUSH', wfKey('steps', id), ...items);
  await r('HSET', wfKey('stepidx', id),
    ...items.flatMap((it, i) => [`m:${JSON.parse(it).messageId}`, String(i)]));
  await r('ZADD', stack.key('{wf}:runs'), String(createdAt), id);
  // as wf_init.lua does: running runs have an index of their own
  if ((o.state || 'RUN_STARTED') === 'RUN_STARTED') {
    await r('ZADD', stack.key('{wf}:running'), String(createdAt), id);
  }
  for (const [mid, st] of Object.entries(o.next || {})) {
    await r('HSET', wfKey('next', id), mid, JSON.stringify({ messageId: mid, ...st }));
  }
  return { id, items, url, createdAt };
}

/** Seeds a DLQ entry hash and has the indexer index it. */
async function seedDlq(fields) {
  const dlqId = fields.dlqId || `dlq_seed_${uid()}`;
  const now = Date.now();
  const all = { dlqId, v: '1', method: 'POST', createdAt: String(now), dlqAt: String(now),
    maxRetries: '3', reason: 'retries exhausted', ...fields };
  await r('HSET', stack.key(`{dlq}:entry:${dlqId}`), ...Object.entries(all).flat());
  await r('XADD', stack.key('{dlq}:events'), '*', 'dlqId', dlqId, 'event', 'created');
  await waitFor(async () => (await r('ZSCORE', stack.key('{dlq}:idx:all'), dlqId)) !== null,
    { message: `DLQ entry ${dlqId} indexed` });
  return dlqId;
}

/* ---------------- GET /v2/workflows/runs/{id} ---------------------------- */

test('a plain publish that merely names a run (another URL) is an ordinary message, delivered', async () => {
  const id = await stack.publish(`${ep.url}/plain-mention`, 'hi', {
    'Upstash-Workflow-RunId': 'wfr_nobody', 'Upstash-Workflow-Url': `${ep.url}/some-workflow`,
  });
  await waitFor(() => ep.to('/plain-mention').length === 1, { message: 'delivered' });
  assert.equal(hdr(ep.to('/plain-mention')[0], 'Upstash-Message-Id'), id);
});

test('trigger: a run id over 200 bytes or with spaces is a 400; a long non-ASCII step name is a 400 or stored, never a crash', async () => {
  for (const bad of ['x'.repeat(201), 'has space', 'tab\there']) {
    const res = await stack.api('POST', `/v2/trigger/${ep.url}/wf-bad`, {
      body: '{}', headers: { 'Upstash-Workflow-RunId': bad },
    });
    assert.equal(res.status, 400, `${bad.slice(0, 20)}: ${res.text}`);
    assert.match(res.json.error, /Upstash-Workflow-RunId/);
  }
  const url = `${ep.url}/wf-unicode`;
  const trig = await stack.api('POST', `/v2/trigger/${url}`, { body: '{}' });
  assert.equal(trig.status, 200, trig.text);
  const run = { id: trig.json.workflowRunId, url };
  const step = { stepId: 1, stepName: `a${'\u540d'.repeat(300)}`, stepType: 'Run', out: '"x"', concurrent: 1 };
  const res = await stack.api('POST', `/v2/publish/${run.url}`, {
    body: JSON.stringify(step),
    headers: { 'Upstash-Workflow-RunId': run.id, 'Upstash-Workflow-Url': run.url, 'Content-Type': 'application/json' },
  });
  assert.equal(res.status, 200, res.text);
  // recorded whole (its in-flight state is gone as soon as it is delivered)
  const items = (await r('LRANGE', wfKey('steps', run.id), 0, -1)).map((it) => JSON.parse(it));
  const rec = items.find((it) => it.messageId === res.json.messageId);
  assert.ok(rec, 'the step is recorded');
  assert.equal(JSON.parse(Buffer.from(rec.body, 'base64').toString()).stepName, step.stepName);
  assert.equal((await stack.api('GET', '/healthz', { token: null })).status, 200);
});

test('a run whose first delivery was never stored is stored again by a retried trigger, once', async () => {
  // as after a Redis outage between wf_init.lua and the XADD: the run and
  // its step 0 exist, no message does
  const run = await seedRun({ url: `${ep.url}/wf-again`, payload: '{"again":1}' });
  const res = await stack.api('POST', `/v2/trigger/${run.url}`, {
    body: '{"again":1}', headers: { 'Upstash-Workflow-RunId': run.id },
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.workflowRunId, run.id);
  assert.equal(res.json.workflowCreatedAt, run.createdAt, 'the first trigger\'s creation time');
  await waitFor(() => ep.to('/wf-again').length === 1, { message: 'the first delivery' });
  const got = ep.to('/wf-again')[0];
  assert.equal(hdr(got, 'Upstash-Message-Id'), `msg_${run.id}_0`, 'stored under the first init\'s id');
  assert.equal(JSON.parse(got.body)[0].messageId, `msg_${run.id}_0`);
  // a second retry is deduplicated: still one delivery
  const again = await stack.api('POST', `/v2/trigger/${run.url}`, {
    body: '{"again":1}', headers: { 'Upstash-Workflow-RunId': run.id },
  });
  assert.equal(again.status, 200, again.text);
  await stack.waitIdle();
  assert.equal(ep.to('/wf-again').length, 1);
});

test('GET /v2/workflows/runs/{id} answers the step items as stored, only while the run runs', async () => {
  const run = await seedRun({
    payload: '{"order":42,"note":"ünïcødé"}',
    steps: [{ step: { stepId: 1, stepName: 'a', stepType: 'Run', out: '"x"', concurrent: 1 } }],
  });
  const got = await stack.api('GET', `/v2/workflows/runs/${run.id}`);
  assert.equal(got.status, 200, got.text);
  assert.match(got.headers.get('content-type'), /application\/json/);
  assert.equal(got.text, `[${run.items.join(',')}]`);
  assert.equal(Buffer.from(got.json[0].body, 'base64').toString(), '{"order":42,"note":"ünïcødé"}');

  const unknown = await stack.api('GET', '/v2/workflows/runs/wfr_nope');
  assert.equal(unknown.status, 404);
  assert.match(unknown.json.error, /wfr_nope/);
  const done = await seedRun({ state: 'RUN_SUCCESS' });
  const gone = await stack.api('GET', `/v2/workflows/runs/${done.id}`);
  assert.equal(gone.status, 404);
  assert.match(gone.json.error, /not running \(RUN_SUCCESS\)/);
  const noAuth = await stack.api('GET', `/v2/workflows/runs/${run.id}`, { token: null });
  assert.equal(noAuth.status, 401);
});

/* ---------------- DELETE /v2/workflows/runs/{id} ------------------------- */

test('DELETE ?cancel=false ends the run: RUN_SUCCESS, result kept, next states dropped, deletion scheduled', async () => {
  const run = await seedRun({ next: { msg_inflight: { state: 'STEP_PROGRESS', retries: 3 } } });
  const result = JSON.stringify({ total: 3, items: ['a', 'b'] });
  const t0 = Date.now();
  const res = await stack.api('DELETE', `/v2/workflows/runs/${run.id}?cancel=false`, { body: result });
  const t1 = Date.now();
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, {});
  const h = await runHash(run.id);
  assert.equal(h.state, 'RUN_SUCCESS');
  assert.equal(h.response, result);
  const done = Number(h.completedAt);
  assert.ok(done >= t0 && done <= t1, `completedAt ${done} in [${t0}, ${t1}]`);
  assert.equal(await r('EXISTS', wfKey('next', run.id)), 0);
  assert.equal(await r('LLEN', wfKey('steps', run.id)), 1, 'steps kept for the logs');
  assert.equal(Number(await r('ZSCORE', stack.key('{wf}:expire'), run.id)), done + RETENTION_S * 1000);
  assert.equal(await r('ZSCORE', stack.key('{wf}:running'), run.id), null, 'out of the running index');

  const again = await stack.api('DELETE', `/v2/workflows/runs/${run.id}?cancel=false`, { body: '1' });
  assert.equal(again.status, 400);
  assert.equal(again.json.error, `workflow run ${run.id} is not running (RUN_SUCCESS)`);
  assert.equal((await runHash(run.id)).response, result, 'the first result stays');
  const unknown = await stack.api('DELETE', '/v2/workflows/runs/wfr_unknown?cancel=false');
  assert.equal(unknown.status, 404);
  assert.ok(unknown.json.error);
  const bad = await stack.api('DELETE', `/v2/workflows/runs/${run.id}?cancel=maybe`);
  assert.equal(bad.status, 400);

  // serve() sends no body when the route returns nothing: no response kept.
  const quiet = await seedRun();
  assert.equal((await stack.api('DELETE', `/v2/workflows/runs/${quiet.id}?cancel=false`)).status, 200);
  const q = await runHash(quiet.id);
  assert.equal(q.state, 'RUN_SUCCESS');
  assert.equal(q.response, undefined);
});

test('DELETE ?cancel=true cancels a running run; a finished one is not cancelled', async () => {
  const run = await seedRun({ next: { msg_a: { state: 'STEP_RETRY', retries: 3 } } });
  const res = await stack.api('DELETE', `/v2/workflows/runs/${run.id}?cancel=true`);
  assert.equal(res.status, 200, res.text);
  const h = await runHash(run.id);
  assert.equal(h.state, 'RUN_CANCELED');
  assert.ok(Number(h.completedAt) > 0);
  assert.equal(h.response, undefined);
  assert.equal(await r('EXISTS', wfKey('next', run.id)), 0);
  assert.ok(await r('ZSCORE', stack.key('{wf}:expire'), run.id));
  const twice = await stack.api('DELETE', `/v2/workflows/runs/${run.id}?cancel=true`);
  assert.equal(twice.status, 400);
  assert.match(twice.json.error, /not running \(RUN_CANCELED\)/);
  const finish = await stack.api('DELETE', `/v2/workflows/runs/${run.id}?cancel=false`, { body: '"late"' });
  assert.equal(finish.status, 400);
  assert.equal((await runHash(run.id)).state, 'RUN_CANCELED');

  const failed = await seedRun({ state: 'RUN_FAILED' });
  const nope = await stack.api('DELETE', `/v2/workflows/runs/${failed.id}?cancel=true`);
  assert.equal(nope.status, 400);
  assert.equal((await runHash(failed.id)).state, 'RUN_FAILED');
});

/* ---------------- DELETE /v2/workflows/runs (client.cancel) -------------- */

test('client.cancel by ids, exact URL, URL prefix, label, host/path, dates and all with count', async () => {
  const U = `https://cancel-${uid()}.example/app`;
  const st = async (run) => (await runHash(run.id)).state;

  const a1 = await seedRun({ url: `${U}/a` });
  const done = await seedRun({ url: `${U}/a`, state: 'RUN_SUCCESS' });
  assert.deepEqual(await client.cancel([a1.id, done.id, 'wfr_missing']), { cancelled: 1 });
  assert.equal(await st(a1), 'RUN_CANCELED');
  assert.equal(await st(done), 'RUN_SUCCESS');
  assert.deepEqual(await client.cancel(a1.id), { cancelled: 0 }, 'already cancelled');

  const a3 = await seedRun({ url: `${U}/a` });
  const a2 = await seedRun({ url: `${U}/a/deeper` });
  const b = await seedRun({ url: `${U}/b`, label: 'red,blue' });
  assert.deepEqual(await client.cancel({ filter: { workflowUrl: `${U}/a` } }), { cancelled: 1 });
  assert.equal(await st(a3), 'RUN_CANCELED');
  assert.equal(await st(a2), 'RUN_STARTED', 'exact match leaves a longer URL alone');
  assert.deepEqual(await client.cancel({ filter: { workflowUrlStartingWith: `${U}/a` } }), { cancelled: 1 });
  assert.equal(await st(a2), 'RUN_CANCELED');
  assert.equal(await st(b), 'RUN_STARTED');
  // the deprecated form: urlStartingWith
  const c0 = await seedRun({ url: `${U}/c/0` });
  assert.deepEqual(await client.cancel({ urlStartingWith: `${U}/c` }), { cancelled: 1 });
  assert.equal(await st(c0), 'RUN_CANCELED');
  assert.deepEqual(await client.cancel({ filter: { label: 'blue', workflowUrlStartingWith: U } }),
    { cancelled: 1 });
  assert.equal(await st(b), 'RUN_CANCELED');

  const host = `hp-${uid()}.example`;
  const hp1 = await seedRun({ url: `https://${host}:8443/only?x=1` });
  const hp2 = await seedRun({ url: `https://${host}/other` });
  const hp3 = await seedRun({ url: `https://x${host}/only` });
  assert.deepEqual(await client.cancel({ filter: { host, path: '/only' } }), { cancelled: 1 });
  assert.equal(await st(hp1), 'RUN_CANCELED');
  assert.equal(await st(hp2), 'RUN_STARTED');
  assert.equal(await st(hp3), 'RUN_STARTED');

  const D = `https://dates-${uid()}.example/`;
  const d1 = await seedRun({ url: D, createdAt: 1000 });
  const d2 = await seedRun({ url: D, createdAt: 2000 });
  const d3 = await seedRun({ url: D, createdAt: 3000 });
  assert.deepEqual(await client.cancel({
    filter: { workflowUrlStartingWith: D, fromDate: 1500, toDate: new Date(2500) },
  }), { cancelled: 1 });
  assert.deepEqual([await st(d1), await st(d2), await st(d3)],
    ['RUN_STARTED', 'RUN_CANCELED', 'RUN_STARTED']);

  // all, newest first, `count` per call: far-future runs are the newest.
  const far = Date.now() + 1e9;
  const n1 = await seedRun({ createdAt: far + 1 });
  const n2 = await seedRun({ createdAt: far + 2 });
  const n3 = await seedRun({ createdAt: far + 3 });
  assert.deepEqual(await client.cancel({ all: true, count: 2 }), { cancelled: 2 });
  assert.deepEqual([await st(n1), await st(n2), await st(n3)],
    ['RUN_STARTED', 'RUN_CANCELED', 'RUN_CANCELED']);

  // raw form: repeated workflowRunIds
  const raw = await stack.api('DELETE',
    `/v2/workflows/runs?workflowRunIds=${n1.id}&workflowRunIds=${d1.id}&workflowRunIds=${d3.id}`);
  assert.equal(raw.status, 200, raw.text);
  assert.deepEqual(raw.json, { cancelled: 3 });
  const bad = await stack.api('DELETE', '/v2/workflows/runs?fromDate=yesterday');
  assert.equal(bad.status, 400);
  assert.match(bad.json.error, /fromDate/);
});

/* ---------------- GET /v2/workflows/events (client.logs) ----------------- */

const steps5 = () => [
  { step: { stepId: 1, stepName: 'first', stepType: 'Run', out: '"one"', concurrent: 1 } },
  { step: { stepId: 0, stepName: 'p1', stepType: 'Run', concurrent: 2, targetStep: 2 } },
  { step: { stepId: 0, stepName: 'p2', stepType: 'Run', concurrent: 2, targetStep: 3 } },
  { step: { stepId: 3, stepName: 'p2', stepType: 'Run', out: '"b"', concurrent: 2 } },
  { step: { stepId: 2, stepName: 'p1', stepType: 'Run', out: '"a"', concurrent: 2 } },
  { step: { stepId: 4, stepName: 'nap', stepType: 'SleepFor', sleepFor: 1, concurrent: 1 } },
];

test('client.logs shows a run: init, sequential and parallel steps, deliveries in flight, then its result', async () => {
  const t = Date.now();
  const run = await seedRun({
    payload: '{"hello":"world"}', label: 'team-a, team-b', retryDelay: '1000', steps: steps5(),
    next: {
      msg_old: { stepName: 'x', state: 'STEP_PROGRESS', retries: 3, createdAt: t + 50 },
      msg_next: {
        stepName: 'last', stepType: 'Run', state: 'STEP_RETRY', retries: 3, createdAt: t + 10,
        errors: [{ error: 'HTTP 500', body: 'boom', headers: { 'X-A': ['1'] }, status: 500, time: t + 20 }],
      },
    },
  });
  const { runs, cursor } = await client.logs({ workflowRunId: run.id });
  assert.equal(cursor, undefined);
  assert.equal(runs.length, 1);
  const log = runs[0];
  assert.equal(log.workflowRunId, run.id);
  assert.equal(log.workflowUrl, run.url);
  assert.equal(log.workflowState, 'RUN_STARTED');
  assert.equal(log.workflowRunCreatedAt, run.createdAt);
  assert.equal(log.workflowRunCompletedAt, undefined);
  assert.deepEqual(log.labels, ['team-a', 'team-b']);
  assert.equal(log.label, 'team-a');
  assert.deepEqual(log.steps.map((g) => [g.type, g.steps.length]),
    [['sequential', 1], ['sequential', 1], ['parallel', 2], ['sequential', 1], ['next', 2]]);
  const init = log.steps[0].steps[0];
  assert.equal(init.stepName, 'init');
  assert.equal(init.stepType, 'Initial');
  assert.equal(init.out, '{"hello":"world"}');
  assert.equal(init.state, 'STEP_SUCCESS');
  assert.equal(init.messageId, `msg_${run.id}_0`);
  assert.equal(init.createdAt, run.createdAt);
  const first = log.steps[1].steps[0];
  assert.deepEqual(
    { id: first.stepId, name: first.stepName, type: first.stepType, out: first.out,
      c: first.concurrent, state: first.state, msg: first.messageId, call: first.callType,
      retries: first.retries, delay: first.retryDelay },
    { id: 1, name: 'first', type: 'Run', out: '"one"', c: 1, state: 'STEP_SUCCESS',
      msg: `msg_${run.id}_1`, call: 'step', retries: 3, delay: '1000' });
  assert.deepEqual(log.steps[2].steps.map((s) => [s.stepName, s.out, s.concurrent]),
    [['p2', '"b"', 2], ['p1', '"a"', 2]]);
  assert.ok(log.steps[2].steps.every((s) => s.targetStep === undefined));
  assert.equal(log.steps[3].steps[0].sleepFor, 1);
  const next = log.steps[4].steps;
  assert.deepEqual(next.map((s) => [s.messageId, s.state]),
    [['msg_next', 'STEP_RETRY'], ['msg_old', 'STEP_PROGRESS']], 'oldest first');
  assert.deepEqual(next[0].errors, [{ error: 'HTTP 500', body: 'boom', headers: { 'X-A': ['1'] }, status: 500, time: t + 20 }]);
  assert.equal(next[0].retries, 3);

  // serve() ends it: the result shows, the in-flight group is gone.
  assert.equal((await stack.api('DELETE', `/v2/workflows/runs/${run.id}?cancel=false`,
    { body: '"all done"' })).status, 200);
  const [ended] = (await client.logs({ workflowRunId: run.id })).runs;
  assert.equal(ended.workflowState, 'RUN_SUCCESS');
  assert.equal(ended.workflowRunResponse, '"all done"');
  assert.ok(ended.workflowRunCompletedAt >= run.createdAt);
  assert.deepEqual(ended.steps.map((g) => g.type), ['sequential', 'sequential', 'parallel', 'sequential']);
});

test('client.logs of a failed run carries its dlqId, failed step and failureFunction section', async () => {
  const t = Date.now();
  const runId = `wfr_failed_${uid()}`;
  const dlqId = await seedDlq({
    messageId: `msg_${runId}_1`, url: `${ep.url}/wf`, workflowRunId: runId,
    workflowUrl: `${ep.url}/wf`, workflowCreatedAt: String(t), responseStatus: '500',
    responseBody: 'step exploded', responseHeader: JSON.stringify({ 'X-Trace': ['t1'] }),
    failureCallback: `${ep.url}/wf`, callbackState: 'CALLBACK_FAIL', callbackMessageId: 'msg_cb1',
    callbackResponseStatus: '502', callbackResponseBody: 'failure function threw',
    callbackResponseHeader: JSON.stringify({ 'Content-Type': ['text/plain'] }),
    callbackUpdatedAt: String(t + 99),
  });
  await seedRun({
    id: runId, createdAt: t, state: 'RUN_FAILED', dlqId, completedAt: t + 500,
    next: {
      [`msg_${runId}_1`]: {
        stepName: 'explode', state: 'STEP_FAILED', retries: 0, createdAt: t + 1,
        errors: [{ error: 'HTTP 500', body: 'step exploded', headers: {}, status: 500, time: t + 2 }],
      },
    },
  });
  const [log] = (await client.logs({ workflowRunId: runId })).runs;
  assert.equal(log.workflowState, 'RUN_FAILED');
  assert.equal(log.dlqId, dlqId);
  assert.equal(log.workflowRunCompletedAt, t + 500);
  assert.deepEqual(log.failureFunction, {
    messageId: 'msg_cb1', url: `${ep.url}/wf`, state: 'CALLBACK_FAIL',
    failStatus: 500, failResponse: 'step exploded', failHeaders: { 'X-Trace': ['t1'] },
    dlqId, responseStatus: 502, responseBody: 'failure function threw',
    responseHeaders: { 'Content-Type': ['text/plain'] },
    errors: [{ error: 'HTTP 502', body: 'failure function threw',
      headers: { 'Content-Type': ['text/plain'] }, status: 502, time: t + 99 }],
  });
  const last = log.steps[log.steps.length - 1];
  assert.equal(last.type, 'next');
  assert.equal(last.steps[0].state, 'STEP_FAILED');
  assert.equal(last.steps[0].errors[0].body, 'step exploded');
});

test('client.logs pages newest first with a cursor and filters by state, url, label, dates and messageId', async () => {
  const tag = `page-${uid()}`;
  const P = `https://logs-${uid()}.example/`;
  const T = Date.now() - 100000;
  const runs = [];
  for (let i = 1; i <= 5; i++) {
    runs.push(await seedRun({
      url: `${P}r${i}`, createdAt: T + i, label: i % 2 ? `${tag},odd` : tag,
      state: i === 2 ? 'RUN_SUCCESS' : i === 5 ? 'RUN_CANCELED' : 'RUN_STARTED',
      callerIP: i === 3 ? '10.9.9.9' : '127.0.0.1', fcKey: i === 4 ? `fc-${tag}` : undefined,
      steps: [{ step: { stepId: 1, stepName: 's', stepType: 'Run', out: `"${i}"`, concurrent: 1 } }],
      next: i === 2 ? { [`msg_pending_${tag}`]: { state: 'STEP_PROGRESS', retries: 1 } } : {},
    }));
  }
  const ids = (res) => res.runs.map((x) => runs.findIndex((y) => y.id === x.workflowRunId) + 1);

  const p1 = await client.logs({ count: 2, filter: { label: tag } });
  assert.deepEqual(ids(p1), [5, 4]);
  assert.ok(p1.cursor, 'a cursor while there is more');
  const p2 = await client.logs({ count: 2, cursor: p1.cursor, filter: { label: tag } });
  assert.deepEqual(ids(p2), [3, 2]);
  const p3 = await client.logs({ count: 2, cursor: p2.cursor, filter: { label: tag } });
  assert.deepEqual(ids(p3), [1]);
  assert.equal(p3.cursor, undefined, 'no cursor on the last page');

  const q = async (filter) => ids(await client.logs({ filter: { label: tag, ...filter } }));
  assert.deepEqual(await q({ state: 'RUN_STARTED' }), [4, 3, 1]);
  assert.deepEqual(await q({ label: 'odd', workflowUrl: `${P}r3` }), [3]);
  assert.deepEqual(await q({ workflowUrl: P }), [], 'workflowUrl is exact for the logs');
  assert.deepEqual(await q({ fromDate: T + 2, toDate: new Date(T + 3) }), [3, 2]);
  assert.deepEqual(await q({ workflowCreatedAt: T + 1 }), [1]);
  assert.deepEqual(await q({ callerIp: '10.9.9.9' }), [3]);
  assert.deepEqual(await q({ flowControlKey: `fc-${tag}` }), [4]);
  assert.deepEqual(await q({ messageId: `msg_${runs[3].id}_1` }), [4], 'a recorded step');
  assert.deepEqual(await q({ messageId: `msg_pending_${tag}` }), [2], 'a delivery in flight');
  assert.deepEqual(await q({ host: new URL(P).host, path: '/r1' }), [1]);
  assert.equal((await client.logs({ count: 500, filter: { label: tag } })).runs.length, 5);
  assert.deepEqual((await client.logs({ workflowRunId: 'wfr_never' })).runs, []);

  const zero = await stack.api('GET', '/v2/workflows/events?groupBy=workflowRunId&count=0');
  assert.equal(zero.status, 400);
  const grp = await stack.api('GET', '/v2/workflows/events?groupBy=messageId');
  assert.equal(grp.status, 400);
  const cur = await stack.api('GET', '/v2/workflows/events?cursor=garbage');
  assert.equal(cur.status, 400);
});

/* ---------------- DLQ: source=workflow, flowControlKey ------------------- */

let plainDlqId;

test('client.logs with more than 100 workflowRunId values is a 400', async () => {
  const q = Array.from({ length: 101 }, (_, i) => `workflowRunId=wfr_${i}`).join('&');
  const res = await stack.api('GET', `/v2/workflows/events?groupBy=workflowRunId&${q}`);
  assert.equal(res.status, 400, res.text);
  assert.match(res.json.error, /at most 100/);
});

test('GET /v2/dlq?source=workflow lists workflow entries only; flowControlKey filters entries', async () => {
  const fck = `fck-${uid()}`;
  const mid = await stack.publish(`${ep.url}/fail/plain`, 'plain', {
    'Upstash-Retries': '0', 'Upstash-Flow-Control-Key': fck,
    'Upstash-Flow-Control-Value': 'parallelism=5',
  });
  const plain = await stack.waitDlq(mid, { timeout: 30000 });
  plainDlqId = plain.dlqId;
  const runId = `wfr_dlqsrc_${uid()}`;
  const wfDlq = await seedDlq({ messageId: `msg_${uid()}`, url: `${ep.url}/wf`,
    workflowRunId: runId, workflowUrl: `${ep.url}/wf`, workflowCreatedAt: String(Date.now()),
    flowControlKey: `wf-${fck}` });

  const wfOnly = await stack.dlqList('source=workflow&count=100');
  assert.ok(wfOnly.some((m) => m.dlqId === wfDlq));
  assert.ok(wfOnly.every((m) => m.workflowRunId), 'only workflow entries');
  const every = await stack.dlqList('count=100');
  assert.ok(every.some((m) => m.dlqId === plainDlqId) && every.some((m) => m.dlqId === wfDlq));
  assert.deepEqual((await stack.dlqList(`flowControlKey=${fck}`)).map((m) => m.dlqId), [plainDlqId],
    'from the stored message');
  assert.deepEqual((await stack.dlqList(`flowControlKey=wf-${fck}`)).map((m) => m.dlqId), [wfDlq],
    'from the entry field');
  const listed = await client.dlq.list({ count: 100 });
  assert.ok(listed.messages.some((m) => m.dlqId === wfDlq));
  assert.ok(listed.messages.every((m) => m.workflowRunId));
  const exact = await stack.api('GET', `/v2/dlq?workflowUrl=${encodeURIComponent(`${ep.url}/wf`)}&workflowUrlExactMatch=true`);
  assert.equal(exact.status, 200);
});

/* ---------------- DLQ resume / restart ----------------------------------- */

/** A run created through the real publish path with two recorded steps;
 *  returns {runId, createdAt, stepIds: [msgId1, msgId2]}. */
async function realRun(path) {
  const wfUrl = `${ep.url}${path}`;
  const runId = `wfr_real_${uid()}`;
  const trig = await stack.api('POST', `/v2/trigger/${wfUrl}`, {
    headers: { 'Upstash-Workflow-RunId': runId, 'Content-Type': 'application/json' },
    body: '{"start":1}',
  });
  assert.equal(trig.status, 200, trig.text);
  assert.equal(trig.json.workflowRunId, runId);
  await waitFor(() => ep.requests.some((q) => hdr(q, 'upstash-workflow-runid') === runId),
    { message: `init delivery of ${runId}` });
  const stepIds = [];
  for (const id of [1, 2]) {
    const pub = await stack.api('POST', `/v2/publish/${wfUrl}`, {
      headers: {
        'Upstash-Workflow-RunId': runId, 'Upstash-Workflow-Url': wfUrl,
        'Upstash-Workflow-CallType': 'step', 'Content-Type': 'application/json',
        'Upstash-Forward-Upstash-Workflow-Sdk-Version': '1',
      },
      body: JSON.stringify({ stepId: id, stepName: `s${id}`, stepType: 'Run', out: `"o${id}"`, concurrent: 1 }),
    });
    assert.equal(pub.status, 200, pub.text);
    stepIds.push(pub.json.messageId);
    await waitFor(() => ep.requests.some((q) => hdr(q, 'upstash-workflow-runid') === runId &&
      q.text.includes(pub.json.messageId)), { message: `delivery of step ${id}` });
  }
  return { runId, wfUrl, createdAt: trig.json.workflowCreatedAt, stepIds };
}

/** Marks the run failed at its second step with a DLQ entry; returns the dlqId. */
async function failAt(run, msgId = run.stepIds[1]) {
  await r('HSET', wfKey('run', run.runId), 'state', 'RUN_FAILED', 'completedAt', String(Date.now()));
  return seedDlq({ messageId: msgId, url: run.wfUrl, workflowRunId: run.runId,
    workflowUrl: run.wfUrl, workflowCreatedAt: String(run.createdAt), responseStatus: '500' });
}

/** The first delivery of run "id" to the endpoint (polls). */
const deliveryOf = (id) => waitFor(() => ep.requests.find((q) => hdr(q, 'upstash-workflow-runid') === id),
  { message: `a delivery of ${id}` });

test('client.dlq.resume continues a failed run from its failed step; restart starts it over', async () => {
  const run = await realRun('/wf-resume');
  const dlq1 = await failAt(run);
  const resumed = await client.dlq.resume(dlq1, { retries: 5 });
  assert.equal(resumed.workflowRuns.length, 1);
  const { workflowRunId: newId, workflowCreatedAt } = resumed.workflowRuns[0];
  assert.notEqual(newId, run.runId);
  assert.ok(workflowCreatedAt >= run.createdAt);
  const h = await runHash(newId);
  assert.equal(h.state, 'RUN_STARTED');
  assert.equal(h.retries, '5');
  assert.equal(h.workflowUrl, run.wfUrl);
  const d = await deliveryOf(newId);
  const body = JSON.parse(d.text);
  assert.equal(body.length, 3, 'init + the completed step + the failed step again');
  assert.equal(Buffer.from(body[0].body, 'base64').toString(), '{"start":1}');
  assert.equal(JSON.parse(Buffer.from(body[1].body, 'base64')).out, '"o1"');
  assert.equal(JSON.parse(Buffer.from(body[2].body, 'base64')).stepId, 2);
  assert.equal((await stack.api('GET', `/v2/dlq/${dlq1}`)).status, 404, 'the entry is gone');

  const dlq2 = await failAt(run);
  const restarted = await client.dlq.restart([dlq2]);
  const rid = restarted.workflowRuns[0].workflowRunId;
  const rbody = JSON.parse((await deliveryOf(rid)).text);
  assert.equal(rbody.length, 1, 'from the initial payload only');
  assert.equal(Buffer.from(rbody[0].body, 'base64').toString(), '{"start":1}');
  assert.equal((await stack.api('GET', `/v2/dlq/${dlq2}`)).status, 404);

  // the deprecated object form answers the one run
  const dlq3 = await failAt(run);
  const one = await client.dlq.resume({ dlqId: dlq3 });
  assert.ok(one.workflowRunId && one.workflowRunId !== run.runId);
  await deliveryOf(one.workflowRunId);

  // by filter: only the entries of that run
  const dlq4 = await failAt(run);
  const byFilter = await client.dlq.restart({ filter: { workflowRunId: run.runId } });
  assert.equal(byFilter.workflowRuns.length, 1);
  assert.equal((await stack.api('GET', `/v2/dlq/${dlq4}`)).status, 404);

  // the /{dlqId} routes answer the one object
  const dlq5 = await failAt(run);
  const single = await stack.api('POST', `/v2/workflows/dlq/resume/${dlq5}`,
    { headers: { 'Upstash-Flow-Control-Key': 'resumed-fc', 'Upstash-Flow-Control-Value': 'parallelism=2' } });
  assert.equal(single.status, 200, single.text);
  assert.ok(single.json.workflowRunId);
  assert.equal(typeof single.json.workflowCreatedAt, 'number');
  assert.equal((await runHash(single.json.workflowRunId)).flowControlKey, 'resumed-fc');
  const dlq6 = await failAt(run);
  const single2 = await stack.api('POST', `/v2/workflows/dlq/restart/${dlq6}`);
  assert.equal(single2.status, 200, single2.text);
  assert.ok(single2.json.workflowRunId);
});

test('resume and restart refuse unknown entries, non-workflow entries, bad headers and vanished runs', async () => {
  await assert.rejects(client.dlq.resume('dlq_missing'), (e) => e.status === 404);
  const missing = await stack.api('POST', '/v2/workflows/dlq/restart/dlq_missing');
  assert.equal(missing.status, 404);
  assert.ok(plainDlqId, 'the plain entry of the source=workflow test');
  const plain = await stack.api('POST', `/v2/workflows/dlq/resume?dlqIds=${plainDlqId}`);
  assert.equal(plain.status, 400);
  assert.match(plain.json.error, /not a workflow run/);
  assert.equal((await stack.api('GET', `/v2/dlq/${plainDlqId}`)).status, 200, 'left alone');
  const badRetries = await stack.api('POST', `/v2/workflows/dlq/resume?dlqIds=${plainDlqId}`,
    { headers: { 'Upstash-Retries': 'lots' } });
  assert.equal(badRetries.status, 400);
  const gone = await seedDlq({ messageId: 'msg_gone', url: `${ep.url}/wf`,
    workflowRunId: `wfr_gone_${uid()}`, workflowUrl: `${ep.url}/wf` });
  const res = await stack.api('POST', `/v2/workflows/dlq/restart?dlqIds=${gone}`);
  assert.equal(res.status, 404, res.text);
  assert.equal((await stack.api('GET', `/v2/dlq/${gone}`)).status, 200, 'kept: nothing was made');
});

/* ---------------- expiry sweep ------------------------------------------- */

test('the expiry sweep deletes finished runs when due, schedules failed ones, never touches a running one', async () => {
  const ended = await seedRun({ next: { m1: { state: 'STEP_PROGRESS' } } });
  assert.equal((await stack.api('DELETE', `/v2/workflows/runs/${ended.id}?cancel=true`)).status, 200);
  await r('ZADD', stack.key('{wf}:expire'), String(Date.now() - 1), ended.id); // retention over
  const oldFail = await seedRun({ state: 'RUN_FAILED' });
  await r('ZADD', stack.key('{wf}:failed'), String(Date.now() - RETENTION_S * 1000 - 5000), oldFail.id);
  const newFail = await seedRun({ state: 'RUN_FAILED' });
  const failedAt = Date.now();
  await r('ZADD', stack.key('{wf}:failed'), String(failedAt), newFail.id);
  const live = await seedRun();
  await r('ZADD', stack.key('{wf}:expire'), '1', live.id); // a stray entry

  const gone = async (id) => (await r('EXISTS', wfKey('run', id), wfKey('steps', id),
    wfKey('stepidx', id), wfKey('next', id))) === 0 &&
    (await r('ZSCORE', stack.key('{wf}:runs'), id)) === null;
  await waitFor(async () => (await gone(ended.id)) && (await gone(oldFail.id)),
    { timeout: 20000, message: 'expired runs deleted by the sweep' });
  assert.equal(await r('ZSCORE', stack.key('{wf}:expire'), ended.id), null);
  assert.equal(await r('ZSCORE', stack.key('{wf}:failed'), newFail.id), null);
  assert.equal(Number(await r('ZSCORE', stack.key('{wf}:expire'), newFail.id)),
    failedAt + RETENTION_S * 1000, 'failed run scheduled a retention after its failure');
  assert.equal((await runHash(newFail.id)).state, 'RUN_FAILED');
  assert.equal((await runHash(live.id)).state, 'RUN_STARTED', 'a running run is never deleted');
  assert.equal(await r('ZSCORE', stack.key('{wf}:expire'), live.id), null);
  assert.equal((await stack.api('GET', `/v2/workflows/runs/${ended.id}`)).status, 404);
  assert.deepEqual((await client.logs({ workflowRunId: ended.id })).runs, []);
});
