-- publish.lua - stores one published message that needs more than a plain
-- XADD: a deduplication id and/or a delivery time in the future.
-- KEYS[1] P:{msg}:stream, KEYS[2] P:{msg}:delayed, KEYS[3] P:{msg}:payload,
-- KEYS[4] P:{msg}:dedup:<id>, or "" when the message has no dedup id
-- ARGV[1] msgId, ARGV[2] msgpack envelope, ARGV[3] due time (ms, 0 = now),
-- ARGV[4] dedup ttl (s)
-- Reply: the message id that holds the message: ARGV[1] when stored, or the
-- id of the earlier message with the same dedup id (nothing stored then).
if KEYS[4] ~= '' then
  local prev = redis.call('GET', KEYS[4])
  if prev then return prev end
  redis.call('SET', KEYS[4], ARGV[1], 'NX', 'EX', tonumber(ARGV[4]))
end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = tonumber(ARGV[3])
if due > now_ms then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[2], due, ARGV[1])
else
  redis.call('XADD', KEYS[1], '*', 'v', '1', 'id', ARGV[1], 'm', ARGV[2])
end
return ARGV[1]
