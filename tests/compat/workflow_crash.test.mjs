// workflow_crash.test.mjs - issue 3, test 9: a worker killed with kill -9
// in the middle of a 50-run batch; every run still ends RUN_SUCCESS and
// every step output is recorded once, although the crash makes the engine
// redeliver (some deliveries lost with the worker, some processed but never
// acknowledged, so steps run again and publish their results twice).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe } from 'node:test';
import { Client } from '@upstash/workflow';
import { startStack, waitFor, test } from '../integration/lib/stack.mjs';
import { startWorkflowApp, reqHeader } from './lib/wfapp.mjs';
import { parseOut, loggedSteps, counter } from './lib/wf.mjs';

/** Local TCP ports of the sockets process `pid` holds (Linux /proc). */
function localPortsOf(pid) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  const ports = new Set();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = fs.readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && inodes.has(cols[9])) ports.add(parseInt(cols[1].split(':')[1], 16));
    }
  }
  return ports;
}

describe('9. kill -9 of a worker in the middle of a 50-run batch', () => {
  let stack, app, client;
  // The app holds every delivery for 200 ms before serve() sees it.  A
  // delivery whose caller (a worker) went away meanwhile is dropped when
  // its request number is even, as a serverless platform drops an
  // invocation whose caller hung up; odd ones run anyway (their result is
  // published but the worker never acked: the redelivery duplicates them).
  const abandoned = [];
  const holdAndDrop = (req, res, next) => {
    let gone = false;
    const mark = () => { gone = true; };
    req.socket.once('end', mark);
    req.socket.once('close', mark);
    setTimeout(() => {
      req.socket.off('end', mark);
      req.socket.off('close', mark);
      if (!gone) return next();
      abandoned.push({ n: req.rec.n, id: req.headers['upstash-message-id'], dropped: req.rec.n % 2 === 0 });
      if (req.rec.n % 2 === 0) { res.destroy(); return undefined; }
      return next();
    }, 200);
  };
  before(async () => {
    stack = await startStack({ workers: 3 });
    app = await startWorkflowApp({
      env: { QSTASH_URL: stack.url, QSTASH_TOKEN: stack.token }, middleware: [holdAndDrop],
    });
    client = new Client({ baseUrl: stack.url, token: stack.token, retry: false });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (app) await app.close();
  });

  test('every run ends RUN_SUCCESS and each step output is recorded once', { timeout: 180000 }, async (t) => {
    const N = 50;
    const execs = counter();
    const url = app.route('/batch', async (context) => {
      const { i } = context.requestPayload;
      const id = context.workflowRunId;
      const a = await context.run('b-1', () => { execs.bump(`${id}:1`); return i * 10; });
      const b = await context.run('b-2', () => { execs.bump(`${id}:2`); return a + 1; });
      const c = await context.run('b-3', () => { execs.bump(`${id}:3`); return `${i}:${b}`; });
      // Keeps the runs open past the reclaim of the dead worker's entries,
      // so a redelivered (already processed) step re-runs and re-publishes
      // its result while the run is live: the engine must record it once.
      await context.sleep('b-nap', 3);
      return { i, c };
    });
    const triggered = await client.trigger(Array.from({ length: N }, (_, i) => ({
      url, body: { i }, retries: 5, retryDelay: '200',
    })));
    assert.equal(triggered.length, N);
    const ids = triggered.map((t) => t.workflowRunId);

    // Kill a worker while it has deliveries in flight and the batch is far
    // from done.
    const victim = stack.workers[0];
    const stream = stack.key('{msg}:stream');
    const victimPending = async () =>
      (await stack.redis.call('XPENDING', stream, 'workers', '-', '+', 1000, victim.consumer)).length;
    // Kill when the victim has a delivery held at the app that will be
    // dropped (even request number, still well inside the 200 ms hold).
    const victimHeld = () => {
      const ports = localPortsOf(victim.pid);
      return app.requests.some((r) => r.doneAt === undefined && ports.has(r.remotePort) &&
        r.n % 2 === 0 && Date.now() - r.at < 120);
    };
    await waitFor(async () => execs.total() >= 20 && victimHeld() && (await victimPending()) > 0,
      { timeout: 30000, interval: 5, message: 'the victim worker busy mid-batch' });
    await victim.kill();
    const execsAtKill = execs.total();
    const pendingAtKill = await victimPending();
    assert.ok(execsAtKill < 3 * N, `killed mid-batch (${execsAtKill} of ${3 * N} step executions done)`);
    assert.ok(pendingAtKill > 0, 'the victim had unacknowledged deliveries when it died');

    // All runs finish on the surviving workers.
    let lastStates;
    const logs = await waitFor(async () => {
      const res = await client.logs({ filter: { workflowUrl: url }, count: 100 });
      const mine = res.runs.filter((r) => ids.includes(r.workflowRunId));
      lastStates = {};
      for (const r of mine) lastStates[r.workflowState] = (lastStates[r.workflowState] || 0) + 1;
      return mine.length === N && mine.every((r) => r.workflowState === 'RUN_SUCCESS') ? mine : null;
    }, { timeout: 120000, interval: 500, message: `${N} runs RUN_SUCCESS` }).catch((e) => {
      e.message += ` states: ${JSON.stringify(lastStates)}`;
      throw e;
    });

    // The deliveries the dead worker had in flight were abandoned at the
    // app; the dropped ones reached the workflow only through the
    // engine's redelivery.
    const dropped = abandoned.filter((a) => a.dropped);
    assert.ok(dropped.length > 0, `deliveries lost with the worker: ${JSON.stringify(abandoned)}`);
    for (const d of dropped) {
      const again = app.requests.filter((r) => r.n > d.n && reqHeader(r, 'Upstash-Message-Id') === d.id);
      const log = logs.find((l) => l.steps.some((g) => g.steps.some((st) => st.messageId === d.id)));
      // Redelivered, unless the message was a step result whose run ended
      // without needing it (never the case here: each delivery is needed).
      assert.ok(again.length >= 1 && again.some((r) => r.status === 200),
        `message ${d.id} redelivered after the crash (${again.length} times) ${log ? '' : ''}`);
    }
    // The dead worker's entries were taken over by the survivors.
    await waitFor(async () => (await victimPending()) === 0,
      { timeout: 20000, message: `the ${pendingAtKill} entries of the dead worker reclaimed` });
    for (const log of logs) {
      const i = triggered.findIndex((t) => t.workflowRunId === log.workflowRunId);
      assert.deepEqual(JSON.parse(log.workflowRunResponse), { i, c: `${i}:${i * 10 + 1}` });
      const steps = loggedSteps(log);
      assert.deepEqual(steps.map((s) => s.stepName), ['init', 'b-1', 'b-2', 'b-3', 'b-nap'],
        `${log.workflowRunId}: each step recorded once`);
      assert.deepEqual(steps.slice(1, 4).map((s) => parseOut(s.out)), [i * 10, i * 10 + 1, `${i}:${i * 10 + 1}`]);
      // The stored history (what later deliveries carry) has no duplicate either.
      const raw = await stack.redis.call('LRANGE', stack.key(`{wf}:steps:${log.workflowRunId}`), 0, -1);
      const stepIds = raw.slice(1).map((s) => JSON.parse(Buffer.from(JSON.parse(s).body, 'base64').toString()))
        .map((s) => s.stepId);
      assert.deepEqual(stepIds, [1, 2, 3, 4], `${log.workflowRunId}: stored steps`);
    }
    // What the crash did (for the record): redeliveries the app saw and
    // steps that ran more than once (at-least-once), all absorbed.
    const seen = new Map();
    for (const r of app.to('/batch')) {
      const id = reqHeader(r, 'Upstash-Message-Id');
      seen.set(id, (seen.get(id) || 0) + 1);
    }
    const redelivered = [...seen.values()].filter((n) => n > 1).length;
    t.diagnostic(`killed with ${pendingAtKill} pending entries after ${execsAtKill} step executions; ` +
      `${abandoned.length} deliveries abandoned (${dropped.length} dropped); ` +
      `${redelivered} messages delivered more than once; ${execs.total() - 3 * N} extra step executions`);
  });
});
