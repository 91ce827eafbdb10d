// promtext.mjs - a strict parser of the Prometheus text exposition format
// 0.0.4, for checking what /metrics serves.
//
// parsePromText(text) returns { name -> [{labels, value}] } keyed by sample
// name (a histogram's samples are under <name>_bucket, _sum and _count),
// labels as a plain object, value a Number (NaN and +-Inf included).  It
// throws an Error naming the line for anything a Prometheus server would
// reject or that breaks the format's rules and conventions:
//   - a line that is not `# HELP`, `# TYPE`, another comment, or a sample;
//     bad metric or label names, bad quoting or escapes in label values
//     (only \\, \" and \n), a value that is not a float, a bad timestamp;
//   - HELP or TYPE given twice for a name, TYPE after that name's samples,
//     an unknown type, the samples of one family not in one block;
//   - the same series twice, or a label name twice in one sample;
//   - counters: a negative value, a name without _total (lint);
//   - histograms: samples other than _bucket/_sum/_count, a bucket without
//     `le`, `le` not increasing, cumulative counts decreasing, no +Inf
//     bucket, or +Inf bucket != _count;
//   - text that does not end with a newline.
// parsePromTextFull(text) also returns the TYPE and HELP of each family.

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function fail(lineNo, line, why) {
  const shown = line.length > 120 ? `${line.slice(0, 120)}...` : line;
  throw new Error(`metrics text line ${lineNo}: ${why}: ${JSON.stringify(shown)}`);
}

/** A sample value or timestamp-free float as Prometheus spells it. */
function parseValue(s) {
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/**
 * Parses `{a="x",b="y"}` starting at s[i] === '{'; returns [labels, next].
 * Throws a plain message (the caller adds the line).
 */
function parseLabels(s, i) {
  const labels = {};
  i++; // '{'
  for (;;) {
    while (s[i] === ' ') i++;
    if (s[i] === '}') return [labels, i + 1];
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(i));
    if (!m) throw new Error('bad label name');
    const name = m[0];
    i += name.length;
    while (s[i] === ' ') i++;
    if (s[i] !== '=') throw new Error(`expected '=' after label ${name}`);
    i++;
    while (s[i] === ' ') i++;
    if (s[i] !== '"') throw new Error(`label ${name}: value must be quoted`);
    i++;
    let v = '';
    for (;;) {
      if (i >= s.length) throw new Error(`label ${name}: unterminated value`);
      const c = s[i];
      if (c === '"') { i++; break; }
      if (c === '\\') {
        const e = s[i + 1];
        if (e === '\\') v += '\\';
        else if (e === '"') v += '"';
        else if (e === 'n') v += '\n';
        else throw new Error(`label ${name}: bad escape \\${e === undefined ? '' : e}`);
        i += 2;
        continue;
      }
      if (c === '\n') throw new Error(`label ${name}: newline in value`);
      v += c;
      i++;
    }
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`reserved or bad label name ${name}`);
    if (Object.prototype.hasOwnProperty.call(labels, name)) throw new Error(`label ${name} given twice`);
    labels[name] = v;
    while (s[i] === ' ') i++;
    if (s[i] === ',') { i++; continue; }
    if (s[i] === '}') return [labels, i + 1];
    throw new Error(`expected ',' or '}' after label ${name}`);
  }
}

/** The family a sample name belongs to, given the TYPEs seen so far. */
function familyOf(sample, types) {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sample.endsWith(suffix)) {
      const base = sample.slice(0, -suffix.length);
      const t = types.get(base);
      if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
    }
  }
  return sample;
}

/** A canonical key of a label set (order-independent). */
function seriesKey(name, labels) {
  const keys = Object.keys(labels).sort();
  return `${name}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

function checkHistogram(family, samples) {
  // Group by the labels other than le.
  const groups = new Map();
  for (const s of samples) {
    const { le, ...rest } = s.labels;
    const key = seriesKey('', rest);
    if (!groups.has(key)) groups.set(key, { buckets: [], sum: undefined, count: undefined });
    const g = groups.get(key);
    if (s.name === `${family}_bucket`) {
      if (le === undefined) throw new Error(`${family}_bucket without le`);
      const bound = parseValue(le);
      if (bound === undefined || Number.isNaN(bound)) throw new Error(`${family}_bucket: bad le ${le}`);
      g.buckets.push({ le: bound, v: s.value });
    } else if (s.name === `${family}_sum`) {
      g.sum = s.value;
    } else if (s.name === `${family}_count`) {
      g.count = s.value;
    } else {
      throw new Error(`histogram ${family}: unexpected sample ${s.name}`);
    }
  }
  for (const [key, g] of groups) {
    const where = `histogram ${family}${key}`;
    if (g.buckets.length === 0) throw new Error(`${where}: no buckets`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i].le > g.buckets[i - 1].le)) throw new Error(`${where}: le not increasing`);
      if (g.buckets[i].v < g.buckets[i - 1].v) throw new Error(`${where}: bucket counts decrease`);
    }
    const last = g.buckets[g.buckets.length - 1];
    if (last.le !== Infinity) throw new Error(`${where}: no +Inf bucket`);
    if (g.count === undefined || g.sum === undefined) throw new Error(`${where}: missing _sum or _count`);
    if (g.count !== last.v) throw new Error(`${where}: _count ${g.count} != +Inf bucket ${last.v}`);
  }
}

/**
 * Parses `text`; returns { samples: {name -> [{labels, value}]},
 * types: {family -> type}, help: {family -> text} }.  Throws on any
 * violation (see the top of the file).
 */
export function parsePromTextFull(text) {
  if (typeof text !== 'string') throw new Error('metrics text: not a string');
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('metrics text: does not end with a newline');
  const types = new Map();
  const help = new Map();
  const samples = {};
  const bySeries = new Set();
  const familySamples = new Map(); // family -> [{name, labels, value}]
  const closed = new Set(); // families whose block has ended
  let current = null; // family of the block being read
  const lines = text.split('\n');
  lines.pop(); // after the final newline
  lines.forEach((line, idx) => {
    const lineNo = idx + 1;
    if (line === '') return; // empty lines are ignored by the format
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!m) return; // another comment
      const [, kind, name, rest = ''] = m;
      if (!METRIC_NAME.test(name)) fail(lineNo, line, `bad metric name ${name}`);
      if (kind === 'HELP') {
        if (help.has(name)) fail(lineNo, line, `second HELP for ${name}`);
        const unescaped = rest.replace(/\\\\/g, '');
        if (/\\[^\\n]|\\$/.test(unescaped)) fail(lineNo, line, 'bad escape in HELP');
        help.set(name, rest.replace(/\\(\\|n)/g, (_, c) => (c === 'n' ? '\n' : '\\')));
      } else {
        if (types.has(name)) fail(lineNo, line, `second TYPE for ${name}`);
        if (!TYPES.has(rest)) fail(lineNo, line, `unknown type ${rest}`);
        if (familySamples.has(name)) fail(lineNo, line, `TYPE for ${name} after its samples`);
        types.set(name, rest);
      }
      if (current !== name) {
        if (current !== null) closed.add(current);
        if (closed.has(name)) fail(lineNo, line, `${name} appears in two blocks`);
        current = name;
      }
      return;
    }
    // name [labels] value [timestamp]
    const nm = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nm) fail(lineNo, line, 'not a sample, HELP, TYPE or comment');
    const name = nm[0];
    let i = name.length;
    let labels = {};
    if (line[i] === '{') {
      try { [labels, i] = parseLabels(line, i); } catch (e) { fail(lineNo, line, e.message); }
    }
    const rest = line.slice(i);
    const vm = /^[ \t]+(\S+)(?:[ \t]+(\S+))?[ \t]*$/.exec(rest);
    if (!vm) fail(lineNo, line, 'expected a value after the name and labels');
    const value = parseValue(vm[1]);
    if (value === undefined) fail(lineNo, line, `bad value ${vm[1]}`);
    if (vm[2] !== undefined && !/^-?\d+$/.test(vm[2])) fail(lineNo, line, `bad timestamp ${vm[2]}`);
    const family = familyOf(name, types);
    if (current !== family) {
      if (current !== null) closed.add(current);
      if (closed.has(family)) fail(lineNo, line, `samples of ${family} are not in one block`);
      current = family;
    }
    const key = seriesKey(name, labels);
    if (bySeries.has(key)) fail(lineNo, line, `series ${key} given twice`);
    bySeries.add(key);
    const type = types.get(family) || 'untyped';
    if (type === 'counter') {
      if (!(value >= 0)) fail(lineNo, line, 'counter with a negative or NaN value');
      if (!name.endsWith('_total')) fail(lineNo, line, `counter ${name} should end with _total`);
    }
    if (type === 'histogram' && name === family) fail(lineNo, line, `histogram ${family} sample without a suffix`);
    if (!familySamples.has(family)) familySamples.set(family, []);
    familySamples.get(family).push({ name, labels, value });
    (samples[name] ||= []).push({ labels, value });
  });
  for (const [family, list] of familySamples) {
    if (types.get(family) === 'histogram') checkHistogram(family, list);
  }
  return { samples, types: Object.fromEntries(types), help: Object.fromEntries(help) };
}

/** parsePromTextFull(text).samples. */
export function parsePromText(text) {
  return parsePromTextFull(text).samples;
}

/**
 * The value of the one sample `name` whose labels include `want`
 * (undefined when none; throws when several match).
 */
export function sampleValue(samples, name, want = {}) {
  const hits = (samples[name] || []).filter((s) => Object.entries(want).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${name} ${JSON.stringify(want)}: ${hits.length} samples match`);
  return hits.length ? hits[0].value : undefined;
}
