#!lua
-- drop() and tidy() are the same in leave.lua and prune.lua: each file is the whole script Redis runs.
-- KEYS: conns, users, channels, info. ARGV: member, user, channel. Returns 1 on a leave transition.
local function drop(user)
  if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
    redis.call('HDEL', KEYS[2], user)
    redis.call('HDEL', KEYS[4], user)
    return true
  end
  return false
end
local function tidy(channel)
  if redis.call('ZCARD', KEYS[1]) == 0 then
    redis.call('DEL', KEYS[2], KEYS[4])
    redis.call('SREM', KEYS[3], channel)
  end
end

if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local left = drop(ARGV[2]) and 1 or 0
tidy(ARGV[3])
return left
