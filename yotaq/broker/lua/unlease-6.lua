--[[
  Give back leased tasks this worker has not started (it is busy with a long one), to the head
  of the pending list in their order, so that other workers can run them.
  KEYS[1] active(worker) list   KEYS[2] pending list   KEYS[3] state hash
  KEYS[4] holders sorted set    KEYS[5] waiting sorted set   KEYS[6] waiting_messages hash
  ARGV the messages, in their order
  Returns: how many were given back (a message no longer leased by this worker is skipped).
]]
--@include active
local given = {}
for _, message in ipairs(ARGV) do
  if redis.call('LREM', KEYS[1], 1, message) == 1 then
    given[#given + 1] = message
  end
end
give_back({pending = KEYS[2], state = KEYS[3], holders = KEYS[4], waiting = KEYS[5], waiting_messages = KEYS[6]}, given)
return #given
