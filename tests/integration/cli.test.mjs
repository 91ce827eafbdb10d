// cli.test.mjs - the `stepflow` CLI against a real stack (redis, a
// coordinator, a worker) and a real @upstash/workflow serve() app: every
// command's happy path and a bad input, human and --json output, exit
// codes (0 ok, 1 API error / unreachable, 2 usage, 3 not found):
//   publish, trigger; dlq list (filters, paging), get, retry,
//   retry-callback, cancel-callback, delete / resume / restart by id, by
//   filter and with --dry-run (nothing touched: checked in Redis), on real
//   failed workflow runs; runs list / get / cancel (ids, URL prefix,
//   --dry-run); stats against Redis; inspect, whose every printed
//   redis-cli command is run through a shell and must give the figure
//   printed next to it (hostile names included: escape sequences, bytes
//   that are not UTF-8, a name longer than any fixed buffer); what the API
//   or Redis hold never reaches the terminal as an escape sequence; a
//   bulk action that fails partway reports what it did with --json; a
//   404 that is not the entity's (a wrong base URL) is exit 1.
import http from 'node:http';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before } from 'node:test';
import { BIN_DIR, endpoint, freePort, hdr, startStack, test, waitFor } from './lib/stack.mjs';
import { repairRoute, startWorkflowApp } from '../compat/lib/wfapp.mjs';
import { uid } from '../compat/lib/wf.mjs';

const SIGNING_SECRET = 'sig_cli_current_do_not_print';
let stack, ep, app, cbOk = false;
let releaseStall = () => {};
const stalled = new Promise((resolve) => { releaseStall = resolve; });
const r = (...a) => stack.redis.call(...a);

/** Runs the CLI; resolves {code, stdout, stderr} (never rejects on exit != 0). */
function cli(args, env = {}) {
  return new Promise((resolve) => {
    execFile(path.join(BIN_DIR, 'stepflow'), args, {
      env: {
        ...process.env, STEPFLOW_URL: stack.url, STEPFLOW_TOKEN: stack.token,
        STEPFLOW_REDIS_URL: stack.redis.url, STEPFLOW_PREFIX: stack.prefix, ...env,
      },
      timeout: 60000, maxBuffer: 16 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** Runs the CLI with --json first; asserts exit 0 and parses stdout. */
async function cliJson(args, env) {
  const res = await cli(['--json', ...args], env);
  assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
  return JSON.parse(res.stdout);
}

/** Runs a command line through sh (as an operator pastes it; bash for
 *  the $'\xNN' quoting of odd bytes, which POSIX sh lacks).  "buffer":
 *  resolve the raw bytes. */
function sh(line, { buffer = false } = {}) {
  const shell = line.includes("$'") ? 'bash' : 'sh';
  return new Promise((resolve, reject) => {
    execFile(shell, ['-c', line], { timeout: 10000, encoding: buffer ? 'buffer' : 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${line}: ${err.message} ${stderr}`));
      else resolve(buffer ? stdout : stdout.replace(/\n$/, ''));
    });
  });
}

/** An HTTP proxy in front of the coordinator that answers 503 to the
 *  requests "fail(req, n)" picks (n counts the requests, from 1). */
async function failingProxy(fail) {
  let n = 0;
  const server = http.createServer(async (req, res) => {
    n++;
    if (fail(req, n)) {
      res.writeHead(503, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'injected failure' }));
      return;
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const up = await fetch(`${stack.url}${req.url}`, {
      method: req.method, headers: { Authorization: req.headers.authorization || '' },
      body: chunks.length ? Buffer.concat(chunks) : undefined,
    });
    res.writeHead(up.status, { 'Content-Type': up.headers.get('content-type') || 'application/json' });
    res.end(Buffer.from(await up.arrayBuffer()));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r2) => server.close(r2)) };
}

/** Whether "text" holds a byte a terminal would act on: a C0 control but
 *  newline and tab, DEL, or a C1 control (U+0080..U+009F). */
const hasControl = (text) => /[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(text);

const dlqJson = async (query = []) => (await cliJson(['dlq', 'list', '--all', ...query])).messages;
const runState = async (id) => (await cliJson(['runs', 'get', id])).workflowState;
const waitRun = (id, state, timeout = 30000) =>
  waitFor(async () => (await runState(id)) === state, { timeout, message: `run ${id} ${state}` });
const entryExists = async (id) => (await r('EXISTS', stack.key(`{dlq}:entry:${id}`))) === 1;

before(async () => {
  ep = await endpoint(async (req) => {
    if (req.path === '/ok') return { status: 200, body: 'ok' };
    if (req.path === '/cb' && cbOk) return { status: 200, body: 'cb ok' };
    if (req.path === '/stall') { await stalled; return { status: 200, body: 'late' }; }
    return { status: 500, body: 'broken' };
  });
  stack = await startStack({
    workers: 1,
    env: { STEPFLOW_CURRENT_SIGNING_KEY: SIGNING_SECRET, STEPFLOW_NEXT_SIGNING_KEY: 'sig_cli_next_secret' },
  });
  app = await startWorkflowApp({ env: { QSTASH_URL: stack.url, QSTASH_TOKEN: stack.token } });
});
after(async () => {
  releaseStall();
  if (stack) await stack.stop();
  if (app) await app.close();
  if (ep) await ep.close();
});

test('publish: headers, body and settings reach the endpoint', async () => {
  const res = await cli(['publish', `${ep.url}/ok`, '--body', '{"a":1}', '--header', 'X-Foo: bar',
    '--method', 'PUT', '--retries', '2']);
  assert.equal(res.code, 0, res.stderr);
  const id = res.stdout.match(/^messageId: (msg_\S+)\n$/)?.[1];
  assert.ok(id, res.stdout);
  const got = await waitFor(() => ep.to('/ok').find((q) => hdr(q, 'Upstash-Message-Id') === id),
    { message: 'delivery to /ok' });
  assert.equal(got.method, 'PUT');
  assert.equal(got.text, '{"a":1}');
  assert.equal(hdr(got, 'X-Foo'), 'bar');
  assert.equal(hdr(got, 'Content-Type'), 'application/json');

  const j = await cliJson(['publish', `${ep.url}/ok`]);
  assert.match(j.messageId, /^msg_/);
  const bad = await cli(['publish', `${ep.url}/ok`, '--flow-control-value', 'parallelism=1']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--flow-control-value needs --flow-control-key/);
});

test('dlq list/get/retry-callback: the failure-callback story, filters, paging', async () => {
  const t0 = Date.now();
  const res = await cli(['publish', `${ep.url}/fail`, '--body', 'x', '--retries', '1',
    '--retry-delay', '0', '--label', 'cli', '--failure-callback', `${ep.url}/cb`]);
  assert.equal(res.code, 0, res.stderr);
  const mid = res.stdout.trim().split(' ')[1];
  const entry = await waitFor(async () => (await dlqJson(['--state', 'CALLBACK_FAIL']))
    .find((m) => m.messageId === mid), { timeout: 30000, message: 'CALLBACK_FAIL entry' });
  const id = entry.dlqId;

  const table = await cli(['dlq', 'list', '--state', 'callback_fail']);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.split('\n');
  assert.match(lines[0], /^DLQ ID +MESSAGE ID +URL +STATUS +CALLBACK +LABEL +RUN ID +DLQ TIME$/);
  const row = lines.find((l) => l.startsWith(id));
  assert.ok(row, table.stdout);
  assert.match(row, /\s500 {2}CALLBACK_FAIL +cli +- +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  // Filters: label, message id, ISO dates around now, NONE excludes it.
  const ids = async (q) => (await dlqJson(q)).map((m) => m.dlqId);
  assert.deepEqual(await ids(['--label', 'cli']), [id]);
  assert.deepEqual(await ids(['--message-id', mid]), [id]);
  assert.deepEqual(await ids(['--from', new Date(t0 - 1000).toISOString(), '--to', String(Date.now() + 1000),
    '--url', `${ep.url}/fail`]), [id]);
  assert.deepEqual(await ids(['--to', '2001-01-01']), []);
  assert.ok(!(await ids(['--state', 'NONE'])).includes(id));
  assert.deepEqual(await ids(['--response-status', '500', '--label', 'cli']), [id]);

  const get = await cli(['dlq', 'get', id]);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, new RegExp(`^dlqId: +${id}$`, 'm'));
  assert.match(get.stdout, /^reason: +\S/m);
  assert.match(get.stdout, /^label: +cli$/m);
  assert.match(get.stdout, /^attempts: +2$/m);
  assert.match(get.stdout, /^ +#1 .*status 500/m);
  assert.match(get.stdout, /^callback state: +CALLBACK_FAIL$/m);
  assert.match(get.stdout, /^callback responseStatus: +500$/m);
  // the failure callback's own attempts and their errors (GET /v2/dlq/{id}
  // failureCallbackInfo.attempts and .errors)
  const getJ = await cliJson(['dlq', 'get', id]);
  const cbErrors = getJ.failureCallbackInfo.errors;
  assert.ok(Array.isArray(cbErrors) && cbErrors.length >= 1, JSON.stringify(getJ.failureCallbackInfo));
  assert.match(get.stdout, new RegExp(`^callback attempts: +${getJ.failureCallbackInfo.attempts}$`, 'm'));
  assert.match(get.stdout, new RegExp(`^callback errors: +${cbErrors.length}$`, 'm'));
  assert.match(get.stdout, /^ +#1 +\d{4}-\d\d-\d\dT\S+Z +status 500 .*body broken$/m);
  const cbLines = get.stdout.split('\n').filter((l) => /^ +#\d+ .*body broken$/.test(l));
  assert.equal(cbLines.length, cbErrors.length, get.stdout);

  cbOk = true;
  const retry = await cli(['dlq', 'retry-callback', id]);
  assert.equal(retry.code, 0, retry.stderr);
  assert.equal(retry.stdout, `failure callback of ${id} re-enqueued\n`);
  await waitFor(async () => /^callback state: +CALLBACK_SUCCESS$/m.test((await cli(['dlq', 'get', id])).stdout),
    { timeout: 20000, message: 'CALLBACK_SUCCESS' });

  const again = await cli(['dlq', 'retry-callback', id]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: .+ \(HTTP 400\)\n$/);
  const unknown = await cli(['dlq', 'retry-callback', 'dlq_nope']);
  assert.equal(unknown.code, 3);
  assert.equal(unknown.stderr, "error: dlq entry 'dlq_nope' not found\n");

  // Paging: three more entries, one per page; --all follows the cursor.
  for (let i = 0; i < 3; i++) await cli(['publish', `${ep.url}/page`, '--retries', '0', '--label', 'cli-page']);
  await waitFor(async () => (await dlqJson(['--label', 'cli-page'])).length === 3, { message: '3 page entries' });
  const page1 = await cliJson(['dlq', 'list', '--label', 'cli-page', '--count', '1']);
  assert.equal(page1.messages.length, 1);
  assert.ok(page1.cursor, 'a cursor');
  const page2 = await cliJson(['dlq', 'list', '--label', 'cli-page', '--count', '1', '--cursor', page1.cursor]);
  assert.equal(page2.messages.length, 1);
  assert.notEqual(page2.messages[0].dlqId, page1.messages[0].dlqId);
  const human = await cli(['dlq', 'list', '--label', 'cli-page', '--count', '1']);
  assert.match(human.stdout, /\nnext cursor: \S+\n$/);
  // no failure callback: NONE in the CALLBACK column (the filter's name)
  assert.match(human.stdout.split('\n')[1], /\s500 {2}NONE +cli-page +- +\d{4}-/);
  const all = await cliJson(['dlq', 'list', '--label', 'cli-page', '--count', '1', '--all']);
  assert.equal(all.messages.length, 3);
  assert.equal(all.cursor, undefined);
});

test('dlq retry and cancel-callback', async () => {
  // retry: the original message is published again, the entry is gone
  const pub = await cliJson(['publish', `${ep.url}/retry-me`, '--retries', '0', '--body', 'again']);
  const entry = await waitFor(async () => (await dlqJson()).find((m) => m.messageId === pub.messageId),
    { timeout: 30000, message: 'DLQ entry to retry' });
  const before = ep.to('/retry-me').length;
  const res = await cli(['dlq', 'retry', entry.dlqId]);
  assert.equal(res.code, 0, res.stderr);
  const newId = res.stdout.match(new RegExp(`^dlq entry ${entry.dlqId} re-published as (msg_\\S+)\\n$`))?.[1];
  assert.ok(newId, res.stdout);
  await waitFor(() => ep.to('/retry-me').find((q) => hdr(q, 'Upstash-Message-Id') === newId),
    { message: 'the re-published message delivered' });
  assert.ok(ep.to('/retry-me').length > before);
  assert.equal((await cli(['dlq', 'retry', 'dlq_nope'])).code, 3);

  // cancel-callback: a callback that keeps failing with a long delay stays
  // CALLBACK_INPROGRESS until cancelled
  const cb = await cliJson(['publish', `${ep.url}/fail-cb`, '--retries', '0',
    '--failure-callback', `${ep.url}/cb-down`,
    '--header', 'Upstash-Failure-Callback-Retries: 3',
    '--header', 'Upstash-Failure-Callback-Retry-Delay: 600000']);
  const e = await waitFor(async () => (await dlqJson(['--state', 'CALLBACK_INPROGRESS']))
    .find((m) => m.messageId === cb.messageId), { timeout: 30000, message: 'CALLBACK_INPROGRESS' });
  await waitFor(() => ep.to('/cb-down').length >= 1, { message: 'first callback attempt' });
  const cancel = await cli(['dlq', 'cancel-callback', e.dlqId]);
  assert.equal(cancel.code, 0, cancel.stderr);
  assert.equal(cancel.stdout, `failure callback of ${e.dlqId} canceled\n`);
  const got = await cliJson(['dlq', 'get', e.dlqId]);
  assert.equal(got.failureCallbackInfo.state, 'CALLBACK_CANCELED');
  const gone = await cli(['dlq', 'cancel-callback', 'dlq_nope']);
  assert.equal(gone.code, 3);
  assert.match(gone.stderr, /dlq entry 'dlq_nope' not found/);
});

test('dlq delete: by id, unknown id, by filter with --dry-run first', async () => {
  for (let i = 0; i < 3; i++) await cli(['publish', `${ep.url}/gone`, '--retries', '0', '--label', 'cli-del']);
  const entries = await waitFor(async () => {
    const m = await dlqJson(['--label', 'cli-del']);
    return m.length === 3 && m;
  }, { timeout: 30000, message: '3 entries to delete' });

  const one = entries[0].dlqId;
  const del = await cli(['dlq', 'delete', one, 'dlq_missing']);
  assert.equal(del.code, 3, del.stderr);
  assert.equal(del.stdout, 'deleted 1 of 2 dlq entries\n');
  assert.equal(del.stderr, "error: dlq entry 'dlq_missing' not found\n");
  assert.equal(await entryExists(one), false);
  const get = await cli(['dlq', 'get', one]);
  assert.equal(get.code, 3);
  assert.equal(get.stderr, `error: dlq entry '${one}' not found\n`);

  // --dry-run lists what would go and touches nothing
  const total = await r('ZCARD', stack.key('{dlq}:idx:all'));
  const dry = await cli(['dlq', 'delete', '--label', 'cli-del', '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^DLQ ID /);
  for (const e of entries.slice(1)) assert.ok(dry.stdout.includes(e.dlqId), dry.stdout);
  assert.match(dry.stdout, /\ndry run: 2 dlq entries would be deleted; nothing was changed\n$/);
  const dryJ = await cliJson(['dlq', 'delete', '--label', 'cli-del', '--dry-run']);
  assert.deepEqual([dryJ.dryRun, dryJ.action, dryJ.count], [true, 'delete', 2]);
  assert.equal(await r('ZCARD', stack.key('{dlq}:idx:all')), total);
  for (const e of entries.slice(1)) assert.equal(await entryExists(e.dlqId), true);

  // A bulk delete whose request fails: {"deleted": N, "error"} and exit 1.
  const proxy = await failingProxy((req) => req.method === 'DELETE');
  try {
    const failed = await cli(['--json', 'dlq', 'delete', '--label', 'cli-del'], { STEPFLOW_URL: proxy.url });
    assert.equal(failed.code, 1, failed.stderr);
    assert.deepEqual(JSON.parse(failed.stdout), { deleted: 0, error: 'injected failure (HTTP 503)' });
  } finally {
    await proxy.close();
  }

  const real = await cli(['dlq', 'delete', '--label', 'cli-del']);
  assert.equal(real.code, 0, real.stderr);
  assert.equal(real.stdout, 'deleted 2 dlq entries\n');
  for (const e of entries) assert.equal(await entryExists(e.dlqId), false);
  assert.deepEqual(await dlqJson(['--label', 'cli-del']), []);

  // ids and filters together, nothing at all, a bad state: usage errors
  for (const args of [['dlq', 'delete', 'x', '--label', 'y'], ['dlq', 'delete'],
    ['dlq', 'delete', '--all', '--label', 'y'], ['dlq', 'delete', '--state', 'BOGUS']]) {
    const u = await cli(args);
    assert.equal(u.code, 2, `${args.join(' ')}: ${u.stderr}`);
    assert.match(u.stderr, /^stepflow: .*\(see `stepflow dlq delete --help`\)\n$/);
  }
});

test('trigger, runs get/list, dlq resume and restart on real failed workflow runs', async () => {
  const { url, broken, ran } = repairRoute(app, '/cli-repair');
  const failRun = async (tag, label) => {
    broken.add(tag);
    const res = await cli(['trigger', url, '--body', JSON.stringify({ tag }), '--retries', '0', '--label', label]);
    assert.equal(res.code, 0, res.stderr);
    const runId = res.stdout.match(/^workflowRunId: (\S+)$/m)?.[1];
    assert.ok(runId, res.stdout);
    assert.match(res.stdout, /^createdAt: +\d{4}-\d\d-\d\dT/m);
    await waitRun(runId, 'RUN_FAILED');
    const entry = await waitFor(async () => (await dlqJson(['--run-id', runId]))[0],
      { timeout: 20000, message: `DLQ entry of ${runId}` });
    return { runId, dlqId: entry.dlqId };
  };

  // trigger with a run id of our own; a successful run end to end
  const okId = `wfr_cli_${uid()}`;
  const t = await cliJson(['trigger', url, '--body', '{"tag":"fine"}', '--run-id', okId, '--label', 'cli-ok']);
  assert.equal(t.workflowRunId, okId);
  assert.ok(t.workflowCreatedAt > 0);
  await waitRun(okId, 'RUN_SUCCESS');
  const got = await cli(['runs', 'get', okId]);
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout, new RegExp(`^workflowRunId: +${okId}$`, 'm'));
  assert.match(got.stdout, /^state: +RUN_SUCCESS$/m);
  assert.match(got.stdout, /^label: +cli-ok$/m);
  assert.match(got.stdout, /^response: +"one-two-three"$/m);
  assert.match(got.stdout, /^ +0 +sequential +init +Initial +STEP_SUCCESS /m);
  assert.match(got.stdout, /^ +3 +sequential +r-3 +Run +STEP_SUCCESS .*"one-two-three"$/m);
  const list = await cli(['runs', 'list', '--label', 'cli-ok']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^RUN ID +STATE +WORKFLOW URL +CREATED +DURATION +STEPS DONE +LABEL\n/);
  assert.match(list.stdout, new RegExp(`^${okId} +RUN_SUCCESS +\\S+ +\\S+Z +\\S+ +3 +cli-ok$`, 'm'));
  const missing = await cli(['runs', 'get', 'wfr_nope']);
  assert.equal(missing.code, 3);
  assert.equal(missing.stderr, "error: workflow run 'wfr_nope' not found\n");
  const badTrigger = await cli(['trigger', 'not-a-url']);
  assert.equal(badTrigger.code, 2);

  // resume: --dry-run touches nothing, then the run continues after r-1
  const A = await failRun('res', 'cli-res');
  const failedLog = await cliJson(['runs', 'get', A.runId]);
  assert.equal(failedLog.dlqId, A.dlqId);
  // the failed step's delivery is listed as failed (as on the dashboard),
  // not as in flight; r-1 is the one step done
  const failedHuman = await cli(['runs', 'get', A.runId]);
  assert.equal(failedHuman.code, 0, failedHuman.stderr);
  assert.match(failedHuman.stdout, /\nfailed deliveries:\n +MESSAGE ID +STEP +STATE +RETRIES +LAST ERROR\n +\S+ +r-2 +STEP_FAILED +\d+ +status 500: /);
  assert.ok(!failedHuman.stdout.includes('in flight:'), failedHuman.stdout);
  const failedRow = await cli(['runs', 'list', '--run-id', A.runId]);
  assert.match(failedRow.stdout, new RegExp(`^${A.runId} +RUN_FAILED +\\S+ +\\S+Z +\\S+ +1 +cli-res$`, 'm'));
  const runsBefore = await r('ZCARD', stack.key('{wf}:runs'));
  const dry = await cli(['dlq', 'resume', A.dlqId, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`^${A.dlqId} .* ${A.runId} `, 'm'));
  assert.match(dry.stdout, /\ndry run: 1 dlq entry would be resumed; nothing was changed\n$/);
  assert.equal(await entryExists(A.dlqId), true);
  assert.equal(await r('ZCARD', stack.key('{wf}:runs')), runsBefore);
  broken.delete('res');
  const resumed = await cli(['dlq', 'resume', A.dlqId]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /^DLQ ID +NEW RUN ID +CREATED\n/);
  const newRun = resumed.stdout.match(new RegExp(`^${A.dlqId} +(\\S+) +\\S+Z$`, 'm'))?.[1];
  assert.ok(newRun, resumed.stdout);
  assert.match(resumed.stdout, /\nresumed 1 of 1 dlq entry\n$/);
  await waitRun(newRun, 'RUN_SUCCESS');
  assert.deepEqual(['r-1', 'r-2', 'r-3'].map((s) => ran.get(`res:${s}`)), [1, 2, 1], 'resume kept r-1');
  assert.equal(await entryExists(A.dlqId), false);
  const again = await cli(['dlq', 'resume', A.dlqId]);
  assert.equal(again.code, 3);
  assert.match(again.stderr, new RegExp(`dlq entry '${A.dlqId}' not found`));

  // restart by filter: --dry-run lists both and touches nothing; then both
  // start over from r-1
  const R1 = await failRun('b1', 'cli-bulk');
  const R2 = await failRun('b2', 'cli-bulk');
  const runs2 = await r('ZCARD', stack.key('{wf}:runs'));
  const dryJ = await cliJson(['dlq', 'restart', '--label', 'cli-bulk', '--dry-run']);
  assert.equal(dryJ.count, 2);
  assert.deepEqual(dryJ.messages.map((m) => m.dlqId).sort(), [R1.dlqId, R2.dlqId].sort());
  assert.equal(await r('ZCARD', stack.key('{wf}:runs')), runs2);
  assert.equal(await entryExists(R1.dlqId), true);
  assert.equal(await entryExists(R2.dlqId), true);
  broken.delete('b1');
  broken.delete('b2');
  const bulk = await cliJson(['dlq', 'restart', '--label', 'cli-bulk']);
  assert.equal(bulk.workflowRuns.length, 2, JSON.stringify(bulk));
  for (const run of bulk.workflowRuns) await waitRun(run.workflowRunId, 'RUN_SUCCESS');
  assert.deepEqual(['b1', 'b2'].map((tag) => ran.get(`${tag}:r-1`)), [2, 2], 'restart re-ran r-1');
  assert.deepEqual(await dlqJson(['--label', 'cli-bulk']), []);
});

test('runs list and cancel: ids, URL prefix, --dry-run', async () => {
  const url = app.route('/cli-sleep', async (context) => {
    await context.run('before', () => 'b');
    await context.sleep('nap', 600);
    return 'woke';
  });
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const t = await cliJson(['trigger', url, '--label', 'cli-sleep']);
    ids.push(t.workflowRunId);
  }
  const listed = await waitFor(async () => {
    const j = await cliJson(['runs', 'list', '--state', 'RUN_STARTED', '--label', 'cli-sleep', '--count', '100']);
    return j.runs.length === 3 && j.runs;
  }, { message: '3 running runs' });
  assert.deepEqual(listed.map((x) => x.workflowRunId).sort(), [...ids].sort());
  const page = await cliJson(['runs', 'list', '--label', 'cli-sleep', '--count', '1']);
  assert.equal(page.runs.length, 1);
  assert.ok(page.cursor);
  const all = await cliJson(['runs', 'list', '--label', 'cli-sleep', '--count', '1', '--all']);
  assert.equal(all.runs.length, 3);
  const prefixed = await cliJson(['runs', 'list', '--url-prefix', `${app.url}/cli-sl`, '--count', '100']);
  assert.equal(prefixed.runs.length, 3);

  const one = await cli(['runs', 'cancel', ids[0]]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.stdout, `cancelled workflow run ${ids[0]}\ncancelled 1 of 1 workflow run\n`);
  assert.equal(await runState(ids[0]), 'RUN_CANCELED');
  const twice = await cli(['runs', 'cancel', ids[0]]);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /not running .*\(HTTP 400\)/);
  const nope = await cli(['runs', 'cancel', 'wfr_nope']);
  assert.equal(nope.code, 3);
  assert.equal(nope.stderr, "error: workflow run 'wfr_nope' not found\n");

  const running = await r('ZCARD', stack.key('{wf}:running'));
  const dry = await cli(['runs', 'cancel', '--url', `${app.url}/cli-sleep`, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  for (const id of ids.slice(1)) assert.ok(dry.stdout.includes(id), dry.stdout);
  assert.ok(!dry.stdout.includes(ids[0]));
  assert.match(dry.stdout, /\ndry run: 2 workflow runs would be cancelled; nothing was changed\n$/);
  assert.equal(await r('ZCARD', stack.key('{wf}:running')), running);
  for (const id of ids.slice(1)) assert.equal(await runState(id), 'RUN_STARTED');

  // By filter the cancel repeats until a call cancels none.  Through a
  // proxy that fails the second call: what was done, and the error, in
  // one --json object; exit 1.
  const proxy = await failingProxy((req, n) => req.method === 'DELETE' && n >= 2);
  try {
    const partial = await cli(['--json', 'runs', 'cancel', '--url', `${app.url}/cli-sl`], { STEPFLOW_URL: proxy.url });
    assert.equal(partial.code, 1, partial.stderr);
    assert.deepEqual(JSON.parse(partial.stdout), { cancelled: 2, error: 'injected failure (HTTP 503)' });
    assert.equal(partial.stdout.trim().split('\n').length, 1, partial.stdout);
    assert.equal(partial.stderr, 'error: injected failure (HTTP 503)\n');
  } finally {
    await proxy.close();
  }
  for (const id of ids) assert.equal(await runState(id), 'RUN_CANCELED');
  const bulk = await cli(['runs', 'cancel', '--url', `${app.url}/cli-sl`]);
  assert.equal(bulk.code, 0, bulk.stderr);
  assert.equal(bulk.stdout, 'cancelled 0 workflow runs\n');
  assert.equal((await cli(['runs', 'cancel'])).code, 2);
  assert.equal((await cli(['runs', 'list', '--state', 'SLEEPING'])).code, 2);
});

test('stats: the figures match Redis, workers and per-minute throughput', async () => {
  for (let i = 0; i < 3; i++) await cli(['publish', `${ep.url}/ok`]);
  await cli(['publish', `${ep.url}/ok`, '--delay', '1h']);
  const k = (s) => stack.key(s);
  const s = await waitFor(async () => {
    const j = await cliJson(['stats']);
    const minute = j.perMinute.reduce((a, m) => a + m.delivered, 0);
    const want = {
      delayed: await r('ZCARD', k('{msg}:delayed')), dlq: await r('ZCARD', k('{dlq}:idx:all')),
      fail: await r('ZCARD', k('{dlq}:idx:state:CALLBACK_FAIL')), none: await r('ZCARD', k('{dlq}:idx:state:NONE')),
      running: await r('ZCARD', k('{wf}:running')),
    };
    return j.queues.messages.delayed === want.delayed && j.dlq.total === want.dlq &&
      j.dlq.byFailureFunctionState.CALLBACK_FAIL === want.fail &&
      j.dlq.byFailureFunctionState.NONE === want.none && j.workflows.running === want.running &&
      j.workersAlive === 1 && minute >= 5 && j;
  }, { timeout: 20000, message: 'stats equal to Redis' });
  assert.equal(s.workers[0].name, stack.workers[0].consumer);

  const human = await cli(['stats', '--minutes', '5']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^stats at \d{4}-/);
  assert.match(human.stdout, /\n {2}QUEUE +LENGTH +BACKLOG +PENDING +OLDEST PENDING +DELAYED\n {2}messages +\d+ +\d+ +\d+ +\S+ +\d+\n/);
  assert.match(human.stdout, /\ndlq: \d+ entr(y|ies)\n/);
  assert.match(human.stdout, /\nworkflow runs: \d+ running\n/);
  assert.match(human.stdout, /\nworkers: 1 alive\n/);
  assert.ok(human.stdout.includes(stack.workers[0].consumer), human.stdout);
  assert.match(human.stdout, /\nlast 5 minutes: \d+ delivered, \d+ retried, \d+ failed, \d+ published\n/);
  assert.equal((await cli(['stats', '--minutes', '0'])).code, 2);
});

/** Every {value, command} figure of an inspect document, with its path. */
function figures(node, at = [], out = []) {
  if (node && typeof node === 'object') {
    if (!Array.isArray(node) && 'command' in node && 'value' in node) out.push({ at: at.join('.'), ...node });
    for (const [key, v] of Object.entries(node)) figures(v, [...at, key], out);
  }
  return out;
}

/** redis-cli's raw output of a flat reply list as [{k: v}] records that
 *  start at each `first` key. */
function records(text, first) {
  const lines = text.split('\n');
  const out = [];
  for (let i = 0; i + 1 < lines.length; i += 2) {
    if (lines[i] === first) out.push({});
    if (out.length) out[out.length - 1][lines[i]] = lines[i + 1];
  }
  return out;
}

/** Checks an inspect document against Redis through its own commands;
 *  returns the list of mismatches. */
async function mismatches(doc) {
  const bad = [];
  const figs = figures(doc);
  for (const f of figs) {
    if (!f.command.startsWith('redis-cli ')) bad.push(`${f.at}: command ${f.command}`);
    if (f.error) bad.push(`${f.at}: error ${f.error}`);
    if (typeof f.value === 'number' || typeof f.value === 'boolean') {
      const want = typeof f.value === 'boolean' ? (f.value ? '1' : '0') : String(f.value);
      const got = await sh(f.command);
      if (got !== want) bad.push(`${f.at}: ${want} printed, \`${f.command}\` says ${got}`);
    }
  }
  for (const q of doc.queues) {
    const g = records(await sh(q.groups.command), 'name');
    const mine = q.groups.value.map((x) => ({ name: x.name, pending: String(x.pending), lag: String(x.lag ?? '') }));
    const theirs = g.map((x) => ({ name: x.name, pending: x.pending, lag: x.lag }));
    if (JSON.stringify(mine) !== JSON.stringify(theirs)) bad.push(`${q.name} groups ${JSON.stringify(mine)} vs ${JSON.stringify(theirs)}`);
    for (const grp of q.groups.value) {
      const lines = (await sh(grp.oldestPending.command)).split('\n').filter(Boolean);
      const ids = lines.filter((_, i) => i % 4 === 0);
      if (JSON.stringify(ids) !== JSON.stringify(grp.oldestPending.value.map((p) => p.id))) {
        bad.push(`${q.name} pending ${JSON.stringify(ids)}`);
      }
    }
    const due = (await sh(q.nextDue.command)).split('\n').filter(Boolean);
    const mineDue = q.nextDue.value ? [q.nextDue.value.id, String(q.nextDue.value.dueAt)] : [];
    if (JSON.stringify(due) !== JSON.stringify(mineDue)) bad.push(`${q.name} next due ${JSON.stringify(due)}`);
  }
  // The keys as bytes (a name that is not UTF-8 comes with keyBase64).
  const raw = await sh(doc.flowControl.keys.command, { buffer: true });
  const scanned = [];
  for (let at = 0; at < raw.length;) {
    const nl = raw.indexOf(0x0a, at);
    scanned.push(raw.subarray(at, nl < 0 ? raw.length : nl).toString('hex'));
    at = nl < 0 ? raw.length : nl + 1;
  }
  const mineKeys = doc.flowControl.keys.value.map((x) => Buffer.concat([
    Buffer.from(stack.key('{msg}:fc:conf:')),
    x.keyBase64 ? Buffer.from(x.keyBase64, 'base64') : Buffer.from(x.key)]).toString('hex'));
  if (JSON.stringify(scanned.sort()) !== JSON.stringify(mineKeys.sort())) bad.push(`fc keys ${JSON.stringify(scanned)}`);
  return bad;
}

test('inspect: every figure, the redis-cli command behind it, and the two agree', async () => {
  // A delivery in flight (pending in the group) and a flow-control key with
  // one slot taken and one message waiting.
  await cli(['publish', `${ep.url}/stall`, '--flow-control-key', 'cli-fc', '--flow-control-value', 'parallelism=1']);
  await cli(['publish', `${ep.url}/stall`, '--flow-control-key', 'cli-fc', '--flow-control-value', 'parallelism=1']);
  await waitFor(async () => (await r('LLEN', stack.key('{msg}:fc:wait:cli-fc'))) === 1 &&
    ep.to('/stall').length === 1, { message: 'one stalled delivery, one parked' });

  // Hostile names, as another program could leave them in Redis: a
  // flow-control key with an escape sequence, a quote and bytes that are
  // not UTF-8 (one message in flight on it), and a dead worker whose name
  // holds an escape sequence and is longer than any fixed buffer.
  const oddKey = Buffer.concat([Buffer.from("cli-odd\x1b[2J'q"), Buffer.from([0xff, 0xfe])]);
  const fcKey = (kind) => Buffer.concat([Buffer.from(stack.key(`{msg}:fc:${kind}:`)), oddKey]);
  await r('HSET', fcKey('conf'), 'parallelism', '3');
  await r('ZADD', fcKey('run'), String(Date.now() + 3600000), 'msg_odd');
  const longName = `w-\x1b]0;pwned\x07-${'x'.repeat(400)}`;
  await r('ZADD', stack.key('{stats}:workers'), String(Date.now() - 60000), longName);
  await r('HSET', stack.key(`{stats}:worker:${longName}`), 'pid', '4242', 'host', 'odd-host');

  let doc, bad;
  for (let attempt = 0; attempt < 3; attempt++) {
    doc = await cliJson(['inspect']);
    bad = await mismatches(doc);
    if (bad.length === 0) break;
  }
  assert.deepEqual(bad, [], 'inspect figures disagree with their commands');

  const msg = doc.queues[0];
  assert.equal(msg.stream, stack.key('{msg}:stream'));
  assert.equal(msg.length.command, `redis-cli -h 127.0.0.1 -p ${stack.redis.port} XLEN '${stack.prefix}:{msg}:stream'`);
  const workers = msg.groups.value.find((g) => g.name === 'workers');
  assert.ok(workers.pending >= 1, JSON.stringify(workers));
  assert.ok(workers.consumerList.value.some((c) => c.name === stack.workers[0].consumer));
  assert.equal(workers.oldestPending.value[0].consumer, stack.workers[0].consumer);
  assert.ok(msg.delayed.value >= 1 && msg.nextDue.value.dueAt > Date.now(), JSON.stringify(msg.nextDue));
  const fc = doc.flowControl.keys.value.find((x) => x.key === 'cli-fc');
  assert.deepEqual([fc.inflight.value, fc.waiting.value, fc.config.value.parallelism], [1, 1, '1']);
  assert.equal(doc.workers.alive.value, 1);
  // The live-worker count's command computes "now - 15 s" when it runs
  // (from Redis' clock), so it answers the same question pasted later.
  assert.match(doc.workers.alive.command,
    /^redis-cli .* ZCOUNT '\S+:\{stats\}:workers' \$\(\( \$\(redis-cli .* TIME \| head -n 1\) \* 1000 - 15000 \)\) \+inf$/);
  const realWorker = doc.workers.list.value.find((w) => w.name === stack.workers[0].consumer);
  assert.equal(realWorker.alive, true);
  // The odd names: counted, read with their exact bytes, shown escaped.
  const odd = doc.flowControl.keys.value.find((x) => x.keyBase64 === oddKey.toString('base64'));
  assert.ok(odd, JSON.stringify(doc.flowControl.keys.value.map((x) => x.key)));
  assert.equal(odd.key, "cli-odd\x1b[2J'q\\xff\\xfe");
  assert.deepEqual([odd.config.value.parallelism, odd.inflight.value, odd.waiting.value], ['3', 1, 0]);
  assert.ok(odd.inflight.command.includes("$'"), odd.inflight.command);
  const longW = doc.workers.list.value.find((w) => w.name === longName);
  assert.ok(longW, 'the worker with the long name is listed');
  assert.equal(longW.alive, false);
  assert.equal(longW.info.value.pid, '4242', 'its hash read under its full name');
  assert.equal(await sh(longW.info.command), 'pid\n4242\nhost\nodd-host');
  assert.deepEqual([doc.signingKeys.current.value, doc.signingKeys.next.value], [true, true]);
  assert.equal(doc.dlq.total.value, await r('ZCARD', stack.key('{dlq}:idx:all')));
  assert.ok(doc.workflows.runs.value >= 6, JSON.stringify(doc.workflows));
  // P:{wf}:failed is a hand-off set the sweep empties: no figure of its own.
  assert.deepEqual(Object.keys(doc.workflows).sort(), ['expiring', 'running', 'runs']);

  const human = await cli(['inspect']);
  assert.equal(human.code, 0, human.stderr);
  const out = human.stdout;
  assert.ok(!hasControl(out), 'no escape sequence reaches the terminal');
  assert.match(out, /\n {4}key cli-odd \[2J'q\\xff\\xfe +parallelism=3 rate=- period=- +\$ redis-cli .* HGETALL \$'\S+:\{msg\}:fc:conf:cli-odd\\x1b\[2J\\'q\\xff\\xfe'\n/);
  assert.match(out, /\n {4}worker w- \]0;pwned -x+\.\.\. +\(every field\) +\$ redis-cli .* HGETALL \$'\S+:\{stats\}:worker:w-\\x1b\]0;pwned\\x07-x{400}'\n/);
  assert.ok(!out.includes(SIGNING_SECRET) && !JSON.stringify(doc).includes(SIGNING_SECRET), 'a secret was printed');
  const cliPrefix = `redis-cli -h 127.0.0.1 -p ${stack.redis.port}`;
  assert.ok(out.includes(`\n  length                   ${msg.length.value} `), out);
  assert.ok(out.includes(`$ ${cliPrefix} XLEN '${stack.prefix}:{msg}:stream'\n`), out);
  assert.ok(out.includes(`$ ${cliPrefix} XPENDING '${stack.prefix}:{msg}:stream' workers - + 10\n`), out);
  assert.ok(out.includes(`$ ${cliPrefix} ZCARD '${stack.prefix}:{dlq}:idx:state:CALLBACK_FAIL'\n`), out);
  assert.ok(out.includes(`$ ${cliPrefix} --scan --pattern '${stack.prefix}:{msg}:fc:conf:*'\n`), out);
  assert.match(out, /\n {4}key cli-fc +parallelism=1 rate=\S+ period=\S+ +\$ /);
  assert.match(out, /\n {2}current key set +yes +\$ /);
  for (const section of ['\nserver\n', '\nmessages queue  ', '\nfailure-callback queue  ', '\ndlq\n',
    '\nworkflow runs\n', '\nflow control\n', '\nworkers\n', '\nsigning keys']) {
    assert.ok(out.includes(section), `section ${JSON.stringify(section)}`);
  }

  releaseStall();
  await waitFor(() => ep.to('/stall').length === 2, { message: 'the parked message delivered after the stall' });
  for (const k of ['conf', 'run']) await r('DEL', fcKey(k));
  await r('ZREM', stack.key('{stats}:workers'), longName);
  await r('DEL', stack.key(`{stats}:worker:${longName}`));

  // Redis unreachable: a clear message and exit 1; bad prefix: usage.
  const port = await freePort();
  const down = await cli(['inspect', '--redis-url', `redis://127.0.0.1:${port}`]);
  assert.equal(down.code, 1);
  assert.equal(down.stdout, '');
  assert.match(down.stderr, new RegExp(`^error: cannot connect to Redis at 127.0.0.1:${port}: .+\\n$`));
  assert.equal((await cli(['inspect', '--prefix', 'bad prefix'])).code, 2);
  assert.equal((await cli(['inspect', '--redis-url', 'http://x'])).code, 2);
});

test('exit codes and --help: usage 2, API error 1, unreachable 1, not found 3, help 0', async () => {
  for (const args of [[], ['bogus'], ['publish'], ['publish', 'not-a-url'], ['dlq'], ['runs'], ['runs', 'bogus'],
    ['dlq', 'list', '--state', 'NOPE'], ['dlq', 'list', '--count', '101'], ['dlq', 'list', '--from', 'yesterday'],
    ['dlq', 'get'], ['dlq', 'get', 'a', 'b'], ['dlq', 'list', '--nope'], ['runs', 'get'],
    ['publish', `${ep.url}/ok`, '--retries', '-1'], ['--nope'], ['stats', 'extra'], ['trigger'],
    ['dlq', 'resume', '--retries', 'x', '--all'], ['dlq', 'list', '--from', '2024'],
    ['dlq', 'delete', '--to', '20240501', '--dry-run'], ['runs', 'list', '--from', '1714564800']]) {
    const res = await cli(args);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, /--help/, args.join(' '));
    assert.equal(res.stderr.trim().split('\n').length, 1, args.join(' '));
  }
  // A number that is not 13-digit milliseconds never means 1970.
  const date8 = await cli(['dlq', 'list', '--from', '20240501']);
  assert.equal(date8.stderr, "stepflow: bad --from '20240501': a date wants dashes: YYYY-MM-DD (2024-05-01) " +
    '(see `stepflow dlq list --help`)\n');
  const secs = await cli(['runs', 'list', '--to', '1714564800']);
  assert.match(secs.stderr, /bad --to '1714564800': Unix seconds\? milliseconds have 13 digits/);

  const bad = await cli(['dlq', 'list'], { STEPFLOW_TOKEN: 'wrong' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: .+ \(HTTP 401\)\n$/);
  const badJson = await cli(['--json', 'dlq', 'list'], { STEPFLOW_TOKEN: 'wrong' });
  assert.equal(badJson.code, 1);
  assert.equal(typeof JSON.parse(badJson.stdout).error, 'string');
  const invalid = await cli(['publish', `${ep.url}/ok`, '--retry-delay', 'pow(']);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /\(HTTP 400\)/);

  const port = await freePort();
  for (const args of [['dlq', 'list'], ['stats'], ['runs', 'list']]) {
    const down = await cli(['--url', `http://127.0.0.1:${port}`, ...args]);
    assert.equal(down.code, 1, args.join(' '));
    assert.match(down.stderr, new RegExp(`^error: cannot reach the coordinator at http://127.0.0.1:${port}: `));
  }
  // Credentials in the URL never show in a message.
  const creds = await cli(['--url', `http://ops:s3cret@127.0.0.1:${port}/`, 'stats']);
  assert.equal(creds.code, 1);
  assert.match(creds.stderr, new RegExp(`^error: cannot reach the coordinator at http://127.0.0.1:${port}/: `));
  assert.ok(!creds.stderr.includes('s3cret') && !creds.stderr.includes('ops@'), creds.stderr);

  // A 404 that does not name the entity (a wrong base URL: no such route)
  // is an error, exit 1, not "not found" (3).
  for (const args of [['dlq', 'get', 'dlq_x'], ['dlq', 'retry', 'dlq_x'], ['runs', 'cancel', 'wfr_x']]) {
    const wrong = await cli(['--url', `${stack.url}/base`, ...args]);
    assert.equal(wrong.code, 1, `${args.join(' ')}: ${wrong.stderr}`);
    assert.match(wrong.stderr, new RegExp(`^error: not found \\(HTTP 404 for \\S+ ${stack.url}/base/v2/\\S+: ` +
      `is ${stack.url}/base the coordinator's URL\\?\\)\\n$`));
  }
  // STEPFLOW_LISTEN (the coordinator's own setting) is used when
  // STEPFLOW_URL is not set.
  const listen = stack.url.replace('http://', '');
  const viaListen = await cli(['stats'], { STEPFLOW_URL: '', STEPFLOW_LISTEN: listen });
  assert.equal(viaListen.code, 0, viaListen.stderr);

  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^exit codes:\n {2}0 {2}ok\n {2}1 .*\n.*\n {2}2 .*\n {2}3 {2}not found/m);
  for (const args of [['publish'], ['trigger'], ['dlq', 'list'], ['dlq', 'get'], ['dlq', 'retry'],
    ['dlq', 'retry-callback'], ['dlq', 'cancel-callback'], ['dlq', 'resume'], ['dlq', 'restart'],
    ['dlq', 'delete'], ['runs', 'list'], ['runs', 'get'], ['runs', 'cancel'], ['stats'], ['inspect'],
    ['dlq'], ['runs']]) {
    const res = await cli([...args, '--help']);
    assert.equal(res.code, 0, args.join(' '));
    assert.match(res.stdout, new RegExp(`^usage: stepflow ${args[0]}`), args.join(' '));
    assert.equal(res.stderr, '');
  }
});

test('--json: dlq get and a refused retry-callback print the API JSON', async () => {
  const res = await cliJson(['publish', `${ep.url}/json-fail`, '--retries', '0']);
  const mid = res.messageId;
  const entry = await waitFor(async () => (await dlqJson()).find((m) => m.messageId === mid),
    { timeout: 30000, message: 'DLQ entry' });
  const e = await cliJson(['dlq', 'get', entry.dlqId]);
  assert.equal(e.dlqId, entry.dlqId);
  assert.equal(e.messageId, mid);
  assert.equal(Number(e.responseStatus), 500);
  // No failure callback on this entry: retrying it is refused (exit 1), and
  // --json still prints the API's JSON error on stdout.
  const retry = await cli(['--json', 'dlq', 'retry-callback', entry.dlqId]);
  assert.equal(retry.code, 1, retry.stderr);
  assert.equal(typeof JSON.parse(retry.stdout).error, 'string', retry.stdout);
  const missing = await cli(['--json', 'dlq', 'get', 'dlq_nope']);
  assert.equal(missing.code, 3);
  assert.equal(typeof JSON.parse(missing.stdout).error, 'string');
  // What the API holds never reaches the terminal as an escape sequence:
  // a label with ESC, BEL and a C1 CSI (U+009B) is shown cleaned, and
  // --json escapes it (\u001b...), still the same string once parsed.
  const evil = 'x\x1b]0;pwned\x07\u009b2J';
  await r('HSET', stack.key(`{dlq}:entry:${entry.dlqId}`), 'label', evil);
  const shown = await cli(['dlq', 'get', entry.dlqId]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.ok(!hasControl(shown.stdout), JSON.stringify(shown.stdout));
  assert.match(shown.stdout, /^label: +x \]0;pwned  2J$/m);
  const listed = await cli(['dlq', 'list', '--message-id', mid]);
  assert.ok(!hasControl(listed.stdout) && listed.stdout.includes('x ]0;pwned  2J'), listed.stdout);
  const asJson = await cli(['--json', 'dlq', 'get', entry.dlqId]);
  assert.ok(!hasControl(asJson.stdout), asJson.stdout);
  assert.equal(JSON.parse(asJson.stdout).label, evil);
  // a plain message's entry cannot be resumed: the dry run says so
  const notWf = await cli(['dlq', 'resume', entry.dlqId, '--dry-run']);
  assert.equal(notWf.code, 1);
  assert.match(notWf.stderr, new RegExp(`dlq entry '${entry.dlqId}' is not a workflow run's`));
  const refused = await cli(['--json', 'dlq', 'restart', entry.dlqId]);
  assert.equal(refused.code, 1);
  assert.deepEqual(JSON.parse(refused.stdout), { workflowRuns: [], notFound: [], failed: [entry.dlqId] });
  // bulk by id with --json: one summary object
  const del = await cli(['--json', 'dlq', 'delete', entry.dlqId, 'dlq_nope']);
  assert.equal(del.code, 3);
  assert.deepEqual(JSON.parse(del.stdout), { deleted: 1, notFound: ['dlq_nope'], failed: [] });
});

test('worker and coordinator exit 0 on SIGTERM', async () => {
  releaseStall();
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
