-- wf_rerun.lua - a new run from a failed one (DLQ resume / restart): copies
-- the recorded steps (resume) or step 0 only (restart), re-records the
-- steps to deliver again under new messageIds (the failed delivery's, and
-- on resume the plan steps of parallel branches that never reported), and
-- composes their bodies: the steps up to each (coordinator/wf.h).
-- KEYS[1..3] old run / steps / stepidx, KEYS[4..6] new run / steps /
-- stepidx, KEYS[7] P:{wf}:runs, KEYS[8] P:{wf}:running
-- ARGV[1] new runId, ARGV[2] failed messageId ('' = restart), ARGV[3] now
-- (ms), ARGV[4] new messageId, ARGV[5] new template (msgpack),
-- ARGV[6] retries, ARGV[7] flowControlKey, ARGV[8] flowControlValue,
-- ARGV[9] inline limit
-- Reply: {1, messageId, body, messageId, body, ...} in step order, or {-1}
-- when the old run's steps are gone.
-- Redis Lua's unpack() takes a few thousand values: long lists go in chunks
local function chunked(cmd, key, list)
  for i = 1, #list, 1000 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list)))
  end
end
local n = redis.call('LLEN', KEYS[2])
if n == 0 or redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local last = 0
if ARGV[2] ~= '' then
  last = tonumber(redis.call('HGET', KEYS[3], 'm:' .. ARGV[2]) or (n - 1))
end
-- resume keeps every recorded step (a parallel sibling may have finished
-- after the failed branch); restart keeps step 0 only
local items = redis.call('LRANGE', KEYS[2], 0, ARGV[2] == '' and 0 or -1)
local idx = redis.call('HGETALL', KEYS[3])
local pos, has = {}, {}
for i = 1, #idx, 2 do
  local k = idx[i]
  if string.sub(k, 1, 2) == 'm:' then
    pos[string.sub(k, 3)] = tonumber(idx[i + 1])
  else
    has[k] = idx[i + 1]
  end
end
-- Deliveries of the new run: the failed one, and (resume) every plan step
-- of a parallel group whose branch never reported a result (it was still
-- running when the run failed).  Each gets a new messageId, written into
-- its item.  rename: old messageId -> new; deliver: positions, in order.
local rename, deliver = {}, {}
local function redeliver(old, at, new)
  rename[old] = new
  deliver[#deliver + 1] = at
  items[at + 1] = '{"messageId":"' .. new .. '"' ..
                  string.sub(items[at + 1], #old + 16)
end
local failed_old = string.match(items[last + 1], '^{"messageId":"([^"]*)"')
if failed_old then redeliver(failed_old, last, ARGV[4]) end
if ARGV[2] ~= '' then
  for k, v in pairs(has) do
    if string.sub(k, 1, 2) == 't:' and not rename[v] and pos[v] and
       pos[v] < #items and not has['s:' .. string.sub(k, 3)] then
      redeliver(v, pos[v], ARGV[4] .. '_' .. string.sub(k, 3))
    end
  end
end
chunked('RPUSH', KEYS[5], items)
-- dedup keys and positions of the copied steps, under their new ids
local f = {}
for id, p in pairs(pos) do
  if p < #items then f[#f + 1] = 'm:' .. (rename[id] or id); f[#f + 1] = p end
end
if failed_old and not pos[failed_old] then
  f[#f + 1] = 'm:' .. ARGV[4]; f[#f + 1] = last
end
for k, v in pairs(has) do
  if pos[v] and pos[v] < #items then
    f[#f + 1] = k; f[#f + 1] = rename[v] or v
  end
end
chunked('HSET', KEYS[6], f)
local old = redis.call('HGETALL', KEYS[1])
local hist = 0
for _, it in ipairs(items) do hist = hist + #it + 1 end
local skip = {state = 1, completedAt = 1, dlqId = 1, response = 1, histBytes = 1,
              failedAt = 1, workflowRunId = 1, createdAt = 1, tpl = 1,
              initMessageId = 1, retries = 1, flowControlKey = 1,
              flowControlValue = 1}
local nf = {'workflowRunId', ARGV[1], 'state', 'RUN_STARTED', 'createdAt',
            ARGV[3], 'tpl', ARGV[5], 'initMessageId', ARGV[4],
            'retries', ARGV[6], 'histBytes', hist}
for i = 1, #old, 2 do
  if not skip[old[i]] then nf[#nf + 1] = old[i]; nf[#nf + 1] = old[i + 1] end
end
if ARGV[7] ~= '' then
  nf[#nf + 1] = 'flowControlKey'; nf[#nf + 1] = ARGV[7]
  nf[#nf + 1] = 'flowControlValue'; nf[#nf + 1] = ARGV[8]
end
redis.call('HSET', KEYS[4], unpack(nf))
redis.call('ZADD', KEYS[7], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[8], ARGV[3], ARGV[1])
-- reply: each delivery's id and body (the steps up to it)
local reply = {1}
table.sort(deliver)
for _, at in ipairs(deliver) do
  local body = '[' .. table.concat(items, ',', 1, at + 1) .. ']'
  if #body > tonumber(ARGV[9]) then body = '' end
  reply[#reply + 1] = string.match(items[at + 1], '^{"messageId":"([^"]*)"')
  reply[#reply + 1] = body
end
return reply
