--[[
  Mark a job just leased with BLMOVE as active (a move cannot do that itself).
  KEYS[1] state hash
  ARGV[1] the job id
  Returns: 1, or 0 when the job is not pending on this queue (a copy of a job that already ran or
  is running, or a message not enqueued through yotaq): the worker sets it aside unrun.
]]
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'pending' then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], 'active')
return 1
