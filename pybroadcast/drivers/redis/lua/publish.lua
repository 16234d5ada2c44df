#!lua
-- KEYS: position, stream, generation. ARGV: topic, event (JSON array of the published fields),
-- history_size, history_ttl ms, position ttl ms, a new random epoch. Gives the message the next
-- offset, records it and publishes it with [..., offset, epoch] appended, in one step; returns the
-- offset. A channel without a position starts a new epoch (and drops a stream left from the old
-- one, e.g. when the position alone was evicted); a data set without a generation gets one.
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  redis.call('SET', KEYS[3], ARGV[6], 'NX')
  epoch = ARGV[6]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0)
end
local offset = redis.call('HINCRBY', KEYS[1], 'top', 1)
local event = string.sub(ARGV[2], 1, -2) .. ',' .. offset .. ',"' .. epoch .. '"]'
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], offset .. '-0', 'e', event)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[1], event)
return offset
