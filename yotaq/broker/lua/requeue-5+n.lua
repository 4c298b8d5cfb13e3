--[[
  Move jobs set aside (failed or dead) back to the tail of the pending list, to run again from
  scratch. Each loses the result stored when it was set aside, else it would still read as
  failed or dead and waiting for its result would fail at once.
  KEYS[1] jobs_of(kind) sorted set   KEYS[2] messages_of(kind) hash   KEYS[3] reasons_of(kind) hash
  KEYS[4] pending list               KEYS[5] state hash
  KEYS[5 + i] the result(job_id) list of ARGV[i]
  ARGV the ids the jobs were recorded under; each is pending again under the job id in its
  message's header (a message recorded under its own digest may carry one)
  Returns: how many were requeued (ids not found are skipped, and their keys left alone).
]]
--@include job_id
--@include queue
local requeued = 0
for i, id in ipairs(ARGV) do
  local message = redis.call('HGET', KEYS[2], id)
  if message then
    push_job({pending = KEYS[4], state = KEYS[5]}, job_id(message) or id, message)
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    redis.call('DEL', KEYS[5 + i])
    requeued = requeued + 1
  end
end
return requeued
