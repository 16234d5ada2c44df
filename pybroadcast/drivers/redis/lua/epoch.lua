#!lua
-- KEYS: epoch. ARGV: a new random token. Sets it if missing; returns the current one.
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
