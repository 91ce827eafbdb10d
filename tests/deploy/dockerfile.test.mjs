// deploy/Dockerfile without a Docker engine: what can be proven here.
//  - the file itself (a small parser: instructions, line continuations,
//    stages): stages, base images, user, stop signal, what the runtime stage
//    installs, COPY --from and COPY sources against the build context
//    (/.dockerignore honoured);
//  - the build stage's dependency RUN (before `COPY . .`, so the toolchain
//    layer survives source changes), run for real with apt-get/dpkg-query
//    stubbed: it installs exactly BUILD_PACKAGES through install_missing;
//  - the build stage's scripts/build RUN, for real, on a copy of the build
//    context (the machine that runs this suite has the build dependencies):
//    three binaries in <prefix>/bin that start;
//  - the runtime stage's apt-get list against what the binaries link (ldd,
//    dpkg -S), modulo what debian:bookworm-slim already has;
//  - the binaries run as uid/gid 10001 (setpriv; when this runs as root);
//  - the default command and the image's ENV pass `--check-config`.
// Env: STEPFLOW_SOURCE_DIR (repository), STEPFLOW_BIN_DIR (unused: this
// suite builds its own binaries the way the image does).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = process.env.STEPFLOW_SOURCE_DIR ||
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOCKERFILE = path.join(SRC, 'deploy/Dockerfile');
const BINARIES = ['stepflow-coordinator', 'stepflow-worker', 'stepflow'];
const UID = 10001;

// ---------------------------------------------------------------- parsing

/** Dockerfile instructions: {cmd (upper case), args (string), line}. */
export function parseDockerfile(text) {
  const out = [];
  let escape = '\\';
  const lines = text.split('\n');
  let cur = null;
  let start = 0;
  let directives = true;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    if (directives) {
      const d = /^#\s*(\w+)\s*=\s*(\S+)\s*$/.exec(raw);
      if (d) { if (d[1].toLowerCase() === 'escape') escape = d[2]; continue; }
      directives = false;
    }
    const trimmed = raw.trim();
    // comment lines are dropped, also inside a continued instruction
    if (trimmed.startsWith('#')) continue;
    if (cur === null) {
      if (trimmed === '') continue;
      cur = '';
      start = i + 1;
    } else if (trimmed === '') {
      continue; // empty continuation lines are allowed (deprecated)
    }
    if (trimmed.endsWith(escape)) {
      cur += trimmed.slice(0, -escape.length) + ' ';
      continue;
    }
    cur += trimmed;
    const m = /^(\S+)\s*([\s\S]*)$/.exec(cur);
    out.push({ cmd: m[1].toUpperCase(), args: m[2].trim(), line: start });
    cur = null;
  }
  assert.equal(cur, null, 'Dockerfile ends inside a continued instruction');
  return out;
}

/** Splits instructions into stages; resolves ARGs declared before the first FROM. */
export function stagesOf(instrs) {
  const globalArgs = {};
  const stages = [];
  const subst = (s, vars) => s.replace(/\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)/g,
    (_, a, def, b) => vars[a || b] ?? def ?? '');
  for (const ins of instrs) {
    if (ins.cmd === 'ARG' && stages.length === 0) {
      const [k, v = ''] = ins.args.split('=');
      globalArgs[k.trim()] = v.trim().replace(/^"(.*)"$/, '$1');
      continue;
    }
    if (ins.cmd === 'FROM') {
      const words = ins.args.split(/\s+/).filter((w) => !w.startsWith('--platform'));
      const image = subst(words[0], globalArgs);
      const name = words.length >= 3 && words[1].toUpperCase() === 'AS' ? words[2].toLowerCase() : null;
      stages.push({ index: stages.length, image, name, line: ins.line, instrs: [] });
      continue;
    }
    assert.ok(stages.length > 0, `line ${ins.line}: ${ins.cmd} before the first FROM`);
    stages.at(-1).instrs.push(ins);
  }
  return stages;
}

/** COPY/ADD arguments: {flags: {from, chown...}, sources: [], dest}. */
function copyArgs(args) {
  let words;
  if (args.startsWith('[')) words = JSON.parse(args);
  else words = args.split(/\s+/);
  const flags = {};
  while (words[0]?.startsWith('--')) {
    const [k, v = 'true'] = words.shift().slice(2).split('=');
    flags[k] = v;
  }
  return { flags, sources: words.slice(0, -1), dest: words.at(-1) };
}

/** Shell words of a RUN line, roughly (quotes kept together, not expanded). */
function shellWords(s) {
  return s.match(/"[^"]*"|'[^']*'|[^\s]+/g) ?? [];
}

/** The values of a bash array defined in scripts/lib/packages.sh. */
function packageList(name) {
  const out = execFileSync('bash', ['-c',
    `set -euo pipefail; source "$1"; printf '%s\\n' "\${${name}[@]}"`,
    'x', path.join(SRC, 'scripts/lib/packages.sh')], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

/** Packages installed by `apt-get install` in a RUN (bash arrays expanded). */
function aptInstalls(runArgs) {
  const pkgs = [];
  for (const cmd of runArgs.split(/&&|;|\|\|/)) {
    const w = shellWords(cmd.trim());
    const i = w.indexOf('apt-get');
    if (i < 0 || w[i + 1] !== 'install') continue;
    for (const word of w.slice(i + 2)) {
      if (word.startsWith('-')) continue;
      const arr = /^"?\$\{(\w+)\[@\]\}"?$/.exec(word);
      if (arr) pkgs.push(...packageList(arr[1]));
      else pkgs.push(word.replace(/^["']|["']$/g, ''));
    }
  }
  return pkgs;
}

// ------------------------------------------------------------ .dockerignore

/** A matcher for the build context: ignored(relPath) as docker does it
 *  (patterns cleaned, `**` any number of directories, last match wins, a
 *  path is excluded when it or a parent directory matches). */
export function dockerignore(text) {
  const rules = [];
  for (let line of text.split('\n')) {
    line = line.trim();
    if (!line || line.startsWith('#')) continue;
    let negate = false;
    if (line.startsWith('!')) { negate = true; line = line.slice(1).trim(); }
    line = path.posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    let re = '';
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (c === '*' && line[i + 1] === '*') {
        i++;
        if (line[i + 1] === '/') { i++; re += '(?:.*/)?'; } else re += '.*';
      } else if (c === '*') re += '[^/]*';
      else if (c === '?') re += '[^/]';
      else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    rules.push({ negate, re: new RegExp(`^${re}$`), pattern: line });
  }
  const hasNegation = rules.some((r) => r.negate);
  const matches = (p) => {
    let ignored = false;
    for (const r of rules) {
      const parts = p.split('/');
      let hit = false;
      for (let n = 1; n <= parts.length && !hit; n++) hit = r.re.test(parts.slice(0, n).join('/'));
      if (hit) ignored = !r.negate;
    }
    return ignored;
  };
  return { ignored: matches, hasNegation };
}

/** Every file Docker would send as the build context, relative to root. */
function contextFiles(root, ign) {
  const files = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!ign.hasNegation && ign.ignored(r)) continue; // prune
        walk(r);
      } else if (!ign.ignored(r)) files.push(r);
    }
  };
  walk('');
  return files;
}

// ------------------------------------------------------------------ shared

const text = fs.readFileSync(DOCKERFILE, 'utf8');
const stages = stagesOf(parseDockerfile(text));
const final = stages.at(-1);
const ignore = dockerignore(fs.readFileSync(path.join(SRC, '.dockerignore'), 'utf8'));
const of = (stage, cmd) => stage.instrs.filter((i) => i.cmd === cmd);
const stageRef = (ref) => stages.find((s) => s.name === ref.toLowerCase() || String(s.index) === ref);
const buildRun = () => {
  const hits = stages.flatMap((s) => of(s, 'RUN').map((r) => ({ stage: s, run: r })))
    .filter(({ run }) => /(^|[\s/])scripts\/build(\s|$)/.test(run.args));
  assert.equal(hits.length, 1, 'exactly one RUN invokes scripts/build');
  return hits[0];
};
const finalApt = () => of(final, 'RUN').flatMap((r) => aptInstalls(r.args));
const imageEnv = () => {
  const env = {};
  for (const s of [final]) {
    for (const e of of(s, 'ENV')) {
      for (const m of e.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, '');
    }
  }
  return env;
};
const projectVersion = () =>
  /project\(stepflow VERSION ([0-9.]+)/.exec(fs.readFileSync(path.join(SRC, 'CMakeLists.txt'), 'utf8'))[1];

// The build stage's RUN, done once: the context copied into a temp dir (as
// `COPY . .` into WORKDIR), then the RUN's command with /out under the temp dir.
let built = null;
function buildOnce() {
  if (built) return built;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-docker-'));
  fs.chmodSync(tmp, 0o755); // the unprivileged user must reach out/bin
  const src = path.join(tmp, 'src');
  const files = contextFiles(SRC, ignore);
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(src, f)), { recursive: true });
    fs.copyFileSync(path.join(SRC, f), path.join(src, f));
    fs.chmodSync(path.join(src, f), fs.statSync(path.join(SRC, f)).mode & 0o777);
  }
  const { stage, run } = buildRun();
  const workdir = of(stage, 'WORKDIR').at(-1)?.args ?? '/';
  const copyAll = of(stage, 'COPY').find((c) => {
    const a = copyArgs(c.args);
    return !a.flags.from && a.sources.length === 1 && a.sources[0] === '.';
  });
  assert.ok(copyAll, 'the build stage copies the whole context (COPY . .)');
  const dest = copyArgs(copyAll.args).dest;
  assert.ok(dest === '.' || dest === './' || path.posix.resolve(workdir, dest) === workdir,
    'the context lands in WORKDIR, where the RUN runs');
  const words = shellWords(run.args);
  const i = words.findIndex((w) => /(^|\/)scripts\/build$/.test(w));
  const args = words.slice(i + 1);
  const p = args.indexOf('--prefix');
  assert.ok(p >= 0, 'scripts/build is given --prefix');
  const prefix = args[p + 1];
  const out = path.join(tmp, prefix.replace(/^\/+/, ''));
  args[p + 1] = out;
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('STEPFLOW_') && k !== 'STEPFLOW_JOBS') delete env[k];
  // one compile job unless told (ctest runs other suites beside this one)
  const jobs = process.env.STEPFLOW_JOBS || '1';
  const r = spawnSync(path.join(src, words[i]),
    ['--no-install-deps', '--jobs', jobs, '--build-dir', path.join(tmp, 'build'), ...args],
    { cwd: src, env, encoding: 'utf8', timeout: 15 * 60_000, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `scripts/build failed:\n${(r.stdout + r.stderr).slice(-4000)}`);
  built = { tmp, prefix, out, bin: path.join(out, 'bin'), files };
  return built;
}

function run(bin, args, opts = {}) {
  return spawnSync(bin, args, { encoding: 'utf8', timeout: 30_000, ...opts });
}

const asUser = (argv) => process.getuid?.() === 0
  ? ['setpriv', ['--reuid', String(UID), '--regid', String(UID), '--clear-groups', '--', ...argv]]
  : [argv[0], argv.slice(1)];

// ------------------------------------------------------------------- tests

test('Dockerfile: multi-stage, bookworm build, bookworm-slim runtime', () => {
  assert.ok(stages.length >= 2, `${stages.length} stage(s)`);
  assert.equal(final.image, 'debian:bookworm-slim', 'final stage base');
  const { stage } = buildRun();
  assert.notEqual(stage, final, 'the build runs in an earlier stage');
  assert.match(stage.image, /^debian:bookworm(-\d{8})?$/, 'build stage base');
  for (const s of stages) {
    assert.doesNotMatch(s.image, /:latest$|^[^:]+$/, `stage ${s.index} uses an explicit tag`);
  }
});

test('Dockerfile: build stage runs scripts/build --prefix, runtime copies only its bin/', () => {
  const { stage, run: r } = buildRun();
  const words = shellWords(r.args);
  const prefix = words[words.indexOf('--prefix') + 1];
  assert.ok(prefix?.startsWith('/'), 'scripts/build --prefix ABSOLUTE-DIR');
  // The deps are installed by an earlier layer (next test), so scripts/build
  // must not look for them again.
  assert.ok(words.includes('--no-install-deps'), 'scripts/build --no-install-deps (the deps layer installed them)');
  const fromBuild = of(final, 'COPY').map((c) => copyArgs(c.args)).filter((a) => a.flags.from);
  assert.ok(fromBuild.length >= 1, 'the runtime stage copies from the build stage');
  for (const a of fromBuild) {
    assert.equal(stageRef(a.flags.from), stage);
    for (const s of a.sources) {
      assert.ok(path.posix.normalize(s).startsWith(path.posix.join(prefix, 'bin')),
        `${s}: only the installed binaries reach the runtime image`);
    }
  }
});

/** The build stage's dependency layer: {copy, run} (COPY of packages.sh, the
 *  RUN that sources it), checked to come before `COPY . .`. */
function depsLayer() {
  const { stage, run: buildIns } = buildRun();
  const copies = of(stage, 'COPY').map((c) => ({ ins: c, a: copyArgs(c.args) }));
  const pk = copies.find(({ a }) => !a.flags.from && a.sources.length === 1 &&
    path.posix.normalize(a.sources[0]) === 'scripts/lib/packages.sh');
  assert.ok(pk, 'the build stage copies scripts/lib/packages.sh on its own');
  const workdir = of(stage, 'WORKDIR').filter((w) => w.line < pk.ins.line).at(-1)?.args ?? '/';
  const dest = path.posix.resolve(workdir, pk.a.dest.endsWith('/') ? `${pk.a.dest}packages.sh` : pk.a.dest);
  const run = of(stage, 'RUN').find((x) => x.line > pk.ins.line && /\binstall_missing\b/.test(x.args));
  assert.ok(run, 'a RUN after that COPY calls install_missing');
  const all = copies.find(({ a }) => !a.flags.from && a.sources.length === 1 && a.sources[0] === '.');
  assert.ok(all, 'the build stage copies the context (COPY . .)');
  assert.ok(pk.ins.line < all.ins.line && run.line < all.ins.line,
    'the deps layer comes before COPY . . (a source change must not reinstall the toolchain)');
  assert.ok(all.ins.line < buildIns.line, 'scripts/build runs after COPY . .');
  assert.match(of(stage, 'SHELL').filter((x) => x.line < run.line).at(-1)?.args ?? '', /bash/,
    'source and arrays need SHELL bash');
  return { dest, run };
}

test('Dockerfile: the build deps layer installs exactly BUILD_PACKAGES, before COPY . .', () => {
  const { dest, run } = depsLayer();
  assert.match(run.args, /install_missing\s+"\$\{BUILD_PACKAGES\[@\]\}"/, 'install_missing "${BUILD_PACKAGES[@]}"');
  // Run the RUN for real, in bash as the image's SHELL does, with packages.sh
  // at a temp path and stubs first on PATH: dpkg-query says nothing is
  // installed, apt-get / rm / sudo only log, id says root.  What apt-get is
  // asked to install must be BUILD_PACKAGES, the list scripts/build uses.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-docker-deps-'));
  try {
    const bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin);
    const log = path.join(tmp, 'log');
    const stub = (name, body) => fs.writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
    for (const n of ['apt-get', 'rm', 'sudo']) stub(n, `printf '%s\\t%s\\n' ${n} "$*" >> ${JSON.stringify(log)}`);
    stub('dpkg-query', 'exit 1');
    stub('id', 'echo 0');
    const pkgs = path.join(tmp, 'packages.sh');
    fs.copyFileSync(path.join(SRC, 'scripts/lib/packages.sh'), pkgs);
    assert.ok(run.args.includes(dest), `the RUN sources ${dest}, where the COPY put packages.sh`);
    const script = run.args.split(dest).join(pkgs);
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', script],
      { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` }, timeout: 30_000 });
    assert.equal(r.status, 0, `the deps RUN failed: ${r.stderr}`);
    const calls = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t'));
    const install = calls.filter(([c, a]) => c === 'apt-get' && /(^|\s)install(\s|$)/.test(a));
    assert.equal(install.length, 1, `one apt-get install: ${JSON.stringify(calls)}`);
    const args = install[0][1].split(/\s+/).filter((w) => w && !w.startsWith('-') && w !== 'install');
    assert.deepEqual(args, packageList('BUILD_PACKAGES'), 'apt-get installs BUILD_PACKAGES');
    assert.ok(calls.some(([c, a]) => c === 'apt-get' && /(^|\s)update(\s|$)/.test(a)), 'apt-get update first');
    assert.ok(!calls.some(([c]) => c === 'sudo'), 'root in the image: no sudo');
    assert.ok(calls.some(([c, a]) => c === 'rm' && a.includes('/var/lib/apt/lists/')), 'apt lists removed in the same layer');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('Dockerfile: every COPY --from names an earlier stage', () => {
  for (const s of stages) {
    for (const c of [...of(s, 'COPY'), ...of(s, 'ADD')]) {
      const { flags } = copyArgs(c.args);
      if (!flags.from) continue;
      const ref = stageRef(flags.from);
      assert.ok(ref, `line ${c.line}: --from=${flags.from} is no stage`);
      assert.ok(ref.index < s.index, `line ${c.line}: --from=${flags.from} is not an earlier stage`);
    }
  }
});

test('Dockerfile: COPY sources exist and are in the build context (.dockerignore)', () => {
  const files = contextFiles(SRC, ignore);
  const inContext = new Set(files);
  for (const s of stages) {
    for (const c of [...of(s, 'COPY'), ...of(s, 'ADD')]) {
      const { flags, sources } = copyArgs(c.args);
      if (flags.from) continue;
      for (const src of sources) {
        const rel = path.posix.normalize(src).replace(/^\/+/, '').replace(/\/+$/, '');
        assert.ok(fs.existsSync(path.join(SRC, rel)), `line ${c.line}: ${src} does not exist`);
        if (rel === '.' ) continue;
        const st = fs.statSync(path.join(SRC, rel));
        if (st.isDirectory()) {
          assert.ok(files.some((f) => f.startsWith(rel + '/')), `line ${c.line}: ${src} is excluded by .dockerignore`);
        } else {
          assert.ok(inContext.has(rel), `line ${c.line}: ${src} is excluded by .dockerignore`);
        }
      }
    }
  }
  // what the build needs is in the context; what it must not see is not
  for (const f of ['CMakeLists.txt', 'scripts/build', 'scripts/lib/packages.sh',
    'common/CMakeLists.txt', 'worker/CMakeLists.txt', 'coordinator/CMakeLists.txt',
    'tests/CMakeLists.txt']) {
    assert.ok(inContext.has(f), `${f} must be in the build context`);
  }
  for (const f of files) {
    assert.doesNotMatch(f, /^(\.git|build[^/]*|\.stepflow)\/|(^|\/)node_modules\//, `${f} should be ignored`);
  }
});

test('Dockerfile: runtime stage is unprivileged, stops with SIGTERM, has no build tools', () => {
  const users = of(final, 'USER');
  assert.ok(users.length >= 1, 'the final stage sets USER');
  const [user, group] = users.at(-1).args.split(':');
  assert.ok(!['root', '0'].includes(user), `USER ${users.at(-1).args}`);
  assert.equal(user, String(UID));
  if (group !== undefined) assert.ok(!['root', '0'].includes(group), `group ${group}`);
  const runs = of(final, 'RUN').map((r) => r.args).join('\n');
  assert.match(runs, /useradd\b[^\n]*--uid 10001/, 'the stepflow user (uid 10001) exists');
  assert.match(runs, /groupadd\b[^\n]*--gid 10001/, 'its group (gid 10001) exists');

  const stop = of(final, 'STOPSIGNAL').at(-1) ?? of(stages[0], 'STOPSIGNAL').at(-1);
  assert.equal(stop?.args, 'SIGTERM');
  const exposed = of(final, 'EXPOSE').flatMap((e) => e.args.split(/\s+/));
  assert.ok(exposed.includes('8080') && exposed.includes('9090'), `EXPOSE ${exposed}`);

  const pkgs = finalApt();
  assert.ok(pkgs.length > 0, 'the runtime stage installs its libraries');
  const buildTools = /^(build-essential|gcc(-\d+)?|g\+\+(-\d+)?|cpp(-\d+)?|clang.*|cmake.*|make|pkg-config|pkgconf|libc6-dev|.*-dev|git)$/;
  for (const p of pkgs) assert.doesNotMatch(p, buildTools, `${p} in the runtime image`);
  const allowed = new Set([...packageList('RUNTIME_PACKAGES'), 'ca-certificates']);
  for (const p of pkgs) assert.ok(allowed.has(p), `${p}: not a RUNTIME_PACKAGES entry`);
  for (const p of packageList('RUNTIME_PACKAGES')) assert.ok(pkgs.includes(p), `${p} not installed`);
  for (const r of of(final, 'RUN').filter((x) => /apt-get install/.test(x.args))) {
    assert.match(r.args, /--no-install-recommends/);
    assert.match(r.args, /apt-get update/, 'apt-get update in the same RUN');
    assert.match(r.args, /rm -rf \/var\/lib\/apt\/lists\/\*/, 'apt lists removed in the same RUN');
  }
  const shell = of(final, 'SHELL').at(-1);
  if (runs.includes('[@]')) assert.match(shell?.args ?? '', /bash/, 'bash arrays need SHELL bash');
});

test('Dockerfile: OCI labels, version matches the project', () => {
  const labels = {};
  for (const l of of(final, 'LABEL')) {
    for (const m of l.args.matchAll(/([\w.-]+)=("[^"]*"|\S+)/g)) labels[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  for (const k of ['title', 'description', 'version', 'source']) {
    assert.ok(labels[`org.opencontainers.image.${k}`], `label org.opencontainers.image.${k}`);
  }
  const argV = of(final, 'ARG').map((a) => /^VERSION=(.*)$/.exec(a.args)?.[1]).find(Boolean);
  const v = labels['org.opencontainers.image.version'].replace('${VERSION}', argV ?? '');
  assert.equal(v, projectVersion());
});

test('build stage for real: scripts/build --prefix gives the three binaries, they start', () => {
  const b = buildOnce();
  const installed = fs.readdirSync(b.bin).sort();
  assert.deepEqual(installed, [...BINARIES].sort(), `${b.prefix}/bin holds exactly the three binaries`);
  const v = projectVersion();
  for (const name of ['stepflow-coordinator', 'stepflow-worker']) {
    const r = run(path.join(b.bin, name), ['--version']);
    assert.equal(r.status, 0, `${name} --version: ${r.stderr}`);
    assert.equal(r.stdout.trim(), `${name} ${v}`);
  }
  const cli = run(path.join(b.bin, 'stepflow'), ['--version']);
  if (cli.status !== 0) { // the CLI has --help; --version only if it grows one
    const h = run(path.join(b.bin, 'stepflow'), ['--help']);
    assert.equal(h.status, 0, `stepflow --help: ${h.stderr}`);
    assert.match(h.stdout, /usage: stepflow/);
  }
});

test('runtime stage: every library the binaries link comes from its apt-get list or the slim base', (t) => {
  const osr = fs.readFileSync('/etc/os-release', 'utf8');
  if (!/^VERSION_CODENAME=bookworm$/m.test(osr) || spawnSync('dpkg-query', ['--version']).status !== 0) {
    t.skip('needs a Debian bookworm host (its dpkg database stands for the image)');
    return;
  }
  const b = buildOnce();
  // installed packages: Essential/Priority, dependencies, provides
  const db = new Map();
  const provides = new Map();
  const q = execFileSync('dpkg-query', ['-W', '-f',
    '${Package}\t${db:Status-Abbrev}\t${Essential}\t${Priority}\t${Pre-Depends}\t${Depends}\t${Provides}\n'],
  { encoding: 'utf8', maxBuffer: 64 << 20 });
  for (const line of q.split('\n')) {
    const [pkg, status, essential, priority, pre, dep, prov] = line.split('\t');
    if (!pkg || !status.startsWith('ii')) continue;
    db.set(pkg, { essential: essential === 'yes', priority, deps: [pre, dep].filter(Boolean).join(', ') });
    for (const p of (prov || '').split(',')) {
      const name = p.trim().split(/[\s(:]/)[0];
      if (name) provides.set(name, [...(provides.get(name) ?? []), pkg]);
    }
  }
  const resolve = (name) => (db.has(name) ? name : provides.get(name)?.find((p) => db.has(p)));
  const closure = (roots) => {
    const seen = new Set();
    const todo = [...roots];
    while (todo.length) {
      const p = resolve(todo.pop());
      if (!p || seen.has(p)) continue;
      seen.add(p);
      for (const clause of db.get(p).deps.split(',')) {
        const alts = clause.split('|').map((a) => a.trim().split(/[\s(:]/)[0]).filter(Boolean);
        const pick = alts.find((a) => resolve(a)) ;
        if (pick) todo.push(pick);
      }
    }
    return seen;
  };
  // debian:bookworm-slim is a minbase debootstrap: the Essential and
  // Priority: required packages and what they depend on.
  const base = closure([...db].filter(([, v]) => v.essential || v.priority === 'required').map(([k]) => k));
  const listed = finalApt();
  const image = new Set([...base, ...closure(listed)]);

  const owners = new Map();
  const owner = (lib) => {
    if (!owners.has(lib)) owners.set(lib, ownerOf(lib));
    return owners.get(lib);
  };
  const ownerOf = (lib) => {
    for (const cand of new Set([lib, fs.realpathSync(lib), lib.replace(/^\/usr\//, '/'),
      lib.startsWith('/usr/') ? lib : `/usr${lib}`])) {
      const r = spawnSync('dpkg', ['-S', cand], { encoding: 'utf8' });
      if (r.status === 0) return r.stdout.split('\n')[0].split(':')[0].split(',')[0].trim();
    }
    return null;
  };
  const problems = [];
  const missing = new Map(); // package -> the libraries that need it
  for (const name of BINARIES) {
    const file = path.join(b.bin, name);
    const ldd = execFileSync('ldd', [file], { encoding: 'utf8' });
    assert.doesNotMatch(ldd, /not found/, `${name}: unresolved libraries\n${ldd}`);
    const needed = new Set(execFileSync('readelf', ['-d', file], { encoding: 'utf8' })
      .split('\n').map((l) => /\(NEEDED\).*\[(.+)\]/.exec(l)?.[1]).filter(Boolean));
    for (const line of ldd.split('\n')) {
      const m = /^\s*(\S+)\s+=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
      if (!m) continue;
      const soname = m[2] ? m[1] : path.basename(m[1]);
      const lib = m[2] ?? m[1];
      const pkg = owner(lib);
      if (!pkg) { problems.push(`${name}: ${lib} belongs to no Debian package`); continue; }
      if (!image.has(pkg)) {
        const m2 = missing.get(pkg) ?? new Set();
        missing.set(pkg, m2.add(`${soname} (${name})`));
      } else if (needed.has(soname) && !base.has(pkg) && !listed.includes(pkg)) {
        problems.push(`${name}: links ${soname} directly; list its package ${pkg} in RUNTIME_PACKAGES ` +
          '(it only arrives as a dependency of another one)');
      }
    }
  }
  for (const [pkg, libs] of missing) {
    problems.push(`missing runtime package ${pkg}: ${[...libs].join(', ')}`);
  }
  assert.deepEqual(problems, [], 'the runtime stage (RUNTIME_PACKAGES in scripts/lib/packages.sh) lacks libraries');
});

test('the binaries run as the unprivileged user 10001', (t) => {
  if (process.getuid?.() !== 0) { t.skip('not root: cannot switch to uid 10001'); return; }
  if (spawnSync('setpriv', ['--version']).status !== 0) { t.skip('setpriv (util-linux) missing'); return; }
  const b = buildOnce();
  for (const name of BINARIES) {
    const args = name === 'stepflow' ? ['--help'] : ['--version'];
    const [cmd, argv] = asUser([path.join(b.bin, name), ...args]);
    const r = run(cmd, argv);
    assert.equal(r.status, 0, `${name} ${args} as uid ${UID}: ${r.stderr}`);
    const id = run(...asUser(['id', '-u']));
    assert.equal(id.stdout.trim(), String(UID));
  }
});

test("the image's ENV and default command pass --check-config", () => {
  const b = buildOnce();
  const env = { PATH: `${b.bin}:/usr/bin:/bin`, ...imageEnv() };
  assert.equal(env.STEPFLOW_LOG_FORMAT, 'json');
  const cmdIns = of(final, 'CMD').at(-1);
  assert.ok(cmdIns, 'a default CMD');
  const argv = JSON.parse(cmdIns.args);
  assert.equal(argv[0], 'stepflow-coordinator', 'the coordinator is the default');
  assert.ok(!of(final, 'ENTRYPOINT').length, 'no ENTRYPOINT: a container command picks the binary');
  // the coordinator as `docker run IMAGE` starts it (a token is required)
  let r = run(...asUser([path.join(b.bin, argv[0]), ...argv.slice(1), '--check-config']),
    { env: { ...env, STEPFLOW_TOKEN: 'check' } });
  assert.equal(r.status, 0, `${argv.join(' ')} --check-config: ${r.stderr}`);
  assert.match(r.stdout, /^STEPFLOW_LISTEN\s+0\.0\.0\.0:8080$/m, 'the coordinator listens beyond localhost');
  assert.match(r.stdout, /^STEPFLOW_LOG_FORMAT\s+json$/m);
  // the worker with the same image ENV (as the k8s manifests run it)
  r = run(...asUser([path.join(b.bin, 'stepflow-worker'), '--check-config']),
    { env: { ...env, STEPFLOW_METRICS_LISTEN: '0.0.0.0:9090' } });
  assert.equal(r.status, 0, `stepflow-worker --check-config: ${r.stderr}`);
});

after(() => {
  if (built) fs.rmSync(built.tmp, { recursive: true, force: true });
});
