-- wf_log.lua - what the logs API shows of one run, read at one instant:
-- its result, its recorded steps and the states of its deliveries still
-- in flight (coordinator/wf_logs.c).  Read-only.
-- KEYS[1] P:{wf}:run:<runId>, KEYS[2] P:{wf}:steps:<runId>,
-- KEYS[3] P:{wf}:next:<runId>
-- ARGV[1] "steps" for the steps only (serve()'s lazy fetch: no response,
-- no next states, which are read for nothing then)
-- Reply: {state or false, response or false, {step items}, {next values}}
if ARGV[1] == 'steps' then
  return {redis.call('HGET', KEYS[1], 'state'), false,
          redis.call('LRANGE', KEYS[2], 0, -1), {}}
end
local run = redis.call('HMGET', KEYS[1], 'state', 'response')
return {run[1], run[2], redis.call('LRANGE', KEYS[2], 0, -1),
        redis.call('HVALS', KEYS[3])}
