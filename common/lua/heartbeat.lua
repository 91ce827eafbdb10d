-- heartbeat.lua - one worker's heartbeat (worker/heartbeat.h): adds the
-- worker's counts since its last beat to the current minute's bucket and
-- records the worker as alive with its figures; or, on a graceful exit,
-- adds the last counts and removes the worker.  Every key is built by the
-- caller under the {stats} hash tag (one slot).
-- KEYS[1] P:{stats}:workers (zset consumer -> last beat ms)
-- KEYS[2] P:{stats}:worker:<consumer> (hash)
-- KEYS[3] P:{stats}:min:<minuteStartMs> (hash)
-- ARGV[1] now_ms, ARGV[2] consumer, ARGV[3] "beat" or "leave",
-- ARGV[4] TTL of the worker hash (s), ARGV[5] TTL of the minute hash (s),
-- ARGV[6] delivered, ARGV[7] retried, ARGV[8] failed: counts since the
-- last beat Redis confirmed (HINCRBY'd into KEYS[3] when > 0),
-- ARGV[9 ..] beat: field/value pairs of the worker hash.
-- Workers silent for an hour are pruned from KEYS[1].
-- Reply: OK.
local now = tonumber(ARGV[1])
local fields = {'delivered', 'retried', 'failed'}
local added = false
for i, f in ipairs(fields) do
  local n = tonumber(ARGV[5 + i])
  if n and n > 0 then
    redis.call('HINCRBY', KEYS[3], f, n)
    added = true
  end
end
if added then
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
if ARGV[3] == 'leave' then
  redis.call('ZREM', KEYS[1], ARGV[2])
  redis.call('DEL', KEYS[2])
  return redis.status_reply('OK')
end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600000)
if #ARGV >= 10 then
  redis.call('HSET', KEYS[2], unpack(ARGV, 9))
end
redis.call('EXPIRE', KEYS[2], ARGV[4])
return redis.status_reply('OK')
