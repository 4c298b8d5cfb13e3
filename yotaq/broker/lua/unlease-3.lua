--[[
  Give back leased tasks this worker has not started (it is busy with a long one), to the head
  of the pending list in their order, so that other workers can run them.
  KEYS[1] this worker's active list   KEYS[2] pending list   KEYS[3] state hash
  ARGV the messages, in their order
  Returns: how many were given back (a message no longer leased by this worker is skipped).
]]
--@include job_id
local released = {}
for i = #ARGV, 1, -1 do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 then
    redis.call('LPUSH', KEYS[2], ARGV[i])
    released[#released + 1] = ARGV[i]
  end
end
given_back(KEYS[3], released)
return #released
