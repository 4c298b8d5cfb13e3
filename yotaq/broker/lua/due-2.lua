--[[
  The periodic schedules due now, on the Redis clock (a read: nothing changes).
  KEYS[1] schedule_next sorted set   KEYS[2] schedules hash
  ARGV[1] how many at most
  Returns: {name, due time (ms), record, ...}
]]
--@include now_ms
--@include scored
return scored(KEYS[1], KEYS[2], '-inf', now_ms(), tonumber(ARGV[1]))
