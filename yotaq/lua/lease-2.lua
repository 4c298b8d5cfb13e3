--[[
  Lease up to ARGV[1] tasks at once: move them from the head of the pending list to the tail of
  this worker's active list, in order.
  KEYS[1] pending list   KEYS[2] this worker's active list
  ARGV[1] how many at most
  Returns: the messages moved, oldest first (possibly none)
]]
local messages = redis.call('LPOP', KEYS[1], tonumber(ARGV[1]))
if not messages then
  return {}
end
redis.call('RPUSH', KEYS[2], unpack(messages))
return messages
