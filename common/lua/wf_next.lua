-- wf_next.lua - the state of one in-flight delivery of a workflow run, for
-- the logs API: after a failed attempt the entry of that message in
-- P:{wf}:next:<runId> becomes STEP_RETRY (more attempts follow) or
-- STEP_FAILED (none do), with the attempt's error appended (the last 10
-- are kept).  The coordinator wrote the entry (STEP_PROGRESS) when it
-- published the message; a missing one is created only while the run is
-- RUN_STARTED, so a finished run's deleted hash is not brought back.
-- Successful and dropped deliveries are removed with a plain HDEL.
-- KEYS[1] P:{wf}:next:<runId>, KEYS[2] P:{wf}:run:<runId>
-- ARGV[1] messageId, ARGV[2] state (STEP_RETRY|STEP_FAILED),
-- ARGV[3] the error as JSON {"error","body","headers","status","time"},
-- ARGV[4] max retries, ARGV[5] now (ms), ARGV[6] the name of the step that
-- failed (serve()'s Upstash-Error-Step-Name answer header; '' = unknown)
-- Reply: 1 when written, 0 when the run is not running (nothing written).
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local e = nil
if cur then
  local ok, v = pcall(cjson.decode, cur)
  if ok and type(v) == 'table' then e = v end
end
if not e then
  if redis.call('HGET', KEYS[2], 'state') ~= 'RUN_STARTED' then return 0 end
  e = {messageId = ARGV[1], retries = tonumber(ARGV[4]),
       createdAt = tonumber(ARGV[5])}
end
local errs = e.errors
if type(errs) ~= 'table' then errs = {} end
errs[#errs + 1] = cjson.decode(ARGV[3])
while #errs > 10 do table.remove(errs, 1) end
e.errors = errs
e.state = ARGV[2]
if ARGV[6] and ARGV[6] ~= '' then e.stepName = ARGV[6] end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
return 1
