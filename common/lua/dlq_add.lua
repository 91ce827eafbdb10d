-- dlq_add.lua - creates a DLQ entry (and its failure-callback job).
-- Idempotent: the dlqId is derived from the message id, so a worker that
-- redoes this after a crash finds the entry and changes nothing.
-- KEYS[1] P:{dlq}:entry:<dlqId>, KEYS[2] P:{dlq}:events,
-- KEYS[3] P:{dlq}:cb:stream
-- ARGV[1] n = number of entry field/value arguments that follow (even),
-- ARGV[2 .. n+1] the entry's field/value pairs (must include dlqId),
-- ARGV[n+2 ..] optional: the callback job's stream field/value pairs.
-- Reply: 1 when created, 0 when the entry already existed.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local n = tonumber(ARGV[1])
local entry = {}
local dlq_id = ''
for i = 2, n + 1, 2 do
  entry[#entry + 1] = ARGV[i]
  entry[#entry + 1] = ARGV[i + 1]
  if ARGV[i] == 'dlqId' then dlq_id = ARGV[i + 1] end
end
redis.call('HSET', KEYS[1], unpack(entry))
redis.call('XADD', KEYS[2], '*', 'dlqId', dlq_id, 'event', 'created')
if #ARGV > n + 1 then
  local job = {}
  for i = n + 2, #ARGV do job[#job + 1] = ARGV[i] end
  redis.call('XADD', KEYS[3], '*', unpack(job))
end
return 1
