-- wf_fail.lua - a step of a workflow run failed for good (its DLQ entry is
-- written): the run goes RUN_STARTED -> RUN_FAILED with the DLQ id and the
-- time.  Its steps are kept (a DLQ resume needs them).  The worker does not
-- know the retention, so the run is put in P:{wf}:failed (runId -> failedAt
-- ms); the coordinator's expiry sweep moves it to P:{wf}:expire with the
-- retention added.  Idempotent: a run that is not RUN_STARTED is left as
-- it is (cancelled or finished meanwhile, or a resend that did apply).
-- KEYS[1] P:{wf}:run:<runId>, KEYS[2] P:{wf}:failed, KEYS[3] P:{wf}:running
-- ARGV[1] runId, ARGV[2] dlqId, ARGV[3] now (ms)
-- Reply: 1 when the run was marked failed, 0 otherwise.
if redis.call('HGET', KEYS[1], 'state') ~= 'RUN_STARTED' then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'RUN_FAILED', 'dlqId', ARGV[2],
           'completedAt', ARGV[3], 'failedAt', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
