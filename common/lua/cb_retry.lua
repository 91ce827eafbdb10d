-- cb_retry.lua - restarts the failure callback of a DLQ entry whose
-- callback failed for good: a fresh job (new id, retried 0, generation + 1)
-- goes onto the callback stream and the entry says CALLBACK_INPROGRESS.
-- The previous run's last response and attempt errors are cleared, so the
-- entry (and the logs API) shows only the new run's from now on.
-- KEYS[1] P:{dlq}:entry:<dlqId>, KEYS[2] P:{dlq}:events,
-- KEYS[3] P:{dlq}:cb:stream
-- ARGV[1] dlqId, ARGV[2] expected current callbackGen, ARGV[3] new gen,
-- ARGV[4] msgpack envelope of the job, ARGV[5] job id, ARGV[6] now (ms)
-- Reply: 1 when restarted; 0 when the entry does not exist; otherwise a
-- status string: the current state when it is not CALLBACK_FAIL (or
-- "NONE" without callback), "STALE" when the generation moved meanwhile.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = redis.call('HMGET', KEYS[1], 'callbackState', 'callbackGen')
if not cur[1] or cur[1] == '' then return 'NONE' end
if cur[1] ~= 'CALLBACK_FAIL' then return cur[1] end
if (cur[2] or '0') ~= ARGV[2] then return 'STALE' end
redis.call('HSET', KEYS[1], 'callbackState', 'CALLBACK_INPROGRESS',
           'callbackGen', ARGV[3], 'callbackMessageId', ARGV[5],
           'callbackRetried', '0', 'callbackUpdatedAt', ARGV[6])
redis.call('HDEL', KEYS[1], 'callbackErrors', 'callbackResponseStatus',
           'callbackResponseHeader', 'callbackResponseBody')
redis.call('XADD', KEYS[3], '*', 'v', '1', 'id', ARGV[5], 'm', ARGV[4],
           'dlq', ARGV[1])
redis.call('XADD', KEYS[2], '*', 'dlqId', ARGV[1], 'event', 'callback')
return 1
