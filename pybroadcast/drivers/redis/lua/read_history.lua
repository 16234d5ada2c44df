#!lua flags=no-writes
-- KEYS: position, stream, generation. ARGV: after ("" = the newest), limit.
-- Returns {epoch, top, now, event...}: the events after offset `after` (the oldest `limit`), or
-- the newest `limit`, oldest first; `now` is the placeholder position "~<generation>:<ms>"
-- (history.placeholder), which is also the epoch of a channel without a position. Writes
-- nothing (clients can make the hub read any channel name).
local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local current = '~' .. (redis.call('GET', KEYS[3]) or '') .. ':' .. string.format('%d', now)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then return {current, '0', current} end
local found = {epoch, redis.call('HGET', KEYS[1], 'top'), current}
local limit = tonumber(ARGV[2])
if limit > 0 then
  local entries
  if ARGV[1] == '' then
    entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', limit)
    for i = #entries, 1, -1 do table.insert(found, entries[i][2][2]) end
  else
    entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[1] .. '-0', '+', 'COUNT', limit)
    for _, entry in ipairs(entries) do table.insert(found, entry[2][2]) end
  end
end
return found
