-- keys_rotate.lua - POST /v2/keys/rotate: the next signing key becomes
-- the current one and a new key becomes the next, atomically (two
-- coordinators rotating at once rotate twice, never lose a key).
-- KEYS[1] P:signing-keys (hash current, next)
-- ARGV[1] the new next key, ARGV[2] a new current key, used only when
-- there is no next key yet
-- Reply: {current, next} after the rotation.
local cur = redis.call('HGET', KEYS[1], 'next')
if not cur or cur == '' then cur = ARGV[2] end
redis.call('HSET', KEYS[1], 'current', cur, 'next', ARGV[1])
return {cur, ARGV[1]}
