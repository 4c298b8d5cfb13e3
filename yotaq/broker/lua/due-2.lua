--[[
  The periodic schedules due now, on the Redis clock (a read: nothing changes).
  KEYS[1] next-run sorted set   KEYS[2] schedules hash
  ARGV[1] how many at most
  Returns: {name, due time (ms), record, ...}
]]
--@include now_ms
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
local found = {}
for i = 1, #due, 2 do
  local record = redis.call('HGET', KEYS[2], due[i])
  if record then
    found[#found + 1] = due[i]
    found[#found + 1] = due[i + 1]
    found[#found + 1] = record
  end
end
return found
