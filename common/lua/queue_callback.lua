-- queue_callback.lua - Upstash-Callback: a message reached its final
-- outcome (delivered, or failed for good); its entry leaves the stream and
-- the report of that outcome (a new message to the callback URL) enters it,
-- atomically.  If the entry is no longer pending (a resend of a write that
-- did apply, or another worker finished it) nothing is written, so a
-- report is never queued twice.
-- KEYS[1] P:{msg}:stream
-- ARGV[1] group, ARGV[2] stream entry id of the finished message,
-- ARGV[3] report message id, ARGV[4] msgpack envelope of the report
-- Reply: 1 when the report was queued, 0 when the entry was not pending.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[1], '*', 'v', '1', 'id', ARGV[3], 'm', ARGV[4])
return 1
