-- queue_move_due.lua - moves due messages from a queue's delayed set to its
-- stream.  Atomic, so two workers never both move one message.
-- KEYS[1] delayed zset (msgId -> due ms)
-- KEYS[2] payload hash (msgId -> msgpack envelope)
-- KEYS[3] stream
-- ARGV[1] now_ms, ARGV[2] limit (max ids moved per call)
-- Reply: {moved, next_due_ms} where next_due_ms is the score of the
-- earliest id still waiting, or -1 when the set is empty.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1],
                       'LIMIT', 0, tonumber(ARGV[2]))
local moved = 0
for _, id in ipairs(ids) do
  local env = redis.call('HGET', KEYS[2], id)
  if env then
    redis.call('XADD', KEYS[3], '*', 'v', '1', 'id', id, 'm', env)
    moved = moved + 1
  end
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local next_due = -1
if first[2] then next_due = tonumber(first[2]) end
return {moved, next_due}
