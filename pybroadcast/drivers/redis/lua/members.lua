#!lua flags=no-writes
-- KEYS: conns [, info]. The users with at least one live connection, each once (reads only);
-- given the info key, each followed by their user_info ("" = none): user, info, user, info ...
local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seen, found = {}, {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  local user = string.sub(member, 1, string.find(member, '\n', 1, true) - 1)
  if not seen[user] then
    seen[user] = true
    table.insert(found, user)
    if KEYS[2] then table.insert(found, redis.call('HGET', KEYS[2], user) or '') end
  end
end
return found
