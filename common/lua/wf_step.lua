-- wf_step.lua - records one step a workflow endpoint published, once, and
-- composes the body of its delivery (coordinator/wf.h).
-- KEYS[1] P:{wf}:run:<runId>, KEYS[2] P:{wf}:steps:<runId>,
-- KEYS[3] P:{wf}:stepidx:<runId>, KEYS[4] P:{wf}:next:<runId>
-- ARGV[1] messageId, ARGV[2] dedup key ("s:<stepId>" or "t:<targetStep>"),
-- ARGV[3] step item (JSON), ARGV[4] next-state JSON, ARGV[5] inline limit
-- (bytes; a longer history is fetched by the SDK: empty body)
-- Reply: {1 new | 2 recorded before, messageId, body, template, createdAt},
-- or {-1} when the run is unknown, {-2, state} when it is not running.
local run = redis.call('HMGET', KEYS[1], 'state', 'tpl', 'createdAt', 'retries')
if not run[1] then return {-1} end
if run[1] ~= 'RUN_STARTED' then return {-2, run[1]} end
local code, id = 1, ARGV[1]
local prev = redis.call('HGET', KEYS[3], ARGV[2])
local idx, size
if prev then
  code, id = 2, prev
  idx = tonumber(redis.call('HGET', KEYS[3], 'm:' .. prev))
end
if not idx then
  idx = redis.call('RPUSH', KEYS[2], ARGV[3]) - 1
  redis.call('HSET', KEYS[3], ARGV[2], id, 'm:' .. id, idx)
  -- the run's history size (items + commas), kept so that a long run's
  -- lazy steps cost O(1) here instead of reading the whole history
  size = redis.call('HINCRBY', KEYS[1], 'histBytes', #ARGV[3] + 1)
  -- the step's retries are the run's (the step message itself has none)
  local nx = cjson.decode(ARGV[4])
  nx.retries = tonumber(run[4]) or nx.retries
  redis.call('HSET', KEYS[4], id, cjson.encode(nx))
end
local limit = tonumber(ARGV[5])
local body = ''
if not size or size + 1 <= limit then
  body = '[' .. table.concat(redis.call('LRANGE', KEYS[2], 0, idx), ',') .. ']'
  if #body > limit then body = '' end
end
return {code, id, body, run[2] or '', run[3] or '0'}
