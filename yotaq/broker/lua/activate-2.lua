--[[
  Mark a job just leased with BLMOVE as active (a move cannot do that itself).
  KEYS[1] state hash   KEYS[2] this worker's active list
  ARGV[1] the message
  Returns: 1; 0 when the job is not pending on this queue (a copy of a job that already ran or is
  running, or a message not enqueued through yotaq): the worker sets it aside unrun; 2 when the
  job was cancelled: the message is dropped.
]]
--@include job_id
local known = leased(KEYS[1], KEYS[2], ARGV[1])
if known == nil then
  return 2
end
return known and 1 or 0
