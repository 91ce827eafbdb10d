// stack.mjs - real processes for the integration and compat suites.
//
// Everything here is real: a private redis-server on a free port in a temp
// dir, stepflow-coordinator / stepflow-worker from $STEPFLOW_BIN_DIR, and
// HTTP endpoints bound to 127.0.0.1:0.  No mocks.
//
// Contract:
//   - startStack(opts) starts redis + one coordinator + N workers and waits
//     until each answers /readyz (or, for a worker, registers as a consumer
//     of the message stream).  stack.stop() tears everything down and is
//     idempotent; it is also run at process exit (kill -9) as a last resort.
//   - Process stderr/stdout go to log files in the stack's temp dir; they
//     are printed when a test declared through `test()` below failed.
//   - waitFor() polls with a deadline: the suites never sleep blindly.
//   - stack.redis.shutdown() / start() stop redis with SIGTERM and bring it
//     back on the same port and data dir (pass redisArgs such as
//     ['--appendonly', 'yes'] to startStack for a server that keeps data).
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test as nodeTest } from 'node:test';

export const BIN_DIR = process.env.STEPFLOW_BIN_DIR ||
  path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../build/bin');

const live = new Set(); // child processes to kill -9 if we exit abruptly
process.on('exit', () => {
  for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
});

let anyFailed = false;
const stacks = new Set();

/** node:test's test() that remembers failures so teardown prints logs. */
export function test(name, opts, fn) {
  if (typeof opts === 'function') { fn = opts; opts = {}; }
  return nodeTest(name, opts, async (t) => {
    try {
      return await fn(t);
    } catch (e) {
      anyFailed = true;
      for (const s of stacks) s.dumpLogs(`after failure of "${name}"`);
      throw e;
    }
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `fn` until it returns a truthy value (returned) or the deadline
 * passes (throws with `message` and the last value / error seen).
 */
export async function waitFor(fn, { timeout = 15000, interval = 50, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last, lastErr;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) { lastErr = e; }
    if (Date.now() > deadline) {
      const detail = lastErr ? `last error: ${lastErr.message}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeout} ms waiting for ${message} (${detail})`);
    }
    await sleep(interval);
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function mkTemp(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `stepflow-${tag}-`));
}

/* ---------------- a minimal RESP2 client (no npm redis needed) ---------- */

function encodeCommand(args) {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(`$${b.length}\r\n`, b, '\r\n');
  }
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
}

// Parses one reply at buf[pos]; returns [value, nextPos] or null if incomplete.
function parseReply(buf, pos) {
  if (pos >= buf.length) return null;
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+': return [line, next];
    case '-': { const e = new Error(line); e.redis = true; return [e, next]; }
    case ':': return [Number(line), next];
    case '$': {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (buf.length < next + n + 2) return null;
      return [buf.toString('utf8', next, next + n), next + n + 2];
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return [null, next];
      const out = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (!r) return null;
        out.push(r[0]);
        p = r[1];
      }
      return [out, p];
    }
    default: throw new Error(`bad RESP type byte ${type}`);
  }
}

/** One connection; call(...args) resolves with the reply or rejects on -ERR. */
export function redisClient(port) {
  const sock = net.createConnection({ port, host: '127.0.0.1' });
  let buf = Buffer.alloc(0);
  const waiting = [];
  let dead = null;
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const r = parseReply(buf, 0);
      if (!r) break;
      buf = buf.subarray(r[1]);
      const w = waiting.shift();
      if (!w) continue;
      if (r[0] instanceof Error) w.reject(r[0]); else w.resolve(r[0]);
    }
  });
  const fail = (e) => {
    dead = e || new Error('redis connection closed');
    while (waiting.length) waiting.shift().reject(dead);
  };
  sock.on('error', fail);
  sock.on('close', () => fail(null));
  return {
    call(...args) {
      if (dead) return Promise.reject(dead);
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        sock.write(encodeCommand(args));
      });
    },
    close() { sock.destroy(); },
  };
}

/** Turns a flat [k1, v1, k2, v2] reply into an object. */
export function pairs(arr) {
  const o = {};
  for (let i = 0; i + 1 < (arr || []).length; i += 2) o[arr[i]] = arr[i + 1];
  return o;
}

/**
 * A tiny msgpack encoder for raw envelopes (common/message.c): integers
 * and bigints as uint64/int64, other numbers as float64, booleans, strings
 * as str32, Buffers as bin32, arrays and maps with 32-bit counts.
 */
export function mp(v) {
  const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n, 0); return b; };
  if (v === null || v === undefined) return Buffer.from([0xc0]);
  if (v === true || v === false) return Buffer.from([v ? 0xc3 : 0xc2]);
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from([0xc6]), u32(v.length), v]);
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || Math.abs(v) > Number.MAX_SAFE_INTEGER) {
      const b = Buffer.alloc(9); b[0] = 0xcb; b.writeDoubleBE(v, 1); return b; // float64
    }
    const b = Buffer.alloc(9);
    if (v >= 0) { b[0] = 0xcf; b.writeBigUInt64BE(BigInt(v), 1); } else { b[0] = 0xd3; b.writeBigInt64BE(BigInt(v), 1); }
    return b;
  }
  if (typeof v === 'bigint') {
    const b = Buffer.alloc(9);
    if (v >= 0n) { b[0] = 0xcf; b.writeBigUInt64BE(v, 1); } else { b[0] = 0xd3; b.writeBigInt64BE(v, 1); }
    return b;
  }
  if (typeof v === 'string') {
    const s = Buffer.from(v);
    return Buffer.concat([Buffer.from([0xdb]), u32(s.length), s]);
  }
  if (Array.isArray(v)) return Buffer.concat([Buffer.from([0xdd]), u32(v.length), ...v.map(mp)]);
  const keys = Object.keys(v);
  return Buffer.concat([Buffer.from([0xdf]), u32(keys.length), ...keys.flatMap((k) => [mp(k), mp(v[k])])]);
}

/* ---------------- redis-server ------------------------------------------ */

/**
 * Starts a private redis-server; returns {port, url, call, cli, stop,
 * shutdown, start}.  shutdown() stops it with SIGTERM (an AOF server
 * flushes and exits cleanly) and start() brings it back on the same port,
 * data dir and arguments; call() always uses the current connection.
 */
export async function startRedis({ extraArgs = [] } = {}) {
  const dir = mkTemp('redis');
  const logFile = path.join(dir, 'redis.log');
  let proc = null;
  let exited = true;
  let client = null;

  // Spawns redis-server on `port` and connects; throws if it does not answer.
  async function launch(port) {
    const p = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--save', '', '--appendonly', 'no', '--daemonize', 'no',
      '--logfile', logFile, ...extraArgs,
    ], { stdio: 'ignore' });
    live.add(p);
    proc = p;
    exited = false;
    p.on('exit', () => { if (proc === p) exited = true; live.delete(p); });
    try {
      client = await waitFor(async () => {
        if (proc === p && exited) throw new Error('redis-server exited');
        const c = redisClient(port);
        try {
          if ((await c.call('PING')) === 'PONG') return c;
        } catch (e) { c.close(); throw e; }
        c.close();
        return null;
      }, { timeout: 10000, message: `redis-server on ${port}` });
    } catch (e) {
      try { p.kill('SIGKILL'); } catch { /* gone */ }
      throw e;
    }
    client.call('CLIENT', 'SETNAME', 'stepflow-tests').catch(() => {});
  }

  let lastErr;
  let port;
  for (let tries = 0; tries < 5 && !client; tries++) {
    port = await freePort();
    try { await launch(port); } catch (e) { lastErr = e; }
  }
  if (!client) throw new Error(`could not start redis-server: ${lastErr && lastErr.message}`);

  const self = {
    port, dir,
    get proc() { return proc; },
    get up() { return !exited; },
    url: `redis://127.0.0.1:${port}`,
    logFile,
    call: (...a) => client.call(...a),
    /** Runs redis-cli against this server; resolves with stdout. */
    cli: (...a) => new Promise((resolve, reject) => {
      execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...a.map(String)],
        { timeout: 10000 }, (err, stdout, stderr) => {
          if (err) reject(new Error(`redis-cli ${a.join(' ')}: ${err.message} ${stderr}`));
          else resolve(stdout.trim());
        });
    }),
    /**
     * Sends `cmds` (arrays of arguments) in one write on a new connection,
     * so redis runs them back to back with nobody else's command between;
     * resolves with their replies (errors as Error values).
     */
    pipeline: (...cmds) => new Promise((resolve, reject) => {
      const sock = net.createConnection({ port, host: '127.0.0.1' });
      let buf = Buffer.alloc(0);
      const out = [];
      sock.on('connect', () => sock.write(Buffer.concat(cmds.map(encodeCommand))));
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        for (let r = parseReply(buf, 0); r; r = parseReply(buf, 0)) {
          buf = buf.subarray(r[1]);
          out.push(r[0]);
        }
        if (out.length >= cmds.length) { sock.destroy(); resolve(out); }
      });
      sock.on('error', reject);
    }),
    /** SIGTERM (redis flushes its AOF) and wait for the exit. */
    async shutdown(timeoutMs = 10000) {
      if (client) client.close();
      if (exited) return;
      proc.kill('SIGTERM');
      await waitFor(() => exited, { timeout: timeoutMs, message: 'redis-server SIGTERM exit' });
    },
    /** Starts it again on the same port, dir and arguments. */
    async start() {
      if (!exited) throw new Error('redis-server is still running');
      await launch(port);
    },
    async stop() {
      if (client) client.close();
      if (!exited) {
        proc.kill('SIGKILL');
        await waitFor(() => exited, { timeout: 5000, message: 'redis-server exit' }).catch(() => {});
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}

/* ---------------- stepflow processes ------------------------------------ */

/** GET `url`; its status (the body is read and dropped). */
export async function httpGetStatus(url, timeoutMs = 2000) {
  const ctl = AbortSignal.timeout(timeoutMs);
  const res = await fetch(url, { signal: ctl });
  await res.arrayBuffer();
  return res.status;
}

/** process.env without the harness's own STEPFLOW_* variables (ctest's
 * STEPFLOW_BIN_DIR, ...), which a process would log as unknown settings. */
function harnessFreeEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^STEPFLOW_(BIN_DIR|SOURCE_DIR|TEST_.*|JOBS)$/.test(k)) delete env[k];
  }
  return env;
}

/** A started stepflow-* process.  stop() = SIGTERM and wait; kill() = -9. */
export class Proc {
  constructor(name, bin, env, logDir, args = []) {
    this.name = name;
    this.logFile = path.join(logDir, `${name}.log`);
    this.env = env;
    const fd = fs.openSync(this.logFile, 'a');
    this.proc = spawn(path.join(BIN_DIR, bin), args, {
      env: { ...harnessFreeEnv(), ...env },
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    live.add(this.proc);
    this.exit = null; // {code, signal} once exited
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        live.delete(this.proc);
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.proc.on('error', (e) => {
        live.delete(this.proc);
        this.exit = { code: -1, signal: null, error: e };
        resolve(this.exit);
      });
    });
  }

  get pid() { return this.proc.pid; }
  get alive() { return this.exit === null; }

  log() {
    try { return fs.readFileSync(this.logFile, 'utf8'); } catch { return ''; }
  }

  /** SIGTERM, wait up to timeoutMs; returns {code, signal, ms}; kill -9 after. */
  async stop(timeoutMs = 30000) {
    if (!this.alive) return { ...this.exit, ms: 0 };
    const t0 = Date.now();
    this.proc.kill('SIGTERM');
    let timer;
    const r = await Promise.race([this.exited,
      new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); })]);
    clearTimeout(timer);
    if (r) return { ...r, ms: Date.now() - t0 };
    this.proc.kill('SIGKILL');
    await this.exited;
    return { code: null, signal: 'SIGKILL', ms: Date.now() - t0, timedOut: true };
  }

  async kill() {
    if (!this.alive) return this.exit;
    this.proc.kill('SIGKILL');
    return this.exited;
  }
}

/**
 * Starts redis, a coordinator and `workers` workers.
 * opts: { workers = 1, coordinator = true, env = {} (all processes),
 *         coordEnv = {}, workerEnv = {}, token, redisArgs }
 */
export async function startStack(opts = {}) {
  const {
    workers = 1, coordinator = true, env = {}, coordEnv = {}, workerEnv = {},
    token = `tok-${Math.random().toString(36).slice(2)}`, redisArgs = [],
  } = opts;
  const logDir = mkTemp('logs');
  const prefix = `sft${process.pid}x${Math.random().toString(36).slice(2, 8)}`;
  const redis = await startRedis({ extraArgs: redisArgs });
  const stack = new Stack({ redis, logDir, prefix, token, env, workerEnv });
  stacks.add(stack);
  try {
    if (coordinator) await stack.startCoordinator(coordEnv);
    for (let i = 0; i < workers; i++) await stack.startWorker();
  } catch (e) {
    stack.dumpLogs('start-up failure');
    await stack.stop();
    throw e;
  }
  return stack;
}

class Stack {
  constructor({ redis, logDir, prefix, token, env, workerEnv }) {
    this.redis = redis;
    this.logDir = logDir;
    this.prefix = prefix;
    this.token = token;
    this.env = env;
    this.workerEnv = workerEnv;
    this.coordinators = [];
    this.workers = [];
    this.stopped = false;
    this.nWorkers = 0;
  }

  baseEnv() {
    return {
      STEPFLOW_REDIS_URL: this.redis.url,
      STEPFLOW_PREFIX: this.prefix,
      STEPFLOW_TOKEN: this.token,
      STEPFLOW_CLAIM_IDLE_MS: '1500',
      STEPFLOW_LOG_LEVEL: process.env.STEPFLOW_TEST_LOG_LEVEL || 'debug',
      STEPFLOW_LOG_FORMAT: process.env.STEPFLOW_TEST_LOG_FORMAT || 'text',
      ...this.env,
    };
  }

  get url() { return this.coordinators[0] && this.coordinators[0].url; }

  /** Starts one coordinator and waits for GET /readyz = 200. */
  async startCoordinator(extra = {}) {
    const port = await freePort();
    const name = `coordinator${this.coordinators.length + 1}`;
    const p = new Proc(name, 'stepflow-coordinator', {
      ...this.baseEnv(), STEPFLOW_LISTEN: `127.0.0.1:${port}`, ...extra,
    }, this.logDir);
    p.url = `http://127.0.0.1:${port}`;
    this.coordinators.push(p);
    await waitFor(async () => {
      if (!p.alive) throw new Error(`${name} exited ${JSON.stringify(p.exit)}: ${p.log().slice(-2000)}`);
      return (await httpGetStatus(`${p.url}/readyz`)) === 200;
    }, { timeout: 20000, message: `${name} /readyz` });
    return p;
  }

  /** Consumers currently registered in the message stream's group. */
  async consumers() {
    try {
      const rows = await this.redis.call('XINFO', 'CONSUMERS', this.key('{msg}:stream'), 'workers');
      return rows.map(pairs);
    } catch { return []; }
  }

  /** Worker connections reading the message stream (CLIENT LIST). */
  async readingWorkers() {
    const list = String(await this.redis.call('CLIENT', 'LIST'));
    return list.split('\n').filter((l) => / name=stepflow-worker-read-msg /.test(l) &&
      / cmd=(xreadgroup|xautoclaim|xclaim) /.test(l)).length;
  }

  /**
   * Starts one worker.  Ready when its /readyz answers 200 or, if it serves
   * no HTTP, when its consumer name shows up in the stream's group or every
   * live worker has a read connection parked in XREADGROUP.
   */
  async startWorker(extra = {}) {
    const port = await freePort();
    this.nWorkers++;
    const name = `worker${this.nWorkers}`;
    const consumer = `${name}-${this.prefix}`;
    const p = new Proc(name, 'stepflow-worker', {
      ...this.baseEnv(), STEPFLOW_METRICS_LISTEN: `127.0.0.1:${port}`,
      STEPFLOW_CONSUMER: consumer, ...this.workerEnv, ...extra,
    }, this.logDir);
    p.url = `http://127.0.0.1:${port}`;
    p.consumer = consumer;
    this.workers.push(p);
    await waitFor(async () => {
      if (!p.alive) throw new Error(`${name} exited ${JSON.stringify(p.exit)}: ${p.log().slice(-2000)}`);
      try {
        if ((await httpGetStatus(`${p.url}/readyz`, 500)) === 200) return true;
      } catch { /* no HTTP (yet) */ }
      if ((await this.consumers()).some((c) => c.name === consumer)) return true;
      // A worker blocked in XREADGROUP on an empty stream is not listed as
      // a consumer yet; count the read connections instead.
      return (await this.readingWorkers()) >= this.workers.filter((x) => x.alive).length;
    }, { timeout: 20000, message: `${name} ready` });
    return p;
  }

  /** "P:<rest>" */
  key(rest) { return `${this.prefix}:${rest}`; }

  /**
   * Calls the coordinator's API with the bearer token.
   * Returns {status, headers, text, json} (json = parsed body or undefined).
   */
  async api(method, pathAndQuery, { headers = {}, body, token = this.token, base } = {}) {
    const h = { ...headers };
    if (token !== null && token !== undefined) h.Authorization = `Bearer ${token}`;
    const res = await fetch(`${base || this.url}${pathAndQuery}`, {
      method, headers: h, body, signal: AbortSignal.timeout(15000),
    });
    const text = await res.text();
    let json;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
  }

  /** Publishes one message; throws unless 2xx; returns the messageId. */
  async publish(destination, body = '', headers = {}) {
    const r = await this.api('POST', `/v2/publish/${destination}`, { headers, body });
    if (r.status < 200 || r.status > 299 || !r.json || !r.json.messageId) {
      throw new Error(`publish to ${destination} -> ${r.status} ${r.text}`);
    }
    return r.json.messageId;
  }

  /** GET /v2/dlq with a query string; returns the messages array. */
  async dlqList(query = '') {
    const r = await this.api('GET', `/v2/dlq${query ? `?${query}` : ''}`);
    if (r.status !== 200) throw new Error(`GET /v2/dlq?${query} -> ${r.status} ${r.text}`);
    return r.json.messages || [];
  }

  /** Polls the DLQ until an entry for messageId shows up; returns it. */
  async waitDlq(messageId, { timeout = 20000, query = '' } = {}) {
    return waitFor(async () => (await this.dlqList(query)).find((m) => m.messageId === messageId),
      { timeout, message: `DLQ entry for ${messageId}${query ? ` (${query})` : ''}` });
  }

  /**
   * Polls until the message queue is quiet: no pending (unacked) entries,
   * nothing unread in the group, nothing in the delayed set.
   */
  async waitIdle({ timeout = 20000, queue = '{msg}' } = {}) {
    const stream = this.key(`${queue}:stream`);
    const delayed = this.key(`${queue}:delayed`);
    return waitFor(async () => {
      const pend = await this.redis.call('XPENDING', stream, 'workers').catch(() => [0]);
      if (Number(pend[0]) !== 0) return false;
      const groups = (await this.redis.call('XINFO', 'GROUPS', stream).catch(() => [])).map(pairs);
      const g = groups.find((x) => x.name === 'workers');
      if (g && g.lag !== null && g.lag !== undefined && Number(g.lag) !== 0) return false;
      return Number(await this.redis.call('ZCARD', delayed)) === 0;
    }, { timeout, message: `${queue} queue idle` });
  }

  dumpLogs(why) {
    const procs = [...this.coordinators, ...this.workers];
    for (const p of procs) {
      const text = p.log();
      const tail = text.length > 6000 ? `...${text.slice(-6000)}` : text;
      process.stderr.write(`\n----- ${p.name} log (${why}; exit ${JSON.stringify(p.exit)}) ${p.logFile}\n${tail}\n`);
    }
  }

  /**
   * SIGTERM every process (workers first), then redis.  Returns the exit
   * of each stepflow process by name.  Idempotent.
   */
  async stop() {
    if (this.stopped) return this.exits || {};
    this.stopped = true;
    const exits = {};
    for (const w of this.workers) exits[w.name] = await w.stop(30000);
    for (const c of this.coordinators) exits[c.name] = await c.stop(15000);
    this.exits = exits;
    await this.redis.stop();
    if (anyFailed) process.stderr.write(`stepflow logs kept in ${this.logDir}\n`);
    else fs.rmSync(this.logDir, { recursive: true, force: true });
    stacks.delete(this);
    return exits;
  }
}

/* ---------------- HTTP endpoints ---------------------------------------- */

/**
 * An HTTP server on 127.0.0.1:0 that records every request and answers
 * through a programmable responder.
 *   responder(req, all) -> {status=200, headers={}, body='', delayMs=0,
 *                           reset=false} (or a Promise of it)
 * `req` = {method, url, path, headers (lower-case), body (Buffer), text,
 *          at (ms since epoch), n (index among all requests)}.
 */
export async function endpoint(responder = () => ({ status: 200 })) {
  const requests = [];
  let respond = responder;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const rec = {
        method: req.method, url: req.url, path: req.url.split('?')[0],
        headers: req.headers, body, text: body.toString('utf8'),
        at: Date.now(), n: requests.length,
      };
      requests.push(rec);
      let r;
      try { r = (await respond(rec, requests)) || {}; } catch (e) { r = { status: 599, body: String(e) }; }
      if (r.delayMs) await sleep(r.delayMs);
      if (r.reset) { req.socket.destroy(); return; }
      if (res.destroyed) return;
      res.writeHead(r.status || 200, { 'Content-Type': 'text/plain', ...(r.headers || {}) });
      res.end(r.body === undefined ? '' : r.body);
    });
  });
  server.keepAliveTimeout = 30000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Requests whose path is `p`. */
    to(p) { return requests.filter((r) => r.path === p); },
    setResponder(fn) { respond = fn; },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Header value of a recorded request (case-insensitive). */
export function hdr(req, name) {
  return req.headers[name.toLowerCase()];
}
