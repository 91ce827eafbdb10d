-- wf_init.lua - creates a workflow run and records its initial payload as
-- step 0 (coordinator/wf.h).  A run id seen before creates nothing.
-- KEYS[1] P:{wf}:run:<runId>, KEYS[2] P:{wf}:steps:<runId>,
-- KEYS[3] P:{wf}:stepidx:<runId>, KEYS[4] P:{wf}:runs, KEYS[5] P:{wf}:running
-- ARGV[1] runId, ARGV[2] workflow URL, ARGV[3] createdAt (ms),
-- ARGV[4] messageId of the init delivery, ARGV[5] step 0 item (JSON),
-- ARGV[6] template (msgpack), ARGV[7] label, ARGV[8] callerIP,
-- ARGV[9] failureUrl, ARGV[10] retries, ARGV[11] retryDelay,
-- ARGV[12] flowControlKey, ARGV[13] flowControlValue, ARGV[14] schema
-- Reply: {1, messageId} when created; {0, messageId of the first init,
-- createdAt, again, step 0 item} when the run existed: again = 1 when the
-- run never got past step 0 (its first delivery may not have been stored:
-- a publish cut by a Redis outage), so the caller stores it again under the
-- first init's id, which the dedup key makes a no-op when it was stored.
local prev = redis.call('HMGET', KEYS[1], 'initMessageId', 'createdAt', 'state')
if prev[1] or prev[2] then
  local again = 0
  if prev[3] == 'RUN_STARTED' and redis.call('LLEN', KEYS[2]) == 1 then again = 1 end
  return {0, prev[1] or '', prev[2] or '0', again,
          redis.call('LINDEX', KEYS[2], 0) or ''}
end
local f = {'v', ARGV[14], 'workflowRunId', ARGV[1], 'workflowUrl', ARGV[2],
           'state', 'RUN_STARTED', 'createdAt', ARGV[3],
           'histBytes', #ARGV[5] + 1,
           'initMessageId', ARGV[4], 'tpl', ARGV[6], 'retries', ARGV[10]}
local opt = {label = ARGV[7], callerIP = ARGV[8], failureUrl = ARGV[9],
             retryDelay = ARGV[11], flowControlKey = ARGV[12],
             flowControlValue = ARGV[13]}
for k, v in pairs(opt) do
  if v ~= '' then f[#f + 1] = k; f[#f + 1] = v end
end
redis.call('HSET', KEYS[1], unpack(f))
redis.call('RPUSH', KEYS[2], ARGV[5])
redis.call('HSET', KEYS[3], 'm:' .. ARGV[4], 0)
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
return {1, ARGV[4]}
