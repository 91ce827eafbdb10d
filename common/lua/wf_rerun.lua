-- wf_rerun.lua - a new run from a failed one (DLQ resume / restart): copies
-- the recorded steps (resume) or step 0 only (restart), re-recording the
-- failed delivery's step under the new delivery's messageId, and composes
-- that delivery's body: the steps up to it (coordinator/wf.h).
-- KEYS[1..3] old run / steps / stepidx, KEYS[4..6] new run / steps /
-- stepidx, KEYS[7] P:{wf}:runs
-- ARGV[1] new runId, ARGV[2] failed messageId ('' = restart), ARGV[3] now
-- (ms), ARGV[4] new messageId, ARGV[5] new template (msgpack),
-- ARGV[6] retries, ARGV[7] flowControlKey, ARGV[8] flowControlValue,
-- ARGV[9] inline limit
-- Reply: {1, body} or {-1} when the old run's steps are gone.
local n = redis.call('LLEN', KEYS[2])
if n == 0 or redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local last = 0
if ARGV[2] ~= '' then
  last = tonumber(redis.call('HGET', KEYS[3], 'm:' .. ARGV[2]) or (n - 1))
end
-- resume keeps every recorded step (a parallel sibling may have finished
-- after the failed branch); restart keeps step 0 only
local items = redis.call('LRANGE', KEYS[2], 0, ARGV[2] == '' and 0 or -1)
local at = last + 1
-- the item's messageId is the first member the coordinator wrote
local old_id = string.match(items[at], '^{"messageId":"([^"]*)"')
if old_id then
  items[at] = '{"messageId":"' .. ARGV[4] .. '"' ..
              string.sub(items[at], #old_id + 16)
end
redis.call('RPUSH', KEYS[5], unpack(items))
-- step dedup keys and positions of the copied steps
local idx = redis.call('HGETALL', KEYS[3])
local pos = {}
for i = 1, #idx, 2 do
  if string.sub(idx[i], 1, 2) == 'm:' then
    pos[string.sub(idx[i], 3)] = tonumber(idx[i + 1])
  end
end
local f = {'m:' .. ARGV[4], last}
for id, p in pairs(pos) do
  if p < #items and p ~= last then f[#f + 1] = 'm:' .. id; f[#f + 1] = p end
end
for i = 1, #idx, 2 do
  local k, v = idx[i], idx[i + 1]
  if string.sub(k, 1, 2) ~= 'm:' and pos[v] and pos[v] < #items then
    f[#f + 1] = k
    f[#f + 1] = pos[v] == last and ARGV[4] or v
  end
end
redis.call('HSET', KEYS[6], unpack(f))
local old = redis.call('HGETALL', KEYS[1])
local skip = {state = 1, completedAt = 1, dlqId = 1, response = 1,
              failedAt = 1, workflowRunId = 1, createdAt = 1, tpl = 1,
              initMessageId = 1, retries = 1, flowControlKey = 1,
              flowControlValue = 1}
local nf = {'workflowRunId', ARGV[1], 'state', 'RUN_STARTED', 'createdAt',
            ARGV[3], 'tpl', ARGV[5], 'initMessageId', ARGV[4],
            'retries', ARGV[6]}
for i = 1, #old, 2 do
  if not skip[old[i]] then nf[#nf + 1] = old[i]; nf[#nf + 1] = old[i + 1] end
end
if ARGV[7] ~= '' then
  nf[#nf + 1] = 'flowControlKey'; nf[#nf + 1] = ARGV[7]
  nf[#nf + 1] = 'flowControlValue'; nf[#nf + 1] = ARGV[8]
end
redis.call('HSET', KEYS[4], unpack(nf))
redis.call('ZADD', KEYS[7], ARGV[3], ARGV[1])
local body = '[' .. table.concat(items, ',', 1, at) .. ']'
if #body > tonumber(ARGV[9]) then body = '' end
return {1, body}
