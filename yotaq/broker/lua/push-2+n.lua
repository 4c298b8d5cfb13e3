--[[
  Push messages onto the pending list again after a push whose reply was lost: Redis may have
  applied it, so a message is pushed only if its job has left no trace yet (no state, no outcome).
  A job id is random, or chosen by its caller and unique while the job is not finished, so a trace
  means the first push went through (and the job may even have run since).
  KEYS[1] pending list   KEYS[2] state hash   KEYS[2 + i] the result list of the i-th job
  ARGV[i] the i-th message
  Returns: how many messages were pushed
]]
--@include job_id
local pushed = 0
for i, message in ipairs(ARGV) do
  local id = job_id(message)
  if redis.call('HEXISTS', KEYS[2], id) == 0 and redis.call('EXISTS', KEYS[2 + i]) == 0 then
    redis.call('RPUSH', KEYS[1], message)
    redis.call('HSET', KEYS[2], id, 'pending')
    pushed = pushed + 1
  end
end
return pushed
