-- dlq_delete.lua - deletes one DLQ entry and removes it from every index
-- (the ones recorded in P:{dlq}:idxof:<dlqId>, plus idx:all), so a listing
-- never shows it again even before the indexer sees the event.
-- KEYS[1] P:{dlq}:entry:<dlqId>, KEYS[2] P:{dlq}:events
-- ARGV[1] dlqId, ARGV[2] index prefix "P:{dlq}:idx:"
-- Reply: 1 when the entry existed, 0 otherwise.
local id, pre = ARGV[1], ARGV[2]
local idxof = string.sub(pre, 1, -2) .. 'of:' .. id
for _, k in ipairs(redis.call('HKEYS', idxof)) do
  redis.call('ZREM', k, id)
end
redis.call('ZREM', pre .. 'all', id)
redis.call('DEL', idxof)
local existed = redis.call('DEL', KEYS[1])
if existed == 1 then
  redis.call('XADD', KEYS[2], '*', 'dlqId', id, 'event', 'deleted')
end
return existed
