--[[
  Take a running task this worker interrupted because it was cancelled off its active list, and
  store its cancellation as its result.
  KEYS[1] this worker's active list   KEYS[2] state hash   KEYS[3] deliveries hash
  KEYS[4] stats hash   KEYS[5] the job's result list
  KEYS[6] limit holders sorted set    KEYS[7] waiting sorted set   KEYS[8] waiting messages hash
  KEYS[9] pending list   KEYS[10] flows hash
  KEYS[11...] the job's part in a workflow, as the caller believes it (include/flows.lua: flow_part)
  ARGV[1] the message   ARGV[2] its job id   ARGV[3] the result envelope   ARGV[4] how long it is kept (ms)
  ARGV[5] what the caller believes of the job's part in a workflow ('' for none)
  A job cancelled by request told its dependents then (cancel-11+n.lua); one a worker records cancelled
  unrun, because a parent of it failed, tells them here.
  Returns: 1, or 0 when the message was no longer leased by this worker (nothing changes), or
  {its flows field} when its dependents are not as the caller believes (nothing changes).
]]
--@include now_ms
--@include job_id
--@include limits
--@include flows
local part = flow_part(ARGV[5], 11)
local actual = redis.call('HGET', KEYS[10], ARGV[2])
if not belief_holds(part, actual) then
  return {actual}
end
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
release_slot({holders = KEYS[6], waiting = KEYS[7], waiting_messages = KEYS[8], pending = KEYS[9]}, ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('HINCRBY', KEYS[4], 'cancelled', 1)
redis.call('DEL', KEYS[5])
redis.call('RPUSH', KEYS[5], ARGV[3])
redis.call('PEXPIRE', KEYS[5], ARGV[4])
fan_in(part, actual, ARGV[2], ARGV[3], 'cancelled', ARGV[4], now_ms())
if actual then
  redis.call('HDEL', KEYS[10], ARGV[2])
end
return 1
