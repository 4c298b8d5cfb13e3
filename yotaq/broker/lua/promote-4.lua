--[[
  Move scheduled tasks whose time has come to the tail of the pending list.
  KEYS[1] scheduled sorted set   KEYS[2] scheduled messages hash   KEYS[3] pending list
  KEYS[4] state hash
  ARGV[1] how many to move at most
  Returns: {how many were moved, ms until the next scheduled task is due or -1 when none is}
]]
--@include now_ms
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(due) do
  local message = redis.call('HGET', KEYS[2], id)
  if message then
    redis.call('RPUSH', KEYS[3], message)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HSET', KEYS[4], id, 'pending')
  end
  redis.call('ZREM', KEYS[1], id)
end
local next_due = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if next_due[2] then
  return {#due, math.max(0, tonumber(next_due[2]) - now)}
end
return {#due, -1}
