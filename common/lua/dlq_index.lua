-- dlq_index.lua - brings the DLQ indexes of one entry up to date with the
-- entry hash, then acknowledges the event that asked for it.  Idempotent:
-- it reads the current entry, so events may be replayed in any order.
-- The index keys an entry is in are remembered in the hash
-- P:{dlq}:idxof:<dlqId> (index key -> score) so that a deleted entry can
-- be removed from all of them.
-- KEYS[1] P:{dlq}:entry:<dlqId>, KEYS[2] P:{dlq}:events
-- ARGV[1] dlqId, ARGV[2] index prefix "P:{dlq}:idx:", ARGV[3] event entry id
-- Reply: 1 when the entry was indexed, 0 when it is gone (unindexed).
local id, pre = ARGV[1], ARGV[2]
local idxof = string.sub(pre, 1, -2) .. 'of:' .. id
local old = redis.call('HKEYS', idxof)
local want = {}
if redis.call('EXISTS', KEYS[1]) == 1 then
  local f = redis.call('HMGET', KEYS[1], 'dlqAt', 'callbackState',
                       'failureCallback', 'url', 'label', 'workflowUrl',
                       'workflowRunId', 'createdAt')
  local score = tonumber(f[1] or '') or tonumber(f[8] or '') or 0
  local state = f[2]
  if not state or state == '' then state = 'NONE' end
  want[pre .. 'all'] = score
  want[pre .. 'state:' .. state] = score
  if f[4] and f[4] ~= '' then want[pre .. 'url:' .. f[4]] = score end
  if f[5] and f[5] ~= '' then
    for l in string.gmatch(f[5], '[^,]+') do
      l = string.match(l, '^%s*(.-)%s*$')
      if l ~= '' then want[pre .. 'label:' .. l] = score end
    end
  end
  if f[6] and f[6] ~= '' then want[pre .. 'wfurl:' .. f[6]] = score end
  if f[7] and f[7] ~= '' then want[pre .. 'wfrun:' .. f[7]] = score end
end
for _, k in ipairs(old) do
  if not want[k] then redis.call('ZREM', k, id) end
end
-- The state zsets are cheap to clean explicitly, whatever idxof says.
for _, s in ipairs({'NONE', 'CALLBACK_INPROGRESS', 'CALLBACK_SUCCESS',
                    'CALLBACK_FAIL', 'CALLBACK_CANCELED'}) do
  local k = pre .. 'state:' .. s
  if not want[k] then redis.call('ZREM', k, id) end
end
redis.call('DEL', idxof)
local indexed = 0
for k, score in pairs(want) do
  redis.call('ZADD', k, score, id)
  redis.call('HSET', idxof, k, score)
  indexed = 1
end
if ARGV[3] ~= '' then
  -- events are notifications: once indexed they are dropped, so the
  -- stream stays short.
  redis.call('XACK', KEYS[2], 'indexer', ARGV[3])
  redis.call('XDEL', KEYS[2], ARGV[3])
end
return indexed
