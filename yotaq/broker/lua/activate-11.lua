--[[
  Mark a job just leased with BLMOVE as active (a move cannot do that itself).
  KEYS[1] state hash   KEYS[2] active(worker) list   KEYS[3] pending list
  KEYS[4] holders sorted set   KEYS[5] waiting sorted set   KEYS[6] waiting_messages hash
  KEYS[7] rates hash   KEYS[8] scheduled sorted set   KEYS[9] scheduled_messages hash
  KEYS[10] deliveries hash   KEYS[11] marker sorted set (a job its rate defers is due at its score)
  ARGV[1] the message
  Returns: 1; 0 when the job is not pending on this queue (a copy of a job that already ran or is
  running, or a message not enqueued through yotaq): the worker sets it aside unrun; 2 when the
  job was cancelled (the message is dropped) or is over its limit (it waits, see include/limits.lua).
]]
--@include limits
local lim = {state = KEYS[1], active = KEYS[2], pending = KEYS[3], holders = KEYS[4], waiting = KEYS[5],
  waiting_messages = KEYS[6], rates = KEYS[7], scheduled = KEYS[8], scheduled_messages = KEYS[9],
  deliveries = KEYS[10], marker = KEYS[11]}
local known = leased(lim, ARGV[1])
if known == nil then
  return 2
end
return known and 1 or 0
