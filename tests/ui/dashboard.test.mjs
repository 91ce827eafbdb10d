// dashboard.test.mjs - the operator dashboard (coordinator/ui, served from
// the coordinator binary) in a real browser: Debian's chromium driven by
// playwright-core, against a real stack (redis-server, coordinator,
// worker) and a real @upstash/workflow serve() app whose failure function
// fails until the test flips a flag.  No mocks; every wait polls with a
// deadline.
//
// A screenshot of each page goes to $STEPFLOW_TEST_OUT/ui/<page>.png
// (ctest sets STEPFLOW_TEST_OUT=<build>/test-output).
//
//   0  the static files: types, CSP, nosniff, no-cache + ETag/304, 404 JSON,
//      no path traversal
//   1  sign in: a wrong token shows the 401, the right one opens the overview
//   2  DLQ: filter to CALLBACK_FAIL shows exactly that entry
//   3  the entry: request, response, attempts, failure-function errors;
//      "retry failure function" (confirmed) turns it CALLBACK_SUCCESS
//   4  runs: the failed run with its steps and failure function; 4b cancel
//      a running run
//   5  bulk delete of filtered entries (selected on the page, and "all
//      matching the filter"), with confirmation
//   6  sign out; no console errors in the whole session
//   7  a coordinator in dev mode: no token asked; 8 clean exits
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { chromium } from 'playwright-core';
import { Client } from '@upstash/workflow';
import { startStack, endpoint, waitFor, test } from '../integration/lib/stack.mjs';
import { startWorkflowApp } from '../compat/lib/wfapp.mjs';

const CHROMIUM = process.env.STEPFLOW_CHROMIUM || '/usr/bin/chromium';
const OUT_DIR = path.join(process.env.STEPFLOW_TEST_OUT ||
  path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../build/test-output'), 'ui');
const UI_TIMEOUT = 30000;

/** GET with a raw (not normalised) path; resolves {status, headers, text}. */
function rawGet(base, rawPath, headers = {}) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method: 'GET', path: rawPath, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error(`GET ${rawPath} timed out`)));
    req.end();
  });
}

describe('dashboard in chromium', () => {
  let stack, app, client, failing, browser, page;
  let ffMode = 'throw';
  let phase = 'start';
  const consoleErrors = [];
  const ids = {};
  let statsWorks = false;

  const shot = async (name) => {
    fs.mkdirSync(OUT_DIR, { recursive: true });
    await page.screenshot({ path: path.join(OUT_DIR, `${name}.png`), fullPage: true });
  };
  const byTestId = (id) => page.getByTestId(id);
  /** Polls fn() (async, page reads) until truthy; names what it waited for. */
  const until = (fn, message, timeout = UI_TIMEOUT) => waitFor(fn, { timeout, interval: 100, message });
  const textOf = async (loc) => ((await loc.count()) ? (await loc.first().textContent()) || '' : '');
  /** Whether a result toast of that kind matching "re" is shown. */
  const toastSeen = async (kind, re) => (await page.locator(`[data-testid="toast"][data-kind="${kind}"]`)
    .allTextContents()).some((t) => re.test(t));

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`chromium not found at ${CHROMIUM}: install Debian's chromium ` +
        '(apt-get install chromium; scripts/test does) or set STEPFLOW_CHROMIUM');
    }
    stack = await startStack({ workers: 1 });
    app = await startWorkflowApp({ env: { QSTASH_URL: stack.url, QSTASH_TOKEN: stack.token } });
    client = new Client({ baseUrl: stack.url, token: stack.token, retry: false });
    // A plain endpoint that always fails: entries without a failure function.
    failing = await endpoint(() => ({
      status: 500, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ error: 'inventory down' }),
    }));

    // A run whose step fails; its failure function throws until ffMode flips.
    const doomedUrl = app.route('/ui-doomed', async (context) => {
      await context.run('reserve-stock', () => ({ reserved: true }));
      await context.run('charge-card', () => { throw new Error('card declined'); });
    }, {
      failureFunction: async () => {
        if (ffMode === 'throw') throw new Error('failure function is broken');
        return 'compensated';
      },
    });
    // A run whose failure function works: CALLBACK_SUCCESS.
    const okUrl = app.route('/ui-compensated', async (context) => {
      await context.run('ship', () => { throw new Error('no courier'); });
    }, { failureFunction: async () => 'refunded' });
    // A run that sleeps for minutes: RUN_STARTED until the UI cancels it.
    const sleepyUrl = app.route('/ui-sleepy', async (context) => {
      await context.run('prepare', () => 'ready');
      await context.sleep('long-nap', 600);
      await context.run('never', () => 'too late');
    });
    ids.sleepyUrl = sleepyUrl;
    ids.doomedUrl = doomedUrl;
    ids.okUrl = okUrl;
    ids.doomedRun = (await client.trigger({ url: doomedUrl, body: { order: 'o-1' }, retries: 1, retryDelay: '100', label: 'ui-doomed' })).workflowRunId;
    ids.okRun = (await client.trigger({ url: okUrl, body: { order: 'o-2' }, retries: 0 })).workflowRunId;
    ids.sleepyRun = (await client.trigger({ url: sleepyUrl, body: {} })).workflowRunId;
    // Plain messages without a failure function (state NONE), for the bulk delete.
    ids.plainA = [];
    ids.plainB = [];
    for (const [label, list] of [['bulk-a', ids.plainA], ['bulk-a', ids.plainA], ['bulk-b', ids.plainB], ['bulk-b', ids.plainB]]) {
      list.push(await stack.publish(`${failing.url}/stock`, JSON.stringify({ sku: 'x-1', label }), {
        'Upstash-Retries': '0', 'Upstash-Label': label, 'Content-Type': 'application/json',
      }));
    }
    const entryOf = async (pred, what) => waitFor(async () => (await stack.dlqList('count=100')).find(pred),
      { timeout: 60000, interval: 200, message: what });
    ids.failEntry = await entryOf((m) => m.workflowRunId === ids.doomedRun && m.failureCallbackInfo &&
      m.failureCallbackInfo.state === 'CALLBACK_FAIL', 'the doomed run in CALLBACK_FAIL');
    ids.okEntry = await entryOf((m) => m.workflowRunId === ids.okRun && m.failureCallbackInfo &&
      m.failureCallbackInfo.state === 'CALLBACK_SUCCESS', 'the compensated run in CALLBACK_SUCCESS');
    for (const mid of [...ids.plainA, ...ids.plainB]) await stack.waitDlq(mid, { timeout: 30000, query: 'count=100' });

    const st = await stack.api('GET', '/v2/stats');
    statsWorks = st.status === 200;
    if (!statsWorks) process.stderr.write(`NOTE: GET /v2/stats answers ${st.status} ${st.text}: overview checks are relaxed\n`);

    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    page = await ctx.newPage();
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      consoleErrors.push({ phase, text: m.text(), url: (m.location() || {}).url || '' });
    });
    page.on('pageerror', (e) => consoleErrors.push({ phase, text: `uncaught: ${e.message}`, url: '' }));
  });

  after(async () => {
    if (browser) await browser.close();
    if (stack) await stack.stop();
    if (app) await app.close();
    if (failing) await failing.close();
  });

  test('0. static files: types, security headers, ETag/304, 404 JSON, no traversal', async () => {
    const root = await rawGet(stack.url, '/');
    assert.equal(root.status, 200);
    assert.match(root.headers['content-type'], /^text\/html/);
    assert.match(root.text, /<script src="\/ui\/app.js" defer><\/script>/);
    assert.match(root.headers['content-security-policy'], /default-src 'self'/);
    assert.equal(root.headers['x-content-type-options'], 'nosniff');
    assert.equal(root.headers['cache-control'], 'no-cache');
    const etag = root.headers.etag;
    assert.match(etag || '', /^"[0-9a-f]+"$/);
    const again = await rawGet(stack.url, '/', { 'If-None-Match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    assert.equal((await rawGet(stack.url, '/', { 'If-None-Match': `"nope", W/${etag}` })).status, 304);
    assert.equal((await rawGet(stack.url, '/', { 'If-None-Match': '"nope"' })).status, 200);
    for (const [p, type] of [['/ui/app.js', /^text\/javascript/], ['/ui/app.css', /^text\/css/],
      ['/ui/favicon.svg', /^image\/svg\+xml/], ['/ui/index.html', /^text\/html/], ['/ui/app.js?v=2', /^text\/javascript/]]) {
      const r = await rawGet(stack.url, p);
      assert.equal(r.status, 200, p);
      assert.match(r.headers['content-type'], type, p);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
      assert.match(r.headers.etag || '', /^"[0-9a-f]+"$/, p);
      if (!p.includes('index.html')) assert.notEqual(r.headers.etag, etag, `${p} has its own ETag`);
    }
    for (const p of ['/ui/nope.js', '/ui/../README.md', '/ui/..%2f..%2fREADME.md', '/ui/%2e%2e/app.js',
      '/ui/./app.js', '/ui/app.js/', '/ui/APP.JS', '/ui//etc/passwd', '/ui/app.js%00']) {
      const r = await rawGet(stack.url, p);
      assert.equal(r.status, 404, `${p} -> ${r.status}`);
      assert.match(r.headers['content-type'], /^application\/json/, p);
      assert.ok(JSON.parse(r.text).error, p);
    }
  });

  test('1. sign in: a wrong token shows the 401; the right one opens the overview', async () => {
    phase = 'signin';
    await page.goto(`${stack.url}/`);
    await byTestId('signin-form').waitFor({ timeout: UI_TIMEOUT });
    assert.equal(await byTestId('nav-dlq').isVisible(), false, 'no navigation before signing in');
    await byTestId('token-input').fill('not-the-token');
    await byTestId('signin-submit').click();
    const err = byTestId('signin-error');
    await err.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    assert.match(await err.textContent(), /refused this token \(401/);
    await shot('signin-error');

    await byTestId('token-input').fill(stack.token);
    await byTestId('signin-submit').click();
    await byTestId('nav-dlq').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    phase = 'signed-in';
    assert.equal(await page.evaluate(() => sessionStorage.getItem('stepflow.token')), stack.token);
    assert.match(await byTestId('auth-status').textContent(), /signed in/);

    if (statsWorks) {
      // The overview shows the live figures: a worker, and the DLQ by state.
      await until(async () => (await textOf(byTestId('stat-workers-alive'))) === '1', 'overview: 1 worker alive');
      await until(async () => Number(await textOf(page.locator('[data-testid="overview-count-CALLBACK_FAIL"] .count'))) >= 1,
        'overview: a CALLBACK_FAIL entry counted');
      assert.ok(await byTestId('chart-per-minute').isVisible(), 'per-minute chart');
      assert.equal(await byTestId('worker-row').count(), 1);
      assert.ok(Number(await textOf(byTestId('stat-dlq-total'))) >= 6, 'DLQ total');
      // Failed runs are DLQ entries: the runs card counts the running ones only.
      assert.match(await textOf(byTestId('stat-runs')), /^\d+$/, 'runs running');
      // The workers' heartbeats (every 5 s) bring this minute's deliveries.
      await until(async () => Number(await byTestId('chart-per-minute').getAttribute('data-delivered')) > 0 &&
        Number(await byTestId('chart-per-minute').getAttribute('data-failed')) >= 6,
      'the per-minute chart showing deliveries and failures', 30000);
    } else {
      await until(async () => /GET \/v2\/stats: 501/.test(await textOf(byTestId('overview-error'))),
        'overview says /v2/stats is unavailable');
    }
    await shot('overview');
  });

  test('2. DLQ: filtering to CALLBACK_FAIL shows exactly that entry', async () => {
    await byTestId('nav-dlq').click();
    await until(async () => (await byTestId('dlq-row').count()) >= 6, 'the unfiltered DLQ table');
    await byTestId('filter-state').selectOption('CALLBACK_FAIL');
    await byTestId('filter-apply').click();
    await until(async () => page.url().includes('failureFunctionState=CALLBACK_FAIL'), 'the filter in the URL');
    const rows = byTestId('dlq-row');
    await until(async () => {
      const n = await rows.count();
      return n === 1 && (await rows.first().getAttribute('data-dlq-id')) === ids.failEntry.dlqId;
    }, 'exactly the CALLBACK_FAIL entry');
    assert.equal(await rows.first().getAttribute('data-state'), 'CALLBACK_FAIL');
    const row = await rows.first().textContent();
    assert.ok(row.includes(ids.doomedUrl), 'workflow URL column');
    assert.ok(row.includes(ids.doomedRun), 'run id column');
    assert.ok(row.includes('ui-doomed'), 'label column');
    assert.equal(await textOf(byTestId('dlq-row-state')), 'CALLBACK_FAIL');
    if (statsWorks) {
      await until(async () => Number(await textOf(page.locator('[data-testid="dlq-count-CALLBACK_FAIL"] .count'))) === 1,
        'the count per state on the DLQ page');
    }
    await shot('dlq-callback-fail');

    // NONE ("no failure function") is a filter value too.
    await byTestId('filter-state').selectOption('NONE');
    await byTestId('filter-apply').click();
    await until(async () => {
      const states = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
      return states.length === 4 && states.every((s) => s === 'NONE');
    }, 'the four entries without a failure function');

    // Paging with the API's cursor: 2 per page, next, then back.
    await page.goto(`${stack.url}/#/dlq?failureFunctionState=NONE&count=2`);
    const pageIds = () => rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-dlq-id')));
    await until(async () => (await rows.count()) === 2 && (await textOf(byTestId('page-number'))) === 'Page 1', 'page 1 of 2 rows');
    const first = await pageIds();
    assert.equal(await byTestId('page-prev').isEnabled(), false);
    await until(() => byTestId('page-next').isEnabled(), 'a next page');
    await byTestId('page-next').click();
    await until(async () => (await textOf(byTestId('page-number'))) === 'Page 2' && (await rows.count()) === 2, 'page 2');
    const second = await pageIds();
    assert.equal(new Set([...first, ...second]).size, 4, `pages are disjoint: ${first} / ${second}`);
    await byTestId('page-prev').click();
    await until(async () => (await textOf(byTestId('page-number'))) === 'Page 1' &&
      JSON.stringify(await pageIds()) === JSON.stringify(first), 'back on page 1');
    await shot('dlq-paged');

    // The date range: nothing entered the DLQ tomorrow.
    await byTestId('filter-state').selectOption('');
    const tomorrow = new Date(Date.now() + 86400000);
    const pad = (n) => String(n).padStart(2, '0');
    await byTestId('filter-fromDate').fill(`${tomorrow.getFullYear()}-${pad(tomorrow.getMonth() + 1)}-${pad(tomorrow.getDate())}T00:00`);
    await byTestId('filter-apply').click();
    await until(async () => (await byTestId('dlq-empty').count()) === 1 && page.url().includes('fromDate='),
      'no entry from tomorrow on');
    await byTestId('filter-clear').click();
    await until(async () => (await rows.count()) >= 6, 'the filter cleared');

    // Back to CALLBACK_FAIL for the next step.
    await byTestId('filter-state').selectOption('CALLBACK_FAIL');
    await byTestId('filter-apply').click();
    await until(async () => (await rows.count()) === 1 &&
      (await rows.first().getAttribute('data-state')) === 'CALLBACK_FAIL', 'CALLBACK_FAIL again');
  });

  test('3. the entry: request, response, attempts, failure function; retry it until CALLBACK_SUCCESS', async () => {
    await byTestId('dlq-open').first().click();
    await until(async () => (await textOf(byTestId('ff-state'))) === 'CALLBACK_FAIL', 'the entry detail');
    assert.equal(await textOf(byTestId('request-url')), ids.doomedUrl);
    assert.match(await textOf(byTestId('response-body')), /card declined/);
    assert.equal(await byTestId('attempt-row').count(), 2, 'retries: 1 -> two attempts with status and latency');
    assert.match(await textOf(byTestId('attempts')), /500/);
    assert.match(await textOf(byTestId('attempts')), /\d+ ms/);
    await until(async () => (await page.locator('[data-testid="ff-errors"] tbody tr').count()) === 2,
      'one failure-function error per attempt');
    assert.match(await textOf(byTestId('ff-errors')), /failure function is broken/);
    assert.match(await textOf(byTestId('ff-response-body')), /failure function is broken/);
    // Only the actions that fit the state are enabled.
    assert.equal(await byTestId('action-retry-callback').isEnabled(), true);
    assert.equal(await byTestId('action-cancel-callback').isEnabled(), false);
    assert.equal(await byTestId('action-resume').isEnabled(), true);
    assert.equal(await byTestId('action-retry').isEnabled(), false, 'workflow entries are resumed, not retried');
    await shot('dlq-entry');

    // A cancelled confirmation does nothing.
    await byTestId('action-retry-callback').click();
    await byTestId('confirm-dialog').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    await byTestId('confirm-cancel').click();
    await byTestId('confirm-dialog').waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
    assert.equal(await textOf(byTestId('ff-state')), 'CALLBACK_FAIL');

    ffMode = 'ok';
    await byTestId('action-retry-callback').click();
    await byTestId('confirm-dialog').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    assert.match(await textOf(byTestId('confirm-dialog')), /failure function/i);
    await byTestId('confirm-ok').click();
    await until(() => toastSeen('ok', /started again/), 'the result of the retry');
    await until(async () => (await textOf(byTestId('ff-state'))) === 'CALLBACK_SUCCESS',
      'the state turning CALLBACK_SUCCESS in the page');
    assert.equal(await byTestId('action-retry-callback').isEnabled(), false);
    await until(async () => /compensated/.test(await textOf(byTestId('ff-response-body'))), 'the new last response');
    await shot('dlq-entry-retried');
    const fresh = await stack.api('GET', `/v2/dlq/${ids.failEntry.dlqId}`);
    assert.equal(fresh.json.failureCallbackInfo.state, 'CALLBACK_SUCCESS');
  });

  test('4. runs: the failed run with its steps and its failure function', async () => {
    await byTestId('nav-runs').click();
    await byTestId('runs-filter-state').selectOption('RUN_FAILED');
    await byTestId('runs-filter-url').fill(ids.doomedUrl);
    await byTestId('runs-filter-apply').click();
    const rows = byTestId('run-row');
    await until(async () => (await rows.count()) === 1 &&
      (await rows.first().getAttribute('data-run-id')) === ids.doomedRun, 'the failed run listed');
    assert.equal(await textOf(byTestId('run-row-state')), 'RUN_FAILED');
    await shot('runs');

    await byTestId('run-open').first().click();
    await until(async () => (await textOf(byTestId('run-state'))) === 'RUN_FAILED', 'the run detail');
    const steps = byTestId('step-row');
    await until(async () => (await steps.count()) >= 2, 'its steps');
    const names = await steps.evaluateAll((els) => els.map((e) => [e.getAttribute('data-step-name'), e.getAttribute('data-state')]));
    assert.deepEqual(names.slice(0, 2), [['init', 'STEP_SUCCESS'], ['reserve-stock', 'STEP_SUCCESS']], JSON.stringify(names));
    assert.ok(names.some(([n, s]) => n === 'charge-card' && s === 'STEP_FAILED'), `the failed step: ${JSON.stringify(names)}`);
    assert.match(await textOf(byTestId('run-steps')), /card declined/);
    assert.match(await textOf(byTestId('run-steps')), /reserved/);
    assert.equal(await textOf(byTestId('run-ff-state')), 'CALLBACK_SUCCESS');
    assert.ok(await byTestId('run-dlq-link').isVisible(), 'link to the DLQ entry');
    await shot('run');
  });

  test('4b. runs: cancel a running run', async () => {
    await page.goto(`${stack.url}/#/runs?state=RUN_STARTED`);
    const rows = byTestId('run-row');
    await until(async () => (await rows.count()) === 1 &&
      (await rows.first().getAttribute('data-run-id')) === ids.sleepyRun, 'the sleeping run listed as running');
    await byTestId('run-open').first().click();
    await until(async () => (await textOf(byTestId('run-state'))) === 'RUN_STARTED', 'its detail');
    await until(async () => (await textOf(byTestId('run-steps'))).includes('prepare'), 'its first step');
    await byTestId('run-cancel').click();
    await byTestId('confirm-dialog').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    await byTestId('confirm-ok').click();
    await until(async () => (await textOf(byTestId('run-state'))) === 'RUN_CANCELED', 'the run cancelled');
    assert.equal(await byTestId('run-cancel').count(), 0, 'no cancel button on a cancelled run');
    assert.ok(await toastSeen('ok', /cancelled/), 'the cancel result');
  });

  test('5. bulk delete of filtered entries, with confirmation', async () => {
    // (a) the selected entries of a filtered page
    await page.goto(`${stack.url}/#/dlq?label=bulk-a`);
    const rows = byTestId('dlq-row');
    await until(async () => (await rows.count()) === 2, 'the two bulk-a entries');
    await byTestId('select-all').check();
    assert.match(await textOf(byTestId('bulk-scope')), /selected entries \(2\)/);
    await byTestId('bulk-delete').click();
    await byTestId('confirm-dialog').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    assert.match(await textOf(byTestId('confirm-dialog')), /2 selected entries/);
    await shot('dlq-bulk-confirm');
    await byTestId('confirm-ok').click();
    await until(() => toastSeen('ok', /Deleted 2 entries/), 'the bulk delete result');
    await until(async () => (await byTestId('dlq-empty').count()) === 1, 'the filtered table empty');

    // (b) "all entries matching the filter" (the API's filter form + cursor)
    await page.goto(`${stack.url}/#/dlq?label=bulk-b&count=20`);
    await until(async () => (await rows.count()) === 2, 'the two bulk-b entries');
    await byTestId('bulk-scope').selectOption('filter');
    await byTestId('bulk-delete').click();
    await byTestId('confirm-dialog').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    assert.match(await textOf(byTestId('confirm-dialog')), /matching the filter \(label = bulk-b\)/);
    await byTestId('confirm-ok').click();
    await until(async () => (await byTestId('dlq-empty').count()) === 1, 'bulk-b deleted');
    assert.ok(await toastSeen('ok', /Deleted 2 entries/), 'the result of the filter-wide delete');
    await shot('dlq-bulk-deleted');

    const left = await stack.dlqList('count=100');
    const leftIds = new Set(left.map((m) => m.messageId));
    for (const mid of [...ids.plainA, ...ids.plainB]) assert.ok(!leftIds.has(mid), `${mid} deleted`);
    assert.ok(left.some((m) => m.dlqId === ids.failEntry.dlqId), 'the workflow entries stay');
    assert.ok(left.some((m) => m.dlqId === ids.okEntry.dlqId), 'the workflow entries stay');
  });

  test('6. sign out; no console errors during the session', async () => {
    await byTestId('sign-out').click();
    await byTestId('signin-form').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('stepflow.token')), null);
    // Expected ones: the 401s of signing in (the dev-mode probe and the
    // wrong token), and /v2/stats while it is not implemented.
    const unexpected = consoleErrors.filter((e) => {
      if (e.phase === 'signin' && /status of 401/.test(e.text) && e.url.includes('/v2/dlq')) return false;
      if (!statsWorks && /status of 501/.test(e.text) && e.url.includes('/v2/stats')) return false;
      return true;
    });
    assert.deepEqual(unexpected, [], `browser console errors: ${JSON.stringify(unexpected, null, 2)}`);
  });

  test('7. a coordinator in dev mode: the dashboard opens without a token', async () => {
    const dev = await stack.startCoordinator({ STEPFLOW_DEV: '1' });
    const devPage = await browser.newPage();
    const errors = [];
    devPage.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    devPage.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
    try {
      await devPage.goto(`${dev.url}/#/dlq`);
      await devPage.getByTestId('auth-status').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
      assert.match(await devPage.getByTestId('auth-status').textContent(), /dev mode/);
      assert.equal(await devPage.getByTestId('signin-form').isVisible(), false);
      assert.equal(await devPage.getByTestId('sign-out').isVisible(), false);
      await waitFor(async () => (await devPage.getByTestId('dlq-row').count()) >= 2,
        { timeout: UI_TIMEOUT, message: 'the DLQ through the dev-mode coordinator' });
      assert.deepEqual(errors, []);
    } finally {
      await devPage.close();
    }
  });

  test('8. the stack stops cleanly (exit 0; under ASan: no leak or error report)', async () => {
    await browser.close();
    browser = null;
    const exits = await stack.stop();
    for (const [name, e] of Object.entries(exits)) assert.equal(e.code, 0, `${name} exit ${JSON.stringify(e)}`);
  });
});
