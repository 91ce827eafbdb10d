-- cb_result.lua - records the outcome of one failure-callback attempt on
-- its DLQ entry, but only while that callback run is still the live one
-- (state CALLBACK_INPROGRESS and the same generation): a cancelled or
-- manually restarted callback makes older jobs stale.
-- KEYS[1] P:{dlq}:entry:<dlqId>, KEYS[2] P:{dlq}:events
-- ARGV[1] dlqId, ARGV[2] gen, ARGV[3] outcome: success|retry|fail,
-- ARGV[4] response status, ARGV[5] response headers JSON, ARGV[6] body,
-- ARGV[7] callbackRetried, ARGV[8] now_ms, ARGV[9] the attempt's error as
-- JSON {"error","body","headers","status","time"} ('' on success): kept in
-- callbackErrors (a JSON list, the last 10) for the logs API
-- Reply: 1 when applied; 2 when this very attempt was applied already (a
-- resend after its reply was lost with the link: callbackRetried and
-- callbackUpdatedAt are ARGV[7] and ARGV[8], which every other write of
-- the same generation changes); 0 when stale (entry gone, state or gen
-- changed).  Applying an attempt twice would count a retry twice and
-- append its error twice.
local cur = redis.call('HMGET', KEYS[1], 'callbackState', 'callbackGen',
                       'callbackRetried', 'callbackUpdatedAt')
if cur[2] and cur[2] == ARGV[2] and cur[3] == ARGV[7] and cur[4] == ARGV[8] then
  return 2
end
if not cur[1] or cur[1] ~= 'CALLBACK_INPROGRESS' or cur[2] ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'callbackResponseStatus', ARGV[4],
           'callbackResponseHeader', ARGV[5], 'callbackResponseBody', ARGV[6],
           'callbackRetried', ARGV[7], 'callbackUpdatedAt', ARGV[8])
if ARGV[9] and ARGV[9] ~= '' then
  local errs = {}
  local prev = redis.call('HGET', KEYS[1], 'callbackErrors')
  if prev then
    local ok, v = pcall(cjson.decode, prev)
    if ok and type(v) == 'table' then errs = v end
  end
  errs[#errs + 1] = cjson.decode(ARGV[9])
  while #errs > 10 do table.remove(errs, 1) end
  redis.call('HSET', KEYS[1], 'callbackErrors', cjson.encode(errs))
end
local state = nil
if ARGV[3] == 'success' then state = 'CALLBACK_SUCCESS'
elseif ARGV[3] == 'fail' then state = 'CALLBACK_FAIL' end
if state then
  redis.call('HSET', KEYS[1], 'callbackState', state)
  redis.call('XADD', KEYS[2], '*', 'dlqId', ARGV[1], 'event', 'callback')
end
return 1
