// bench.mjs - the Node half of scripts/bench (not part of scripts/test).
//
//   node bench.mjs freeport
//       prints a free TCP port on 127.0.0.1
//   node bench.mjs publish --api URL --token T --dest URL --phase P
//                          [-n N] [--batch 100] [--conc 8] [--rate R --seconds S]
//       publishes through POST /v2/batch.  Without --rate: N messages as
//       fast as "conc" connections allow.  With --rate: R messages/s for S
//       seconds, paced on a 5 ms tick.  Every message carries
//       Upstash-Forward-X-Sent-Ms (wall clock ms when its request left) and
//       Upstash-Forward-X-Phase; bodies are ~200-byte JSON.  Prints one JSON
//       line: {published, errors, seconds, perSecond}.
//   node bench.mjs latency --log FILE --phase P
//       reads the sink's access log (lines "<msec> <x-sent-ms> <x-phase>")
//       and prints {count, p50Ms, p99Ms, maxMs, firstMs, lastMs} for P.
import http from 'node:http';
import fs from 'node:fs';
import net from 'node:net';

function args(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('-')) o[a.replace(/^-+/, '')] = argv[i + 1], i++;
  }
  return o;
}

function freeport() {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => {
    console.log(s.address().port);
    s.close();
  });
}

const pad = 'x'.repeat(200);
function body(i) {
  // {"seq":123,"kind":"bench","at":..,"pad":"xxx"} trimmed to ~200 bytes.
  const head = JSON.stringify({ seq: i, kind: 'bench', at: Date.now(), pad: '' });
  return head.slice(0, -2) + pad.slice(0, Math.max(0, 198 - head.length)) + '"}';
}

async function publish(o) {
  const api = new URL(o.api);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number(o.conc || 8) });
  const batch = Number(o.batch || 100);
  let seq = 0, published = 0, errors = 0;

  function send(count) {
    const sent = String(Date.now());
    const msgs = [];
    for (let k = 0; k < count; k++) {
      msgs.push({
        destination: o.dest,
        headers: {
          'content-type': 'application/json',
          'upstash-forward-x-sent-ms': sent,
          'upstash-forward-x-phase': o.phase,
        },
        body: body(seq++),
      });
    }
    const data = JSON.stringify(msgs);
    return new Promise((resolve) => {
      const req = http.request({
        agent, host: api.hostname, port: api.port, method: 'POST', path: '/v2/batch',
        headers: {
          'content-type': 'application/json', 'content-length': Buffer.byteLength(data),
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        },
      }, (res) => {
        let b = '';
        res.on('data', (d) => (b += d));
        res.on('end', () => {
          if (res.statusCode >= 200 && res.statusCode < 300) published += count;
          else {
            errors += count;
            if (errors <= count) console.error(`batch failed: HTTP ${res.statusCode} ${b.slice(0, 200)}`);
          }
          resolve();
        });
      });
      req.on('error', (e) => {
        errors += count;
        if (errors <= count) console.error(`batch failed: ${e.message}`);
        resolve();
      });
      req.end(data);
    });
  }

  const t0 = Date.now();
  if (o.rate) {
    // Paced: on every 5 ms tick send whatever the schedule says is due.
    const rate = Number(o.rate), seconds = Number(o.seconds || 10);
    const total = Math.round(rate * seconds);
    const inflight = new Set();
    let issued = 0;
    await new Promise((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * rate));
        while (issued < due) {
          const n = Math.min(batch, due - issued);
          issued += n;
          const p = send(n);
          inflight.add(p);
          p.then(() => inflight.delete(p));
        }
        if (issued >= total) {
          clearInterval(tick);
          Promise.all([...inflight]).then(resolve);
        }
      }, 5);
    });
  } else {
    const n = Number(o.n || 100000), conc = Number(o.conc || 8);
    let issued = 0;
    async function lane() {
      while (issued < n) {
        const k = Math.min(batch, n - issued);
        issued += k;
        await send(k);
      }
    }
    await Promise.all(Array.from({ length: conc }, lane));
  }
  const seconds = (Date.now() - t0) / 1000;
  agent.destroy();
  console.log(JSON.stringify({ published, errors, seconds, perSecond: Math.round(published / seconds) }));
}

function latency(o) {
  const lines = fs.readFileSync(o.log, 'utf8').split('\n');
  const lat = [];
  let first = Infinity, last = 0;
  for (const line of lines) {
    const [msec, sent, phase] = line.split(' ');
    if (phase !== o.phase) continue;
    const at = Math.round(Number(msec) * 1000), s = Number(sent);
    if (!Number.isFinite(at) || !Number.isFinite(s)) continue;
    lat.push(at - s);
    first = Math.min(first, at);
    last = Math.max(last, at);
  }
  lat.sort((a, b) => a - b);
  const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : null);
  console.log(JSON.stringify({
    count: lat.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: lat.length ? lat[lat.length - 1] : null,
    firstMs: lat.length ? first : null, lastMs: lat.length ? last : null,
  }));
}

const [cmd, ...rest] = process.argv.slice(2);
const o = args(rest);
if (cmd === 'freeport') freeport();
else if (cmd === 'publish') publish(o);
else if (cmd === 'latency') latency(o);
else {
  console.error('usage: bench.mjs freeport | publish ... | latency ...');
  process.exit(2);
}
