-- queue_handback.lua - a draining worker gives back entries it could not
-- finish: each still-pending entry is copied to the end of the stream (same
-- fields, so retried is unchanged), acked and deleted.  Entries no longer
-- pending (another worker acked them) are only deleted.
-- KEYS[1] stream
-- ARGV[1] group, ARGV[2..] stream entry ids
-- Reply: number of entries handed back.
local n = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local rows = redis.call('XRANGE', KEYS[1], id, id)
  if redis.call('XACK', KEYS[1], ARGV[1], id) == 1 and rows[1] then
    redis.call('XADD', KEYS[1], '*', unpack(rows[1][2]))
    n = n + 1
  end
  redis.call('XDEL', KEYS[1], id)
end
return n
