// wfbench.mjs - workflow-run throughput and cost (scripts/bench --workflow).
//
// Real processes (tests/integration/lib/stack.mjs: redis-server, one
// coordinator, one worker from $STEPFLOW_BIN_DIR) and a real serve()
// endpoint (tests/compat/lib/wfapp.mjs, @upstash/workflow's express
// adapter) on this machine.  Triggers RUNS runs of a workflow of STEPS
// sequential context.run steps with client.trigger() in batches of 50, waits
// until every run is RUN_SUCCESS, and prints runs/s, step deliveries/s, the
// p50/p99 run duration (createdAt -> completedAt), Redis commands per step
// delivery (INFO commandstats) and CPU per step delivery of the worker and
// the coordinator (/proc).  The Node app runs on the same two cores: the
// figures are the whole system's, the SDK included.
import fs from 'node:fs';
import { Client } from '@upstash/workflow';
import { startStack, waitFor } from '../integration/lib/stack.mjs';
import { startWorkflowApp } from '../compat/lib/wfapp.mjs';

const RUNS = Number(process.env.WF_RUNS || 300);
const STEPS = Number(process.env.WF_STEPS || 3);

const commandCalls = async (stack) => {
  const info = await stack.redis.call('INFO', 'commandstats');
  let n = 0;
  for (const m of String(info).matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
    if (m[1] !== 'info') n += Number(m[2]);
  }
  return n;
};
const cpuMs = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, 100 Hz
};
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

const stack = await startStack({ workers: 1 });
const app = await startWorkflowApp({ env: { QSTASH_URL: stack.url, QSTASH_TOKEN: stack.token } });
try {
  const url = app.route('/bench', async (context) => {
    let v = context.requestPayload.n;
    for (let i = 0; i < STEPS; i++) v = await context.run(`step-${i}`, () => v + 1);
    return v;
  });
  const client = new Client({ baseUrl: stack.url, token: stack.token });
  const pids = { worker: stack.workers[0].pid, coordinator: stack.coordinators[0].pid };
  const cpu0 = { worker: cpuMs(pids.worker), coordinator: cpuMs(pids.coordinator) };
  const calls0 = await commandCalls(stack);
  const t0 = Date.now();
  const ids = [];
  for (let i = 0; i < RUNS; i += 50) {
    const batch = Array.from({ length: Math.min(50, RUNS - i) }, (_, k) => ({ url, body: { n: i + k } }));
    for (const r of await client.trigger(batch)) ids.push(r.workflowRunId);
  }
  await waitFor(async () => Number(await stack.redis.call('ZCARD', stack.key('{wf}:running'))) === 0,
    { timeout: 600000, interval: 100, message: 'every run finished' });
  const secs = (Date.now() - t0) / 1000;
  const calls = (await commandCalls(stack)) - calls0;
  const cpu = { worker: cpuMs(pids.worker) - cpu0.worker, coordinator: cpuMs(pids.coordinator) - cpu0.coordinator };
  const durations = [];
  let ok = 0;
  for (const id of ids) {
    const [state, created, done] = await stack.redis.call('HMGET', stack.key(`{wf}:run:${id}`),
      'state', 'createdAt', 'completedAt');
    if (state === 'RUN_SUCCESS') ok++;
    durations.push(Number(done) - Number(created));
  }
  durations.sort((a, b) => a - b);
  const deliveries = RUNS * (STEPS + 1); // the init delivery, then one per step
  const row = (k, v) => console.log(`${k.padEnd(44)}${String(v).padStart(12)}`);
  console.log(`\nstepflow workflow bench: ${RUNS} runs of ${STEPS} sequential steps, 1 worker, serve() on express`);
  row('runs RUN_SUCCESS', `${ok}/${RUNS}`);
  row('runs/s', (RUNS / secs).toFixed(1));
  row('step deliveries/s', (deliveries / secs).toFixed(0));
  row('run duration p50 (ms)', pct(durations, 50));
  row('run duration p99 (ms)', pct(durations, 99));
  row('Redis commands / step delivery', (calls / deliveries).toFixed(2));
  row('worker CPU / step delivery (us)', ((cpu.worker * 1000) / deliveries).toFixed(0));
  row('coordinator CPU / step delivery (us)', ((cpu.coordinator * 1000) / deliveries).toFixed(0));
  if (ok !== RUNS) process.exitCode = 1;
} finally {
  await app.close();
  await stack.stop();
}
