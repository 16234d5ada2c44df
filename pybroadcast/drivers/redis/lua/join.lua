#!lua
-- KEYS: conns, users, channels, info. ARGV: member, user, lifetime ms, channel, user_info ("" = none).
-- Returns 1 on a join transition. The latest user_info given wins.
local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[3], ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[4], ARGV[2], ARGV[5]) end
if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then return 1 end
return 0
