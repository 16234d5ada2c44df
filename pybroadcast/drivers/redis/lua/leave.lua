#!lua
-- With presence_drop.lua. KEYS: conns, users, channels, info. ARGV: member, user, channel. Returns 1 on a leave transition.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local left = drop(ARGV[2]) and 1 or 0
tidy(ARGV[3])
return left
