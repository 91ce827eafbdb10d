// bench.mjs - Node helpers of scripts/bench (not part of scripts/test); the
// publisher is stepflow-benchpub (tests/bench/benchpub.c).
//
//   node bench.mjs freeport
//       prints a free TCP port on 127.0.0.1
//   node bench.mjs latency --log FILE --phase P
//       reads the sink's access log (lines "<msec> <x-sent-ms> <x-phase>")
//       and prints {count, p50Ms, p99Ms, maxMs, firstMs, lastMs} for P.
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
else if (cmd === 'latency') latency(o);
else {
  console.error('usage: bench.mjs freeport | latency --log FILE --phase P');
  process.exit(2);
}
