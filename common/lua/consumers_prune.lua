-- consumers_prune.lua - removes the consumers of a group that hold no
-- pending entry: ARGV[2] (a worker leaving after its drain) and any idle for
-- at least ARGV[3] ms (workers that are gone: every pod of a rolling restart
-- is a new consumer, and without this the group keeps them all).  A
-- consumer with pending entries is never removed: XGROUP DELCONSUMER would
-- take its entries off the pending list, and no reclaim would find them.
-- "idle" is what XINFO CONSUMERS reports: before Redis 7.2 the time since
-- the consumer last got entries (an empty read does not reset it), from 7.2
-- the time since its last read attempt.  So on Redis 7.0 a live worker on a
-- queue without traffic for an hour can be removed too: harmless, it holds
-- nothing, and its next read that returns entries creates it again.
-- KEYS[1] stream
-- ARGV[1] group, ARGV[2] consumer leaving ("" for none), ARGV[3] idle ms
-- Reply: number of consumers removed.
local ok, rows = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then
  return 0 -- no stream or no group yet
end
local idle_min = tonumber(ARGV[3])
local n = 0
for _, row in ipairs(rows) do
  local f = {}
  for i = 1, #row, 2 do
    f[row[i]] = row[i + 1]
  end
  if f.pending == 0 and (f.name == ARGV[2] or f.idle >= idle_min) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f.name)
    n = n + 1
  end
end
return n
