-- cb_cancel.lua - cancels a failure callback that is still running: the
-- entry goes to CALLBACK_CANCELED and its generation is bumped, so workers
-- drop the live job (cb_result.lua and the worker check the generation).
-- KEYS[1] P:{dlq}:entry:<dlqId>, KEYS[2] P:{dlq}:events
-- ARGV[1] dlqId, ARGV[2] now (ms)
-- Reply: 1 when cancelled; 0 when the entry does not exist; otherwise the
-- current state as a string ("NONE" without callback).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local st = redis.call('HGET', KEYS[1], 'callbackState')
if not st or st == '' then return 'NONE' end
if st ~= 'CALLBACK_INPROGRESS' then return st end
redis.call('HSET', KEYS[1], 'callbackState', 'CALLBACK_CANCELED',
           'callbackUpdatedAt', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'callbackGen', 1)
redis.call('XADD', KEYS[2], '*', 'dlqId', ARGV[1], 'event', 'callback')
return 1
