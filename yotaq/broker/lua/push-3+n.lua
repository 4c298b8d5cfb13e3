--[[
  Push messages onto the pending list again after a push whose reply was lost: Redis may have
  applied it, so a message is pushed only if its job has left no trace yet (no state, no outcome).
  Its job id is random (a push never carries a chosen one), so a trace means the first push went
  through (and the job may even have run since). It counts itself, a write whatever it finds, so
  that a WAIT after it covers the first push too.
  KEYS[1] pending list   KEYS[2] state hash   KEYS[3] stats hash
  KEYS[3 + i] the result(job_id) list of the i-th job
  ARGV[i] the i-th message
  Returns: how many messages were pushed
]]
--@include job_id
--@include queue
local pushed = 0
for i, message in ipairs(ARGV) do
  local id = job_id(message)
  if redis.call('HEXISTS', KEYS[2], id) == 0 and redis.call('EXISTS', KEYS[3 + i]) == 0 then
    push_job({pending = KEYS[1], state = KEYS[2]}, id, message)
    pushed = pushed + 1
  end
end
redis.call('HINCRBY', KEYS[3], 'pushed_again', 1)
return pushed
