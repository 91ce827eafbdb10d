-- wf_expire.lua - the workflow runs' expiry sweep, one bounded batch.
-- Failed runs are noted by the workers in P:{wf}:failed (runId -> time the
-- run failed, ms); they are scheduled here for deletion a retention later.
-- Then every run whose deletion time in P:{wf}:expire has come loses its
-- keys (run hash, steps, step index, next states) and leaves the run sets.
-- A run found RUN_STARTED is left alone (only its expire entry goes), so a
-- stray entry can never delete a live run.  Idempotent: any number of
-- coordinators may run it at any time.
-- KEYS[1] P:{wf}:expire, KEYS[2] P:{wf}:failed, KEYS[3] P:{wf}:runs
-- ARGV[1] now (ms), ARGV[2] retention (ms), ARGV[3] batch size,
-- ARGV[4] key prefix "P:{wf}:" (run keys are <prefix><what>:<runId>)
-- Reply: {runs scheduled from failed, runs deleted}
local now, keep, lim, pre = tonumber(ARGV[1]), tonumber(ARGV[2]),
                            tonumber(ARGV[3]), ARGV[4]
local moved = 0
local failed = redis.call('ZRANGE', KEYS[2], 0, lim - 1, 'WITHSCORES')
for i = 1, #failed, 2 do
  redis.call('ZADD', KEYS[1], tonumber(failed[i + 1]) + keep, failed[i])
  redis.call('ZREM', KEYS[2], failed[i])
  moved = moved + 1
end
local deleted = 0
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, lim)
for _, id in ipairs(due) do
  if redis.call('HGET', pre .. 'run:' .. id, 'state') ~= 'RUN_STARTED' then
    redis.call('DEL', pre .. 'run:' .. id, pre .. 'steps:' .. id,
               pre .. 'stepidx:' .. id, pre .. 'next:' .. id)
    redis.call('ZREM', KEYS[3], id)
    deleted = deleted + 1
  end
  redis.call('ZREM', KEYS[1], id)
end
return {moved, deleted}
