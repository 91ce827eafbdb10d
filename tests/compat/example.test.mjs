// example.test.mjs - the runnable example in tests/example works as its
// README says: `node example/app.mjs` (an express app with two serve()
// workflows) pointed at a real coordinator with QSTASH_URL / QSTASH_TOKEN,
// and `node example/trigger.mjs` runs both workflows to RUN_SUCCESS.
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { startStack, freePort, waitFor, test } from '../integration/lib/stack.mjs';

const testsDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

describe('tests/example runs against stepflow', () => {
  let stack, appProc, appUrl, appOut = '';
  before(async () => {
    stack = await startStack({ workers: 1 });
    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    appProc = spawn(process.execPath, ['example/app.mjs'], {
      cwd: testsDir,
      env: { ...process.env, QSTASH_URL: stack.url, QSTASH_TOKEN: stack.token, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    appProc.stdout.on('data', (d) => { appOut += d; });
    appProc.stderr.on('data', (d) => { appOut += d; });
    await waitFor(async () => {
      if (appProc.exitCode !== null) throw new Error(`example app exited: ${appOut}`);
      const r = await fetch(`${appUrl}/api/inventory/x`).catch(() => null);
      return r && r.status === 200;
    }, { timeout: 15000, message: 'example app listening' });
  });
  after(async () => {
    if (appProc && appProc.exitCode === null) {
      appProc.kill('SIGTERM');
      await waitFor(() => appProc.exitCode !== null || appProc.signalCode !== null,
        { timeout: 5000, message: 'example app exit' }).catch(() => appProc.kill('SIGKILL'));
    }
    if (stack) await stack.stop();
  });

  test('trigger.mjs runs both workflows to RUN_SUCCESS', { timeout: 90000 }, async () => {
    const { code, stdout, stderr } = await new Promise((resolve) => {
      execFile(process.execPath, ['example/trigger.mjs'], {
        cwd: testsDir, timeout: 80000,
        env: { ...process.env, QSTASH_URL: stack.url, QSTASH_TOKEN: stack.token, APP_URL: appUrl },
      }, (err, so, se) => resolve({ code: err ? err.code : 0, stdout: so, stderr: se }));
    });
    const detail = `stdout:\n${stdout}\nstderr:\n${stderr}\napp:\n${appOut}`;
    assert.equal(code, 0, detail);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 2, detail);
    assert.match(lines[0], /\/workflows\/onboarding RUN_SUCCESS .*"userId":"u_ada"/, detail);
    assert.match(lines[1], /\/workflows\/order RUN_SUCCESS .*"charged":3998/, detail);
    assert.match(appOut, /welcome mail to ada@example.com \(mugs left: 12\)/, detail);
  });
});
