// cli.test.mjs - the `stepflow` CLI against a real coordinator: publish,
// dlq list/get/retry-callback, human and --json output, exit codes
// (0 ok, 1 API error, 2 usage error, 3 coordinator unreachable).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before } from 'node:test';
import { startStack, endpoint, waitFor, test, hdr, freePort, BIN_DIR } from './lib/stack.mjs';

let stack, ep;
let cbStatus = 500;
before(async () => {
  ep = await endpoint((req) => {
    if (req.path === '/bad') return { status: 500, body: 'bad' };
    if (req.path === '/cb') return { status: cbStatus };
    return { status: 200 };
  });
  stack = await startStack({ workers: 1 });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

/** Runs the CLI; resolves {code, stdout, stderr}.  env adds to a clean env. */
function cli(args, { env = {}, global = true } = {}) {
  const full = global ? ['--url', stack.url, '--token', stack.token, ...args] : args;
  return new Promise((resolve) => {
    execFile(path.join(BIN_DIR, 'stepflow'), full, {
      timeout: 20000,
      env: { PATH: process.env.PATH, ...env },
    }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const show = (r) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

test('--help exits 0 and names the commands', async () => {
  const r = await cli(['--help'], { global: false });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /publish/);
  assert.match(r.stdout, /dlq/);
});

test('publish: human output, --json output, forwarded header delivered', async () => {
  let r = await cli(['publish', `${ep.url}/ok`, '--body', 'hi from cli', '--header', 'X-Foo: bar']);
  assert.equal(r.code, 0, show(r));
  const m = r.stdout.match(/msg_[A-Za-z0-9_-]+/);
  assert.ok(m, `human output names the messageId: ${show(r)}`);
  const got = await waitFor(() => ep.to('/ok').find((x) => hdr(x, 'Upstash-Message-Id') === m[0]),
    { message: 'CLI-published delivery' });
  assert.equal(got.text, 'hi from cli');
  assert.equal(hdr(got, 'X-Foo'), 'bar');

  // --json, with URL and token taken from the environment.
  r = await cli(['--json', 'publish', `${ep.url}/ok`, '--body', '{"a":1}'],
    { global: false, env: { STEPFLOW_URL: stack.url, STEPFLOW_TOKEN: stack.token } });
  assert.equal(r.code, 0, show(r));
  const j = JSON.parse(r.stdout);
  assert.match(j.messageId, /^msg_/);
  await waitFor(() => ep.to('/ok').some((x) => hdr(x, 'Upstash-Message-Id') === j.messageId),
    { message: '--json delivery' });
});

let dlqId;
test('dlq list --state CALLBACK_FAIL and dlq get, human and --json', async () => {
  const r0 = await cli(['--json', 'publish', `${ep.url}/bad`, '--body', 'doomed',
    '--retries', '0', '--retry-delay', '100', '--failure-callback', `${ep.url}/cb`]);
  assert.equal(r0.code, 0, show(r0));
  const id = JSON.parse(r0.stdout).messageId;
  const entry = await stack.waitDlq(id, { query: 'failureFunctionState=CALLBACK_FAIL', timeout: 30000 });
  dlqId = entry.dlqId;

  let r = await cli(['dlq', 'list', '--state', 'CALLBACK_FAIL']);
  assert.equal(r.code, 0, show(r));
  assert.ok(r.stdout.includes(dlqId), `table lists ${dlqId}: ${show(r)}`);
  r = await cli(['--json', 'dlq', 'list', '--state', 'CALLBACK_FAIL']);
  assert.equal(r.code, 0, show(r));
  assert.ok(JSON.parse(r.stdout).messages.some((x) => x.dlqId === dlqId), show(r));
  r = await cli(['dlq', 'list', '--state', 'CALLBACK_SUCCESS']);
  assert.equal(r.code, 0, show(r));
  assert.ok(!r.stdout.includes(dlqId), `not in the CALLBACK_SUCCESS list: ${show(r)}`);

  r = await cli(['dlq', 'get', dlqId]);
  assert.equal(r.code, 0, show(r));
  assert.ok(r.stdout.includes(dlqId), show(r));
  assert.ok(r.stdout.includes(id), show(r));
  assert.match(r.stdout, /CALLBACK_FAIL/);
  assert.match(r.stdout, /500/);
  r = await cli(['--json', 'dlq', 'get', dlqId]);
  assert.equal(r.code, 0, show(r));
  const e = JSON.parse(r.stdout);
  assert.equal(e.dlqId, dlqId);
  assert.equal(e.failureCallbackInfo.state, 'CALLBACK_FAIL');
});

test('dlq retry-callback: 0 then CALLBACK_SUCCESS; a second one exits 1', async () => {
  assert.ok(dlqId, 'previous test produced a dlqId');
  cbStatus = 200;
  const before = ep.to('/cb').length;
  let r = await cli(['dlq', 'retry-callback', dlqId]);
  assert.equal(r.code, 0, show(r));
  assert.ok(r.stdout.includes(dlqId), show(r));
  await waitFor(() => ep.to('/cb').length > before, { message: 'callback called again' });
  await waitFor(async () => {
    const x = await stack.api('GET', `/v2/dlq/${dlqId}`);
    return x.json && x.json.failureCallbackInfo && x.json.failureCallbackInfo.state === 'CALLBACK_SUCCESS';
  }, { timeout: 20000, message: 'CALLBACK_SUCCESS' });
  r = await cli(['dlq', 'retry-callback', dlqId]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /400/);
  r = await cli(['--json', 'dlq', 'retry-callback', dlqId]);
  assert.equal(r.code, 1, show(r));
  assert.equal(typeof JSON.parse(r.stdout).error, 'string', show(r));
});

test('exit codes: 1 API error, 2 usage error, 3 unreachable', async () => {
  let r = await cli(['dlq', 'get', 'dlq_doesnotexist']);
  assert.equal(r.code, 1, show(r));
  r = await cli(['--url', stack.url, '--token', 'wrong', 'dlq', 'list'], { global: false });
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /401/);

  for (const args of [['frobnicate'], ['publish'], ['dlq', 'list', '--state', 'BOGUS'], ['dlq', 'get'],
    ['publish', 'not-a-url'], ['dlq', 'list', '--count', '0']]) {
    r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${show(r)}`);
    assert.ok(r.stderr.length > 0, `usage error explained on stderr: ${args.join(' ')}`);
  }

  const port = await freePort();
  r = await cli(['--url', `http://127.0.0.1:${port}`, '--token', 't', 'dlq', 'list'], { global: false });
  assert.equal(r.code, 3, show(r));
  assert.match(r.stderr, /reach/);
});

test('worker and coordinator exit 0 on SIGTERM', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
