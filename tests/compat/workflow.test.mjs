// workflow.test.mjs - unmodified @upstash/workflow 1.3.3 endpoints run on
// stepflow.  The workflows are `serve()` routes of a real express app
// (compat/lib/wfapp.mjs) pointed at the coordinator with QSTASH_URL /
// QSTASH_TOKEN; runs are triggered, watched, cancelled and repaired with the
// SDK's own Client (baseUrl = the coordinator).  Real redis-server, real
// coordinator and workers (integration/lib/stack.mjs), no mocks; every wait
// polls with a deadline.
//
// The numbers follow issue 3's list of tests that must exist; 8 is in
// workflow_signing.test.mjs, 9 in workflow_crash.test.mjs.
//   1  three steps + logs; 1b lazy fetch; 1c a duplicate delivery;
//      1d POST /v2/trigger and trigger delay
//   2  parallel steps, sleep, sleepUntil; 2b flowControl
//   3  context.call, success and failure
//   4  a step that always throws: attempts, RUN_FAILED, DLQ, failureFunction;
//      4b failureUrl elsewhere; 4c WorkflowNonRetryableError (489);
//      4d labels and the failing step in the logs
//   5  a failureFunction that always throws: CALLBACK_FAIL, retryFailureFunction;
//      5b its section in client.logs
//   6  dlq.resume / restart / delete by filter; 6b, 6c resume after a
//      failed parallel branch (sibling recorded / sibling still running)
//   7  cancel by id, by URL filter and all; 7b context.cancel()
//   10 bad input
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { Client, WorkflowNonRetryableError } from '@upstash/workflow';
import { startStack, endpoint, waitFor, sleep, test } from '../integration/lib/stack.mjs';
import { startWorkflowApp, reqHeader, isFailureCall, repairRoute } from './lib/wfapp.mjs';
import {
  runLog, waitRunState, parseOut, loggedSteps, dlqOf, waitDlq, mapHeader, uid, counter,
} from './lib/wf.mjs';

/** Most requests open at the same time among recorded app requests. */
function maxConcurrent(reqs) {
  let peak = 0;
  for (const r of reqs) {
    const open = reqs.filter((o) => o.at <= r.at && r.at < (o.doneAt ?? Infinity)).length;
    peak = Math.max(peak, open);
  }
  return peak;
}

describe('workflow runs with serve() and Client (SDK 1.3.3)', () => {
  let stack, app, client, callEp;
  before(async () => {
    stack = await startStack({ workers: 2 });
    app = await startWorkflowApp({ env: { QSTASH_URL: stack.url, QSTASH_TOKEN: stack.token } });
    client = new Client({ baseUrl: stack.url, token: stack.token, retry: false });
    // The third-party API the workflows reach with context.call.
    callEp = await endpoint((req) => {
      if (req.path === '/api/ok') {
        return {
          status: 200,
          headers: { 'Content-Type': 'application/json', 'X-Api': 'ok' },
          body: JSON.stringify({ answer: 42, echo: JSON.parse(req.text || 'null') }),
        };
      }
      return { status: 503, body: 'backend down' };
    });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (app) await app.close();
    if (callEp) await callEp.close();
  });

  test('1. three sequential steps: outputs flow, RUN_SUCCESS, client.logs shows it', async () => {
    const seen = { s1: [], s2: [], s3: [] };
    const url = app.route('/three', async (context) => {
      const input = context.requestPayload;
      const a = await context.run('step-1', () => {
        seen.s1.push({ input, header: context.headers.get('x-compat'), labels: context.labels });
        return input.n + 1;
      });
      const b = await context.run('step-2', () => { seen.s2.push(a); return { doubled: a * 2 }; });
      const c = await context.run('step-3', () => { seen.s3.push(b); return `result:${b.doubled + 1}`; });
      return { a, b, c };
    });
    const id = `three-${uid()}`;
    const t0 = Date.now();
    const { workflowRunId } = await client.trigger({
      url, body: { n: 5 }, workflowRunId: id, label: 'compat-three',
      headers: { 'X-Compat': 'yes' },
    });
    assert.equal(workflowRunId, `wfr_${id}`);

    const log = await waitRunState(client, stack, workflowRunId, 'RUN_SUCCESS');
    // Each step ran once and got the previous step's output.
    assert.deepEqual(seen.s1, [{ input: { n: 5 }, header: 'yes', labels: ['compat-three'] }]);
    assert.deepEqual(seen.s2, [6]);
    assert.deepEqual(seen.s3, [{ doubled: 12 }]);
    // The run's result, as DELETE /v2/workflows/runs/{id}?cancel=false kept it.
    assert.deepEqual(JSON.parse(log.workflowRunResponse), { a: 6, b: { doubled: 12 }, c: 'result:13' });
    assert.equal(log.workflowUrl, url);
    assert.equal(log.label, 'compat-three');
    assert.ok(log.workflowRunCreatedAt >= t0 - 1000 && log.workflowRunCreatedAt <= Date.now(),
      `workflowRunCreatedAt ${log.workflowRunCreatedAt}`);
    assert.ok(log.workflowRunCompletedAt >= log.workflowRunCreatedAt, 'workflowRunCompletedAt');
    assert.ok(!log.dlqId, 'no dlqId on a successful run');
    // Steps in the log: init + the three results, each once, in order.
    const steps = loggedSteps(log);
    assert.deepEqual(steps.map((s) => s.stepName), ['init', 'step-1', 'step-2', 'step-3']);
    assert.deepEqual(parseOut(steps[0].out), { n: 5 });
    assert.deepEqual(steps.slice(1).map((s) => parseOut(s.out)), [6, { doubled: 12 }, 'result:13']);
    assert.deepEqual(steps.slice(1).map((s) => s.stepType), ['Run', 'Run', 'Run']);
    assert.ok(steps.every((s) => s.state === 'STEP_SUCCESS'), JSON.stringify(steps.map((s) => s.state)));
    assert.ok(!log.steps.some((g) => g.type === 'next'), 'nothing left in flight');

    // What the endpoint got: 4 deliveries (init + one per step), each with
    // the run's steps so far inline, all answered 200.
    const reqs = app.to('/three');
    assert.equal(reqs.length, 4, `deliveries: ${reqs.map((r) => r.raw.length)}`);
    reqs.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal(reqHeader(r, 'Upstash-Workflow-RunId'), workflowRunId);
      assert.match(reqHeader(r, 'Upstash-Message-Id') || '', /^msg_/);
      const items = JSON.parse(r.raw);
      assert.equal(items.length, i + 1, `delivery ${i} carries ${i + 1} steps`);
      assert.deepEqual(JSON.parse(Buffer.from(items[0].body, 'base64').toString()), { n: 5 });
      assert.equal(reqHeader(r, 'Upstash-Workflow-CreatedAt'), String(log.workflowRunCreatedAt));
    });

    // The run is listed by the state and URL filters too.
    const byState = await client.logs({ filter: { state: 'RUN_SUCCESS', workflowUrl: url } });
    assert.ok(byState.runs.some((r) => r.workflowRunId === workflowRunId), 'logs by state + url');
    const byLabel = await client.logs({ filter: { label: 'compat-three' } });
    assert.deepEqual(byLabel.runs.map((r) => r.workflowRunId), [workflowRunId], 'logs by label');
    const byCreated = await client.logs({ filter: { workflowCreatedAt: log.workflowRunCreatedAt } });
    assert.ok(byCreated.runs.some((r) => r.workflowRunId === workflowRunId), 'logs by workflowCreatedAt');
    const other = await client.logs({ filter: { state: 'RUN_FAILED', workflowUrl: url } });
    assert.equal(other.runs.length, 0, 'no failed run at that url');
  });

  test('1b. a history over the inline limit is fetched by the SDK (empty body, lazy fetch)', async () => {
    // A second coordinator on the same Redis that never sends steps inline.
    const lazyCoord = await stack.startCoordinator({ STEPFLOW_WORKFLOW_INLINE_BYTES: '0' });
    const lazyApp = await startWorkflowApp({ env: { QSTASH_URL: lazyCoord.url, QSTASH_TOKEN: stack.token } });
    try {
      const lazyClient = new Client({ baseUrl: lazyCoord.url, token: stack.token, retry: false });
      const big = 'x'.repeat(3000);
      const url = lazyApp.route('/lazy', async (context) => {
        const a = await context.run('l-1', () => `${context.requestPayload.tag}:${big.length}`);
        const b = await context.run('l-2', () => `${a}+2`);
        return b;
      });
      const { workflowRunId } = await lazyClient.trigger({ url, body: { tag: 'lz' } });
      const log = await waitRunState(client, stack, workflowRunId, 'RUN_SUCCESS');
      assert.equal(JSON.parse(log.workflowRunResponse), 'lz:3000+2');
      const reqs = lazyApp.to('/lazy');
      assert.equal(reqs.length, 3, 'init + 2 steps');
      assert.ok(reqs.every((r) => r.status === 200), JSON.stringify(reqs.map((r) => [r.status, r.reply])));
      assert.ok(reqs.slice(1).every((r) => r.raw === ''), 'step deliveries had an empty body');

      // A failing lazy run: the failure callback still carries the initial
      // payload (sourceBody), so context.requestPayload is right.
      const failures = [];
      const furl = lazyApp.route('/lazyfail', async (context) => {
        await context.run('lf-1', () => big.length);
        await context.run('lf-2', () => { throw new Error('lazy boom'); });
      }, { failureFunction: async ({ context, failResponse }) => {
        failures.push({ payload: context.requestPayload, failResponse });
      } });
      const f = await lazyClient.trigger({ url: furl, body: { tag: 'lazy-fail' }, retries: 0 });
      await waitRunState(client, stack, f.workflowRunId, 'RUN_FAILED');
      await waitFor(() => failures.length === 1, { message: 'failure function of the lazy run' });
      assert.deepEqual(failures[0], { payload: { tag: 'lazy-fail' }, failResponse: 'lazy boom' });
    } finally {
      await lazyApp.close();
    }
  });

  test('1c. a duplicate delivery (at-least-once) re-runs a step but it is recorded once', async () => {
    const ran = counter();
    const url = app.route('/dup', async (context) => {
      const a = await context.run('d-1', () => { ran.bump('1'); return 'A'; });
      await context.sleep('d-nap', 2);
      return await context.run('d-2', () => { ran.bump('2'); return `${a}B`; });
    });
    const { workflowRunId } = await client.trigger({ url, body: { d: 1 } });
    // init and the d-1 result delivered (the latter schedules the sleep).
    await waitFor(() => app.to('/dup').filter((r) => r.status === 200).length >= 2,
      { message: 'first two deliveries answered' });
    assert.equal(ran.get('1'), 1);
    // The engine delivers the first message again, as after a lost ack.
    const first = app.to('/dup')[0];
    const headers = Object.fromEntries(Object.entries(first.headers)
      .filter(([k]) => k === 'content-type' || k.startsWith('upstash-')));
    const replay = await fetch(url, { method: 'POST', headers, body: first.raw });
    assert.equal(replay.status, 200, await replay.text());
    assert.equal(ran.get('1'), 2, 'the replay ran d-1 again (and published its result again)');

    const log = await waitRunState(client, stack, workflowRunId, 'RUN_SUCCESS');
    assert.equal(JSON.parse(log.workflowRunResponse), 'AB');
    assert.equal(ran.get('2'), 1);
    assert.deepEqual(loggedSteps(log).map((s) => s.stepName), ['init', 'd-1', 'd-nap', 'd-2']);
    await stack.waitIdle();
    // init, d-1, d-nap, d-2 from the engine + the replay: the second d-1
    // result started nothing.
    assert.equal(app.to('/dup').length, 5, JSON.stringify(app.to('/dup').map((r) => r.raw.length)));
  });

  test('1d. POST /v2/trigger/{url} starts a run like client.trigger()', async () => {
    const url = app.route('/rawtrigger', async (context) => {
      const h = await context.run('t-1', () => context.headers.get('x-from'));
      return { payload: context.requestPayload, h };
    });
    const r = await stack.api('POST', `/v2/trigger/${url}`, {
      body: JSON.stringify({ hello: 'trigger' }),
      headers: { 'Content-Type': 'application/json', 'Upstash-Forward-X-From': 'raw', 'Upstash-Label': 'raw-trigger' },
    });
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.workflowRunId, /^wfr_/);
    assert.ok(r.json.workflowCreatedAt > 0, r.text);
    const log = await waitRunState(client, stack, r.json.workflowRunId, 'RUN_SUCCESS');
    assert.deepEqual(JSON.parse(log.workflowRunResponse),
      { payload: { hello: 'trigger' }, h: 'raw' });
    assert.equal(log.label, 'raw-trigger');

    // client.trigger's `delay`: the first delivery waits.
    const t0 = Date.now();
    const delayed = await client.trigger({ url, body: { hello: 'later' }, delay: 2 });
    const dLog = await waitRunState(client, stack, delayed.workflowRunId, 'RUN_SUCCESS');
    assert.deepEqual(JSON.parse(dLog.workflowRunResponse).payload, { hello: 'later' });
    const first = app.to('/rawtrigger').find((q) => reqHeader(q, 'Upstash-Workflow-RunId') === delayed.workflowRunId);
    assert.ok(first.at - t0 >= 2000, `delay 2s honoured (${first.at - t0} ms)`);
  });

  test('2. parallel steps (Promise.all), a sleep of a second and a sleepUntil', async () => {
    const runs = counter();
    const url = app.route('/parallel', async (context) => {
      const { base } = context.requestPayload;
      const [x, y, z] = await Promise.all(['a', 'b', 'c'].map((k, i) =>
        context.run(`par-${k}`, async () => { runs.bump(k); await sleep(30); return base * (i + 1); })));
      const beforeNap = await context.run('before-nap', () => Date.now());
      await context.sleep('nap', 1);
      const afterNap = await context.run('after-nap', () => Date.now());
      const until = await context.run('until-at', () => Math.floor(Date.now() / 1000) + 2);
      await context.sleepUntil('nap-until', until);
      const woke = await context.run('woke', () => Date.now());
      return { sum: x + y + z, slept: afterNap - beforeNap, late: woke - until * 1000 };
    });
    const { workflowRunId } = await client.trigger({ url, body: { base: 7 } });
    const log = await waitRunState(client, stack, workflowRunId, 'RUN_SUCCESS', { timeout: 40000 });
    assert.deepEqual(['a', 'b', 'c'].map((k) => runs.get(k)), [1, 1, 1], 'each parallel step ran once');
    const res = JSON.parse(log.workflowRunResponse);
    assert.equal(res.sum, 7 + 14 + 21);
    assert.ok(res.slept >= 1000, `context.sleep(1) slept ${res.slept} ms`);
    assert.ok(res.late >= 0, `sleepUntil woke ${res.late} ms after the deadline`);

    const par = log.steps.find((g) => g.type === 'parallel');
    assert.ok(par, `a parallel group in ${JSON.stringify(log.steps.map((g) => g.type))}`);
    assert.deepEqual(par.steps.map((s) => s.stepName).sort(), ['par-a', 'par-b', 'par-c']);
    assert.deepEqual(par.steps.map((s) => parseOut(s.out)).sort((p, q) => p - q), [7, 14, 21]);
    assert.ok(par.steps.every((s) => s.concurrent === 3), 'concurrent = 3');
    const steps = loggedSteps(log);
    const nap = steps.find((s) => s.stepName === 'nap');
    assert.ok(nap && nap.stepType === 'SleepFor', `nap step: ${JSON.stringify(nap)}`);
    const napUntil = steps.find((s) => s.stepName === 'nap-until');
    assert.ok(napUntil && napUntil.stepType === 'SleepUntil', `nap-until step: ${JSON.stringify(napUntil)}`);
    // Every result recorded once.
    const names = steps.map((s) => s.stepName);
    assert.equal(new Set(names).size, names.length, `duplicates in ${names}`);
  });

  test('2b. flowControl on trigger: at most `parallelism` deliveries of the key in flight', async () => {
    const url = app.route('/fc', async (context) => {
      const a = await context.run('fc-1', async () => { await sleep(120); return 1; });
      const b = await context.run('fc-2', async () => { await sleep(120); return a + 1; });
      return b;
    });
    const key = `compat-fc-${uid()}`;
    const runs = await client.trigger(Array.from({ length: 6 }, (_, i) => ({
      url, body: { i }, flowControl: { key, parallelism: 2 },
    })));
    for (const { workflowRunId } of runs) {
      const log = await waitRunState(client, stack, workflowRunId, 'RUN_SUCCESS', { timeout: 40000 });
      assert.equal(JSON.parse(log.workflowRunResponse), 2);
    }
    const reqs = app.to('/fc');
    assert.equal(reqs.length, 6 * 3, 'init + 2 steps per run');
    const peak = maxConcurrent(reqs);
    assert.ok(peak <= 2, `at most 2 deliveries in flight, saw ${peak}`);
    assert.equal(peak, 2, 'the limit was reached (the test exercised it)');
  });

  test('3. context.call to a local HTTP endpoint: success and failure', async () => {
    const url = app.route('/call', async (context) => {
      const { target, retries } = context.requestPayload;
      const res = await context.call('http-call', {
        // CallSettings.body is a string in SDK 1.3.3 (typed and sent as is).
        url: `${callEp.url}${target}`, method: 'POST', body: JSON.stringify({ q: 'ping' }),
        headers: { 'Content-Type': 'application/json', 'X-Call': 'yes' }, retries, retryDelay: '100',
      });
      return await context.run('after-call', () => ({
        status: res.status, body: res.body, api: mapHeader(res.header, 'X-Api') || null,
      }));
    });

    // Success: one call, the response reaches the workflow.
    const ok = await client.trigger({ url, body: { target: '/api/ok', retries: 2 } });
    const okLog = await waitRunState(client, stack, ok.workflowRunId, 'RUN_SUCCESS');
    assert.deepEqual(JSON.parse(okLog.workflowRunResponse),
      { status: 200, body: { answer: 42, echo: { q: 'ping' } }, api: 'ok' });
    const okCalls = callEp.to('/api/ok');
    assert.equal(okCalls.length, 1, 'called once');
    assert.equal(okCalls[0].method, 'POST');
    assert.equal(okCalls[0].headers['x-call'], 'yes');
    assert.equal(okCalls[0].headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(okCalls[0].text), { q: 'ping' });
    const callStep = loggedSteps(okLog).find((s) => s.stepName === 'http-call');
    assert.ok(callStep && callStep.stepType === 'Call', `http-call step: ${JSON.stringify(callStep)}`);

    // Failure: the engine retries the call (1 + 2 attempts), then the
    // workflow continues with the failed response (context.call does not throw).
    const bad = await client.trigger({ url, body: { target: '/api/fail', retries: 2 } });
    const badLog = await waitRunState(client, stack, bad.workflowRunId, 'RUN_SUCCESS');
    assert.deepEqual(JSON.parse(badLog.workflowRunResponse), { status: 503, body: 'backend down', api: null });
    const badCalls = callEp.to('/api/fail');
    assert.equal(badCalls.length, 3, '1 + retries attempts');
    assert.deepEqual(badCalls.map((r) => r.headers['upstash-retried']), ['0', '1', '2']);
    // A failed call is reported to the workflow, not dead-lettered.
    assert.deepEqual(await dlqOf(client, bad.workflowRunId), []);
    // The workflow endpoint got exactly one call-result delivery per run
    // (serve() ignores reports with retried < maxRetries, none should come).
    for (const id of [ok.workflowRunId, bad.workflowRunId]) {
      const reports = app.to('/call').filter((r) => reqHeader(r, 'Upstash-Workflow-RunId') === id &&
        reqHeader(r, 'Upstash-Workflow-Callback') === 'true');
      assert.equal(reports.length, 1, `call reports for ${id}`);
      assert.equal(reports[0].status, 200);
    }
  });

  test('4. a step that always throws with retries: 2: 3 attempts, RUN_FAILED, DLQ entry, failureFunction', async () => {
    const attempts = [];
    const failures = [];
    const url = app.route('/fails', async (context) => {
      await context.run('ok-step', () => 'fine');
      await context.run('bad-step', () => {
        attempts.push(context.retried);
        throw new Error('boom: step exploded');
      });
    }, {
      failureFunction: async ({ context, failStatus, failResponse, failHeaders, failStack }) => {
        failures.push({
          runId: context.workflowRunId, payload: context.requestPayload, url: context.url,
          failStatus, failResponse, failHeaders, failStack,
        });
        return 'failure handled';
      },
    });
    const { workflowRunId } = await client.trigger({
      url, body: { order: 7 }, retries: 2, retryDelay: '100', label: 'compat-fails',
    });
    const log = await waitRunState(client, stack, workflowRunId, 'RUN_FAILED');
    await waitFor(() => failures.length >= 1, { timeout: 20000, message: 'failureFunction called' });
    await stack.waitIdle();

    assert.deepEqual(attempts, [0, 1, 2], 'the step ran 1 + retries times');
    assert.equal(await stack.redis.call('ZSCORE', stack.key('{wf}:running'), workflowRunId), null,
      'a failed run leaves the running index');
    const stepReqs = app.to('/fails').filter((r) => !isFailureCall(r) && r.status === 500);
    assert.equal(stepReqs.length, 3, '3 failed deliveries');

    // The failure function ran once, with what serve() promises.
    assert.equal(failures.length, 1);
    const f = failures[0];
    assert.equal(f.runId, workflowRunId);
    assert.deepEqual(f.payload, { order: 7 }, 'context.requestPayload = the initial payload');
    assert.equal(f.url, url);
    assert.equal(f.failStatus, 500);
    assert.equal(f.failResponse, 'boom: step exploded');
    assert.match(f.failStack, /boom: step exploded/);
    assert.equal(mapHeader(f.failHeaders, 'Upstash-Error-Step-Name'), 'bad-step',
      `failHeaders: ${JSON.stringify(f.failHeaders)}`);

    // The DLQ entry, found by workflowRunId.
    const entries = await dlqOf(client, workflowRunId);
    assert.equal(entries.length, 1, JSON.stringify(entries));
    const e = entries[0];
    assert.equal(e.workflowRunId, workflowRunId);
    assert.equal(e.workflowUrl, url);
    assert.ok(Number(e.workflowCreatedAt) > 0, 'workflowCreatedAt');
    assert.equal(Number(e.responseStatus), 500);
    assert.match(e.responseBody, /boom: step exploded/);
    assert.equal(Number(e.maxRetries), 2);
    assert.equal(e.failureCallback, url, 'failure URL defaults to the workflow URL');
    assert.equal(e.label, 'compat-fails');
    // The other DLQ filters the SDK sends find it too.
    const ids = async (filter) => (await client.dlq.list({ filter })).messages.map((m) => m.dlqId);
    assert.deepEqual(await ids({ workflowUrl: url }), [e.dlqId], 'by workflowUrl');
    assert.ok((await ids({ workflowCreatedAt: Number(e.workflowCreatedAt) })).includes(e.dlqId), 'by workflowCreatedAt');
    assert.ok((await ids({ label: 'compat-fails' })).includes(e.dlqId), 'by label');
    assert.ok((await ids({ fromDate: Date.now() - 60000, toDate: Date.now() + 1000 })).includes(e.dlqId), 'by date range');
    assert.deepEqual(await ids({ fromDate: Date.now() + 3600000 }), [], 'nothing in the future');
    const done = await waitDlq(client, workflowRunId,
      (m) => m.failureCallbackInfo && m.failureCallbackInfo.state === 'CALLBACK_SUCCESS');
    assert.equal(Number(done.failureCallbackInfo.responseStatus), 200);

    // The run's log: failed, with its dlqId, the recorded step and the failed one.
    assert.equal(log.dlqId, e.dlqId);
    assert.deepEqual(loggedSteps(log).map((s) => s.stepName), ['init', 'ok-step']);
    const next = log.steps.find((g) => g.type === 'next');
    assert.ok(next, `a "next" group with the failed step: ${JSON.stringify(log.steps)}`);
    const failedStep = next.steps[0];
    assert.equal(failedStep.state, 'STEP_FAILED');
    assert.equal(failedStep.messageId, e.messageId);
    assert.equal((failedStep.errors || []).length, 3, 'one error per attempt');
    assert.ok(failedStep.errors.every((x) => Number(x.status) === 500 && /boom: step exploded/.test(x.body)));
    const later = await runLog(client, workflowRunId);
    assert.equal(later.failureFunction && later.failureFunction.state, 'CALLBACK_SUCCESS',
      `failureFunction: ${JSON.stringify(later.failureFunction)}`);
    assert.equal(Number(later.failureFunction.failStatus), 500);
  });

  test('4b. failureUrl: the failure callback goes to a plain endpoint in the QStash format', async () => {
    const url = app.route('/fails-elsewhere', async (context) => {
      await context.run('x', () => { throw new Error('elsewhere boom'); });
    });
    const failureUrl = `${callEp.url}/failure-hook`;
    const { workflowRunId } = await client.trigger({
      url, body: { p: 'payload' }, retries: 0, failureUrl, headers: { 'X-User': 'u1' },
    });
    await waitRunState(client, stack, workflowRunId, 'RUN_FAILED');
    const cb = await waitFor(() => callEp.to('/failure-hook')[0], { message: 'failure callback at failureUrl' });
    assert.equal(cb.method, 'POST');
    assert.equal(cb.headers['upstash-workflow-runid'], workflowRunId);
    assert.equal(cb.headers['upstash-workflow-is-failure'], 'true');
    assert.equal(cb.headers['x-user'], 'u1', 'user headers forwarded to the failure callback');
    const body = JSON.parse(cb.text);
    assert.equal(body.status, 500);
    assert.match(Buffer.from(body.body, 'base64').toString(), /elsewhere boom/);
    assert.equal(body.workflowRunId, workflowRunId);
    assert.ok(body.workflowCreatedAt > 0);
    assert.equal(body.url, url);
    assert.deepEqual(JSON.parse(Buffer.from(body.sourceBody, 'base64').toString()), { p: 'payload' });
    const [e] = await dlqOf(client, workflowRunId);
    assert.equal(e.failureCallback, failureUrl);
    assert.equal(body.dlqId, e.dlqId);
    // The workflow endpoint itself got no failure call.
    assert.equal(app.to('/fails-elsewhere').filter(isFailureCall).length, 0);
  });

  test('4c. WorkflowNonRetryableError (489) fails the run at the first attempt', async () => {
    let attempts = 0;
    const failures = [];
    const url = app.route('/nonretry', async (context) => {
      await context.run('nr', () => { attempts++; throw new WorkflowNonRetryableError('do not retry me'); });
    }, { failureFunction: async ({ failStatus, failResponse }) => { failures.push({ failStatus, failResponse }); } });
    const { workflowRunId } = await client.trigger({ url, body: {}, retries: 3, retryDelay: '100' });
    await waitRunState(client, stack, workflowRunId, 'RUN_FAILED');
    await waitFor(() => failures.length === 1, { message: 'failureFunction after a 489' });
    await stack.waitIdle();
    assert.equal(attempts, 1, 'no retry after 489');
    assert.deepEqual(failures, [{ failStatus: 489, failResponse: 'do not retry me' }]);
    const [e] = await dlqOf(client, workflowRunId);
    assert.equal(Number(e.responseStatus), 489);
  });

  test('4d. details of a failed run: two labels, the failing step in the log\'s "next" group', async () => {
    const url = app.route('/fails-detail', async (context) => {
      await context.run('fine-step', () => 'fine');
      await context.run('broken-step', () => { throw new Error('detail boom'); });
    });
    const { workflowRunId } = await client.trigger({
      url, body: {}, retries: 2, retryDelay: '100', label: ['first-label', 'second-label'],
    });
    const log = await waitRunState(client, stack, workflowRunId, 'RUN_FAILED');
    const e = await waitDlq(client, workflowRunId);
    // Every discrepancy is collected, so one failure shows all of them.
    const bad = [];
    const check = (ok, what) => { if (!ok) bad.push(what); };
    // DLQMessage: `labels` has both, the deprecated `label` only the first.
    check(JSON.stringify(e.labels) === '["first-label","second-label"]', `DLQ labels ${JSON.stringify(e.labels)}`);
    check(e.label === 'first-label',
      `DLQ label ${JSON.stringify(e.label)}, expected "first-label" (SDK: "only contains the first one")`);
    for (const label of ['first-label', 'second-label']) {
      const found = (await client.dlq.list({ filter: { label } })).messages.map((m) => m.dlqId);
      check(found.includes(e.dlqId), `dlq.list by label ${label} misses the entry`);
    }
    check(JSON.stringify(log.labels) === '["first-label","second-label"]', `log labels ${JSON.stringify(log.labels)}`);
    check(log.label === 'first-label', `log label ${JSON.stringify(log.label)}`);
    // The "next" entry names the step being run, as serve() reported it
    // (Upstash-Error-Step-Name), and carries the run's retries.
    const next = log.steps.find((g) => g.type === 'next');
    assert.ok(next, JSON.stringify(log.steps));
    const st = next.steps[0];
    check(st.stepName === 'broken-step', `next stepName ${JSON.stringify(st.stepName)}, expected "broken-step"`);
    check(st.retries === 2, `next retries ${st.retries}, expected the run's 2`);
    assert.deepEqual(bad, []);
  });

  test('5. a failureFunction that always throws: 1 + retries calls, CALLBACK_FAIL, then retryFailureFunction', async () => {
    let mode = 'throw';
    const calls = [];
    const url = app.route('/ff', async (context) => {
      await context.run('doomed', () => { throw new Error('doomed step'); });
    }, {
      failureFunction: async ({ context, failResponse }) => {
        calls.push({ runId: context.workflowRunId, failResponse, mode });
        if (mode === 'throw') throw new Error('failure function broke');
        return 'recovered';
      },
    });
    const { workflowRunId } = await client.trigger({ url, body: { k: 1 }, retries: 2, retryDelay: '100' });
    await waitRunState(client, stack, workflowRunId, 'RUN_FAILED');
    const failed = await waitDlq(client, workflowRunId,
      (m) => m.failureCallbackInfo && m.failureCallbackInfo.state === 'CALLBACK_FAIL');
    assert.equal(calls.length, 3, 'failure function ran 1 + retries times');
    assert.ok(calls.every((c) => c.runId === workflowRunId && c.failResponse === 'doomed step'));
    assert.equal(Number(failed.failureCallbackInfo.responseStatus), 500);

    const listed = await client.dlq.list({ filter: { failureFunctionState: 'CALLBACK_FAIL' } });
    assert.ok(listed.messages.some((m) => m.dlqId === failed.dlqId), 'listed by failureFunctionState');
    assert.ok(listed.messages.every((m) => m.failureCallbackInfo.state === 'CALLBACK_FAIL'));

    mode = 'ok';
    const res = await client.dlq.retryFailureFunction({ dlqId: failed.dlqId });
    assert.equal(res.workflowRunId, workflowRunId, `retryFailureFunction answer ${JSON.stringify(res)}`);
    const ok = await waitDlq(client, workflowRunId,
      (m) => m.failureCallbackInfo && m.failureCallbackInfo.state === 'CALLBACK_SUCCESS');
    assert.equal(calls.length, 4, 'ran exactly once more');
    assert.equal(calls[3].mode, 'ok');
    assert.equal(Number(ok.failureCallbackInfo.responseStatus), 200);
    assert.match(ok.failureCallbackInfo.responseBody || '', /recovered/);
    const nowFail = await client.dlq.list({ filter: { failureFunctionState: 'CALLBACK_FAIL' } });
    assert.ok(!nowFail.messages.some((m) => m.dlqId === failed.dlqId), 'no longer CALLBACK_FAIL');
    // A second retry of a callback that succeeded is refused.
    await assert.rejects(client.dlq.retryFailureFunction({ dlqId: failed.dlqId }), /./);
  });

  test('5b. client.logs: the failureFunction section, with one error per failed attempt', async () => {
    let mode = 'throw';
    const url = app.route('/ff-log', async (context) => {
      await context.run('doomed', () => { throw new Error('doomed again'); });
    }, { failureFunction: async () => { if (mode === 'throw') throw new Error('ff broke again'); return 'ok now'; } });
    const { workflowRunId } = await client.trigger({ url, body: {}, retries: 2, retryDelay: '100' });
    const failed = await waitDlq(client, workflowRunId,
      (m) => m.failureCallbackInfo && m.failureCallbackInfo.state === 'CALLBACK_FAIL');
    const log = await runLog(client, workflowRunId);
    const ff = log.failureFunction;
    assert.ok(ff, `failureFunction in the log: ${JSON.stringify(log)}`);
    assert.equal(ff.state, 'CALLBACK_FAIL');
    assert.equal(ff.url, url);
    assert.equal(ff.dlqId, failed.dlqId);
    assert.equal(log.dlqId, failed.dlqId);
    assert.equal(Number(ff.failStatus), 500);
    assert.match(ff.failResponse, /doomed again/);
    assert.equal(mapHeader(ff.failHeaders, 'Upstash-Error-Step-Name'), 'doomed');
    assert.equal(Number(ff.responseStatus), 500);
    assert.match(ff.responseBody, /ff broke again/);
    assert.equal((ff.errors || []).length, 3,
      `one error per failure-function attempt, got ${JSON.stringify((ff.errors || []).map((x) => x.status))}`);
    assert.ok(ff.errors.every((x) => Number(x.status) === 500 && /ff broke again/.test(x.body)));
    mode = 'ok';
    await client.dlq.retryFailureFunction({ dlqId: failed.dlqId });
    const again = await waitFor(async () => {
      const l = await runLog(client, workflowRunId);
      return l.failureFunction.state === 'CALLBACK_SUCCESS' && l;
    }, { message: 'failureFunction CALLBACK_SUCCESS in the log' });
    // The retried run succeeded at once: no errors of the previous run
    // shown as current, and its own response.
    assert.deepEqual(again.failureFunction.errors || [], [],
      `errors after the retry: ${JSON.stringify(again.failureFunction.errors)}`);
    assert.equal(Number(again.failureFunction.responseStatus), 200);
  });

  test('6. dlq.resume continues from the failed step, restart re-runs from the start, delete by filter', async () => {
    const { url, broken, ran } = repairRoute(app, '/repair');
    const failRun = async (tag, label) => {
      broken.add(tag);
      const { workflowRunId } = await client.trigger({ url, body: { tag }, retries: 0, label });
      await waitRunState(client, stack, workflowRunId, 'RUN_FAILED');
      const entry = await waitDlq(client, workflowRunId);
      return { runId: workflowRunId, dlqId: entry.dlqId };
    };

    // resume
    const A = await failRun('res');
    assert.deepEqual(['r-1', 'r-2', 'r-3'].map((s) => ran.get(`res:${s}`)), [1, 1, 0]);
    broken.delete('res');
    const resumed = await client.dlq.resume({ dlqId: A.dlqId });
    assert.ok(resumed && typeof resumed.workflowRunId === 'string', `resume answer ${JSON.stringify(resumed)}`);
    const rLog = await waitRunState(client, stack, resumed.workflowRunId, 'RUN_SUCCESS');
    assert.equal(JSON.parse(rLog.workflowRunResponse), 'one-two-three');
    assert.deepEqual(['r-1', 'r-2', 'r-3'].map((s) => ran.get(`res:${s}`)), [1, 2, 1],
      'resume did not re-run r-1');
    assert.deepEqual(loggedSteps(rLog).map((s) => s.stepName), ['init', 'r-1', 'r-2', 'r-3']);
    await waitFor(async () => (await dlqOf(client, A.runId)).length === 0,
      { message: 'the resumed DLQ entry is gone' });

    // restart
    const B = await failRun('rst');
    broken.delete('rst');
    const restarted = await client.dlq.restart({ dlqId: B.dlqId });
    assert.ok(restarted && typeof restarted.workflowRunId === 'string', `restart answer ${JSON.stringify(restarted)}`);
    const sLog = await waitRunState(client, stack, restarted.workflowRunId, 'RUN_SUCCESS');
    assert.equal(JSON.parse(sLog.workflowRunResponse), 'one-two-three');
    assert.deepEqual(['r-1', 'r-2', 'r-3'].map((s) => ran.get(`rst:${s}`)), [2, 2, 1],
      'restart re-ran from r-1');
    await waitFor(async () => (await dlqOf(client, B.runId)).length === 0,
      { message: 'the restarted DLQ entry is gone' });

    // restart by filter: every entry with the label, one new run each
    const R1 = await failRun('b1', 'bulk-restart');
    const R2 = await failRun('b2', 'bulk-restart');
    broken.delete('b1');
    broken.delete('b2');
    const bulk = await client.dlq.restart({ filter: { label: 'bulk-restart' } });
    assert.equal(bulk.workflowRuns.length, 2, `bulk restart answer ${JSON.stringify(bulk)}`);
    assert.equal(bulk.cursor, undefined, 'one page');
    for (const run of bulk.workflowRuns) {
      assert.ok(run.workflowCreatedAt > 0, JSON.stringify(run));
      const log = await waitRunState(client, stack, run.workflowRunId, 'RUN_SUCCESS');
      assert.equal(JSON.parse(log.workflowRunResponse), 'one-two-three');
    }
    assert.deepEqual(await dlqOf(client, R1.runId), []);
    assert.deepEqual(await dlqOf(client, R2.runId), []);

    // delete by filter (label), then by id; list pages with a cursor first
    const D1 = await failRun('d1', 'del-me');
    const D2 = await failRun('d2', 'del-me');
    const K = await failRun('k', 'keep-me');
    const page1 = await client.dlq.list({ count: 1, filter: { label: 'del-me' } });
    assert.equal(page1.messages.length, 1);
    assert.ok(page1.cursor, 'a cursor to the next page');
    const page2 = await client.dlq.list({ count: 1, cursor: page1.cursor, filter: { label: 'del-me' } });
    assert.equal(page2.messages.length, 1);
    assert.deepEqual([page1.messages[0].dlqId, page2.messages[0].dlqId].sort(), [D1.dlqId, D2.dlqId].sort());
    if (page2.cursor) {
      const page3 = await client.dlq.list({ count: 1, cursor: page2.cursor, filter: { label: 'del-me' } });
      assert.equal(page3.messages.length, 0);
    }
    const del = await client.dlq.delete({ filter: { label: 'del-me' } });
    assert.equal(del.deleted, 2, `delete answer ${JSON.stringify(del)}`);
    assert.equal((await client.dlq.list({ filter: { label: 'del-me' } })).messages.length, 0);
    assert.deepEqual(await dlqOf(client, D1.runId), []);
    assert.deepEqual(await dlqOf(client, D2.runId), []);
    const kept = await dlqOf(client, K.runId);
    assert.deepEqual(kept.map((m) => m.dlqId), [K.dlqId], 'the other label is kept');
    const delOne = await client.dlq.delete(K.dlqId);
    assert.equal(delOne.deleted, 1);
    assert.deepEqual(await dlqOf(client, K.runId), []);

    // { all: true } in pages of `count`, following the cursor (what the
    // SDK's doc comment tells callers to do).
    for (const tag of ['all-1', 'all-2', 'all-3']) await failRun(tag, 'all-del');
    const before = [];
    let c;
    do {
      const page = await client.dlq.list({ count: 100, cursor: c });
      before.push(...page.messages);
      c = page.cursor;
    } while (c);
    assert.ok(before.length >= 3, `entries: ${before.length}`);
    let deleted = 0;
    let calls = 0;
    let cursor;
    do {
      const res = await client.dlq.delete({ all: true, count: 2, cursor });
      assert.ok(res.deleted <= 2, JSON.stringify(res));
      deleted += res.deleted;
      cursor = res.cursor;
      calls++;
    } while (cursor && calls < 100);
    assert.equal(deleted, before.length, 'every entry deleted once');
    assert.ok(calls >= Math.ceil(before.length / 2), `${calls} pages`);
    assert.deepEqual((await client.dlq.list()).messages, []);
  });

  test('6b. dlq.resume after a failed parallel branch keeps the finished sibling and completes', async () => {
    let broken = true;
    const ran = counter();
    const url = app.route('/parfail', async (context) => {
      const [a, b] = await Promise.all([
        context.run('pa', () => { ran.bump('pa'); return 'A'; }),
        context.run('pb', async () => {
          ran.bump('pb');
          await sleep(300); // pa's result is recorded before pb fails
          if (broken) throw new Error('pb broken');
          return 'B';
        }),
      ]);
      return await context.run('after', () => { ran.bump('after'); return a + b; });
    });
    const { workflowRunId } = await client.trigger({ url, body: {}, retries: 0 });
    await waitRunState(client, stack, workflowRunId, 'RUN_FAILED');
    const failedLog = await runLog(client, workflowRunId);
    assert.deepEqual(loggedSteps(failedLog).map((st) => st.stepName), ['init', 'pa'], 'pa was recorded');
    const entry = await waitDlq(client, workflowRunId);
    broken = false;
    const resumed = await client.dlq.resume({ dlqId: entry.dlqId });
    const log = await waitRunState(client, stack, resumed.workflowRunId, 'RUN_SUCCESS', { timeout: 20000 });
    assert.equal(JSON.parse(log.workflowRunResponse), 'AB');
    assert.deepEqual([ran.get('pa'), ran.get('pb'), ran.get('after')], [1, 2, 1],
      'pa kept, pb re-run, then the next step');
  });

  test('6c. dlq.resume when a parallel sibling was still running at the failure re-runs it and completes', async () => {
    let broken = true;
    const ran = counter();
    const url = app.route('/parinflight', async (context) => {
      const [a, b] = await Promise.all([
        // still running when pb fails; its result is refused (run failed)
        context.run('pa', async () => { ran.bump('pa'); await sleep(500); return 'A'; }),
        context.run('pb', () => { ran.bump('pb'); if (broken) throw new Error('pb broken'); return 'B'; }),
      ]);
      return a + b;
    });
    const { workflowRunId } = await client.trigger({ url, body: {}, retries: 0 });
    await waitRunState(client, stack, workflowRunId, 'RUN_FAILED');
    await waitFor(() => app.to('/parinflight').filter((r) => r.doneAt).length === app.to('/parinflight').length &&
      ran.get('pa') === 1, { message: 'pa finished running' });
    const failedLog = await runLog(client, workflowRunId);
    assert.deepEqual(loggedSteps(failedLog).map((st) => st.stepName), ['init'], 'pa was not recorded');
    const entry = await waitDlq(client, workflowRunId);
    broken = false;
    const resumed = await client.dlq.resume({ dlqId: entry.dlqId });
    const log = await waitRunState(client, stack, resumed.workflowRunId, 'RUN_SUCCESS', { timeout: 20000 });
    assert.equal(JSON.parse(log.workflowRunResponse), 'AB');
    assert.equal(ran.get('pb'), 2);
    assert.equal(ran.get('pa'), 2, 'pa, never recorded, ran again');
  });

  test('7. cancel by id and by URL filter: RUN_CANCELED, no failure callback, no DLQ entry', async () => {
    const ran = counter();
    const failureCalls = [];
    app.route('/cx', async (context) => {
      const { tag } = context.requestPayload;
      await context.run('cx-1', () => { ran.bump(`${tag}:1`); });
      await context.sleep('cx-nap', 4);
      await context.run('cx-2', () => { ran.bump(`${tag}:2`); return 'finished'; });
      return 'finished';
    }, { failureFunction: async ({ context }) => { failureCalls.push(context.workflowRunId); } });
    const urls = {
      byId: `${app.url}/cx/by-id`,
      exact: `${app.url}/cx/pre/exact`,
      prefixed: `${app.url}/cx/pre/fix`,
      other: `${app.url}/cx/other`,
    };
    const ids = {};
    for (const [tag, url] of Object.entries(urls)) {
      ids[tag] = (await client.trigger({ url, body: { tag } })).workflowRunId;
    }
    await waitFor(() => Object.keys(urls).every((t) => ran.get(`${t}:1`) === 1),
      { message: 'first step of every run' });

    assert.deepEqual(await client.cancel(ids.byId), { cancelled: 1 });
    assert.deepEqual(await client.cancel({ filter: { workflowUrl: urls.exact } }), { cancelled: 1 });
    assert.deepEqual(await client.cancel({ filter: { workflowUrlStartingWith: `${app.url}/cx/pre` } }),
      { cancelled: 1 }, 'the prefix matches the one still running');

    for (const tag of ['byId', 'exact', 'prefixed']) {
      const log = await waitRunState(client, stack, ids[tag], 'RUN_CANCELED');
      assert.ok(log.workflowRunCompletedAt > 0, 'completedAt on a cancelled run');
    }
    // The run that was not cancelled finishes after its sleep; by then the
    // cancelled runs' sleeping deliveries were due and dropped.
    const otherLog = await waitRunState(client, stack, ids.other, 'RUN_SUCCESS', { timeout: 30000 });
    assert.equal(JSON.parse(otherLog.workflowRunResponse), 'finished');
    await stack.waitIdle();
    for (const tag of ['byId', 'exact', 'prefixed']) {
      assert.equal(ran.get(`${tag}:2`), 0, `${tag}: no step after the cancel`);
      assert.deepEqual(await dlqOf(client, ids[tag]), [], `${tag}: no DLQ entry`);
      const log = await runLog(client, ids[tag]);
      assert.equal(log.workflowState, 'RUN_CANCELED');
    }
    assert.deepEqual(failureCalls, [], 'no failure callback');
    assert.equal(app.requests.filter((r) => r.url.startsWith('/cx') && isFailureCall(r)).length, 0);
    // Cancelling again: nothing running any more.
    assert.deepEqual(await client.cancel([ids.byId]), { cancelled: 0 });

    // { all: true } cancels whatever is running.
    const more = [];
    for (const tag of ['all1', 'all2']) {
      more.push((await client.trigger({ url: `${app.url}/cx/${tag}`, body: { tag } })).workflowRunId);
    }
    await waitFor(() => ran.get('all1:1') === 1 && ran.get('all2:1') === 1, { message: 'all1/all2 started' });
    // (>= 2: a run an earlier failed test left running is cancelled too.)
    const all = await client.cancel({ all: true });
    assert.ok(all.cancelled >= 2, JSON.stringify(all));
    for (const id of more) await waitRunState(client, stack, id, 'RUN_CANCELED');
    assert.deepEqual((await client.logs({ filter: { state: 'RUN_STARTED' } })).runs, [], 'nothing left running');

    // client.logs pages with a cursor, newest first, each run once.
    const seen = [];
    let cursor;
    do {
      const page = await client.logs({ count: 3, cursor });
      assert.ok(page.runs.length <= 3);
      seen.push(...page.runs);
      cursor = page.cursor || undefined;
    } while (cursor && seen.length < 1000);
    const runIds = seen.map((r) => r.workflowRunId);
    assert.equal(new Set(runIds).size, runIds.length, 'no run twice across pages');
    for (const id of [...Object.values(ids), ...more]) assert.ok(runIds.includes(id), `${id} listed`);
    const created = seen.map((r) => r.workflowRunCreatedAt);
    assert.deepEqual(created, [...created].sort((p, q) => q - p), 'newest first');
  });

  test('7b. context.cancel() inside the workflow cancels the run', async () => {
    const ran = counter();
    const url = app.route('/selfcancel', async (context) => {
      await context.run('sc-1', () => { ran.bump('1'); });
      await context.cancel();
      await context.run('sc-2', () => { ran.bump('2'); });
    });
    const { workflowRunId } = await client.trigger({ url, body: {} });
    await waitRunState(client, stack, workflowRunId, 'RUN_CANCELED');
    await stack.waitIdle();
    assert.equal(ran.get('1'), 1);
    assert.equal(ran.get('2'), 0);
    assert.deepEqual(await dlqOf(client, workflowRunId), []);
  });

  test('10. bad input: readable QstashErrors, 404 JSON, nothing crashes', async () => {
    const rejects = async (p, status, re) => {
      const err = await p.then(() => null, (e) => e);
      assert.ok(err, 'rejected');
      assert.equal(err.name, 'QstashError', `${err.name}: ${err.message}`);
      assert.equal(err.status, status, `${err.status}: ${err.message}`);
      const body = JSON.parse(err.message);
      assert.equal(typeof body.error, 'string');
      assert.match(body.error, re);
    };
    await rejects(client.trigger({ url: 'ftp://example.com/x', body: {} }), 400, /./);
    await rejects(client.dlq.resume({ dlqId: 'dlq_nosuchentry' }), 404, /./);
    await rejects(client.dlq.restart({ dlqId: 'dlq_nosuchentry' }), 404, /./);
    await rejects(client.dlq.retryFailureFunction({ dlqId: 'dlq_nosuchentry' }), 404, /./);
    assert.deepEqual((await client.logs({ workflowRunId: 'wfr_nosuchrun' })).runs, []);
    assert.deepEqual(await client.cancel('wfr_nosuchrun'), { cancelled: 0 });
    for (const [method, path] of [['GET', '/v2/workflows/runs/wfr_nosuchrun'],
      ['DELETE', '/v2/workflows/runs/wfr_nosuchrun?cancel=false'], ['GET', '/v2/no/such/route']]) {
      const r = await stack.api(method, path);
      assert.equal(r.status, 404, `${method} ${path}: ${r.status} ${r.text}`);
      assert.equal(typeof r.json.error, 'string', r.text);
    }
    // A step published for a run that does not exist is refused (400), the
    // answer serve() reads as "the run is over".
    const r = await stack.api('POST', `/v2/publish/${app.url}/ghost`, {
      body: JSON.stringify({ stepId: 1, stepName: 's', stepType: 'Run', out: '1', concurrent: 1 }),
      headers: { 'Upstash-Workflow-RunId': 'wfr_nosuchrun', 'Upstash-Workflow-Url': `${app.url}/ghost`,
        'Upstash-Workflow-Init': 'false', 'Upstash-Forward-Upstash-Workflow-Sdk-Version': '1' },
    });
    assert.equal(r.status, 400, r.text);
    for (const c of stack.coordinators) assert.ok(c.alive, `${c.name} alive`);
  });
});
