-- queue_retry.lua - schedules the next attempt of a message that failed:
-- takes its entry off the stream and parks the new envelope in the delayed
-- set, atomically.  If the entry is no longer pending (already acked by a
-- worker that reclaimed it, or a resend of a write that did apply) nothing
-- is written, so a retry is never scheduled twice.
-- KEYS[1] stream, KEYS[2] delayed zset, KEYS[3] payload hash
-- ARGV[1] group, ARGV[2] stream entry id, ARGV[3] msgId, ARGV[4] due_ms,
-- ARGV[5] msgpack envelope (retried already incremented)
-- Reply: 1 when scheduled, 0 when the entry was not pending.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
return 1
