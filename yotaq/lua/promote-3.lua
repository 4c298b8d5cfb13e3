--[[
  Move scheduled tasks whose time has come to the tail of the pending list.
  KEYS[1] scheduled sorted set   KEYS[2] scheduled messages hash   KEYS[3] pending list
  ARGV[1] how many to move at most
  Returns: {how many were moved, ms until the next scheduled task is due or -1 when none is}
]]
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(due) do
  local message = redis.call('HGET', KEYS[2], id)
  if message then
    redis.call('RPUSH', KEYS[3], message)
    redis.call('HDEL', KEYS[2], id)
  end
  redis.call('ZREM', KEYS[1], id)
end
local next_due = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if next_due[2] then
  return {#due, math.max(0, tonumber(next_due[2]) - now_ms)}
end
return {#due, -1}
