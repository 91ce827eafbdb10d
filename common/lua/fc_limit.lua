-- fc_limit.lua - the flow-control limiter (design: worker/flow.h).
-- Every key lives in the {msg} slot beside the stream, so that parking a
-- message (XACK + XDEL of its entry, RPUSH on the wait list) and waking one
-- (XADD back to the stream with a slot granted) are each one atomic step.
-- With F = "P:{msg}:fc:" and K a flow-control key:
--   F..'conf:'..K  hash parallelism, rate, period (ms), bucket (ms): the
--                  limits of the latest message of K (0 = no limit)
--   F..'run:'..K   zset msgId:entryId -> lease end (ms): the slots held, one
--                  member per attempt (stream entry), so a late release of
--                  an older attempt cannot free a newer attempt's slot
--   F..'rate:'..K  hash bucket index -> starts (buckets of period/100 ms):
--                  a sliding window, counted conservatively (the oldest
--                  bucket counts whole), so no period ever sees > rate starts
--   F..'wait:'..K  list of parked msgIds, oldest first (FIFO)
--   F..'env:'..K   hash msgId -> envelope of each parked message
--   F..'wake'      zset K -> time (ms) K's wait list may move again
--   F..'parked'    string: messages in all wait lists together (the
--                  operators' figure; +1 per id pushed on a wait list, -1
--                  per id taken off one, never below 0)
-- Times come from Redis (TIME), so every worker shares one clock.
--
-- KEYS[1] P:{msg}:stream (every op; routes the call to the {msg} slot)
-- ARGV[1] op, ARGV[2] F, then per op:
--   acquire  [3] K, [4] msgId, [5] entry id, [6] group, [7] envelope,
--            [8] parallelism, [9] rate, [10] period ms, [11] lease ms
--            -> {1, 0} start now; {0, wake_in_ms} parked (entry acked and
--               deleted); {-1, 0} entry no longer pending: nothing written
--   release  [3] K, [4] msgId, [5] entry id, [6] lease ms
--            -> {promoted, wake_in_ms | -1}
--   renew    [3] K, [4] msgId, [5] entry id, [6] lease ms -> 1
--   tick     [3] lease ms, [4] max keys -> {keys, next_wake_in_ms | -1}
--            (at most PROMOTE_MAX messages woken in all, over every key)
--   info     [3] K -> {0} unknown key, or {1, waiting, parallelismMax,
--            parallelismCount, rateMax, rateCount, period ms,
--            period start ms} (read only)
local op, F = ARGV[1], ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local BUCKETS = 100        -- rate window resolution: period / 100
local PROMOTE_MAX = 500    -- messages woken per call; the rest next tick
local PROMOTED_LEASE = 10  -- a woken message waits in the stream: x lease
local IDLE_TTL_MS = 86400000 -- conf of an idle key is kept a day (info)

local function k(what, key) return F .. what .. ':' .. key end
-- The run-zset member of msgId's attempt from stream entry "entry".
local function slot(id, entry) return id .. ':' .. entry end

-- Starts in the window, per bucket: drops buckets that left it and returns
-- the total and the remaining {bucket, count} in ascending order.
local function rate_window(key, period, bucket, write)
  local h = k('rate', key)
  local first = math.floor((now - period + 1) / bucket)
  local raw = redis.call('HGETALL', h)
  local list, total, old = {}, 0, {}
  for i = 1, #raw, 2 do
    local b, n = tonumber(raw[i]), tonumber(raw[i + 1])
    if b < first then
      old[#old + 1] = raw[i]
    else
      list[#list + 1] = {b, n}
      total = total + n
    end
  end
  if write and #old > 0 then redis.call('HDEL', h, unpack(old)) end
  table.sort(list, function(a, b) return a[1] < b[1] end)
  return total, list
end

-- K's limits and counters, read once per call (expired leases dropped:
-- their holders died).
local function load(key)
  local c = redis.call('HMGET', k('conf', key), 'parallelism', 'rate',
                       'period', 'bucket')
  local s = {key = key, p = tonumber(c[1]) or 0, r = tonumber(c[2]) or 0,
             period = tonumber(c[3]) or 1000, bucket = tonumber(c[4]) or 10}
  redis.call('ZREMRANGEBYSCORE', k('run', key), '-inf', now)
  s.running = redis.call('ZCARD', k('run', key))
  s.rate, s.buckets = 0, {}
  if s.r > 0 then
    s.rate, s.buckets = rate_window(key, s.period, s.bucket, true)
  end
  return s
end

-- true, or false and the earliest time (ms) K might have room again.
local function room(s)
  local wake
  if s.p > 0 and s.running >= s.p then
    local first = redis.call('ZRANGE', k('run', s.key), 0, 0, 'WITHSCORES')
    wake = tonumber(first[2]) or (now + 1000)
  end
  if s.r > 0 and s.rate >= s.r then
    -- the oldest buckets must leave the window until fewer than r remain;
    -- bucket b has left once floor((t - period + 1) / bucket) > b
    local left, w = s.rate, now + s.period
    for _, e in ipairs(s.buckets) do
      left = left - e[2]
      if left < s.r then
        w = (e[1] + 1) * s.bucket + s.period - 1
        break
      end
    end
    if not wake or w > wake then wake = w end
  end
  if wake then return false, wake end
  return true, 0
end

-- Grants msgId a slot until lease_end and counts one start.
local function start(s, id, lease_end)
  redis.call('ZADD', k('run', s.key), lease_end, id)
  s.running = s.running + 1
  if s.r > 0 then
    local b = math.floor(now / s.bucket)
    local h = k('rate', s.key)
    redis.call('HINCRBY', h, b, 1)
    redis.call('PEXPIRE', h, s.period + s.bucket)
    s.rate = s.rate + 1
    local last = s.buckets[#s.buckets]
    if last and last[1] == b then
      last[2] = last[2] + 1
    else
      s.buckets[#s.buckets + 1] = {b, 1}
    end
  end
end

-- "n" ids left the wait lists: the parked count goes down (never below 0,
-- should a wait list have been written by hand).
local function unpark(n)
  if n > 0 and redis.call('DECRBY', F .. 'parked', n) < 0 then
    redis.call('SET', F .. 'parked', 0)
  end
end

-- Moves the head of K's wait list back to the stream while K has room,
-- each with its slot granted to its new entry, at most "max" of them.
-- Returns the number moved and the wake time (nil when the wait list is
-- empty).
local function promote(s, stream, lease_ms, max)
  local wait, envh = k('wait', s.key), k('env', s.key)
  local moved, popped, wake = 0, 0, nil
  while redis.call('LLEN', wait) > 0 do
    if moved >= max then
      wake = now
      break
    end
    local ok, w = room(s)
    if not ok then
      wake = w
      break
    end
    local id = redis.call('LPOP', wait)
    popped = popped + 1
    local env = redis.call('HGET', envh, id)
    if env then
      redis.call('HDEL', envh, id)
      local e = redis.call('XADD', stream, '*', 'v', '1', 'id', id, 'm', env)
      start(s, slot(id, e), now + lease_ms * PROMOTED_LEASE)
      moved = moved + 1
    end
  end
  unpark(popped)
  return moved, wake
end

-- Files K under its wake time while messages wait; an idle key's conf
-- expires after a day, a busy one's never.
local function finish(s, wake)
  if redis.call('LLEN', k('wait', s.key)) > 0 then
    redis.call('ZADD', F .. 'wake', wake or (now + 1000), s.key)
    redis.call('PERSIST', k('conf', s.key))
  else
    redis.call('ZREM', F .. 'wake', s.key)
    if s.running == 0 then
      redis.call('PEXPIRE', k('conf', s.key), IDLE_TTL_MS)
    else
      redis.call('PERSIST', k('conf', s.key))
    end
  end
end

local stream = KEYS[1]

if op == 'acquire' then
  local key, id, entry, group, env = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  local p, r = tonumber(ARGV[8]), tonumber(ARGV[9])
  local period, lease = tonumber(ARGV[10]), tonumber(ARGV[11])
  -- First of all: is the entry still ours to start?  A resent acquire
  -- (its reply lost on a link drop) of an entry parked meanwhile must not
  -- start it, nor wake anything (promote() could wake this very message
  -- as another entry, which would then be delivered too).
  if #redis.call('XPENDING', stream, group, entry, entry, 1) == 0 then
    return {-1, 0}
  end
  if period <= 0 then period = 1000 end
  local bucket = math.max(1, math.ceil(period / BUCKETS))
  local ch = k('conf', key)
  if tonumber(redis.call('HGET', ch, 'bucket')) ~= bucket then
    redis.call('DEL', k('rate', key)) -- new period: old buckets are moot
  end
  redis.call('HSET', ch, 'parallelism', p, 'rate', r, 'period', period,
             'bucket', bucket)
  local s = load(key)
  local mine = slot(id, entry)
  if redis.call('ZSCORE', k('run', key), mine) then
    -- its slot was granted when it was woken (or this is a redelivery of
    -- an entry whose holder died): go, on a fresh lease
    redis.call('ZADD', k('run', key), now + lease, mine)
    return {1, 0}
  end
  local _, wake = promote(s, stream, lease, PROMOTE_MAX) -- older first
  if redis.call('LLEN', k('wait', key)) == 0 then
    local ok, w = room(s)
    if ok then
      start(s, mine, now + lease)
      finish(s, nil)
      return {1, 0}
    end
    wake = w
  end
  redis.call('XACK', stream, group, entry) -- pending: checked above
  redis.call('XDEL', stream, entry)
  if redis.call('HSETNX', k('env', key), id, env) == 1 then
    redis.call('RPUSH', k('wait', key), id)
    redis.call('INCR', F .. 'parked')
  end
  wake = wake or now
  finish(s, wake)
  return {0, math.max(0, wake - now)}
elseif op == 'release' then
  local key, lease = ARGV[3], tonumber(ARGV[6])
  redis.call('ZREM', k('run', key), slot(ARGV[4], ARGV[5]))
  local s = load(key)
  local moved, wake = promote(s, stream, lease, PROMOTE_MAX)
  finish(s, wake)
  return {moved, wake and math.max(0, wake - now) or -1}
elseif op == 'renew' then
  -- ZADD even if the lease ran out meanwhile (Redis was away): the
  -- delivery still runs, so it counts again.
  redis.call('ZADD', k('run', ARGV[3]), now + tonumber(ARGV[6]),
             slot(ARGV[4], ARGV[5]))
  return 1
elseif op == 'tick' then
  local lease, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
  local due = redis.call('ZRANGEBYSCORE', F .. 'wake', '-inf', now,
                         'LIMIT', 0, limit)
  -- One budget for the whole call, not per key: a call stays short
  -- however many keys are due; the rest stay due for the next tick.
  local budget, done = PROMOTE_MAX, 0
  for _, key in ipairs(due) do
    if budget <= 0 then break end
    local s = load(key)
    local moved, wake = promote(s, stream, lease, budget)
    budget = budget - moved
    finish(s, wake)
    done = done + 1
  end
  local first = redis.call('ZRANGE', F .. 'wake', 0, 0, 'WITHSCORES')
  local nxt = -1
  if first[2] then nxt = math.max(0, tonumber(first[2]) - now) end
  return {done, nxt}
elseif op == 'info' then
  local key = ARGV[3]
  local c = redis.call('HMGET', k('conf', key), 'parallelism', 'rate',
                       'period', 'bucket')
  local waiting = redis.call('LLEN', k('wait', key))
  local running = redis.call('ZCOUNT', k('run', key), '(' .. now, '+inf')
  if not c[1] and waiting == 0 and running == 0 then return {0} end
  local p, r = tonumber(c[1]) or 0, tonumber(c[2]) or 0
  local period, bucket = tonumber(c[3]) or 1000, tonumber(c[4]) or 10
  local count, list = 0, {}
  if r > 0 then count, list = rate_window(key, period, bucket, false) end
  local since = now
  if list[1] then since = list[1][1] * bucket end
  return {1, waiting, p, running, r, count, period, since}
end
return redis.error_reply('fc_limit: unknown op ' .. tostring(op))
