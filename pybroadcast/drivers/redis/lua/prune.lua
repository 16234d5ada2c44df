#!lua
-- drop() and tidy() are the same in leave.lua and prune.lua: each file is the whole script Redis runs.
-- KEYS: conns, users, channels, info. ARGV: channel. Removes expired entries; returns the users who left.
local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
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

local left = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  redis.call('ZREM', KEYS[1], member)
  local user = string.sub(member, 1, string.find(member, '\n', 1, true) - 1)
  if drop(user) then table.insert(left, user) end
end
tidy(ARGV[1])
return left
