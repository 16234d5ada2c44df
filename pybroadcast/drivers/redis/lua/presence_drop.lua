-- drop() and tidy(), for leave.lua and prune.lua (keys.py puts them after the shebang line).
-- KEYS as theirs: conns, users, channels, info.
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
