// scale.test.mjs - the short form of scripts/scale-test (ctest label
// `scale`): one Redis (AOF everysec), two coordinators, workers as separate
// processes; the same publish load with 1, 2 and 4 workers, a rolling
// restart of 2 workers and a kill -9 of each coordinator under a steady
// publisher, then a Redis restart under load (with delayed messages and
// pending entries that only the AOF can bring back).  The logic is
// tests/scale/lib/scale.mjs, shared with scripts/scale-test; here with small
// numbers (SHORT), so it also runs under the ASan build.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScale, summary, SHORT } from './lib/scale.mjs';

test('scale (short): throughput with 1/2/4 workers, rolling restart, coordinator kill, Redis restart', { timeout: 300000 }, async () => {
  const res = await runScale(SHORT, (s) => console.log(s));
  console.log(summary(res));
  const failed = res.checks.filter((c) => !c.ok);
  assert.deepEqual(failed.map((c) => `${c.name}: ${c.detail}`), [], `failed checks (logs: ${res.keptLogs})`);
  assert.ok(res.checks.length >= 24, `all phases ran (${res.checks.length} checks)`);
});
