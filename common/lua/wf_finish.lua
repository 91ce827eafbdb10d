-- wf_finish.lua - ends a running workflow run: RUN_STARTED -> RUN_SUCCESS
-- (DELETE /v2/workflows/runs/{id}?cancel=false, the run's result kept as
-- "response") or RUN_CANCELED (?cancel=true, client.cancel).  The
-- in-flight step states go (workers drop every later delivery of a run
-- that is not RUN_STARTED); the run and its steps stay for the logs until
-- the expiry sweep (wf_expire.lua) deletes them at ARGV[4].
-- KEYS[1] P:{wf}:run:<runId>, KEYS[2] P:{wf}:next:<runId>,
-- KEYS[3] P:{wf}:expire, KEYS[4] P:{wf}:running
-- ARGV[1] runId, ARGV[2] new state (RUN_SUCCESS|RUN_CANCELED),
-- ARGV[3] now (ms), ARGV[4] deletion time (ms), ARGV[5] "1" when ARGV[6]
-- is the response to keep, ARGV[6] response
-- Reply: 1 when finished; 0 when the run is unknown; otherwise its current
-- state (a string).
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return 0 end
if st ~= 'RUN_STARTED' then return st end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'completedAt', ARGV[3])
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'response', ARGV[6]) end
redis.call('DEL', KEYS[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
