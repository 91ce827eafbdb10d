// manifests.test.mjs - deploy/k8s rendered with kustomize, validated against
// the Kubernetes (and KEDA / Prometheus Operator) schemas, and checked
// against the real binaries: the environment each container gets passes
// `--check-config`, the processes started with it answer the probes on the
// ports the manifests name, every metric the alerts / HPA / adapter use is in
// a real scrape, the KEDA triggers name the streams and group a real worker
// creates, and a real redis-server runs with the rendered redis.conf.
//
// kubectl: $KUBECTL, else `kubectl` on PATH (kubectl 1.32 / kustomize v5 and
// Debian's 1.20 / kustomize 2.0.3 must both work).  When more than one is at
// hand ($KUBECTL, `kubectl` on PATH, $KUBECTL_COMPARE: more, ':'-separated),
// the renders of all of them must be the same objects (so switching the
// kubectl that applies them restarts nothing).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { freePort, waitFor, BIN_DIR, redisClient } from '../integration/lib/stack.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const SRC = process.env.STEPFLOW_SOURCE_DIR || path.resolve(HERE, '../..');
const K8S = path.join(SRC, 'deploy/k8s');
const KUSTOMIZATIONS = ['core', 'base', 'overlays/dev', 'overlays/hpa', 'monitoring'];
const ADAPTER_EXAMPLE = path.join(K8S, 'overlays/hpa/prometheus-adapter-rules.example.yaml');
const OUR_IMAGE = 'ghcr.io/stepflow/stepflow:0.1.0';
const REDIS_IMAGE = 'redis:7.2';
const SECRET = 'stepflow-secrets';
const SECRET_KEYS = new Set(['token', 'redis-password', 'current-signing-key', 'next-signing-key']);
const OPTIONAL_KEYS = new Set(['current-signing-key', 'next-signing-key']);

function findKubectl() {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  for (const d of (process.env.PATH || '').split(':')) {
    const p = path.join(d || '.', 'kubectl');
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}
const KUBECTL = findKubectl();

/** Every distinct kubectl at hand: $KUBECTL, the one on PATH, $KUBECTL_COMPARE. */
function allKubectls() {
  const cands = [KUBECTL];
  for (const d of (process.env.PATH || '').split(':')) cands.push(path.join(d || '.', 'kubectl'));
  cands.push(...(process.env.KUBECTL_COMPARE || '').split(':'));
  const seen = new Map(); // realpath -> path
  for (const c of cands) {
    if (!c) continue;
    try { fs.accessSync(c, fs.constants.X_OK); } catch { continue; }
    const real = fs.realpathSync(c);
    if (!seen.has(real)) seen.set(real, c);
  }
  return [...seen.values()];
}

/* ---------------- rendering and schema validation ----------------------- */

function render(dir, kubectl = KUBECTL) {
  const out = execFileSync(kubectl, ['kustomize', path.join(K8S, dir)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20 });
  return parseYaml(out, dir);
}

function parseYaml(text, what) {
  const docs = parseAllDocuments(text);
  const objs = [];
  for (const d of docs) {
    assert.deepEqual(d.errors.map(String), [], `${what}: YAML errors`);
    const o = d.toJS();
    if (o) objs.push(o);
  }
  return objs;
}

function modelPath(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'keda.sh') return `@kubernetes-models/keda/keda.sh/${version}/${kind}`;
  if (group === 'monitoring.coreos.com') {
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`;
  }
  return `kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`;
}

async function validate(obj) {
  const p = modelPath(obj.apiVersion, obj.kind);
  let mod;
  try { mod = await import(p); } catch (e) {
    throw new Error(`no schema model for ${obj.apiVersion} ${obj.kind} (${p}): ${e.message}`);
  }
  const Model = mod[obj.kind] || mod.default;
  assert.ok(Model, `${p} exports no ${obj.kind}`);
  new Model(obj).validate();
}

const rendered = {}; // dir -> objects
const get = (objs, kind, name) => objs.find((o) => o.kind === kind && (!name || o.metadata.name === name));
const all = (objs, kind) => objs.filter((o) => o.kind === kind);
const workloads = (objs) => objs.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
const component = (o) => o.spec.template.metadata.labels['app.kubernetes.io/component'];
const byComponent = (objs, c) => workloads(objs).find((w) => component(w) === c);
const matches = (sel, labels) => {
  assert.ok(!sel.matchExpressions, 'matchExpressions are not checked by this test: use matchLabels');
  const ml = sel.matchLabels || {};
  return Object.keys(ml).length > 0 && Object.entries(ml).every(([k, v]) => labels[k] === v);
};

/* ---------------- environment of a container ----------------------------- */

let devSecret = {}; // key -> value (decoded)
let devConfigMaps = {}; // name -> data

function containerEnv(c, { skipOptionalMissing = true } = {}) {
  const env = {};
  for (const e of c.env || []) {
    if ('value' in e) { env[e.name] = String(e.value); continue; }
    const vf = e.valueFrom || {};
    if (vf.secretKeyRef) {
      const { name, key, optional } = vf.secretKeyRef;
      assert.equal(name, SECRET, `${c.name}: ${e.name} from Secret ${name}`);
      if (key in devSecret) env[e.name] = devSecret[key];
      else assert.ok(optional && skipOptionalMissing, `${c.name}: ${e.name}: key ${key} missing`);
    } else if (vf.configMapKeyRef) {
      const { name, key } = vf.configMapKeyRef;
      assert.ok(devConfigMaps[name] && key in devConfigMaps[name], `${c.name}: ${e.name}: ConfigMap ${name}/${key}`);
      env[e.name] = devConfigMaps[name][key];
    } else {
      assert.fail(`${c.name}: env ${e.name} has a source this test cannot resolve`);
    }
  }
  // $(VAR) expansion as the kubelet does it
  for (const k of Object.keys(env)) env[k] = env[k].replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => (v in env ? env[v] : m));
  return env;
}

const expand = (s, env) => String(s).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => (v in env ? env[v] : m));

function run(cmd, args, env, timeout = 10000) {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const PATH_ONLY = { PATH: process.env.PATH || '/usr/bin:/bin' };

/**
 * redis-server exactly as the StatefulSet runs it (config file first, then
 * the manifest's args), only moved to 127.0.0.1 and a free port.
 */
async function startRedisWithConf(args) {
  const port = await freePort();
  const out = [];
  const proc = spawn('redis-server', [...args, '--port', String(port), '--bind', '127.0.0.1'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d) => out.push(String(d)));
  proc.stderr.on('data', (d) => out.push(String(d)));
  let exit = null;
  const exited = new Promise((r) => proc.on('exit', (code, signal) => { exit = { code, signal }; r(); }));
  await waitFor(async () => {
    if (exit) throw new Error(`redis-server exited ${JSON.stringify(exit)}: ${out.join('').slice(-2000)}`);
    const r = await run('redis-cli', ['-p', String(port), 'ping'], PATH_ONLY);
    return /NOAUTH|PONG/.test(r.stdout + r.stderr);
  }, { timeout: 10000, message: 'redis-server with the rendered config' });
  return {
    port,
    async stop() {
      if (!exit) { proc.kill('SIGTERM'); await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]); }
      if (!exit) { proc.kill('SIGKILL'); await exited; }
    },
  };
}

/* ---------------- shared state: redis + processes ------------------------ */

let redis = null; // started with the rendered redis.conf
let redisPassword = null;
let redisArgs = null;
let redisTmp = null;
const procs = []; // {name, proc, url, exit}
const scrapes = {}; // component -> text
let workerStreams = null; // [{stream, group}] created by a real worker

function startProc(name, bin, env) {
  const out = [];
  const proc = spawn(path.join(BIN_DIR, bin), [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const rec = { name, proc, exit: null, log: () => out.join('') };
  const keep = (d) => { out.push(String(d)); if (out.length > 200) out.shift(); };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  rec.exited = new Promise((r) => proc.on('exit', (code, signal) => { rec.exit = { code, signal }; r(rec.exit); }));
  procs.push(rec);
  return rec;
}

async function httpStatus(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  const text = await res.text();
  return { status: res.status, text };
}

before(async () => {
  assert.ok(KUBECTL, 'no kubectl: set $KUBECTL or put kubectl on PATH (Debian: apt-get install kubernetes-client)');
  for (const d of KUSTOMIZATIONS) rendered[d] = render(d);
  const dev = rendered['overlays/dev'];
  const sec = get(dev, 'Secret', SECRET);
  assert.ok(sec, 'overlays/dev generates the Secret stepflow-secrets');
  devSecret = Object.fromEntries(Object.entries(sec.data || {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
  Object.assign(devSecret, sec.stringData || {});
  devConfigMaps = Object.fromEntries(all(dev, 'ConfigMap').map((c) => [c.metadata.name, c.data || {}]));
});

after(async () => {
  for (const p of procs) if (!p.exit) p.proc.kill('SIGTERM');
  for (const p of procs) {
    if (p.exit) continue;
    const t = setTimeout(() => p.proc.kill('SIGKILL'), 30000);
    await p.exited;
    clearTimeout(t);
  }
  if (redis) await redis.stop();
  if (redisTmp) fs.rmSync(redisTmp, { recursive: true, force: true });
});

/* ---------------- tests -------------------------------------------------- */

test('every kustomization renders with kubectl and every object passes its API schema', async () => {
  for (const d of KUSTOMIZATIONS) {
    const objs = rendered[d];
    assert.ok(objs.length > 0, `${d} renders objects`);
    for (const o of objs) {
      try { await validate(o); } catch (e) {
        throw new Error(`${d}: ${o.kind}/${o.metadata && o.metadata.name}: ${e.message}`);
      }
    }
  }
  // The prometheus-adapter example is documentation, still a valid object.
  for (const o of parseYaml(fs.readFileSync(ADAPTER_EXAMPLE, 'utf8'), 'adapter example')) await validate(o);
  // base = core + autoscaling; the KEDA objects live in base (and dev), the
  // HPA in overlays/hpa only.
  const kinds = (d) => new Set(rendered[d].map((o) => o.kind));
  for (const d of ['base', 'overlays/dev']) {
    for (const k of ['StatefulSet', 'Deployment', 'Service', 'ConfigMap', 'PodDisruptionBudget',
      'NetworkPolicy', 'ScaledObject', 'TriggerAuthentication']) assert.ok(kinds(d).has(k), `${d} has a ${k}`);
    assert.ok(!kinds(d).has('HorizontalPodAutoscaler'), `${d}: KEDA owns the HPA`);
  }
  assert.ok(kinds('overlays/hpa').has('HorizontalPodAutoscaler'));
  assert.ok(!kinds('overlays/hpa').has('ScaledObject') && !kinds('overlays/hpa').has('TriggerAuthentication'));
  assert.deepEqual([...kinds('monitoring')].sort(), ['PodMonitor', 'PrometheusRule']);
  // No real secrets outside the dev overlay.
  for (const d of KUSTOMIZATIONS.filter((x) => x !== 'overlays/dev')) {
    assert.ok(!kinds(d).has('Secret'), `${d} ships no Secret`);
  }
  assert.equal(get(rendered['overlays/dev'], 'Deployment', 'stepflow-coordinator').metadata.namespace, 'stepflow-dev');
});

test('negative control: the schema validation rejects broken objects', async () => {
  const dep = structuredClone(get(rendered.base, 'Deployment', 'stepflow-worker'));
  dep.spec.template.spec.containers[0].ports[0].containerPort = 'x';
  await assert.rejects(validate(dep), /containerPort/);
  const so = structuredClone(get(rendered.base, 'ScaledObject'));
  so.spec.minReplicaCount = 'one';
  await assert.rejects(validate(so), /minReplicaCount/);
  const rule = structuredClone(get(rendered.monitoring, 'PrometheusRule'));
  rule.spec.groups[0].rules = 'none';
  await assert.rejects(validate(rule));
  await assert.rejects(validate({ apiVersion: 'example.com/v1', kind: 'Nothing', metadata: { name: 'x' } }), /no schema model/);
});

/** The only selector stepflow uses: exactly these two labels. */
const selectorOf = (comp) => ({ 'app.kubernetes.io/name': 'stepflow', 'app.kubernetes.io/component': comp });

/** [where, selector(matchLabels map or LabelSelector)] for every selector in an object. */
function selectorsIn(o) {
  const out = [];
  const at = `${o.kind}/${o.metadata.name}`;
  const s = o.spec || {};
  const podSpecSelectors = (ps, w) => {
    (ps.topologySpreadConstraints || []).forEach((t, i) => out.push([`${w} topologySpreadConstraints[${i}]`, t.labelSelector]));
    const aa = (ps.affinity || {}).podAntiAffinity || {};
    (aa.requiredDuringSchedulingIgnoredDuringExecution || []).forEach((t, i) => out.push([`${w} podAntiAffinity required[${i}]`, t.labelSelector]));
    (aa.preferredDuringSchedulingIgnoredDuringExecution || []).forEach((t, i) => out.push([`${w} podAntiAffinity preferred[${i}]`, t.podAffinityTerm.labelSelector]));
  };
  switch (o.kind) {
    case 'Deployment': case 'StatefulSet':
      out.push([`${at} selector`, s.selector]);
      podSpecSelectors(s.template.spec, at);
      break;
    case 'Service': out.push([`${at} selector`, { matchLabels: s.selector }]); break;
    case 'PodDisruptionBudget': case 'PodMonitor': out.push([`${at} selector`, s.selector]); break;
    case 'NetworkPolicy':
      out.push([`${at} podSelector`, s.podSelector]);
      for (const rule of s.ingress || []) {
        for (const peer of rule.from || []) {
          // the KEDA operator's pods, in KEDA's namespace, are not ours
          if (peer.podSelector && !peer.namespaceSelector) out.push([`${at} ingress peer`, peer.podSelector]);
        }
      }
      break;
    default: break;
  }
  return out;
}

test('labels: written out on every object; every selector is exactly name + component', () => {
  // commonLabels would put part-of (and anything an overlay adds) into the
  // immutable selectors and volumeClaimTemplates, differently in kustomize 2
  // and 5: core/kustomization.yaml explains.
  for (const d of KUSTOMIZATIONS) {
    const objs = rendered[d];
    for (const o of objs) {
      const where = `${d} ${o.kind}/${o.metadata.name}`;
      const l = o.metadata.labels || {};
      if (o.kind !== 'Namespace' && o.kind !== 'Secret') {
        assert.equal(l['app.kubernetes.io/part-of'], 'stepflow', `${where} part-of`);
        assert.equal(l['app.kubernetes.io/name'], 'stepflow', `${where} name`);
        assert.ok(l['app.kubernetes.io/component'], `${where} component`);
      }
      for (const [w, sel] of selectorsIn(o)) {
        assert.ok(sel && !sel.matchExpressions, `${d} ${w}: matchLabels only`);
        const comp = sel.matchLabels['app.kubernetes.io/component'];
        assert.deepEqual(sel.matchLabels, selectorOf(comp), `${d} ${w}: exactly app.kubernetes.io/name + component`);
        assert.ok(['redis', 'coordinator', 'worker'].includes(comp), `${d} ${w}: component ${comp}`);
      }
    }
    for (const w of workloads(objs)) {
      const comp = component(w);
      assert.deepEqual(w.spec.selector.matchLabels, selectorOf(comp), `${d} ${w.kind}/${w.metadata.name}: selector`);
      // pods carry the object's own labels (version included)
      assert.deepEqual(w.spec.template.metadata.labels, w.metadata.labels, `${d} ${w.metadata.name}: pod labels = object labels`);
      for (const t of w.spec.volumeClaimTemplates || []) {
        const tl = t.metadata.labels || {};
        for (const [k, v] of Object.entries(tl)) {
          assert.equal(selectorOf(comp)[k], v, `${d} ${w.metadata.name} volumeClaimTemplate ${t.metadata.name}: label ${k} (immutable: selector labels only)`);
        }
      }
    }
    // topology spread / anti-affinity / PDB / Service select their own component
    for (const w of workloads(objs)) {
      for (const [sw, sel] of selectorsIn(w)) {
        assert.ok(matches(sel, w.spec.template.metadata.labels), `${d} ${sw} selects its own pods`);
      }
    }
  }
});

test('kubectls agree: kustomize 2 and 5 render the same objects', (t) => {
  const ks = allKubectls();
  if (ks.length < 2) {
    t.skip(`one kubectl (${ks.join(', ')}): set KUBECTL_COMPARE to a second one to compare`);
    return;
  }
  // The configMapGenerator's name suffix is a hash that kustomize 2 and 5
  // compute differently (kustomize 2.0.3: mh6f7ck2hf, 5: 2d9d7cd6kc for the
  // same redis.conf): it is stripped before comparing.  (So switching the
  // kubectl that applies still rolls Redis once, through its ConfigMap.)
  const strip = (o) => JSON.parse(JSON.stringify(o).replace(/(stepflow-redis-config)-[a-z0-9]{10}\b/g, '$1'));
  const key = (o) => `${o.kind}/${o.metadata.namespace || ''}/${o.metadata.name}`;
  const version = (k) => execFileSync(k, ['version', '--client'], { encoding: 'utf8' }).split('\n')[0];
  for (const d of KUSTOMIZATIONS) {
    const renders = ks.map((k) => new Map(render(d, k).map((o) => { const x = strip(o); return [key(x), x]; })));
    for (let i = 1; i < ks.length; i++) {
      const [a, b] = [renders[0], renders[i]];
      const who = `${d}: ${ks[0]} (${version(ks[0])}) vs ${ks[i]} (${version(ks[i])})`;
      assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), `${who}: objects`);
      for (const [k, o] of a) assert.deepEqual(b.get(k), o, `${who}: ${k}`);
    }
  }
});

test('containers: probes, resources, hardened security context, images, labels', () => {
  for (const d of ['core', 'base', 'overlays/dev', 'overlays/hpa']) {
    const objs = rendered[d];
    assert.equal(workloads(objs).length, 3, `${d}: redis, coordinator, worker`);
    for (const w of workloads(objs)) {
      const where = `${d} ${w.kind}/${w.metadata.name}`;
      const tl = w.spec.template.metadata.labels;
      for (const k of ['app.kubernetes.io/name', 'app.kubernetes.io/part-of', 'app.kubernetes.io/component', 'app.kubernetes.io/version']) {
        assert.ok(tl[k], `${where}: pod label ${k}`);
      }
      assert.ok(matches(w.spec.selector, tl), `${where}: selector matches its pods`);
      assert.ok(!('app.kubernetes.io/version' in w.spec.selector.matchLabels), `${where}: version is not in the (immutable) selector`);
      const ps = w.spec.template.spec;
      assert.equal(ps.securityContext.seccompProfile.type, 'RuntimeDefault', where);
      assert.equal(ps.automountServiceAccountToken, false, where);
      for (const c of [...(ps.initContainers || []), ...ps.containers]) {
        const cw = `${where} container ${c.name}`;
        assert.ok(c.readinessProbe && c.livenessProbe, `${cw}: probes`);
        for (const r of ['cpu', 'memory']) {
          assert.ok(c.resources.requests[r] && c.resources.limits[r], `${cw}: ${r} request and limit`);
        }
        const sc = c.securityContext;
        assert.equal(sc.runAsNonRoot, true, cw);
        assert.equal(sc.readOnlyRootFilesystem, true, cw);
        assert.equal(sc.allowPrivilegeEscalation, false, cw);
        assert.deepEqual(sc.capabilities.drop, ['ALL'], cw);
        assert.equal(sc.seccompProfile.type, 'RuntimeDefault', cw);
        if (component(w) === 'redis') {
          assert.equal(c.image, REDIS_IMAGE, cw);
          assert.equal(sc.runAsUser, 999, cw);
        } else {
          assert.equal(c.image, OUR_IMAGE, cw);
          assert.equal(sc.runAsUser, 10001, cw);
          const bin = c.command[0];
          assert.ok(fs.existsSync(path.join(BIN_DIR, bin)), `${cw}: command ${bin} is one of our binaries`);
        }
      }
    }
    const coord = byComponent(objs, 'coordinator');
    assert.ok(coord.spec.replicas >= 2, `${d}: two coordinators`);
    // The autoscaler owns the workers' replicas: a value here would be reset
    // by every `kubectl apply` and fight it.
    assert.equal(byComponent(objs, 'worker').spec.replicas, undefined, `${d}: worker replicas left to the autoscaler`);
    const pdb = all(objs, 'PodDisruptionBudget').find((p) => matches(p.spec.selector, coord.spec.template.metadata.labels));
    assert.ok(pdb && pdb.spec.minAvailable === 1, `${d}: coordinator PDB minAvailable 1`);
    const pod = coord.spec.template.spec;
    assert.ok(pod.topologySpreadConstraints || (pod.affinity && pod.affinity.podAntiAffinity), `${d}: coordinators spread`);
    for (const c of ['coordinator', 'worker']) {
      const a = byComponent(objs, c).spec.template.metadata.annotations || {};
      assert.equal(a['prometheus.io/scrape'], 'true', `${d} ${c} scrape annotation`);
      assert.equal(a['prometheus.io/path'], '/metrics');
      const ports = byComponent(objs, c).spec.template.spec.containers[0].ports.map((p) => String(p.containerPort));
      assert.ok(ports.includes(a['prometheus.io/port']), `${d} ${c}: prometheus.io/port is a container port`);
    }
    // Secret references: fixed name, known keys, signing keys optional.
    for (const w of workloads(objs)) {
      for (const c of w.spec.template.spec.containers) {
        for (const e of c.env || []) {
          const r = e.valueFrom && e.valueFrom.secretKeyRef;
          if (!r) continue;
          assert.equal(r.name, SECRET);
          assert.ok(SECRET_KEYS.has(r.key), `${d}: unknown secret key ${r.key}`);
          assert.equal(!!r.optional, OPTIONAL_KEYS.has(r.key), `${d} ${c.name} ${e.name}: optional iff a signing key`);
        }
      }
    }
  }
});

test('disruption budgets never block a drain while pods are unready; Redis is not the first evicted', () => {
  for (const d of ['core', 'base', 'overlays/dev', 'overlays/hpa']) {
    const objs = rendered[d];
    const pdbs = all(objs, 'PodDisruptionBudget');
    assert.equal(pdbs.length, 2, `${d}: coordinator and worker PDBs`);
    for (const p of pdbs) {
      // A Redis outage makes every pod NotReady: with the default
      // (IfHealthyBudget) no pod could be evicted and node drains would hang.
      assert.equal(p.spec.unhealthyPodEvictionPolicy, 'AlwaysAllow', `${d} PDB ${p.metadata.name}`);
    }
    const c = byComponent(objs, 'redis').spec.template.spec.containers[0];
    assert.equal(c.resources.requests.memory, c.resources.limits.memory, `${d}: Redis memory request = limit`);
  }
});

test('worker memory limit covers the worst case of its concurrency', () => {
  // concurrency x (1 MiB body + 64 KiB response), the callback share
  // (concurrency/8, max 64) likewise, one read reply of each queue still
  // being decoded (READ_MAX 128 entries of up to 1 MiB, and the callback
  // share's), plus 40 MiB for the process.
  const mib = (q) => {
    const m = /^(\d+)(Mi|Gi)$/.exec(q);
    assert.ok(m, `memory quantity ${q} in Mi or Gi`);
    return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
  };
  for (const d of ['core', 'base', 'overlays/dev', 'overlays/hpa']) {
    const c = byComponent(rendered[d], 'worker').spec.template.spec.containers[0];
    const conc = Number(containerEnv(c).STEPFLOW_CONCURRENCY);
    assert.ok(conc > 0, `${d}: STEPFLOW_CONCURRENCY is explicit`);
    const cb = Math.min(Math.max(Math.floor(conc / 8), 1), 64);
    const worst = (conc + cb) * (1 + 1 / 16) + Math.min(conc, 128) + cb + 40;
    assert.ok(mib(c.resources.limits.memory) >= worst, `${d}: worker memory limit ${c.resources.limits.memory} < worst case ${Math.ceil(worst)} MiB`);
    // Coordinator: 400 concurrent 1 MiB publishes measured 418 MB RSS; the
    // limit leaves at least twice that.
    const cc = byComponent(rendered[d], 'coordinator').spec.template.spec.containers[0];
    assert.ok(mib(cc.resources.limits.memory) >= 2 * 418e6 / 2 ** 20, `${d}: coordinator memory limit ${cc.resources.limits.memory}`);
  }
});

test('terminationGracePeriodSeconds outlasts the drain (+ preStop sleep)', () => {
  for (const d of ['core', 'base', 'overlays/dev', 'overlays/hpa']) {
    for (const comp of ['coordinator', 'worker']) {
      const w = byComponent(rendered[d], comp);
      const c = w.spec.template.spec.containers[0];
      const env = containerEnv(c);
      assert.ok(env.STEPFLOW_DRAIN_MS, `${d} ${comp}: STEPFLOW_DRAIN_MS set explicitly`);
      let pre = 0;
      const ps = c.lifecycle && c.lifecycle.preStop;
      if (ps) {
        const cmd = ps.exec.command.join(' ');
        const m = /^(?:\/bin\/)?sleep (\d+)$/.exec(cmd);
        assert.ok(m, `${d} ${comp}: preStop is a plain sleep (${cmd})`);
        pre = Number(m[1]);
      }
      const grace = w.spec.template.spec.terminationGracePeriodSeconds;
      assert.ok(grace > Number(env.STEPFLOW_DRAIN_MS) / 1000 + pre + 5,
        `${d} ${comp}: grace ${grace} s <= drain ${env.STEPFLOW_DRAIN_MS} ms + preStop ${pre} s + 5 s`);
    }
  }
});

test('redis: the rendered redis.conf and args run a real redis-server with AOF, noeviction and a password', async () => {
  const dev = rendered['overlays/dev'];
  const sts = byComponent(dev, 'redis');
  assert.equal(sts.kind, 'StatefulSet');
  assert.equal(sts.spec.replicas, 1);
  const svcHeadless = get(dev, 'Service', sts.spec.serviceName);
  assert.equal(svcHeadless.spec.clusterIP, 'None', 'governing Service is headless');
  assert.ok(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage);
  const c = sts.spec.template.spec.containers[0];
  const env = containerEnv(c);
  assert.equal(env.REDISCLI_AUTH, devSecret['redis-password'], 'probes authenticate from the Secret');
  // Config volume -> a temp file at the same relative place.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepflow-k8s-redis-'));
  redisTmp = tmp;
  const dataDir = path.join(tmp, 'data');
  fs.mkdirSync(dataDir);
  const mounts = {};
  for (const v of sts.spec.template.spec.volumes) {
    if (!v.configMap) continue;
    const cm = get(dev, 'ConfigMap', v.configMap.name);
    assert.ok(cm, `ConfigMap ${v.configMap.name} is rendered`);
    const m = c.volumeMounts.find((x) => x.name === v.name);
    const dir = path.join(tmp, v.name);
    fs.mkdirSync(dir);
    for (const [k, text] of Object.entries(cm.data)) {
      assert.ok(!text.includes(devSecret['redis-password']) && !/^\s*requirepass/m.test(text), 'no password in the ConfigMap');
      // `dir` must be the persistent volume's mount; point it at a temp dir.
      const dirLine = /^dir\s+(\S+)\s*$/m.exec(text);
      if (dirLine) {
        const dataMount = c.volumeMounts.find((x) => x.name === sts.spec.volumeClaimTemplates[0].metadata.name);
        assert.equal(dirLine[1], dataMount.mountPath, 'redis dir is the PersistentVolume');
      }
      fs.writeFileSync(path.join(dir, k), text.replace(/^dir\s+\S+\s*$/m, `dir ${dataDir}`));
    }
    mounts[m.mountPath] = dir;
  }
  const mapPath = (a) => {
    for (const [mp, dir] of Object.entries(mounts)) if (a.startsWith(`${mp}/`)) return path.join(dir, a.slice(mp.length + 1));
    return a;
  };
  assert.equal(c.command[0], 'redis-server');
  const args = (c.args || []).map((a) => mapPath(expand(a, env)));
  assert.ok(!args.some((a) => a.includes('$(')), `every $(VAR) in the args resolves: ${args}`);
  redisPassword = devSecret['redis-password'];
  const ri = args.indexOf('--requirepass');
  assert.ok(ri >= 0 && args[ri + 1] === redisPassword, 'requirepass from the Secret');
  redisArgs = args;
  redis = await startRedisWithConf(redisArgs);
  const cfg = async (k) => {
    const cl = redisClient(redis.port);
    try { await cl.call('AUTH', redisPassword); return (await cl.call('CONFIG', 'GET', k))[1]; } finally { cl.close(); }
  };
  assert.equal(await cfg('appendonly'), 'yes');
  assert.equal(await cfg('appendfsync'), 'everysec');
  assert.equal(await cfg('maxmemory-policy'), 'noeviction');
  assert.equal(await cfg('save'), '');
  assert.equal(await cfg('dir'), dataDir);
  assert.equal(Number(await cfg('maxmemory')), 256 * 1024 * 1024, 'dev maxmemory 256mb');
  // Auth is required.
  const anon = redisClient(redis.port);
  await assert.rejects(anon.call('GET', 'x'), /NOAUTH/);
  anon.close();
  // The probes, as written, against this server (port substituted).
  const portNum = c.ports.find((p) => p.name === 'redis').containerPort;
  for (const probe of ['readinessProbe', 'livenessProbe']) {
    const cmd = c[probe].exec.command;
    const script = cmd.join(' ');
    assert.ok(script.includes(`-p ${portNum}`), `${probe} names port ${portNum}`);
    const local = cmd.map((a) => a.replace(`-p ${portNum}`, `-p ${redis.port}`));
    const ok = await run(local[0], local.slice(1), { ...PATH_ONLY, REDISCLI_AUTH: redisPassword });
    assert.equal(ok.code, 0, `${probe} passes: ${ok.stderr}`);
    if (probe === 'readinessProbe') {
      const bad = await run(local[0], local.slice(1), { ...PATH_ONLY, REDISCLI_AUTH: 'wrong' });
      assert.notEqual(bad.code, 0, 'readiness fails with a wrong password');
    }
  }
});

function appsEnv(c, listenVar, port) {
  const env = containerEnv(c);
  const url = new URL(env.STEPFLOW_REDIS_URL);
  env.STEPFLOW_REDIS_URL = `redis://127.0.0.1:${redis.port}${url.pathname === '/' ? '' : url.pathname}`;
  if (listenVar) env[listenVar] = `127.0.0.1:${port}`;
  return { ...env, ...PATH_ONLY };
}

test('apps: env passes --check-config, ports agree, probes answer 200, KEDA streams are the real ones', async () => {
  assert.ok(redis, 'the redis test ran first');
  for (const d of ['core', 'base', 'overlays/dev', 'overlays/hpa']) {
    const objs = rendered[d];
    const redisSvc = all(objs, 'Service').find((s) => s.spec.clusterIP !== 'None' && matches({ matchLabels: s.spec.selector }, byComponent(objs, 'redis').spec.template.metadata.labels));
    for (const comp of ['coordinator', 'worker']) {
      const c = byComponent(objs, comp).spec.template.spec.containers[0];
      const env = containerEnv(c);
      const u = new URL(env.STEPFLOW_REDIS_URL);
      assert.equal(u.hostname, redisSvc.metadata.name, `${d} ${comp}: Redis URL names the Redis Service`);
      assert.equal(Number(u.port || 6379), redisSvc.spec.ports[0].port);
      assert.ok(env.STEPFLOW_REDIS_PASSWORD, `${d} ${comp}: password from the Secret`);
      const r = await run(path.join(BIN_DIR, c.command[0]), ['--check-config', ...(c.args || [])], appsEnv(c, null));
      assert.equal(r.code, 0, `${d} ${comp} --check-config: ${r.stderr}`);
    }
  }

  const dev = rendered['overlays/dev'];
  const specs = {
    worker: { listenVar: 'STEPFLOW_METRICS_LISTEN' },
    coordinator: { listenVar: 'STEPFLOW_LISTEN' },
  };
  // Worker first, alone on the fresh Redis: every stream with a group now is
  // one the workers consume.
  for (const comp of ['worker', 'coordinator']) {
    const w = byComponent(dev, comp);
    const c = w.spec.template.spec.containers[0];
    const env = containerEnv(c);
    const listen = env[specs[comp].listenVar];
    assert.match(listen, /^0\.0\.0\.0:\d+$/, `${comp}: listens on all interfaces`);
    const port = Number(listen.split(':')[1]);
    const cport = c.ports.find((p) => p.containerPort === port);
    assert.ok(cport, `${comp}: containerPort ${port} = ${specs[comp].listenVar}`);
    const local = await freePort();
    const p = startProc(comp, c.command[0], appsEnv(c, specs[comp].listenVar, local));
    const base = `http://127.0.0.1:${local}`;
    for (const probe of ['readinessProbe', 'livenessProbe']) {
      const hg = c[probe].httpGet;
      assert.ok(hg, `${comp} ${probe} is httpGet`);
      assert.ok(hg.port === port || hg.port === cport.name, `${comp} ${probe} port ${hg.port} is ${port}/${cport.name}`);
      await waitFor(async () => {
        if (p.exit) throw new Error(`${comp} exited ${JSON.stringify(p.exit)}: ${p.log().slice(-2000)}`);
        return (await httpStatus(`${base}${hg.path}`)).status === 200;
      }, { timeout: 20000, message: `${comp} ${hg.path} 200` });
    }
    scrapes[comp] = (await httpStatus(`${base}/metrics`)).text;
    if (comp === 'worker') {
      const cl = redisClient(redis.port);
      await cl.call('AUTH', redisPassword);
      const streams = [];
      let cursor = '0';
      do {
        const [next, keys] = await cl.call('SCAN', cursor, 'TYPE', 'stream', 'COUNT', '1000');
        cursor = next;
        for (const k of keys) {
          for (const g of await cl.call('XINFO', 'GROUPS', k)) {
            const gi = {};
            for (let i = 0; i < g.length; i += 2) gi[g[i]] = g[i + 1];
            streams.push({ stream: k, group: gi.name });
          }
        }
      } while (cursor !== '0');
      cl.close();
      workerStreams = streams;
    }
  }
  assert.equal(workerStreams.length, 2, `a worker consumes two streams: ${JSON.stringify(workerStreams)}`);
});

function kedaChecks(d) {
  const objs = rendered[d];
  const so = get(objs, 'ScaledObject');
  const worker = byComponent(objs, 'worker');
  assert.equal(so.spec.scaleTargetRef.name, worker.metadata.name);
  assert.equal(so.spec.scaleTargetRef.kind || 'Deployment', 'Deployment');
  assert.ok(so.spec.minReplicaCount >= 1, `${d}: workers never scale to zero (delayed messages)`);
  assert.ok(so.spec.maxReplicaCount > so.spec.minReplicaCount);
  const behavior = so.spec.advanced.horizontalPodAutoscalerConfig.behavior;
  assert.ok(behavior.scaleDown.stabilizationWindowSeconds >= 120, `${d}: scale down slowly`);
  const ta = get(objs, 'TriggerAuthentication');
  assert.deepEqual(ta.spec.secretTargetRef, [{ parameter: 'password', name: SECRET, key: 'redis-password' }]);
  const redisSvc = all(objs, 'Service').find((s) => s.metadata.name === new URL(containerEnv(worker.spec.template.spec.containers[0]).STEPFLOW_REDIS_URL).hostname);
  const conc = Number(containerEnv(worker.spec.template.spec.containers[0]).STEPFLOW_CONCURRENCY);
  const budget = { msg: conc, cb: Math.min(Math.max(Math.floor(conc / 8), 1), 64) };
  const seen = new Set();
  for (const t of so.spec.triggers) {
    assert.equal(t.type, 'redis-streams');
    assert.equal(t.authenticationRef.name, ta.metadata.name);
    const m = t.metadata;
    assert.equal(m.address, `${redisSvc.metadata.name}.${so.metadata.namespace}.svc:${redisSvc.spec.ports[0].port}`,
      `${d}: KEDA (in its own namespace) reaches the Redis Service by its full name`);
    const ws = workerStreams.find((s) => s.stream === m.stream && s.group === m.consumerGroup);
    assert.ok(ws, `${d}: trigger ${t.name} names ${m.stream}/${m.consumerGroup}, not a stream+group a worker uses (${JSON.stringify(workerStreams)})`);
    const q = m.stream.includes('{msg}') ? 'msg' : 'cb';
    if (m.lagCount) {
      assert.equal(Number(m.lagCount), budget[q], `${d} ${t.name}: lag target = one pod's ${q} budget`);
      seen.add(`${m.stream} lag`);
    } else {
      const pe = Number(m.pendingEntriesCount);
      assert.ok(pe >= 0.7 * budget[q] && pe <= 0.9 * budget[q], `${d} ${t.name}: pending target ${pe} ~ 0.8 x ${budget[q]}`);
      seen.add(`${m.stream} pending`);
    }
  }
  for (const s of workerStreams) {
    assert.ok(seen.has(`${s.stream} lag`) && seen.has(`${s.stream} pending`), `${d}: lag and pending triggers on ${s.stream}`);
  }
}

test('KEDA ScaledObject: real streams and group, targets from the concurrency', () => {
  assert.ok(workerStreams, 'the apps test ran first');
  kedaChecks('base');
  kedaChecks('overlays/dev');
});

/** Names and `label="value"` matchers of stepflow metrics in a PromQL text. */
function promRefs(expr) {
  const refs = [];
  const re = /\b(stepflow_[A-Za-z0-9_]+)(\{([^}]*)\})?/g;
  for (let m = re.exec(expr); m; m = re.exec(expr)) {
    const labels = [];
    for (const lm of (m[3] || '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"/g)) labels.push([lm[1], lm[2]]);
    refs.push({ name: m[1], labels });
  }
  return refs;
}

function scrapeSamples() {
  const samples = [];
  for (const text of Object.values(scrapes)) {
    for (const line of text.split('\n')) {
      const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{([^}]*)\})?\s/.exec(line);
      if (!m) continue;
      const labels = {};
      for (const lm of (m[3] || '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="([^"]*)"/g)) labels[lm[1]] = lm[2];
      samples.push({ name: m[1], labels });
    }
  }
  return samples;
}

function assertInScrape(ref, where, samples) {
  const named = samples.filter((s) => s.name === ref.name);
  assert.ok(named.length, `${where}: ${ref.name} is not in a real /metrics scrape`);
  for (const [k, v] of ref.labels) {
    assert.ok(named.some((s) => s.labels[k] === v), `${where}: ${ref.name}{${k}="${v}"} is not in a real scrape`);
  }
}

test('metrics used by the alerts, the HPA and the adapter example exist in real scrapes', () => {
  assert.ok(scrapes.worker && scrapes.coordinator, 'the apps test ran first');
  const samples = scrapeSamples();
  let n = 0;
  const rule = get(rendered.monitoring, 'PrometheusRule');
  for (const g of rule.spec.groups) {
    for (const r of g.rules) {
      const refs = promRefs(r.expr);
      assert.ok(refs.length, `alert ${r.alert} uses a stepflow metric`);
      for (const ref of refs) { assertInScrape(ref, `alert ${r.alert}`, samples); n++; }
    }
  }
  const hpa = get(rendered['overlays/hpa'], 'HorizontalPodAutoscaler');
  const worker = byComponent(rendered['overlays/hpa'], 'worker');
  assert.equal(hpa.spec.scaleTargetRef.name, worker.metadata.name);
  assert.ok(hpa.spec.minReplicas >= 1);
  const conc = Number(containerEnv(worker.spec.template.spec.containers[0]).STEPFLOW_CONCURRENCY);
  const budget = { msg: conc, cb: Math.min(Math.max(Math.floor(conc / 8), 1), 64) };
  const seen = new Set();
  for (const m of hpa.spec.metrics) {
    const ext = m.external;
    assert.ok(ext, 'HPA metrics are External');
    const labels = Object.entries(ext.metric.selector.matchLabels);
    assertInScrape({ name: ext.metric.name, labels }, 'HPA', samples);
    n++;
    const q = ext.metric.selector.matchLabels.queue;
    const v = Number(ext.target.averageValue);
    if (ext.metric.name === 'stepflow_queue_backlog') assert.equal(v, budget[q], `HPA backlog ${q} target`);
    else {
      assert.equal(ext.metric.name, 'stepflow_queue_pending');
      assert.ok(v >= 0.7 * budget[q] && v <= 0.9 * budget[q], `HPA pending ${q} target ${v}`);
    }
    seen.add(`${ext.metric.name}/${q}`);
  }
  assert.equal(seen.size, 4, 'backlog and pending of both queues');
  // The adapter example serves exactly the names the HPA asks for, with max().
  const cm = parseYaml(fs.readFileSync(ADAPTER_EXAMPLE, 'utf8'), 'adapter')[0];
  const cfg = parseYaml(cm.data['config.yaml'], 'adapter config.yaml')[0];
  const served = new Set();
  for (const r of cfg.externalRules) {
    for (const ref of [...promRefs(r.seriesQuery), ...promRefs(r.metricsQuery)]) { assertInScrape(ref, 'adapter rule', samples); n++; }
    assert.match(r.metricsQuery, /^\s*max\b/, 'cluster figures are aggregated with max()');
    served.add(r.name.as);
  }
  for (const m of hpa.spec.metrics) assert.ok(served.has(m.external.metric.name), `adapter serves ${m.external.metric.name}`);
  assert.ok(n > 10);
});

function promtoolPath() {
  for (const d of (process.env.PATH || '').split(':')) {
    const p = path.join(d || '.', 'promtool');
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}

test('alert rules: promtool accepts them; the per-namespace and Redis alerts fire when they should', (t) => {
  const promtool = promtoolPath();
  if (!promtool) { t.skip('no promtool on PATH (Debian: prometheus)'); return; }
  const rule = get(rendered.monitoring, 'PrometheusRule');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepflow-rules-'));
  try {
    const rulesFile = path.join(tmp, 'rules.yaml');
    fs.writeFileSync(rulesFile, stringify(rule.spec));
    let r = spawnSyncText(promtool, ['check', 'rules', rulesFile]);
    assert.equal(r.status, 0, `promtool check rules: ${r.stdout}${r.stderr}`);
    // Namespace a: coordinator + worker, Redis at 90% of maxmemory, AOF off,
    // persistence failing.  Namespace b: a coordinator only, Redis without
    // maxmemory (0), healthy.  Two processes each (same cluster figures).
    const series = [];
    const add = (name, labels, values) => series.push({
      series: `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`, values });
    for (const [pod, proc] of [['c1', 'coordinator'], ['w1', 'worker']]) add('stepflow_build_info', { namespace: 'a', pod, process: proc, version: '0.1.0' }, '1x20');
    add('stepflow_build_info', { namespace: 'b', pod: 'c1', process: 'coordinator', version: '0.1.0' }, '1x20');
    for (const [ns, used, max, aof, ok] of [['a', 900, 1000, 0, 0], ['b', 900, 0, 1, 1]]) {
      for (const pod of ['p1', 'p2']) {
        add('stepflow_redis_memory_used_bytes', { namespace: ns, pod }, `${used}x20`);
        add('stepflow_redis_memory_max_bytes', { namespace: ns, pod }, `${max}x20`);
        add('stepflow_redis_aof_enabled', { namespace: ns, pod }, `${aof}x20`);
        add('stepflow_redis_persistence_ok', { namespace: ns, pod }, `${ok}x20`);
      }
    }
    const at = (alertname, exp) => ({ eval_time: '15m', alertname, exp_alerts: exp.map((labels) => ({ exp_labels: { severity: labelsOf(alertname).severity, ...labels } })) });
    const byName = Object.fromEntries(rule.spec.groups.flatMap((g) => g.rules).filter((x) => x.alert).map((x) => [x.alert, x]));
    const labelsOf = (a) => { assert.ok(byName[a], `alert ${a} exists`); return byName[a].labels; };
    // promtool compares annotations too: the unit test runs the rules without
    // them (the check above validated their templates).
    const bare = structuredClone(rule.spec);
    for (const g of bare.groups) for (const x of g.rules) delete x.annotations;
    const bareFile = path.join(tmp, 'rules-bare.yaml');
    fs.writeFileSync(bareFile, stringify(bare));
    const tests = {
      rule_files: [bareFile],
      evaluation_interval: '1m',
      tests: [{
        interval: '1m',
        input_series: series,
        alert_rule_test: [
          at('StepflowWorkerMetricsAbsent', [{ namespace: 'b' }]),
          at('StepflowRedisMemoryHigh', [{ namespace: 'a' }]),
          at('StepflowRedisAofOff', [{ namespace: 'a' }]),
          at('StepflowRedisPersistenceFailing', [{ namespace: 'a' }]),
        ],
      }],
    };
    const testFile = path.join(tmp, 'test.yaml');
    fs.writeFileSync(testFile, stringify(tests));
    r = spawnSyncText(promtool, ['test', 'rules', testFile]);
    assert.equal(r.status, 0, `promtool test rules: ${r.stdout}${r.stderr}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

function spawnSyncText(cmd, args) {
  try {
    return { status: 0, stdout: execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), stderr: '' };
  } catch (e) {
    return { status: e.status ?? -1, stdout: String(e.stdout || ''), stderr: String(e.stderr || '') };
  }
}

test('NetworkPolicy: only coordinators and workers (and the KEDA operator) reach Redis', () => {
  for (const d of ['core', 'base', 'overlays/dev', 'overlays/hpa']) {
    const objs = rendered[d];
    const pods = Object.fromEntries(['redis', 'coordinator', 'worker'].map((c) => [c, byComponent(objs, c).spec.template.metadata.labels]));
    const redisPort = byComponent(objs, 'redis').spec.template.spec.containers[0].ports[0].containerPort;
    const pols = all(objs, 'NetworkPolicy').filter((p) => matches(p.spec.podSelector, pods.redis));
    assert.ok(pols.length >= 1, `${d}: a policy selects the Redis pods`);
    const allowed = new Set();
    let keda = false;
    for (const p of pols) {
      assert.ok(p.spec.policyTypes.includes('Ingress'));
      assert.ok(!matches(p.spec.podSelector, pods.coordinator) && !matches(p.spec.podSelector, pods.worker), 'selects Redis only');
      for (const rule of p.spec.ingress) {
        assert.ok(rule.from && rule.from.length, `${d}: no allow-all ingress rule`);
        assert.deepEqual(rule.ports.map((x) => x.port), [redisPort]);
        for (const peer of rule.from) {
          assert.ok(!peer.ipBlock, 'no ipBlock peers');
          if (peer.namespaceSelector) {
            assert.deepEqual(peer.namespaceSelector.matchLabels, { 'kubernetes.io/metadata.name': 'keda' }, `${d}: the only other namespace is KEDA's`);
            assert.equal(peer.podSelector.matchLabels['app.kubernetes.io/name'], 'keda-operator');
            keda = true;
            continue;
          }
          const hits = Object.entries(pods).filter(([, l]) => matches(peer.podSelector, l)).map(([c]) => c);
          assert.equal(hits.length, 1, `${d}: peer ${JSON.stringify(peer.podSelector)} selects exactly one of our pods`);
          allowed.add(hits[0]);
        }
      }
    }
    assert.deepEqual([...allowed].sort(), ['coordinator', 'worker'], d);
    assert.equal(keda, !!get(objs, 'ScaledObject'), `${d}: the KEDA operator is let in iff KEDA scales`);
    // Nothing restricts the apps' egress (workers call arbitrary endpoints).
    for (const p of all(objs, 'NetworkPolicy')) {
      assert.ok(!(p.spec.policyTypes || []).includes('Egress'), `${d}: ${p.metadata.name} restricts no egress`);
    }
  }
});

test('Services select their pods and expose the named ports', () => {
  for (const d of ['core', 'base', 'overlays/dev', 'overlays/hpa']) {
    const objs = rendered[d];
    for (const s of all(objs, 'Service')) {
      const targets = workloads(objs).filter((w) => matches({ matchLabels: s.spec.selector }, w.spec.template.metadata.labels));
      assert.equal(targets.length, 1, `${d} Service ${s.metadata.name} selects one workload`);
      const names = targets[0].spec.template.spec.containers.flatMap((c) => c.ports.map((p) => p.name));
      for (const p of s.spec.ports) assert.ok(names.includes(p.targetPort), `${d} ${s.metadata.name}: targetPort ${p.targetPort}`);
    }
    const coordSvc = get(objs, 'Service', 'stepflow-coordinator');
    assert.deepEqual(coordSvc.spec.ports.map((p) => [p.name, p.port]), [['http', 8080]]);
  }
  // PodMonitors select our pods by labels and scrape named ports that exist.
  const dev = rendered['overlays/dev'];
  for (const pm of all(rendered.monitoring, 'PodMonitor')) {
    const targets = workloads(dev).filter((w) => matches(pm.spec.selector, w.spec.template.metadata.labels));
    assert.equal(targets.length, 1, `PodMonitor ${pm.metadata.name}`);
    const names = targets[0].spec.template.spec.containers[0].ports.map((p) => p.name);
    for (const e of pm.spec.podMetricsEndpoints) {
      assert.ok(names.includes(e.port), `PodMonitor ${pm.metadata.name} port ${e.port}`);
      assert.equal(e.path, '/metrics');
    }
  }
});
