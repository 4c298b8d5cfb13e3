--[[
  Give back leased tasks this worker has not started (it is busy with a long one), to the head
  of the pending list in their order, so that other workers can run them.
  KEYS[1] this worker's active list   KEYS[2] pending list   KEYS[3] state hash
  KEYS[4] limit holders sorted set    KEYS[5] waiting sorted set   KEYS[6] waiting messages hash
  ARGV the messages, in their order
  Returns: how many were given back (a message no longer leased by this worker is skipped).
]]
--@include now_ms
--@include job_id
--@include limits
local lim = {holders = KEYS[4], waiting = KEYS[5], waiting_messages = KEYS[6], pending = KEYS[2]}
local released = {}
for i = #ARGV, 1, -1 do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 then
    redis.call('LPUSH', KEYS[2], ARGV[i])
    released[#released + 1] = ARGV[i]
  end
end
given_back(KEYS[3], released)
for _, given in ipairs(released) do
  release_slot(lim, given)
end
return #released
