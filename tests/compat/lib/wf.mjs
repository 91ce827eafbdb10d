// wf.mjs - reading workflow runs back through the official client
// (@upstash/workflow's Client: logs, dlq) with deadlines, for the compat
// suite.  Every wait polls; a timeout names what was expected and what was
// last seen (the run's log as the API returned it, and the run hash in
// Redis for diagnosis).
import { waitFor, pairs } from '../../integration/lib/stack.mjs';

/** The run's WorkflowRunLog from client.logs, or undefined. */
export async function runLog(client, runId) {
  const res = await client.logs({ workflowRunId: runId });
  return (res.runs || []).find((r) => r.workflowRunId === runId);
}

/** The run hash P:{wf}:run:<id> as an object (diagnostics only). */
export async function runHash(stack, runId) {
  try {
    return pairs(await stack.redis.call('HGETALL', stack.key(`{wf}:run:${runId}`)));
  } catch (e) { return { error: e.message }; }
}

/**
 * Polls client.logs until the run is in `state` (a string or an array of
 * accepted states); returns the WorkflowRunLog.
 */
export async function waitRunState(client, stack, runId, state, { timeout = 30000 } = {}) {
  const want = Array.isArray(state) ? state : [state];
  let last;
  try {
    return await waitFor(async () => {
      last = await runLog(client, runId);
      return last && want.includes(last.workflowState) ? last : null;
    }, { timeout, interval: 100, message: `run ${runId} in ${want.join('|')}` });
  } catch (e) {
    const h = await runHash(stack, runId);
    delete h.tpl;
    e.message += `\n  last log: ${JSON.stringify(last)}\n  run hash: ${JSON.stringify(h)}`;
    throw e;
  }
}

/** Parses a step's `out` the way serve() does (a JSON text, else as is). */
export function parseOut(out) {
  if (typeof out !== 'string') return out;
  try { return JSON.parse(out); } catch { return out; }
}

/** The finished steps of a run log (groups sequential + parallel), in order. */
export function loggedSteps(log) {
  return (log.steps || []).filter((g) => g.type !== 'next').flatMap((g) => g.steps);
}

/** DLQ entries of a run (client.dlq.list filtered by workflowRunId). */
export async function dlqOf(client, runId) {
  const res = await client.dlq.list({ filter: { workflowRunId: runId } });
  return res.messages || [];
}

/** Polls until the run has a DLQ entry (matching `pred` if given); returns it. */
export async function waitDlq(client, runId, pred = () => true, { timeout = 30000 } = {}) {
  let last;
  try {
    return await waitFor(async () => {
      last = await dlqOf(client, runId);
      return last.find(pred);
    }, { timeout, interval: 100, message: `DLQ entry of run ${runId}` });
  } catch (e) {
    e.message += `\n  last: ${JSON.stringify(last)}`;
    throw e;
  }
}

/** Header value from a map of arrays ({name: [v]}), case-insensitive. */
export function mapHeader(map, name) {
  for (const [k, v] of Object.entries(map || {})) {
    if (k.toLowerCase() === name.toLowerCase()) return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

/** A short random id for names that must not collide. */
export const uid = () => Math.random().toString(36).slice(2, 10);

/** Counts calls by key: c.bump('a'); c.get('a'); c.total(). */
export function counter() {
  const m = new Map();
  return {
    bump(k) { m.set(k, (m.get(k) || 0) + 1); },
    get(k) { return m.get(k) || 0; },
    total() { let n = 0; for (const v of m.values()) n += v; return n; },
  };
}
