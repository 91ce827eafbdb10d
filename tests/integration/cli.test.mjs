// cli.test.mjs - the `stepflow` CLI against a real coordinator and worker:
// publish, the DLQ commands, human and --json output, and exit codes
// (0 ok, 1 API error, 2 usage, 3 unreachable).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before } from 'node:test';
import { BIN_DIR, endpoint, freePort, hdr, startStack, test, waitFor } from './lib/stack.mjs';

let stack, ep, cbOk = false;

/** Runs the CLI; resolves {code, stdout, stderr} (never rejects on exit != 0). */
function cli(args, env = {}) {
  return new Promise((resolve) => {
    execFile(path.join(BIN_DIR, 'stepflow'), args, {
      env: { ...process.env, STEPFLOW_URL: stack.url, STEPFLOW_TOKEN: stack.token, ...env },
      timeout: 30000,
    }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

async function dlqJson(query = []) {
  const r = await cli(['--json', 'dlq', 'list', ...query]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).messages;
}

before(async () => {
  ep = await endpoint((req) => {
    if (req.path === '/ok') return { status: 200, body: 'ok' };
    if (req.path === '/cb' && cbOk) return { status: 200, body: 'cb ok' };
    return { status: 500, body: 'broken' };
  });
  stack = await startStack({ workers: 1 });
});
after(async () => {
  if (stack) await stack.stop();
  if (ep) await ep.close();
});

test('publish: headers, body and settings reach the endpoint', async () => {
  const r = await cli(['publish', `${ep.url}/ok`, '--body', '{"a":1}', '--header', 'X-Foo: bar',
    '--method', 'PUT', '--retries', '2']);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.match(/^messageId: (msg_\S+)\n$/)?.[1];
  assert.ok(id, r.stdout);
  const got = await waitFor(() => ep.to('/ok').find((q) => hdr(q, 'Upstash-Message-Id') === id),
    { message: 'delivery to /ok' });
  assert.equal(got.method, 'PUT');
  assert.equal(got.text, '{"a":1}');
  assert.equal(hdr(got, 'X-Foo'), 'bar');
  assert.equal(hdr(got, 'Content-Type'), 'application/json');

  const j = await cli(['--json', 'publish', `${ep.url}/ok`]);
  assert.equal(j.code, 0, j.stderr);
  assert.match(JSON.parse(j.stdout).messageId, /^msg_/);
});

test('dlq list/get/retry-callback: the failure-callback story', async () => {
  const r = await cli(['publish', `${ep.url}/fail`, '--body', 'x', '--retries', '1',
    '--retry-delay', '0', '--label', 'cli', '--failure-callback', `${ep.url}/cb`]);
  assert.equal(r.code, 0, r.stderr);
  const mid = r.stdout.trim().split(' ')[1];
  const entry = await waitFor(async () => (await dlqJson(['--state', 'CALLBACK_FAIL']))
    .find((m) => m.messageId === mid), { timeout: 30000, message: 'CALLBACK_FAIL entry' });
  const id = entry.dlqId;

  const table = await cli(['dlq', 'list', '--state', 'CALLBACK_FAIL']);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.split('\n');
  assert.match(lines[0], /^DLQ ID +MESSAGE ID +URL +STATUS +CALLBACK +DLQ TIME$/);
  const row = lines.find((l) => l.startsWith(id));
  assert.ok(row, table.stdout);
  assert.match(row, /\s500\s+CALLBACK_FAIL\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  const get = await cli(['dlq', 'get', id]);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, new RegExp(`^dlqId: +${id}$`, 'm'));
  assert.match(get.stdout, /^reason: +\S/m);
  assert.match(get.stdout, /^attempts: +2$/m);
  assert.match(get.stdout, /^ +#1 .*status 500/m);
  assert.match(get.stdout, /^callback state: +CALLBACK_FAIL$/m);
  assert.match(get.stdout, /^callback responseStatus: +500$/m);

  cbOk = true;
  const retry = await cli(['dlq', 'retry-callback', id]);
  assert.equal(retry.code, 0, retry.stderr);
  assert.equal(retry.stdout, `failure callback of ${id} re-enqueued\n`);
  await waitFor(async () => /^callback state: +CALLBACK_SUCCESS$/m.test((await cli(['dlq', 'get', id])).stdout),
    { timeout: 20000, message: 'CALLBACK_SUCCESS' });

  const again = await cli(['dlq', 'retry-callback', id]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: .+ \(HTTP 400\)\n$/);
});

test('dlq delete, then get answers 404 with exit 1', async () => {
  const r = await cli(['publish', `${ep.url}/gone`, '--retries', '0']);
  assert.equal(r.code, 0, r.stderr);
  const mid = r.stdout.trim().split(' ')[1];
  const entry = await waitFor(async () => (await dlqJson()).find((m) => m.messageId === mid),
    { timeout: 30000, message: 'DLQ entry' });
  const del = await cli(['dlq', 'delete', entry.dlqId]);
  assert.equal(del.code, 0, del.stderr);
  assert.equal(del.stdout, `dlq entry ${entry.dlqId} deleted\n`);
  const get = await cli(['dlq', 'get', entry.dlqId]);
  assert.equal(get.code, 1);
  assert.match(get.stderr, /\(HTTP 404\)\n$/);
});

test('exit codes: usage 2, API error 1, unreachable 3, help 0', async () => {
  for (const args of [[], ['bogus'], ['publish'], ['publish', 'not-a-url'], ['dlq'],
    ['dlq', 'list', '--state', 'NOPE'], ['dlq', 'list', '--count', '101'], ['dlq', 'get'],
    ['publish', `${ep.url}/ok`, '--retries', '-1'], ['--nope']]) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /--help/, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, args.join(' '));
  }
  const bad = await cli(['dlq', 'list'], { STEPFLOW_TOKEN: 'wrong' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: .+ \(HTTP 401\)\n$/);
  const invalid = await cli(['publish', `${ep.url}/ok`, '--retry-delay', 'pow(']);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /\(HTTP 400\)/);

  const port = await freePort();
  const down = await cli(['--url', `http://127.0.0.1:${port}`, 'dlq', 'list']);
  assert.equal(down.code, 3);
  assert.match(down.stderr, new RegExp(`cannot reach the coordinator at http://127.0.0.1:${port}`));

  for (const args of [['--help'], ['publish', '--help'], ['dlq', '--help'], ['dlq', 'list', '--help']]) {
    const r = await cli(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /^usage: stepflow/);
  }
});

test('--json: dlq get and a refused retry-callback print the API JSON', async () => {
  const r = await cli(['--json', 'publish', `${ep.url}/json-fail`, '--retries', '0']);
  assert.equal(r.code, 0, r.stderr);
  const mid = JSON.parse(r.stdout).messageId;
  const entry = await waitFor(async () => (await dlqJson()).find((m) => m.messageId === mid),
    { timeout: 30000, message: 'DLQ entry' });
  const get = await cli(['--json', 'dlq', 'get', entry.dlqId]);
  assert.equal(get.code, 0, get.stderr);
  const e = JSON.parse(get.stdout);
  assert.equal(e.dlqId, entry.dlqId);
  assert.equal(e.messageId, mid);
  assert.equal(Number(e.responseStatus), 500);
  // No failure callback on this entry: retrying it is refused (exit 1), and
  // --json still prints the API's JSON error on stdout.
  const retry = await cli(['--json', 'dlq', 'retry-callback', entry.dlqId]);
  assert.equal(retry.code, 1, retry.stderr);
  assert.equal(typeof JSON.parse(retry.stdout).error, 'string', retry.stdout);
});

test('worker and coordinator exit 0 on SIGTERM', async () => {
  const exits = await stack.stop();
  for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
});
