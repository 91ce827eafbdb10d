// scale.mjs - the runner behind scripts/scale-test (the full-size scale
// test; tests/scale/scale.test.mjs is the short form in ctest).  Both call
// runScale() of lib/scale.mjs.  Needs STEPFLOW_BIN_DIR (the wrapper sets it).
//
//   node scale.mjs [--short] [-n N] [--workers 1,2,4] [--rate R]
//                  [--roll-workers K] [--outage-ms MS] [--drain-ms MS]
//                  [--concurrency C] [--step-seconds S] [--sink auto|node]
//                  [--only throughput,rolling,redis] [--redis-args 'ARGS']
// Prints the figures and a PASS/FAIL line per check; exits 1 on any FAIL,
// 2 on bad usage, 128+N on signal N (runScale stops the stack first).
import { runScale, summary, FULL, SHORT } from './lib/scale.mjs';

function usage(code) {
  (code ? console.error : console.log)(`usage: scripts/scale-test [--short] [-n N] [--workers 1,2,4] [--rate R]
        [--roll-workers K] [--outage-ms MS] [--drain-ms MS] [--concurrency C]
        [--step-seconds S] [--sink auto|node] [--only PHASES]
        [--delayed K] [--redis-args 'ARGS'] [--bin DIR]
  --short          the small form ctest runs (n ${SHORT.n}, ${SHORT.rate}/s, ${SHORT.rollWorkers} workers rolled, ${SHORT.outageMs} ms outage)
  -n N             messages per throughput run (default ${FULL.n})
  --workers LIST   worker counts of the throughput runs (default ${FULL.workers.join(',')})
  --rate R         publishes/s of the steady publisher (default ${FULL.rate})
  --roll-workers K workers replaced one by one in the rolling restart (default ${FULL.rollWorkers})
  --outage-ms MS   how long redis-server stays down (default ${FULL.outageMs})
  --drain-ms MS    STEPFLOW_DRAIN_MS of the workers (default ${FULL.drainMs})
  --concurrency C  STEPFLOW_CONCURRENCY of each worker (default ${FULL.concurrency})
  --step-seconds S seconds of load between two restart steps (default ${FULL.stepAcks})
  --sink KIND      throughput sink: auto (nginx when installed) or node (default auto)
  --only PHASES    comma list of throughput, rolling, redis (default all)
  --delayed K      messages delayed past the outage before redis stops (default ${FULL.delayedK})
  --redis-args A   redis-server persistence arguments, space-separated
                   (default '${FULL.redisArgs.join(' ')}', as deploy/k8s;
                   '--appendonly no' shows the redis phase failing without it)
  --bin DIR        use the binaries in DIR (default: build the Release tree build-bench/)`);
  process.exit(code);
}

const argv = process.argv.slice(2);
let o = { ...FULL };
if (argv.includes('--short')) o = { ...SHORT };
const num = (v, name, min = 1) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) { console.error(`scale-test: ${name} wants a number >= ${min}`); usage(2); }
  return n;
};
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const v = argv[i + 1];
  switch (a) {
    case '--short': break;
    case '-n': o.n = Math.round(num(v, a, 100)); i++; break;
    case '--workers': o.workers = String(v).split(',').map((x) => Math.round(num(x, a))); i++; break;
    case '--rate': o.rate = num(v, a); i++; break;
    case '--roll-workers': o.rollWorkers = Math.round(num(v, a)); i++; break;
    case '--outage-ms': o.outageMs = num(v, a, 0); i++; break;
    case '--drain-ms': o.drainMs = Math.round(num(v, a, 0)); i++; break;
    case '--concurrency': o.concurrency = Math.round(num(v, a)); i++; break;
    case '--step-seconds': o.stepAcks = num(v, a, 0.01); i++; break;
    case '--sink':
      if (v !== 'auto' && v !== 'node') usage(2);
      o.sink = v; i++; break;
    case '--only':
      o.phases = String(v).split(',');
      if (!o.phases.every((p) => FULL.phases.includes(p))) usage(2);
      i++; break;
    case '--delayed': o.delayedK = Math.round(num(v, a)); i++; break;
    case '--redis-args':
      if (v === undefined) usage(2);
      o.redisArgs = String(v).split(/\s+/).filter(Boolean); i++; break;
    case '-h': case '--help': usage(0); break;
    default: console.error(`scale-test: unknown argument '${a}'`); usage(2);
  }
}

console.log(`stepflow scale test (${argv.includes('--short') ? 'short' : 'full'}): ${JSON.stringify(o)}`);
const res = await runScale(o, (s) => console.log(s));
console.log(summary(res));
process.exit(res.ok ? 0 : 1);
