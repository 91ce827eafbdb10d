// scale.mjs - the scale test: one redis-server (AOF, appendfsync everysec,
// as in production), two coordinators and workers as separate processes,
// all real (tests/integration/lib/stack.mjs).  Shared by scripts/scale-test
// (tests/scale/scale.mjs, full size) and tests/scale/scale.test.mjs (the
// short form in ctest): one copy of the logic.
//
// Phases (each can be left out):
//   throughput  the same publish load (N messages through POST /v2/batch,
//               stepflow-benchpub, half to each coordinator) with 1, 2 and 4
//               workers (scaled out, not restarted); delivered/s from the
//               first publish to the last delivery, publish/s, p50/p99
//               publish-to-delivery.  Sink: nginx when installed (as
//               scripts/bench), else a Node server.  Asserts only that every
//               message was delivered: this machine has 2 cores.
//   rolling     a steady publisher (lib/publisher.mjs: round-robin to both
//               coordinators, retry on the other, per-message dedup id);
//               each worker in turn is replaced the Kubernetes way
//               (maxSurge 1, maxUnavailable 0: start the new one, wait until
//               it is ready, SIGTERM the old one, wait for its exit 0); then
//               each coordinator in turn is killed with SIGKILL, the load
//               goes on against the other, and it is started again.
//   redis       a steady publisher again (workers started by the phase if
//               none run); right before the stop, `delayedK` messages are
//               published with an Upstash-Delay longer than the outage (they
//               sit in P:{msg}:delayed) and the sink answers slowly (entries
//               pending in the group): the figures are read from Redis and
//               must be > 0, so the phase has work that only the AOF can
//               bring back.  redis-server is stopped (SIGTERM: it writes its
//               AOF) and started again on the same dir after `outageMs`;
//               every /readyz must turn 503 and every stepflow_redis_up 0
//               while it is down, the publisher must see refusals, every
//               /readyz 200 again afterwards with the same processes (pids
//               and start times recorded before the stop), the delayed
//               messages back in Redis and each delivered exactly once after
//               the restart, stepflow_redis_reconnects_total up on every
//               link.  (`redisArgs` is the persistence of the server; the
//               phase fails with persistence off, as it must.)
// For the two load phases: lost (acknowledged, never delivered) must be 0,
// publishes that failed on both coordinators must be 0 while a coordinator
// is up, and every failed attempt must have gone to the coordinator that was
// down, between its kill and its replacement being ready (rolling); a
// rolled worker must have had deliveries in flight at its SIGTERM (its
// drain_start log line), no publish may give up (redis: it retries with backoff
// through the outage), no message may be stored twice (two message ids for
// one sequence number: the dedup id failed); duplicates (deliveries beyond
// the first) are counted and printed, not failed.
//
// Logs of every process (and redis.log) are copied to /tmp/stepflow-scale-
// logs-* when a check failed.  SIGTERM/SIGINT/SIGHUP stop the stack and exit
// 128+signal; a detached watchdog kills the stack's processes if this
// process dies without cleaning up (kill -9; ctest's timeout kill takes the
// whole process tree itself).
//
// runScale(opts, log) -> {checks: [{name, ok, detail}], figures: {...}, ok}
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN_DIR, httpGetStatus, pairs, startStack, waitFor } from '../../integration/lib/stack.mjs';
import { parsePromText } from '../../integration/lib/promtext.mjs';
import { nginxSink, nodeSink } from './sink.mjs';
import { Publisher } from './publisher.mjs';

export const FULL = {
  phases: ['throughput', 'rolling', 'redis'],
  workers: [1, 2, 4], // throughput phase
  n: 50000, // messages per throughput run
  concurrency: 200, // STEPFLOW_CONCURRENCY of each worker
  rate: 500, // messages/s of the steady publisher
  rollWorkers: 4, // workers replaced one by one in the rolling phase
  stepAcks: 1.0, // seconds of load (rate x this acks) between two steps
  outageMs: 5000, // how long redis stays down
  drainMs: 5000, // STEPFLOW_DRAIN_MS of the workers
  sinkDelayMs: 100, // the rolling/redis sink answers after this (work in flight)
  drainSinkDelayMs: 500, // ... and after this around each worker's SIGTERM
  outageSinkDelayMs: 800, // ... and after this around redis' stop (pending entries)
  delayedK: 100, // messages published with Upstash-Delay > outage before redis stops
  sink: 'auto', // throughput sink: auto (nginx if installed) | node
  deliverTimeoutMs: 120000,
  redisArgs: ['--appendonly', 'yes', '--appendfsync', 'everysec'], // as deploy/k8s
};

export const SHORT = {
  ...FULL,
  n: 3000,
  rate: 150,
  rollWorkers: 2,
  stepAcks: 0.7,
  outageMs: 3000,
  drainMs: 3000,
  deliverTimeoutMs: 60000,
};

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null);

function runPub(args) {
  return new Promise((resolve, reject) => {
    execFile(path.join(BIN_DIR, 'stepflow-benchpub'), args, { maxBuffer: 1 << 20, timeout: 600000 },
      (err, stdout, stderr) => {
        let out;
        try { out = JSON.parse(stdout.trim().split('\n').pop()); } catch { out = null; }
        if (err || !out) reject(new Error(`stepflow-benchpub ${args.join(' ')}: ${err ? err.message : 'no output'} ${stdout} ${stderr}`));
        else resolve(out);
      });
  });
}

/** Waits until GET /readyz of every process in `ps` answers `want`;
 *  true, or the timeout's message. */
async function everyReadyz(ps, want, timeout, message) {
  try {
    await waitFor(async () => {
      for (const p of ps) if ((await httpGetStatus(`${p.url}/readyz`).catch(() => 0)) !== want) return false;
      return true;
    }, { timeout, interval: 50, message });
    return true;
  } catch (e) { return e.message; }
}

async function scrape(url) {
  const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3000) });
  return parsePromText(await r.text());
}

/** What the server keeps, from its arguments (stack.mjs starts it with
 *  --save '' --appendonly no before them). */
export function describeRedis(args) {
  const opt = { appendonly: 'no', appendfsync: 'everysec', save: '' };
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith('--') && i + 1 < args.length) opt[args[i].slice(2)] = args[++i];
  }
  const parts = [];
  if (opt.appendonly === 'yes') parts.push(`AOF on, appendfsync ${opt.appendfsync}`);
  if (opt.save) parts.push(`RDB save ${opt.save}`);
  return parts.length ? parts.join(', ') : 'persistence off (no AOF, no RDB)';
}

/** Start time of a process (field 22 of /proc/<pid>/stat), or null. */
function startTime(pid) {
  try { return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[21]; } catch { return null; }
}

/** The `inflight` of a worker's drain_start log line (text or JSON logs). */
export function drainInflight(logText) {
  for (const line of logText.split('\n')) {
    if (!line.includes('drain_start')) continue;
    if (line.startsWith('{')) {
      try {
        const j = JSON.parse(line);
        if (j.msg === 'drain_start') return Number(j.inflight);
      } catch { /* not JSON */ }
    }
    const m = /drain_start\b.*\binflight=(\d+)/.exec(line);
    if (m) return Number(m[1]);
  }
  return null;
}

/**
 * A detached shell that, once this process is gone, SIGKILLs the processes
 * listed in `file` ("pid <pid> <starttime>" lines, rewritten by update())
 * whose start time still matches (no recycled pid is hit) and removes the
 * "dir <path>" temp dirs.  kill() ends it.
 */
function watchdog() {
  const file = path.join(fs.mkdtempSync('/tmp/stepflow-scale-wd-'), 'pids');
  fs.writeFileSync(file, '');
  const script = `while kill -0 "$1" 2>/dev/null; do sleep 0.2; done
[ -f "$2" ] || exit 0
while read -r kind a b; do
  case "$kind" in
  pid) [ "$(awk '{print $22}' /proc/$a/stat 2>/dev/null)" = "$b" ] && kill -9 "$a" 2>/dev/null ;;
  dir) case "$a" in /tmp/stepflow-*) rm -rf "$a" ;; esac ;;
  esac
done < "$2"
rm -rf "$(dirname "$2")"`;
  const p = spawn('sh', ['-c', script, 'stepflow-scale-watchdog', String(process.pid), file],
    { detached: true, stdio: 'ignore' });
  p.unref();
  return {
    update(pids, dirs = []) {
      const lines = pids.filter(Boolean).map((pid) => [pid, startTime(pid)]).filter(([, st]) => st).map((x) => `pid ${x.join(' ')}`);
      for (const d of dirs) if (d && !/\s/.test(d)) lines.push(`dir ${d}`);
      try { fs.writeFileSync(`${file}.new`, `${lines.join('\n')}\n`); fs.renameSync(`${file}.new`, file); } catch { /* gone */ }
    },
    kill() {
      try { p.kill('SIGKILL'); } catch { /* gone */ }
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    },
  };
}

/** {conn -> value} of one metric family in a scrape. */
function byConn(samples, name) {
  const o = {};
  for (const s of samples[name] || []) o[s.labels.conn] = s.value;
  return o;
}

export async function runScale(options = {}, out = (s) => console.log(s)) {
  const o = { ...FULL, ...options };
  let interrupted = null; // the signal that stops the run
  const log = (s) => { if (!interrupted) out(s); }; // quiet once stopping
  const checks = [];
  const figures = {};
  const check = (name, ok, detail = '') => {
    checks.push({ name, ok: !!ok, detail });
    log(`  ${ok ? 'PASS' : 'FAIL'}  ${name}${detail ? `: ${detail}` : ''}`);
  };
  const t0 = Date.now();
  const runId = `${process.pid}x${Date.now().toString(36)}`;

  const alive = (list) => list.filter((p) => p.alive);
  const wd = watchdog();
  const sinks = new Set(); // open sinks (the nginx one has a pid to watch)
  let stack = null;
  // A signal (Ctrl-C, kill, a CI job cancelled) stops everything and exits
  // non-zero; the logs are kept.
  const onSignal = (sig) => {
    if (interrupted) return;
    interrupted = sig;
    const code = 128 + (os.constants.signals[sig] || 15);
    out(`\n${sig}: stopping the stack`);
    const hardExit = setTimeout(() => process.exit(code), 15000);
    (async () => {
      if (stack) {
        await stopProcs(5000).catch(() => {});
        keepLogs();
        await stack.stop().catch(() => {});
      }
      for (const s of sinks) await s.close().catch(() => {});
      wd.kill();
      clearTimeout(hardExit);
      process.exit(code);
    })();
  };
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onSignal);
  const tracked = () => [...(stack ? [...stack.coordinators, ...stack.workers] : []).filter((p) => p.alive).map((p) => p.pid),
    stack && stack.redis.up ? stack.redis.proc.pid : null, ...[...sinks].map((s) => s.pid)];
  const tmpDirs = () => [stack && stack.redis.dir, stack && stack.logDir, ...[...sinks].map((x) => x.dir)];
  const watch = () => wd.update(tracked(), tmpDirs());
  const wdTimer = setInterval(watch, 500);
  wdTimer.unref();
  let keptLogs = null;
  const keepLogs = () => {
    if (keptLogs || !stack) return;
    keptLogs = fs.mkdtempSync('/tmp/stepflow-scale-logs-');
    try {
      fs.cpSync(stack.logDir, keptLogs, { recursive: true });
      fs.copyFileSync(stack.redis.logFile, path.join(keptLogs, 'redis.log'));
    } catch (e) { log(`copying the logs: ${e.message}`); }
    out(`logs kept in ${keptLogs}`);
  };
  try {
    stack = await startStack({
      workers: 0,
      redisArgs: o.redisArgs,
      env: { STEPFLOW_LOG_LEVEL: process.env.STEPFLOW_TEST_LOG_LEVEL || 'info' },
      workerEnv: { STEPFLOW_CONCURRENCY: String(o.concurrency), STEPFLOW_DRAIN_MS: String(o.drainMs) },
    });
    // A process is listed for the watchdog as soon as it is spawned.
    for (const list of [stack.workers, stack.coordinators]) {
      list.push = (...items) => { const n = Array.prototype.push.apply(list, items); watch(); return n; };
    }
    watch();
    await stack.startCoordinator();
    log(`redis-server :${stack.redis.port} (${describeRedis(o.redisArgs)}; ${stack.redis.dir}); coordinators ${stack.coordinators.map((c) => c.url).join(' ')}; logs ${stack.logDir}`);

    if (o.phases.includes('throughput')) await throughput();
    if (o.phases.includes('rolling')) await rolling();
    if (o.phases.includes('redis')) await redisRestart();

    // Everything still running exits 0 on SIGTERM.
    const exits = await stopProcs();
    const bad = Object.entries(exits).filter(([name, e]) => e.code !== 0 &&
      !(name.startsWith('coordinator') && e.signal === 'SIGKILL'));
    check('every stepflow process exits 0 on SIGTERM at the end', bad.length === 0,
      bad.map(([n, e]) => `${n} ${JSON.stringify(e)}`).join(', '));
  } catch (e) {
    check('the run completed', false, e.stack || String(e));
  } finally {
    if (interrupted) await new Promise(() => {}); // onSignal exits
    if (checks.some((c) => !c.ok) && stack) {
      // Before stack.stop(): it deletes the log dir and redis' dir.
      await stopProcs(5000).catch(() => {});
      keepLogs();
    }
    if (stack) await stack.stop().catch(() => {});
    clearInterval(wdTimer);
    wd.kill();
    for (const sig of signals) process.off(sig, onSignal);
  }
  figures.seconds = Math.round((Date.now() - t0) / 100) / 10;
  return { ok: checks.every((c) => c.ok), checks, figures, keptLogs };

  /* -------------------------------------------------------------------- */

  /** SIGTERM every stepflow process (workers first) and wait; the exits by
   *  name.  Unlike stack.stop() it leaves the logs and redis alone. */
  async function stopProcs(coordTimeout = 15000) {
    const exits = {};
    await Promise.all(stack.workers.map(async (w) => { exits[w.name] = await w.stop(o.drainMs + 15000); }));
    for (const c of stack.coordinators) exits[c.name] = await c.stop(coordTimeout);
    return exits;
  }

  async function openSink(make) {
    const s = await make();
    if (s) sinks.add(s);
    watch();
    return s;
  }

  async function closeSink(s) {
    sinks.delete(s);
    await s.close();
  }

  async function ensureWorkers(k) {
    while (alive(stack.workers).length < k) await stack.startWorker();
    while (alive(stack.workers).length > k) {
      const w = alive(stack.workers)[0];
      const r = await w.stop(o.drainMs + 15000);
      if (r.code !== 0) check(`${w.name} exits 0 on SIGTERM`, false, JSON.stringify(r));
    }
  }

  async function throughput() {
    let sink = o.sink === 'node' ? null : await openSink(nginxSink);
    if (!sink) sink = await openSink(nodeSink);
    log(`\n== throughput: ${o.n} messages through POST /v2/batch, half to each coordinator, with ${o.workers.join('/')} workers (concurrency ${o.concurrency} each); sink: ${sink.kind}`);
    figures.throughput = [];
    figures.sink = sink.kind;
    const [ca, cb] = stack.coordinators;
    const pubArgs = (c, phase, n, mode = 'full') => ['--mode', mode, '--api', c.url, '--token', stack.token,
      '--dest', `${sink.url}/tp`, '--phase', phase, '-n', String(n), '--conc', '4', '--batch', '100'];
    try {
      let warmed = false;
      for (const k of o.workers) {
        await ensureWorkers(k);
        if (!warmed) {
          warmed = true;
          const wn = Math.min(2000, o.n);
          await runPub(pubArgs(ca, 'warm', wn, 'warm'));
          await waitFor(() => sink.count('warm') >= wn, { timeout: 60000, interval: 50, message: 'warm-up delivered' });
        }
        const phase = `tp${k}`;
        const half = Math.floor(o.n / 2);
        const start = Date.now();
        const [pa, pb] = await Promise.all([runPub(pubArgs(ca, phase, half)), runPub(pubArgs(cb, phase, o.n - half))]);
        const pubSeconds = Math.max(pa.seconds, pb.seconds);
        const distinct = () => new Set(sink.records(phase).map((r) => r.id)).size;
        let delivered;
        try {
          await waitFor(() => sink.count(phase) >= o.n && distinct() >= o.n,
            { timeout: 60000 + o.n / 2, interval: 50, message: `${o.n} deliveries with ${k} workers` });
        } catch { /* reported below */ }
        const recs = sink.records(phase);
        delivered = distinct();
        const last = recs.reduce((m, r) => Math.max(m, r.at), 0);
        const lat = recs.map((r) => r.at - r.sent).filter(Number.isFinite).sort((a, b) => a - b);
        const row = {
          workers: k, messages: o.n,
          publishPerSecond: Math.round(o.n / pubSeconds),
          deliveredPerSecond: Math.round((delivered * 1000) / Math.max(1, last - start)),
          p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99),
          duplicates: recs.length - delivered,
        };
        figures.throughput.push(row);
        log(`  ${k} worker(s): published ${row.publishPerSecond}/s, delivered ${row.deliveredPerSecond}/s, publish->delivery p50 ${row.p50Ms} ms p99 ${row.p99Ms} ms, ${row.duplicates} duplicate(s)`);
        check(`throughput with ${k} worker(s): all ${o.n} messages delivered`, delivered === o.n, `${delivered} distinct delivered`);
      }
    } finally {
      await closeSink(sink);
    }
  }

  /** Waits until every acknowledged seq of `pub` was delivered, then idle; counts. */
  async function verify(pub, sink, phase) {
    const tally = () => {
      const per = new Map(); // seq -> {n, ids:Set}
      for (const r of sink.records(phase)) {
        let e = per.get(r.seq);
        if (!e) per.set(r.seq, (e = { n: 0, ids: new Set() }));
        e.n++;
        e.ids.add(r.id);
      }
      return per;
    };
    const missing = () => {
      const per = tally();
      return [...pub.acked.keys()].filter((s) => !per.has(s));
    };
    const tw = Date.now();
    let waitErr = null;
    await waitFor(() => missing().length === 0, { timeout: o.deliverTimeoutMs, interval: 100, message: `every acknowledged ${phase} message delivered` })
      .catch((e) => { waitErr = e; });
    const catchUpMs = Date.now() - tw;
    await stack.waitIdle({ timeout: 30000 }).catch(() => {});
    const per = tally();
    const lost = [...pub.acked.keys()].filter((s) => !per.has(s));
    let duplicates = 0, storedTwice = 0, idMismatch = 0, unacked = 0;
    for (const [seq, e] of per) {
      duplicates += e.n - 1;
      if (e.ids.size > 1) storedTwice++;
      const id = pub.acked.get(seq);
      if (id === undefined) unacked++;
      else if (!e.ids.has(id)) idMismatch++;
    }
    const deliveries = sink.records(phase).length;
    return { lost, duplicates, storedTwice, idMismatch, unacked, deliveries, catchUpMs, waitErr };
  }

  function reportLoad(name, st, v) {
    log(`  ${name}: ${st.acked} acknowledged of ${st.issued} issued in ${st.seconds.toFixed(1)} s; ${v.deliveries} deliveries; ` +
      `lost ${v.lost.length}; duplicates ${v.duplicates}; stored twice ${v.storedTwice}; ` +
      `publishes retried on the other coordinator ${st.retried}; failed on both coordinators ${st.failedEverywhere}; ` +
      `failed attempts ${st.attemptsFailed}; gave up ${st.givenUp}; slowest acknowledgement ${st.maxAckMs} ms; ` +
      `delivered but never acknowledged ${v.unacked}; ` +
      `last delivery ${v.catchUpMs} ms after the publisher stopped`);
    if (st.errors.length) log(`  first publish errors: ${st.errors.slice(0, 5).join(' | ')}`);
    check(`${name}: no acknowledged message lost`, v.lost.length === 0,
      v.lost.length ? `lost seqs ${v.lost.slice(0, 10).join(',')}${v.waitErr ? ` (${v.waitErr.message})` : ''}` : `${st.acked} delivered`);
    check(`${name}: no message stored twice (dedup id on retries)`, v.storedTwice === 0 && v.idMismatch === 0,
      `${v.storedTwice} seqs with two message ids, ${v.idMismatch} delivered under another id than acknowledged`);
    check(`${name}: no publish rejected (4xx) or given up`, st.rejected === 0 && st.givenUp === 0,
      `${st.rejected} rejected, ${st.givenUp} given up`);
  }

  function coordinatorSlots() {
    return stack.coordinators.filter((c) => c.alive).slice(0, 2).map((c) => ({ url: c.url, proc: c }));
  }

  async function rolling() {
    const sink = await openSink(() => nodeSink({ delayMs: o.sinkDelayMs }));
    const phase = 'roll';
    const stepAcks = Math.max(1, Math.round(o.rate * o.stepAcks));
    const slackMs = 1000;
    log(`\n== rolling restart under load: ${o.rate} publishes/s round-robin to 2 coordinators, ${o.rollWorkers} workers replaced one by one (STEPFLOW_DRAIN_MS ${o.drainMs}; the endpoint answers after ${o.drainSinkDelayMs} ms around each SIGTERM, so deliveries are in flight), then each coordinator killed (-9) and restarted; endpoint answers after ${o.sinkDelayMs} ms otherwise`);
    try {
      await ensureWorkers(o.rollWorkers);
      const slots = coordinatorSlots();
      const pub = new Publisher({ targets: slots, token: stack.token, dest: `${sink.url}/roll`, phase, rate: o.rate,
        dedupPrefix: `scale-${runId}-${phase}` });
      pub.start();
      let st;
      const windows = []; // {name, url, from, to}: when that coordinator was down
      try {
        await pub.acks(stepAcks);
        const drains = [];
        for (const old of alive(stack.workers)) {
          const fresh = await stack.startWorker();
          sink.setDelay(o.drainSinkDelayMs);
          await pub.acks(Math.ceil(stepAcks / 2));
          const delivered = sink.records(phase).length;
          const r = await old.stop(o.drainMs + 15000);
          sink.setDelay(o.sinkDelayMs);
          const inflight = drainInflight(old.log());
          drains.push({ worker: old.name, inflight, ms: r.ms });
          log(`  ${old.name} (pid ${old.pid}) replaced by ${fresh.name} (pid ${fresh.pid}): SIGTERM with ${inflight} deliveries in flight (its drain_start line) -> exit ${r.code ?? r.signal} in ${r.ms} ms (${delivered} delivered so far)`);
          check(`${old.name} drains and exits 0 on SIGTERM`, r.code === 0 && !r.timedOut, JSON.stringify(r));
          await pub.acks(Math.ceil(stepAcks / 2));
        }
        figures.drains = drains;
        const busy = drains.filter((d) => d.inflight > 0);
        check('rolling: a worker was stopped with deliveries in flight and drained them (exit 0)', busy.length > 0,
          drains.map((d) => `${d.worker}: drain_start inflight=${d.inflight}, exit after ${d.ms} ms`).join('; '));
        for (let i = 0; i < slots.length; i++) {
          const victim = slots[i].proc;
          const w = { name: victim.name, url: slots[i].url, from: Date.now() };
          windows.push(w);
          await victim.kill();
          await pub.acks(stepAcks);
          const fresh = await stack.startCoordinator();
          w.ready = Date.now();
          w.to = w.ready + slackMs;
          slots[i].url = fresh.url;
          slots[i].proc = fresh;
          log(`  ${victim.name} (pid ${victim.pid}) killed -9; ${stepAcks} publishes acknowledged by the other meanwhile; ${fresh.name} ready on ${fresh.url} ${w.ready - w.from} ms after the kill`);
          await pub.acks(Math.ceil(stepAcks / 2));
        }
        figures.coordinatorDownMs = windows.map((w) => w.ready - w.from);
        await pub.stop();
        st = pub.stats();
        check('rolling: no publish failed on both coordinators (one was always up)', st.failedEverywhere === 0,
          `${st.failedEverywhere} failed on both`);
        // Every failed attempt went to the coordinator that was down, while
        // it was (from its kill to its replacement ready + slack).
        const inside = windows.map(() => 0);
        const outside = [];
        for (const f of pub.failures) {
          const i = windows.findIndex((w) => f.url === w.url && f.t >= w.from && f.t <= w.to);
          if (i >= 0) inside[i]++; else outside.push(f);
        }
        figures.rollingFailedAttempts = { total: pub.failures.length, perKill: inside, outside: outside.length };
        const fmt = (f) => `${f.url} ${f.status || f.error} at ${f.t - windows[0].from} ms`;
        check('rolling: publish attempts failed only against the killed coordinator, between its kill and its replacement ready (+1 s)',
          outside.length === 0 && pub.failures.length === st.attemptsFailed,
          `${pub.failures.length} failed attempts: ${windows.map((w, i) => `${inside[i]} to ${w.name} ${w.url} (down ${w.from - windows[0].from}..${w.ready - windows[0].from} ms)`).join(', ')}; ` +
          `${outside.length} elsewhere${outside.length ? `: ${outside.slice(0, 5).map(fmt).join(' | ')} (times after the first kill)` : ''}`);
      } finally {
        if (pub.running) await pub.stop().catch(() => {});
        sink.setDelay(o.sinkDelayMs);
      }
      const v = await verify(pub, sink, phase);
      figures.rolling = { ...st, ...v, lost: v.lost.length, waitErr: undefined };
      reportLoad('rolling', st, v);
    } finally {
      await closeSink(sink);
    }
  }

  /** Publishes `k` messages due in `delayMs` (Upstash-Delay), half to each
   *  coordinator, all at once; seqs 0..k-1 under phase `phase`.
   *  Resolves Map seq -> messageId; throws unless every one is stored. */
  async function publishDelayed(slots, sink, phase, k, delayMs) {
    const ids = new Map();
    await Promise.all(Array.from({ length: k }, async (_, seq) => {
      const base = slots[seq % slots.length].url;
      const r = await fetch(`${base}/v2/publish/${sink.url}/${phase}`, {
        method: 'POST',
        signal: AbortSignal.timeout(10000),
        headers: {
          Authorization: `Bearer ${stack.token}`,
          'Content-Type': 'application/json',
          'Upstash-Delay': `${delayMs}ms`,
          'Upstash-Deduplication-Id': `scale-${runId}-${phase}-${seq}`,
          'Upstash-Forward-X-Seq': String(seq),
          'Upstash-Forward-X-Phase': phase,
          'Upstash-Forward-X-Sent-Ms': String(Date.now()),
        },
        body: `{"seq":${seq},"phase":"${phase}"}`,
      });
      const text = await r.text();
      let id;
      try { id = JSON.parse(text).messageId; } catch { /* not JSON */ }
      if (r.status < 200 || r.status > 299) throw new Error(`delayed publish ${seq} -> ${r.status} ${text}`);
      if (!id) throw new Error(`delayed publish ${seq}: no messageId in ${text}`);
      ids.set(seq, id);
    }));
    return ids;
  }

  /** How many of `ids` are members of P:{msg}:delayed. */
  async function inDelayedSet(ids) {
    const scores = await stack.redis.call('ZMSCORE', stack.key('{msg}:delayed'), ...ids);
    return scores.filter((x) => x !== null).length;
  }

  async function redisRestart() {
    const sink = await openSink(() => nodeSink({ delayMs: o.sinkDelayMs }));
    const phase = 'redis';
    const dphase = 'redisdelayed';
    const stepAcks = Math.max(1, Math.round(o.rate * o.stepAcks));
    const procs = () => [...alive(stack.coordinators), ...alive(stack.workers)];
    const delayMs = o.outageMs + 3000;
    log(`\n== Redis restart under load: ${o.rate} publishes/s, ${o.delayedK} messages delayed ${delayMs} ms published and the endpoint slowed to ${o.outageSinkDelayMs} ms right before the stop; redis-server (${describeRedis(o.redisArgs)}) stopped (SIGTERM) for ${o.outageMs} ms and started again on the same dir`);
    try {
      await ensureWorkers(Math.max(1, o.rollWorkers));
      const ps = procs();
      const nWorkers = ps.filter((p) => stack.workers.includes(p)).length;
      const nCoords = ps.length - nWorkers;
      check('redis: the probed processes include workers and both coordinators', nWorkers > 0 && nCoords === 2,
        `${nWorkers} worker(s), ${nCoords} coordinator(s): ${ps.map((p) => p.name).join(' ')}`);
      // Identity of every process before the outage: pid and start time.
      const before = new Map(ps.map((p) => [p.name, `${p.pid}@${startTime(p.pid)}`]));
      const reconnects0 = new Map();
      for (const p of ps) reconnects0.set(p.name, byConn(await scrape(p.url), 'stepflow_redis_reconnects_total'));
      const slots = coordinatorSlots();
      const pub = new Publisher({ targets: slots, token: stack.token, dest: `${sink.url}/redis`, phase, rate: o.rate,
        dedupPrefix: `scale-${runId}-${phase}`, giveUpMs: o.outageMs + 60000 });
      pub.start();
      let st;
      let tUp = 0;
      let delayedIds = new Map();
      const fig = {};
      try {
        await pub.acks(stepAcks);
        // Work that only the AOF can bring back: delayed messages (in
        // P:{msg}:delayed until after the outage) and entries pending in
        // the group (the endpoint answers slowly now).
        sink.setDelay(o.outageSinkDelayMs);
        delayedIds = await publishDelayed(slots, sink, dphase, o.delayedK, delayMs);
        await pub.acks(Math.max(1, Math.round(o.rate * o.outageSinkDelayMs / 1000)));
        const [zcard, xpending, groups] = await stack.redis.pipeline(
          ['ZCARD', stack.key('{msg}:delayed')],
          ['XPENDING', stack.key('{msg}:stream'), 'workers'],
          ['XINFO', 'GROUPS', stack.key('{msg}:stream')]);
        const g = (Array.isArray(groups) ? groups.map(pairs) : []).find((x) => x.name === 'workers') || {};
        fig.atStop = {
          delayed: Number(zcard), ourDelayed: await inDelayedSet([...delayedIds.values()]),
          pending: Array.isArray(xpending) ? Number(xpending[0]) : -1, lag: g.lag ?? null,
          streamEntriesRead: g['entries-read'] ?? null,
        };
        check('redis: at the stop, Redis holds work only its AOF can bring back', fig.atStop.ourDelayed === o.delayedK && fig.atStop.pending > 0,
          `ZCARD ${stack.key('{msg}:delayed')} = ${fig.atStop.delayed} (${fig.atStop.ourDelayed} of the ${o.delayedK} delayed messages), ` +
          `XPENDING ${stack.key('{msg}:stream')} workers = ${fig.atStop.pending}, group lag = ${fig.atStop.lag}`);
        const tDown = Date.now();
        await stack.redis.shutdown();
        fig.shutdownMs = Date.now() - tDown;
        const notReady = await everyReadyz(ps, 503, 10000, 'every /readyz 503 with Redis down');
        fig.all503Ms = Date.now() - tDown;
        check('redis down: /readyz 503 on every coordinator and worker', notReady === true,
          notReady === true ? `${ps.length} processes, all 503 within ${fig.all503Ms} ms of the stop` : notReady);
        let down = true;
        const upNow = {};
        try {
          await waitFor(async () => {
            for (const p of ps) {
              const up = byConn(await scrape(p.url), 'stepflow_redis_up');
              upNow[p.name] = up;
              if (!Object.keys(up).length || Object.values(up).some((x) => x !== 0)) return false;
            }
            return true;
          }, { timeout: 10000, interval: 100, message: 'stepflow_redis_up 0 on every link' });
        } catch (e) { down = e.message; }
        check('redis down: stepflow_redis_up 0 on every link of every process', down === true,
          down === true ? Object.entries(upNow).map(([n, u]) => `${n}{${Object.keys(u).join(',')}}`).join(' ') : `${down} ${JSON.stringify(upNow)}`);
        // Keep it down for outageMs, and until the publisher has seen it.
        let seen = true;
        await waitFor(() => Date.now() - tDown >= o.outageMs && pub.stats().failedEverywhere > 0,
          { timeout: o.outageMs + 20000, interval: 50, message: 'the outage seen by the publisher' })
          .catch((e) => { seen = e.message; });
        const refusedDuring = pub.stats().failedEverywhere;
        check('redis down: publishes refused while Redis was down', refusedDuring > 0,
          `${refusedDuring} messages failed on both coordinators${seen === true ? '' : ` (${seen})`}`);
        tUp = Date.now();
        fig.downMs = tUp - tDown;
        await stack.redis.start();
        watch();
        fig.delayedAfterStart = await inDelayedSet([...delayedIds.values()]);
        check('redis back: the delayed messages are in Redis again (read from the AOF)', fig.delayedAfterStart === o.delayedK,
          `${fig.delayedAfterStart} of ${o.delayedK} in ${stack.key('{msg}:delayed')} right after the start`);
        sink.setDelay(o.sinkDelayMs);
        const ready = await everyReadyz(ps, 200, 30000, 'every /readyz 200 after the restart');
        fig.all200Ms = Date.now() - tUp;
        check('redis back: /readyz 200 on every process again', ready === true,
          ready === true ? `within ${fig.all200Ms} ms of redis-server starting` : ready);
        const after = new Map(procs().map((p) => [p.name, `${p.pid}@${startTime(p.pid)}`]));
        const changed = [...before].filter(([n, id]) => after.get(n) !== id).map(([n, id]) => `${n} ${id} -> ${after.get(n) || 'gone'}`);
        const added = [...after.keys()].filter((n) => !before.has(n));
        check('redis back: the same processes ran through the outage (pid and start time recorded before the stop = after; none exited, none added)',
          changed.length === 0 && added.length === 0,
          `${[...before].map(([n, id]) => `${n}=${id}`).join(' ')}${changed.length ? `; changed: ${changed.join(', ')}` : ''}${added.length ? `; added: ${added}` : ''}`);
        const grew = [];
        const notGrew = [];
        for (const p of ps) {
          const now = byConn(await scrape(p.url), 'stepflow_redis_reconnects_total');
          for (const [conn, v0] of Object.entries(reconnects0.get(p.name))) {
            (now[conn] > v0 ? grew : notGrew).push(`${p.name}.${conn} ${v0}->${now[conn]}`);
          }
        }
        fig.reconnects = grew;
        check('redis back: stepflow_redis_reconnects_total grew on every link', notGrew.length === 0 && grew.length > 0,
          notGrew.length ? `not: ${notGrew.join(', ')}` : `${grew.length} links`);
        fig.publishesRefusedDuringOutage = refusedDuring;
        log(`  at the stop: ${fig.atStop.delayed} delayed (${fig.atStop.ourDelayed} ours), ${fig.atStop.pending} pending, lag ${fig.atStop.lag}; stop took ${fig.shutdownMs} ms; all /readyz 503 after ${fig.all503Ms} ms; down ${fig.downMs} ms; all /readyz 200 ${fig.all200Ms} ms after the start; ${refusedDuring} publishes failed on both coordinators while it was down (retried with the same dedup id; the publisher holds at most ${pub.maxInFlight} unacknowledged messages, so it fell behind its schedule meanwhile and caught up after)`);
        await pub.acks(stepAcks);
        await pub.stop();
        st = pub.stats();
        // Publishes failed on both coordinators only while Redis was down
        // (plus the last backoff step, at most 1 s, of a message refused then, and slack).
        const outside = st.failedEverywhereSpans.filter((sp) => sp.from < tDown || sp.to > tUp + fig.all200Ms + 2000);
        check('redis restart: publishes failed on both coordinators only during the outage', outside.length === 0,
          `${st.failedEverywhere} messages refused during it (retried with the same dedup id, all acknowledged later)` +
          `${outside.length ? `; outside: ${JSON.stringify(outside.map((sp) => [sp.from - tDown, sp.to - tDown]))} ms after the stop` : ''}`);
      } finally {
        if (pub.running) await pub.stop().catch(() => {});
        sink.setDelay(o.sinkDelayMs);
      }
      // The delayed messages: each delivered exactly once, after the restart.
      const dseqs = [...delayedIds.keys()];
      const dcount = () => {
        const m = new Map();
        for (const r of sink.records(dphase)) m.set(r.seq, (m.get(r.seq) || 0) + 1);
        return m;
      };
      await waitFor(() => dseqs.every((q) => dcount().has(q)),
        { timeout: delayMs + 30000, interval: 100, message: 'every delayed message delivered' }).catch(() => {});
      const v = await verify(pub, sink, phase);
      const dc = dcount();
      const dmissing = dseqs.filter((q) => !dc.has(q));
      const dtwice = dseqs.filter((q) => dc.get(q) > 1);
      const early = sink.records(dphase).filter((r) => r.at < tUp);
      const dwrong = sink.records(dphase).filter((r) => delayedIds.get(r.seq) !== r.id);
      fig.delayed = { k: o.delayedK, delivered: dseqs.length - dmissing.length, twice: dtwice.length, early: early.length };
      check(`redis back: the ${o.delayedK} delayed messages each delivered exactly once, after the restart`,
        delayedIds.size === o.delayedK && dmissing.length === 0 && dtwice.length === 0 && early.length === 0 && dwrong.length === 0,
        `${dseqs.length - dmissing.length} of ${o.delayedK} delivered, ${dtwice.length} more than once, ${early.length} before the restart, ` +
        `${dwrong.length} under another message id${dmissing.length ? `; missing seqs ${dmissing.slice(0, 10).join(',')}` : ''}`);
      figures.redis = { ...fig, ...st, ...v, lost: v.lost.length, waitErr: undefined };
      reportLoad('redis restart', st, v);
    } finally {
      await closeSink(sink);
    }
  }
}

/** The summary printed at the end by scripts/scale-test. */
export function summary(res) {
  const f = res.figures;
  const lines = ['', 'stepflow scale test summary'];
  if (f.throughput) {
    lines.push(`  throughput (sink ${f.sink}; 2 cores: more workers share the same CPUs):`);
    lines.push('    workers  published/s  delivered/s  p50 ms  p99 ms  duplicates');
    for (const r of f.throughput) {
      lines.push(`    ${String(r.workers).padStart(7)}  ${String(r.publishPerSecond).padStart(11)}  ${String(r.deliveredPerSecond).padStart(11)}  ${String(r.p50Ms).padStart(6)}  ${String(r.p99Ms).padStart(6)}  ${String(r.duplicates).padStart(10)}`);
    }
  }
  for (const [k, label, both] of [['rolling', 'rolling restart', 'failed on both coordinators'],
    ['redis', 'redis restart', 'refused by both while Redis was down (retried later)']]) {
    const r = f[k];
    if (!r) continue;
    lines.push(`  ${label}: acknowledged ${r.acked}, lost ${r.lost}, duplicates ${r.duplicates}, stored twice ${r.storedTwice}, ` +
      `needed a retry ${r.retried}, ${both} ${r.failedEverywhere}, gave up ${r.givenUp}`);
  }
  if (f.drains) lines.push(`  worker SIGTERM (deliveries in flight) -> exit: ${f.drains.map((d) => `${d.worker} (${d.inflight}) ${d.ms} ms`).join(', ')}`);
  if (f.rollingFailedAttempts) {
    const a = f.rollingFailedAttempts;
    lines.push(`  rolling: failed publish attempts ${a.total}: ${a.perKill.join(' + ')} against the killed coordinator while it was down, ${a.outside} elsewhere`);
  }
  if (f.coordinatorDownMs) lines.push(`  coordinator kill->replacement ready (ms): ${f.coordinatorDownMs.join(', ')}`);
  if (f.redis) {
    const r = f.redis;
    if (r.atStop) lines.push(`  redis at the stop: ${r.atStop.delayed} delayed (${r.atStop.ourDelayed} published for this), ${r.atStop.pending} pending, lag ${r.atStop.lag}; ${r.delayedAfterStart} delayed back after the start`);
    if (r.delayed) lines.push(`  redis delayed messages: ${r.delayed.delivered} of ${r.delayed.k} delivered after the restart, ${r.delayed.twice} twice, ${r.delayed.early} early`);
    lines.push(`  redis outage: /readyz all 503 after ${r.all503Ms} ms, down ${r.downMs} ms, all 200 ${r.all200Ms} ms after the restart`);
  }
  lines.push(`  checks: ${res.checks.filter((c) => c.ok).length} passed, ${res.checks.filter((c) => !c.ok).length} failed; ${f.seconds} s`);
  for (const c of res.checks.filter((x) => !x.ok)) lines.push(`    FAIL ${c.name}: ${c.detail}`);
  lines.push(res.ok ? 'PASS' : 'FAIL');
  return lines.join('\n');
}
