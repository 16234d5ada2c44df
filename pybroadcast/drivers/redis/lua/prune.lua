#!lua
-- With presence_drop.lua. KEYS: conns, users, channels, info. ARGV: channel. Removes expired entries; returns the users who left.
local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local left = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  redis.call('ZREM', KEYS[1], member)
  local user = string.sub(member, 1, string.find(member, '\n', 1, true) - 1)
  if drop(user) then table.insert(left, user) end
end
tidy(ARGV[1])
return left
