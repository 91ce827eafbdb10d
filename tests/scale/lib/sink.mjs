// sink.mjs - delivery endpoints of the scale test (tests/scale/lib/scale.mjs).
//
// Both kinds record every delivery as {id, seq, phase, at, sent}: the
// Upstash-Message-Id, the X-Seq and X-Phase headers the publisher asked to
// be forwarded (Upstash-Forward-X-*), the arrival time (ms since epoch) and
// the X-Sent-Ms stamp of the publisher (for latency).
//
//   nodeSink({delayMs})  an HTTP server in this process (answers 200 after
//                        delayMs, so deliveries are in flight when a worker
//                        is told to stop; setDelay(ms) changes it for the
//                        requests that arrive from then on); records kept in
//                        memory.
//   nginxSink()          nginx (as scripts/bench uses) logging one line per
//                        request; ~10 us of CPU a request, so the sink is not
//                        what limits a throughput figure.  null if there is
//                        no nginx on this machine.
//
// Both: {kind, url, records(phase?) -> [...], count(phase), close()}; the
// nginx one also has `pid` and `dir` (the scale test's watchdog kills it
// and removes its dir if this process dies without cleaning up).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from '../../integration/lib/stack.mjs';

export async function nodeSink({ delayMs = 0 } = {}) {
  const recs = [];
  const byPhase = new Map();
  const server = http.createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      const h = req.headers;
      const rec = {
        id: h['upstash-message-id'], seq: h['x-seq'] === undefined ? undefined : Number(h['x-seq']),
        phase: h['x-phase'], at: Date.now(), sent: Number(h['x-sent-ms']),
      };
      recs.push(rec);
      if (!byPhase.has(rec.phase)) byPhase.set(rec.phase, []);
      byPhase.get(rec.phase).push(rec);
      const answer = () => { if (!res.destroyed) { res.writeHead(200, { 'Content-Length': '2' }); res.end('ok'); } };
      if (delayMs > 0) setTimeout(answer, delayMs); else answer();
    });
  });
  server.keepAliveTimeout = 60000;
  server.maxRequestsPerSocket = 0;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    kind: 'node',
    url: `http://127.0.0.1:${port}`,
    setDelay(ms) { delayMs = ms; },
    records(phase) { return phase === undefined ? recs : (byPhase.get(phase) || []); },
    count(phase) { return (byPhase.get(phase) || []).length; },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function findNginx() {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (fs.existsSync(p)) return p;
  try { return execFileSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).trim() || null; } catch { return null; }
}

export async function nginxSink() {
  const bin = findNginx();
  if (!bin) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepflow-scale-nginx-'));
  const log = path.join(dir, 'access.log');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    log_format scale '$msec $http_x_sent_ms $http_x_phase $http_upstash_message_id $http_x_seq';
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:${port};
        access_log ${log} scale buffer=256k flush=100ms;
        location / { return 200 "ok"; }
    }
}
`);
  const proc = spawn(bin, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'],
    { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'stderr.log'), 'a')] });
  let exited = false;
  proc.on('exit', () => { exited = true; });
  const killer = () => { try { proc.kill('SIGKILL'); } catch { /* gone */ } };
  process.on('exit', killer);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (exited) throw new Error(`nginx exited: ${fs.readFileSync(path.join(dir, 'stderr.log'), 'utf8')}`);
      const r = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      return r.status === 200;
    }, { timeout: 10000, message: 'nginx sink' });
  } catch (e) {
    killer();
    throw e;
  }
  // Incremental reader of the access log.
  const recs = [];
  const byPhase = new Map();
  let offset = 0;
  let partial = '';
  function readLog() {
    let fd;
    try { fd = fs.openSync(log, 'r'); } catch { return; }
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= offset) return;
      const buf = Buffer.alloc(size - offset);
      fs.readSync(fd, buf, 0, buf.length, offset);
      offset = size;
      const text = partial + buf.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop();
      for (const line of lines) {
        const [msec, sent, phase, id, seq] = line.split(' ');
        if (!phase || phase === '-') continue; // the readiness probe
        const rec = {
          id, seq: seq === '-' || seq === undefined ? undefined : Number(seq), phase,
          at: Math.round(Number(msec) * 1000), sent: Number(sent),
        };
        recs.push(rec);
        if (!byPhase.has(phase)) byPhase.set(phase, []);
        byPhase.get(phase).push(rec);
      }
    } finally { fs.closeSync(fd); }
  }
  return {
    kind: 'nginx',
    url,
    records(phase) { readLog(); return phase === undefined ? recs : (byPhase.get(phase) || []); },
    count(phase) { readLog(); return (byPhase.get(phase) || []).length; },
    pid: proc.pid,
    dir,
    async close() {
      if (!exited) {
        proc.kill('SIGQUIT');
        await waitFor(() => exited, { timeout: 5000, message: 'nginx exit' }).catch(killer);
      }
      process.off('exit', killer);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
