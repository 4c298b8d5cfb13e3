--[[
  Lease up to ARGV[1] tasks at once: move them from the head of the pending list to the tail of
  this worker's active list, in order. One LMOVE each rather than LPOP and RPUSH, so that what
  Redis writes to its append-only file and sends to replicas is the moves, not the messages.
  KEYS[1] pending list   KEYS[2] this worker's active list
  ARGV[1] how many at most
  Returns: the messages moved, oldest first (possibly none)
]]
local messages = {}
for i = 1, tonumber(ARGV[1]) do
  local message = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not message then
    break
  end
  messages[i] = message
end
return messages
