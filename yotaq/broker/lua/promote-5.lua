--[[
  Move scheduled tasks whose time has come to the tail of the pending list, and say when the
  next scheduled task or periodic tick is due.
  KEYS[1] scheduled sorted set   KEYS[2] scheduled_messages hash   KEYS[3] pending list
  KEYS[4] state hash             KEYS[5] schedule_next sorted set (the periodic schedules' next runs)
  ARGV[1] how many to move at most
  Returns: {how many were moved, ms until the next scheduled task is due or -1 when none is,
  ms until the next periodic tick is due (0 when one is due now) or -1 when there is none}
]]
--@include now_ms
--@include queue
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(due) do
  local message = redis.call('HGET', KEYS[2], id)
  if message then
    push_job({pending = KEYS[3], state = KEYS[4]}, id, message)
    redis.call('HDEL', KEYS[2], id)
  end
  redis.call('ZREM', KEYS[1], id)
end
local function ms_until(sorted_set)
  local first = redis.call('ZRANGE', sorted_set, 0, 0, 'WITHSCORES')
  return first[2] and math.max(0, tonumber(first[2]) - now) or -1
end
return {#due, ms_until(KEYS[1]), ms_until(KEYS[5])}
