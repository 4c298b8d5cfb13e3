--[[
  Push messages onto the tail of the pending list, each job now pending: a single enqueue's one
  command. On a try again after a push whose reply was lost, Redis may have applied the first try,
  so a message is pushed only if its job has left no trace yet (no state, no outcome). Its job id is
  random (a push never carries a chosen one), so a trace means the first push went through (and the
  job may even have run since). A try again counts itself, a write whatever it finds, so that a WAIT
  after it covers the first push too.
  KEYS[1] pending list   KEYS[2] state hash   KEYS[3] stats hash
  KEYS[3 + i] the result(job_id) list of the i-th job, on a try again (a first try reads no trace)
  ARGV[1] '1' on a try again, '0' on a first try
  ARGV[2i], ARGV[2i + 1] the i-th job's id and message
  Returns: how many messages were pushed
]]
--@include queue
local again, pushed = ARGV[1] == '1', 0
for i = 1, (#ARGV - 1) / 2 do
  local id, message = ARGV[2 * i], ARGV[2 * i + 1]
  if not again or redis.call('HEXISTS', KEYS[2], id) == 0 and redis.call('EXISTS', KEYS[3 + i]) == 0 then
    push_job({pending = KEYS[1], state = KEYS[2]}, id, message)
    pushed = pushed + 1
  end
end
if again then
  redis.call('HINCRBY', KEYS[3], 'pushed_again', 1)
end
return pushed
