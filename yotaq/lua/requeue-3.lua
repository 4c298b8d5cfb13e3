--[[
  Move dead tasks back to the tail of the pending list, to be run again from scratch.
  KEYS[1] dead hash   KEYS[2] dead reasons hash   KEYS[3] pending list
  ARGV the job ids
  Returns: how many were requeued (ids not found are skipped).
]]
local requeued = 0
for _, id in ipairs(ARGV) do
  local message = redis.call('HGET', KEYS[1], id)
  if message then
    redis.call('RPUSH', KEYS[3], message)
    redis.call('HDEL', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    requeued = requeued + 1
  end
end
return requeued
