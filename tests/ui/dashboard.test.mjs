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
//      no path traversal; HEAD answers the same headers without a body
//   1  sign in: a wrong token shows the 401, the right one opens the
//      overview, whose figures equal GET /v2/stats and what the test made
//   2  DLQ: filter to CALLBACK_FAIL shows exactly that entry; paging (kept
//      by "back to the list", reset by "Apply filter")
//   3  the entry: request, response, attempts, failure-function errors;
//      "retry failure function" (confirmed) turns it CALLBACK_SUCCESS
//   4  runs: the failed run with its steps and failure function; 4b cancel
//      a running run
//   4c the entry's other actions, each confirmed with its result shown:
//      cancel a failure function in CALLBACK_INPROGRESS; an entry deleted
//      behind the page's back ("no longer exists", polling stops); retry a
//      plain message (a new delivery reaches the endpoint); resume and
//      restart failed workflow runs (the new run succeeds, the entry is gone)
//   5  bulk delete of filtered entries (selected on the page, and "all
//      matching the filter"), with confirmation (cancelled: nothing changes,
//      the selection stays) and a failure reported with what was done; 5b
//      bulk resume of a filtered selection
//   5c the coordinator unreachable: the overview says so, then recovers
//   6  sign out; no console errors in the whole session (but the expected)
//   7  a coordinator in dev mode: no token asked; 8 clean exits
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { chromium } from 'playwright-core';
import { Client } from '@upstash/workflow';
import { startStack, endpoint, hdr, waitFor, test } from '../integration/lib/stack.mjs';
import { startWorkflowApp } from '../compat/lib/wfapp.mjs';

const CHROMIUM = process.env.STEPFLOW_CHROMIUM || '/usr/bin/chromium';
const OUT_DIR = path.join(process.env.STEPFLOW_TEST_OUT ||
  path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../build/test-output'), 'ui');
const UI_TIMEOUT = 30000;

/** GET (or "method") with a raw (not normalised) path; resolves
 *  {status, headers, text}. */
function rawGet(base, rawPath, headers = {}, method = 'GET') {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: rawPath, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error(`${method} ${rawPath} timed out`)));
    req.end();
  });
}

describe('dashboard in chromium', () => {
  let stack, app, client, failing, browser, page;
  let ffMode = 'throw';
  let flakyUp = false;
  let phase = 'start';
  const consoleErrors = [];
  const ids = {};
  // Runs of /ui-repair whose "pack" step throws; a counter per step run.
  const broken = new Set(['res', 'rst', 'bulk1', 'bulk2']);
  const ran = {};
  const bump = (k) => { ran[k] = (ran[k] || 0) + 1; };

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
    // A plain endpoint that fails (entries without a failure function, a
    // failure function that keeps failing); /flaky recovers when flakyUp.
    failing = await endpoint((req) => (req.path === '/flaky' && flakyUp ? { status: 200, body: 'ok' } : {
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
    // Runs that fail at "pack" until their tag leaves "broken": resumed and
    // restarted from the entry page, and in bulk.
    const repairUrl = app.route('/ui-repair', async (context) => {
      const { tag } = context.requestPayload;
      await context.run('pick', () => { bump(`${tag}:pick`); return 'picked'; });
      await context.run('pack', () => {
        bump(`${tag}:pack`);
        if (broken.has(tag)) throw new Error(`packing ${tag} failed`);
        return 'packed';
      });
      return 'shipped';
    });
    ids.repairUrl = repairUrl;
    ids.sleepyUrl = sleepyUrl;
    ids.doomedUrl = doomedUrl;
    ids.okUrl = okUrl;
    ids.doomedRun = (await client.trigger({ url: doomedUrl, body: { order: 'o-1' }, retries: 1, retryDelay: '100', label: 'ui-doomed' })).workflowRunId;
    ids.okRun = (await client.trigger({ url: okUrl, body: { order: 'o-2' }, retries: 0 })).workflowRunId;
    ids.sleepyRun = (await client.trigger({ url: sleepyUrl, body: {} })).workflowRunId;
    ids.repair = {};
    for (const [tag, label] of [['res', 'ui-res'], ['rst', 'ui-rst'], ['bulk1', 'ui-bulk-resume'], ['bulk2', 'ui-bulk-resume']]) {
      ids.repair[tag] = (await client.trigger({ url: repairUrl, body: { tag }, retries: 0, label })).workflowRunId;
    }
    // Failure functions that keep failing with a 10-minute retry delay:
    // CALLBACK_INPROGRESS until cancelled.
    const inProgress = [];
    for (let i = 0; i < 2; i++) {
      inProgress.push(await stack.publish(`${failing.url}/order`, `{"n":${i}}`, {
        'Upstash-Retries': '0', 'Upstash-Label': 'ui-inprogress', 'Content-Type': 'application/json',
        'Upstash-Failure-Callback': `${failing.url}/cb-down`, 'Upstash-Failure-Callback-Retries': '3',
        'Upstash-Failure-Callback-Retry-Delay': '600000',
      }));
    }
    // A plain message whose endpoint comes back: retried from its entry.
    ids.flakyMsg = await stack.publish(`${failing.url}/flaky`, 'again', { 'Upstash-Retries': '0', 'Upstash-Label': 'ui-flaky' });
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
    ids.flakyEntry = await stack.waitDlq(ids.flakyMsg, { timeout: 30000, query: 'count=100' });
    ids.repairEntry = {};
    for (const [tag, runId] of Object.entries(ids.repair)) {
      ids.repairEntry[tag] = await entryOf((m) => m.workflowRunId === runId, `the failed run ${tag} in the DLQ`);
    }
    // Each in CALLBACK_INPROGRESS with its first failed attempt recorded.
    ids.inProgress = [];
    for (const mid of inProgress) {
      const e = await stack.waitDlq(mid, { timeout: 30000, query: 'count=100' });
      await waitFor(async () => {
        const one = (await stack.api('GET', `/v2/dlq/${e.dlqId}`)).json;
        return one.failureCallbackInfo.state === 'CALLBACK_INPROGRESS' && (one.failureCallbackInfo.errors || []).length === 1;
      }, { timeout: 30000, interval: 200, message: `${e.dlqId}: CALLBACK_INPROGRESS after a failed attempt` });
      ids.inProgress.push(e.dlqId);
    }
    // What the DLQ holds now, per failure-function state (serve() is the
    // failure callback of every run it starts: the /ui-repair runs without
    // a failure function are CALLBACK_SUCCESS too).
    ids.expect = { CALLBACK_FAIL: 1, CALLBACK_SUCCESS: 1 + 4, CALLBACK_INPROGRESS: 2, CALLBACK_CANCELED: 0, NONE: 4 + 1 };
    ids.expectTotal = Object.values(ids.expect).reduce((a, n) => a + n, 0);

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
    // HEAD: the same status and headers, no body.
    for (const p of ['/', '/ui/app.js', '/ui/app.css']) {
      const get = await rawGet(stack.url, p);
      const head = await rawGet(stack.url, p, {}, 'HEAD');
      assert.equal(head.status, 200, `HEAD ${p}`);
      assert.equal(head.text, '', `HEAD ${p} has no body`);
      assert.equal(head.headers['content-type'], get.headers['content-type'], p);
      assert.equal(head.headers.etag, get.headers.etag, p);
      assert.equal(Number(head.headers['content-length']), Buffer.byteLength(get.text), p);
    }
    assert.equal((await rawGet(stack.url, '/ui/nope.js', {}, 'HEAD')).status, 404);
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

    // The overview shows GET /v2/stats: what the test made, exactly.
    const st = await stack.api('GET', '/v2/stats');
    assert.equal(st.status, 200, st.text);
    assert.equal(st.json.dlq.total, ids.expectTotal, JSON.stringify(st.json.dlq));
    assert.deepEqual(st.json.dlq.byFailureFunctionState, ids.expect);
    await until(async () => (await textOf(byTestId('stat-workers-alive'))) === '1', 'overview: 1 worker alive');
    assert.equal(await textOf(byTestId('stat-dlq-total')), String(ids.expectTotal), 'DLQ total');
    for (const [state, n] of Object.entries(ids.expect)) {
      assert.equal(await textOf(page.locator(`[data-testid="overview-count-${state}"] .count`)), String(n), state);
    }
    // Failed runs are DLQ entries: the runs card counts the running one.
    assert.equal(await textOf(byTestId('stat-runs')), '1', 'runs running: the sleeping run');
    assert.equal(await byTestId('worker-row').count(), 1);
    // The queue figures are the API's (both read again until they agree:
    // they move while deliveries run).
    await until(async () => {
      const now = (await stack.api('GET', '/v2/stats')).json.queues.messages;
      const shown = await Promise.all(['stat-backlog', 'stat-pending', 'stat-delayed'].map((t) => textOf(byTestId(t))));
      return JSON.stringify(shown) === JSON.stringify([now.backlog, now.pending, now.delayed].map(String));
    }, 'backlog, pending and delayed as GET /v2/stats says');
    assert.ok(await byTestId('chart-per-minute').isVisible(), 'per-minute chart');
    // The workers' heartbeats (every 5 s) bring this minute's deliveries.
    await until(async () => Number(await byTestId('chart-per-minute').getAttribute('data-delivered')) > 0 &&
      Number(await byTestId('chart-per-minute').getAttribute('data-failed')) >= ids.expectTotal,
    'the per-minute chart showing deliveries and failures', 30000);
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
    await until(async () => Number(await textOf(page.locator('[data-testid="dlq-count-CALLBACK_FAIL"] .count'))) === 1,
      'the count per state on the DLQ page');
    await shot('dlq-callback-fail');

    // NONE ("no failure function") is a filter value too.
    await byTestId('filter-state').selectOption('NONE');
    await byTestId('filter-apply').click();
    await until(async () => {
      const states = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
      return states.length === ids.expect.NONE && states.every((s) => s === 'NONE');
    }, 'the entries without a failure function');

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
    // An entry and "back to the list": the same page again.
    await byTestId('dlq-open').first().click();
    await byTestId('back-to-dlq').waitFor({ timeout: UI_TIMEOUT });
    await byTestId('back-to-dlq').click();
    await until(async () => (await textOf(byTestId('page-number'))) === 'Page 2' &&
      JSON.stringify(await pageIds()) === JSON.stringify(second), 'back on page 2');
    // "Apply filter" (the same filter) starts again at page 1.
    await byTestId('filter-apply').click();
    await until(async () => (await textOf(byTestId('page-number'))) === 'Page 1' &&
      JSON.stringify(await pageIds()) === JSON.stringify(first), 'Apply filter: page 1');
    await byTestId('page-next').click();
    await until(async () => (await textOf(byTestId('page-number'))) === 'Page 2', 'page 2 again');
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
    // "Steps done": reserve-stock; not the initial payload nor the failed
    // delivery of charge-card (`stepflow runs list` counts the same).
    assert.equal(await rows.first().locator('td').nth(5).textContent(), '1');
    assert.equal(await page.locator('th[title^="steps the run finished"]').textContent(), 'Steps done');
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

  /** Clicks "action", checks the confirmation dialog (matching "re") and
   *  confirms it. */
  const confirmed = async (action, re) => {
    await byTestId(action).click();
    await byTestId('confirm-dialog').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    assert.match(await textOf(byTestId('confirm-dialog')), re);
    await byTestId('confirm-ok').click();
  };
  /** The run log of a run (logs API), or undefined. */
  const runLog = async (runId) => (await stack.api('GET',
    `/v2/workflows/events?groupBy=workflowRunId&workflowRunId=${runId}`)).json.runs.find((r) => r.workflowRunId === runId);

  test('4c. the entry actions: cancel a failure function, retry a message, resume and restart runs', async () => {
    // A failure function still retrying: its failed attempt, then cancel.
    const [cancelId, goneId] = ids.inProgress;
    await page.goto(`${stack.url}/#/dlq/${cancelId}`);
    await until(async () => (await textOf(byTestId('ff-state'))) === 'CALLBACK_INPROGRESS', 'the entry in CALLBACK_INPROGRESS');
    assert.equal(await page.locator('[data-testid="ff-errors"] tbody tr').count(), 1, 'its failed attempt');
    assert.match(await textOf(byTestId('ff-errors')), /inventory down/);
    assert.equal(await byTestId('action-cancel-callback').isEnabled(), true);
    assert.equal(await byTestId('action-retry-callback').isEnabled(), false);
    await shot('dlq-entry-inprogress');
    await confirmed('action-cancel-callback', /Stop retrying the failure function/);
    await until(() => toastSeen('ok', new RegExp(`Failure function of ${cancelId} cancelled`)), 'the cancel result');
    await until(async () => (await textOf(byTestId('ff-state'))) === 'CALLBACK_CANCELED', 'CALLBACK_CANCELED in the page');
    assert.equal(await byTestId('action-cancel-callback').isEnabled(), false);
    assert.equal((await stack.api('GET', `/v2/dlq/${cancelId}`)).json.failureCallbackInfo.state, 'CALLBACK_CANCELED');
    await shot('dlq-entry-cancelled');

    // An entry deleted while its page follows it: "no longer exists", and
    // the page stops asking (one 404, none after it for 2 polls).
    phase = 'entry-deleted';
    let asked = 0;
    const onReq = (r) => { if (r.url().endsWith(`/v2/dlq/${goneId}`)) asked++; };
    page.on('request', onReq);
    await page.goto(`${stack.url}/#/dlq/${goneId}`);
    await until(async () => (await textOf(byTestId('ff-state'))) === 'CALLBACK_INPROGRESS', 'the other entry in progress');
    assert.equal((await stack.api('DELETE', `/v2/dlq/${goneId}`)).status, 200);
    await until(async () => /no longer exists/.test(await textOf(byTestId('entry-missing'))), '"no longer exists"');
    await shot('dlq-entry-gone');
    const seen = asked;
    const quietUntil = Date.now() + 4500; // two polls (every 2 s) and a margin
    await until(async () => {
      assert.equal(asked, seen, 'the page asked again for an entry that is gone');
      return Date.now() > quietUntil;
    }, 'no request for the deleted entry', 10000);
    page.off('request', onReq);
    phase = 'signed-in';

    // A failure function that succeeded at once: no failed attempt.
    await page.goto(`${stack.url}/#/dlq/${ids.okEntry.dlqId}`);
    await until(async () => (await textOf(byTestId('ff-state'))) === 'CALLBACK_SUCCESS', 'the compensated entry');
    assert.equal(await textOf(byTestId('ff-errors-none')), 'No failed attempt yet.');

    // Retry a plain message: published again, the endpoint gets it.
    flakyUp = true;
    await page.goto(`${stack.url}/#/dlq/${ids.flakyEntry.dlqId}`);
    await until(async () => (await textOf(byTestId('request-url'))) === `${failing.url}/flaky`, 'the flaky entry');
    assert.equal(await byTestId('action-resume').isEnabled(), false, 'a plain message is not resumed');
    await confirmed('action-retry', /Publish the original message to .*\/flaky again/);
    let newMsg;
    await until(async () => {
      const t = (await page.locator('[data-testid="toast"][data-kind="ok"]').allTextContents()).join(' ');
      newMsg = (/Published again as (msg_\S+?)\./.exec(t) || [])[1];
      return newMsg;
    }, 'the retry result with the new message id');
    await until(() => page.url().endsWith('#/dlq'), 'back on the DLQ list');
    await until(() => failing.to('/flaky').some((q) => hdr(q, 'Upstash-Message-Id') === newMsg), 'the new delivery reached the endpoint');
    assert.equal((await stack.api('GET', `/v2/dlq/${ids.flakyEntry.dlqId}`)).status, 404, 'the entry left the DLQ');

    // Resume from the entry page: the new run keeps "pick" and succeeds.
    broken.delete('res');
    await page.goto(`${stack.url}/#/dlq/${ids.repairEntry.res.dlqId}`);
    await until(async () => (await textOf(byTestId('request-url'))).length > 0, 'the failed run\'s entry');
    assert.equal(await byTestId('action-retry').isEnabled(), false, 'a workflow entry is not retried');
    await shot('dlq-entry-workflow');
    await confirmed('action-resume', /keeps the steps before the failed one/);
    await until(() => toastSeen('ok', /Resumed as run \S+/), 'the resume result');
    await until(() => /#\/runs\/.+/.test(page.url()), 'the new run\'s page');
    const resumed = decodeURIComponent(page.url().split('#/runs/')[1]);
    assert.notEqual(resumed, ids.repair.res);
    await until(async () => (await textOf(byTestId('run-state'))) === 'RUN_SUCCESS', 'the resumed run succeeding in the page');
    assert.deepEqual([ran['res:pick'], ran['res:pack']], [1, 2], 'resume kept "pick"');
    await shot('run-resumed');
    assert.equal((await stack.api('GET', `/v2/dlq/${ids.repairEntry.res.dlqId}`)).status, 404, 'the entry is gone');

    // Restart: the new run starts over from the initial payload.
    broken.delete('rst');
    await page.goto(`${stack.url}/#/dlq/${ids.repairEntry.rst.dlqId}`);
    await until(async () => (await textOf(byTestId('request-url'))).length > 0, 'the other failed run\'s entry');
    await confirmed('action-restart', /from its initial payload/);
    await until(() => toastSeen('ok', /Restarted as run \S+/), 'the restart result');
    await until(() => /#\/runs\/.+/.test(page.url()), 'the restarted run\'s page');
    await until(async () => (await textOf(byTestId('run-state'))) === 'RUN_SUCCESS', 'the restarted run succeeding');
    assert.deepEqual([ran['rst:pick'], ran['rst:pack']], [2, 2], 'restart ran "pick" again');
    assert.equal((await stack.api('GET', `/v2/dlq/${ids.repairEntry.rst.dlqId}`)).status, 404, 'the entry is gone');
  });

  test('5. bulk delete of filtered entries, with confirmation', async () => {
    // (a) the selected entries of a filtered page
    await page.goto(`${stack.url}/#/dlq?label=bulk-a`);
    const rows = byTestId('dlq-row');
    await until(async () => (await rows.count()) === 2, 'the two bulk-a entries');
    await byTestId('select-all').check();
    assert.match(await textOf(byTestId('bulk-scope')), /selected entries \(2\)/);
    // Cancelling the confirmation changes nothing: the selection stays.
    await byTestId('bulk-delete').click();
    await byTestId('confirm-dialog').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    await byTestId('confirm-cancel').click();
    await byTestId('confirm-dialog').waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
    await until(async () => (await byTestId('bulk-delete').isEnabled()), 'the bulk buttons back');
    assert.match(await textOf(byTestId('bulk-scope')), /selected entries \(2\)/);
    assert.deepEqual(await byTestId('dlq-select').evaluateAll((els) => els.map((e) => e.checked)), [true, true]);
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
    // A request that fails: the error, with how many were done before it.
    phase = 'bulk-failure';
    const injected = (route) => (route.request().method() === 'DELETE'
      ? route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"injected failure"}' })
      : route.fallback());
    await page.route('**/v2/dlq?*', injected);
    await confirmed('bulk-delete', /matching the filter \(label = bulk-b\)/);
    await until(() => toastSeen('error', /Bulk action failed: 0 done before the error: 503: injected failure/),
      'the failed bulk delete reported');
    await page.unroute('**/v2/dlq?*', injected);
    phase = 'signed-in';
    await until(async () => (await rows.count()) === 2 && (await byTestId('bulk-delete').isEnabled()), 'both entries still there');
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

  test('5b. bulk resume of a filtered selection', async () => {
    broken.delete('bulk1');
    broken.delete('bulk2');
    await page.goto(`${stack.url}/#/dlq?label=ui-bulk-resume`);
    const rows = byTestId('dlq-row');
    await until(async () => (await rows.count()) === 2, 'the two failed runs to resume');
    await byTestId('select-all').check();
    await confirmed('bulk-resume', /Resume the failed runs of the 2 selected entries/);
    await until(() => toastSeen('ok', /Resume: 2 new runs started/), 'the bulk resume result');
    await until(async () => (await byTestId('dlq-empty').count()) === 1, 'the entries gone from the filtered table');
    await shot('dlq-bulk-resumed');
    await until(() => ['bulk1', 'bulk2'].every((t) => ran[`${t}:pack`] === 2), 'both new runs past "pack"');
    assert.deepEqual(['bulk1', 'bulk2'].map((t) => ran[`${t}:pick`]), [1, 1], 'resume kept "pick"');
    for (const tag of ['bulk1', 'bulk2']) {
      assert.equal((await stack.api('GET', `/v2/dlq/${ids.repairEntry[tag].dlqId}`)).status, 404, `${tag} entry gone`);
      assert.equal((await runLog(ids.repair[tag])).workflowState, 'RUN_FAILED', 'the old run stays failed');
    }
  });

  test('5c. the coordinator unreachable: the overview says so, then recovers', async () => {
    // GET /v2/stats refused from now on; the overview opens with it down.
    phase = 'unreachable';
    const down = (route) => route.abort('connectionrefused');
    await page.route('**/v2/stats', down);
    await byTestId('nav-overview').click();
    await until(async () => /Statistics are unavailable \(GET \/v2\/stats: the coordinator is unreachable/
      .test(await textOf(byTestId('overview-error'))) && (await byTestId('overview-error').isVisible()),
    'the error on the page', 15000);
    await shot('overview-unreachable');
    await page.unroute('**/v2/stats', down);
    await until(async () => !(await byTestId('overview-error').isVisible()), 'the overview recovering by itself', 15000);
    phase = 'signed-in';
    assert.equal(await textOf(byTestId('stat-workers-alive')), '1');
  });

  test('6. sign out; no console errors during the session', async () => {
    await byTestId('sign-out').click();
    await byTestId('signin-form').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('stepflow.token')), null);
    // Expected ones: the 401s of signing in (the dev-mode probe and the
    // wrong token), the 404 of the entry deleted behind the page's back,
    // the injected 503 and the refused connections.
    const unexpected = consoleErrors.filter((e) => {
      if (e.phase === 'signin' && /status of 401/.test(e.text) && e.url.includes('/v2/dlq')) return false;
      if (e.phase === 'entry-deleted' && /status of 404/.test(e.text) && e.url.includes('/v2/dlq/')) return false;
      if (e.phase === 'bulk-failure' && /status of 503/.test(e.text)) return false;
      if (e.phase === 'unreachable' && /ERR_CONNECTION_REFUSED|Failed to load resource/.test(e.text)) return false;
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
