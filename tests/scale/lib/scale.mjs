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
//   redis       a steady publisher again; redis-server is stopped (SIGTERM:
//               it writes its AOF) and started again on the same dir after
//               `outageMs`; every /readyz must turn 503 and every
//               stepflow_redis_up 0 while it is down, every /readyz 200 again
//               afterwards without any stepflow process restarted (same
//               pids), stepflow_redis_reconnects_total up on every link.
// For the two load phases: lost (acknowledged, never delivered) must be 0,
// publishes that failed on both coordinators must be 0 while a coordinator
// is up (rolling), no publish may give up (redis: it retries with backoff
// through the outage), no message may be stored twice (two message ids for
// one sequence number: the dedup id failed); duplicates (deliveries beyond
// the first) are counted and printed, not failed.
//
// runScale(opts, log) -> {checks: [{name, ok, detail}], figures: {...}, ok}
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN_DIR, startStack, waitFor } from '../../integration/lib/stack.mjs';
import { parsePromText, sampleValue } from '../../integration/lib/promtext.mjs';
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
  sink: 'auto', // throughput sink: auto (nginx if installed) | node
  deliverTimeoutMs: 120000,
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

async function httpStatus(url, timeoutMs = 2000) {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  await r.arrayBuffer();
  return r.status;
}

async function scrape(url) {
  const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3000) });
  return parsePromText(await r.text());
}

/** {conn -> value} of one metric family in a scrape. */
function byConn(samples, name) {
  const o = {};
  for (const s of samples[name] || []) o[s.labels.conn] = s.value;
  return o;
}

export async function runScale(options = {}, log = (s) => console.log(s)) {
  const o = { ...FULL, ...options };
  const checks = [];
  const figures = {};
  const check = (name, ok, detail = '') => {
    checks.push({ name, ok: !!ok, detail });
    log(`  ${ok ? 'PASS' : 'FAIL'}  ${name}${detail ? `: ${detail}` : ''}`);
  };
  const t0 = Date.now();
  const runId = `${process.pid}x${Date.now().toString(36)}`;

  const stack = await startStack({
    workers: 0,
    redisArgs: ['--appendonly', 'yes', '--appendfsync', 'everysec'],
    env: { STEPFLOW_LOG_LEVEL: process.env.STEPFLOW_TEST_LOG_LEVEL || 'info' },
    workerEnv: { STEPFLOW_CONCURRENCY: String(o.concurrency), STEPFLOW_DRAIN_MS: String(o.drainMs) },
  });
  const alive = (list) => list.filter((p) => p.alive);
  let keptLogs = null;
  try {
    await stack.startCoordinator();
    log(`redis-server :${stack.redis.port} (AOF everysec, ${stack.redis.dir}); coordinators ${stack.coordinators.map((c) => c.url).join(' ')}; logs ${stack.logDir}`);

    if (o.phases.includes('throughput')) await throughput();
    if (o.phases.includes('rolling')) await rolling();
    if (o.phases.includes('redis')) await redisRestart();

    // Everything still running exits 0 on SIGTERM.
    const exits = await stack.stop();
    const bad = Object.entries(exits).filter(([name, e]) => e.code !== 0 &&
      !(name.startsWith('coordinator') && e.signal === 'SIGKILL'));
    check('every stepflow process exits 0 on SIGTERM at the end', bad.length === 0,
      bad.map(([n, e]) => `${n} ${JSON.stringify(e)}`).join(', '));
  } catch (e) {
    check('the run completed', false, e.stack || String(e));
  } finally {
    if (checks.some((c) => !c.ok)) {
      keptLogs = fs.mkdtempSync('/tmp/stepflow-scale-logs-');
      try {
        fs.cpSync(stack.logDir, keptLogs, { recursive: true });
        fs.copyFileSync(stack.redis.logFile, path.join(keptLogs, 'redis.log'));
      } catch { /* partial */ }
      log(`logs kept in ${keptLogs}`);
    }
    await stack.stop().catch(() => {});
  }
  figures.seconds = Math.round((Date.now() - t0) / 100) / 10;
  return { ok: checks.every((c) => c.ok), checks, figures, keptLogs };

  /* -------------------------------------------------------------------- */

  async function ensureWorkers(k) {
    while (alive(stack.workers).length < k) await stack.startWorker();
    while (alive(stack.workers).length > k) {
      const w = alive(stack.workers)[0];
      const r = await w.stop(o.drainMs + 15000);
      if (r.code !== 0) check(`${w.name} exits 0 on SIGTERM`, false, JSON.stringify(r));
    }
  }

  async function throughput() {
    let sink = o.sink === 'node' ? null : await nginxSink();
    if (!sink) sink = await nodeSink();
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
      await sink.close();
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
    const sink = await nodeSink({ delayMs: o.sinkDelayMs });
    const phase = 'roll';
    const stepAcks = Math.max(1, Math.round(o.rate * o.stepAcks));
    log(`\n== rolling restart under load: ${o.rate} publishes/s round-robin to 2 coordinators, ${o.rollWorkers} workers replaced one by one (STEPFLOW_DRAIN_MS ${o.drainMs}), then each coordinator killed (-9) and restarted; endpoint answers after ${o.sinkDelayMs} ms`);
    try {
      await ensureWorkers(o.rollWorkers);
      const slots = coordinatorSlots();
      const pub = new Publisher({ targets: slots, token: stack.token, dest: `${sink.url}/roll`, phase, rate: o.rate,
        dedupPrefix: `scale-${runId}-${phase}` });
      pub.start();
      let st;
      try {
        await pub.acks(stepAcks);
        const drains = [];
        for (const old of alive(stack.workers)) {
          const fresh = await stack.startWorker();
          await pub.acks(Math.ceil(stepAcks / 2));
          const inflight = sink.records(phase).length;
          const r = await old.stop(o.drainMs + 15000);
          drains.push(r.ms);
          log(`  ${old.name} (pid ${old.pid}) replaced by ${fresh.name} (pid ${fresh.pid}): SIGTERM -> exit ${r.code ?? r.signal} in ${r.ms} ms (${inflight} delivered so far)`);
          check(`${old.name} drains and exits 0 on SIGTERM`, r.code === 0 && !r.timedOut, JSON.stringify(r));
          await pub.acks(Math.ceil(stepAcks / 2));
        }
        figures.drainMs = drains;
        const kills = [];
        for (let i = 0; i < slots.length; i++) {
          const victim = slots[i].proc;
          const tk = Date.now();
          await victim.kill();
          await pub.acks(stepAcks);
          const fresh = await stack.startCoordinator();
          const up = Date.now() - tk;
          slots[i].url = fresh.url;
          slots[i].proc = fresh;
          kills.push(up);
          log(`  ${victim.name} (pid ${victim.pid}) killed -9; ${stepAcks} publishes acknowledged by the other meanwhile; ${fresh.name} ready on ${fresh.url} ${up} ms after the kill`);
          await pub.acks(Math.ceil(stepAcks / 2));
        }
        figures.coordinatorDownMs = kills;
        await pub.stop();
        st = pub.stats();
        check('rolling: no publish failed on both coordinators (one was always up)', st.failedEverywhere === 0,
          `${st.failedEverywhere} failed on both`);
      } finally {
        if (pub.running) await pub.stop().catch(() => {});
      }
      const v = await verify(pub, sink, phase);
      figures.rolling = { ...st, ...v, lost: v.lost.length, waitErr: undefined };
      reportLoad('rolling', st, v);
    } finally {
      await sink.close();
    }
  }

  async function redisRestart() {
    const sink = await nodeSink({ delayMs: o.sinkDelayMs });
    const phase = 'redis';
    const stepAcks = Math.max(1, Math.round(o.rate * o.stepAcks));
    const procs = () => [...alive(stack.coordinators), ...alive(stack.workers)];
    log(`\n== Redis restart under load: ${o.rate} publishes/s, redis-server stopped (SIGTERM, AOF written) for ${o.outageMs} ms and started again on the same dir`);
    try {
      const ps = procs();
      const pids = new Map(ps.map((p) => [p.name, p.pid]));
      const before = new Map();
      for (const p of ps) before.set(p.name, byConn(await scrape(p.url), 'stepflow_redis_reconnects_total'));
      const slots = coordinatorSlots();
      const pub = new Publisher({ targets: slots, token: stack.token, dest: `${sink.url}/redis`, phase, rate: o.rate,
        dedupPrefix: `scale-${runId}-${phase}`, giveUpMs: o.outageMs + 60000 });
      pub.start();
      let st;
      const fig = {};
      try {
        await pub.acks(stepAcks);
        const tDown = Date.now();
        await stack.redis.shutdown();
        fig.shutdownMs = Date.now() - tDown;
        let notReady = true;
        try {
          await waitFor(async () => {
            for (const p of ps) if ((await httpStatus(`${p.url}/readyz`)) !== 503) return false;
            return true;
          }, { timeout: 10000, interval: 50, message: 'every /readyz 503 with Redis down' });
        } catch (e) { notReady = e.message; }
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
        // Keep it down for outageMs (and until the publisher has seen it).
        await waitFor(() => Date.now() - tDown >= o.outageMs && pub.stats().failedEverywhere > 0,
          { timeout: o.outageMs + 20000, interval: 50, message: 'the outage seen by the publisher' }).catch(() => {});
        const refusedDuring = pub.stats().failedEverywhere;
        const tUp = Date.now();
        fig.downMs = tUp - tDown;
        await stack.redis.start();
        let ready = true;
        try {
          await waitFor(async () => {
            for (const p of ps) if ((await httpStatus(`${p.url}/readyz`)) !== 200) return false;
            return true;
          }, { timeout: 30000, interval: 50, message: 'every /readyz 200 after the restart' });
        } catch (e) { ready = e.message; }
        fig.all200Ms = Date.now() - tUp;
        check('redis back: /readyz 200 on every process again', ready === true,
          ready === true ? `within ${fig.all200Ms} ms of redis-server starting` : ready);
        const restarted = ps.filter((p) => !p.alive || p.pid !== pids.get(p.name)).map((p) => p.name);
        const extra = procs().filter((p) => !pids.has(p.name)).map((p) => p.name);
        check('redis back: no stepflow process restarted (same pids, all alive)', restarted.length === 0 && extra.length === 0,
          `${ps.map((p) => `${p.name}=${p.pid}`).join(' ')}${restarted.length ? `; restarted/exited: ${restarted}` : ''}`);
        const grew = [];
        const notGrew = [];
        for (const p of ps) {
          const now = byConn(await scrape(p.url), 'stepflow_redis_reconnects_total');
          for (const [conn, v0] of Object.entries(before.get(p.name))) {
            (now[conn] > v0 ? grew : notGrew).push(`${p.name}.${conn} ${v0}->${now[conn]}`);
          }
        }
        fig.reconnects = grew;
        check('redis back: stepflow_redis_reconnects_total grew on every link', notGrew.length === 0 && grew.length > 0,
          notGrew.length ? `not: ${notGrew.join(', ')}` : `${grew.length} links`);
        fig.publishesRefusedDuringOutage = refusedDuring;
        log(`  stop took ${fig.shutdownMs} ms; all /readyz 503 after ${fig.all503Ms} ms; down ${fig.downMs} ms; all /readyz 200 ${fig.all200Ms} ms after the start; ${refusedDuring} publishes failed on both coordinators while it was down (retried with the same dedup id; the publisher holds at most ${pub.maxInFlight} unacknowledged messages, so it fell behind its schedule meanwhile and caught up after)`);
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
      }
      const v = await verify(pub, sink, phase);
      figures.redis = { ...fig, ...st, ...v, lost: v.lost.length, waitErr: undefined };
      reportLoad('redis restart', st, v);
    } finally {
      await sink.close();
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
  if (f.drainMs) lines.push(`  worker SIGTERM->exit (ms): ${f.drainMs.join(', ')}`);
  if (f.coordinatorDownMs) lines.push(`  coordinator kill->replacement ready (ms): ${f.coordinatorDownMs.join(', ')}`);
  if (f.redis) lines.push(`  redis outage: /readyz all 503 after ${f.redis.all503Ms} ms, down ${f.redis.downMs} ms, all 200 ${f.redis.all200Ms} ms after the restart`);
  lines.push(`  checks: ${res.checks.filter((c) => c.ok).length} passed, ${res.checks.filter((c) => !c.ok).length} failed; ${f.seconds} s`);
  for (const c of res.checks.filter((x) => !x.ok)) lines.push(`    FAIL ${c.name}: ${c.detail}`);
  lines.push(res.ok ? 'PASS' : 'FAIL');
  return lines.join('\n');
}
