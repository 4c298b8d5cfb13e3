--[[
  Take a running task this worker interrupted because it was cancelled off its active list, and
  store its cancellation as its result.
  KEYS[1] active(worker) list   KEYS[2] state hash   KEYS[3] deliveries hash
  KEYS[4] stats hash   KEYS[5] result(job_id) list
  KEYS[6] holders sorted set    KEYS[7] waiting sorted set   KEYS[8] waiting_messages hash
  KEYS[9] pending list
  KEYS[10] finished(done) sorted set   KEYS[11] finished(cancelled) sorted set   KEYS[12] finished_jobs hash
  KEYS[13] flows hash
  KEYS[14...] the job's part in a workflow, as the caller believes it (include/flows.lua: flow_part)
  ARGV[1] the message   ARGV[2] its job id   ARGV[3] the result envelope   ARGV[4] how long it is kept (ms)
  ARGV[5] what is shown of it once cancelled: '<worker> <ran ms> <function>'
  ARGV[6] what the caller believes of the job's part in a workflow ('' for none)
  A job cancelled by request told its dependents then (cancel-14+n.lua); one a worker records cancelled
  unrun, because a parent of it failed, tells them here.
  Returns: 1, or 0 when the message was no longer leased by this worker (nothing changes), or
  {1, its flows field} when its dependents are not as the caller believes (nothing changes).
]]
--@include now_ms
--@include active
--@include over
--@include finished
--@include flows
local parts, wrong = check_beliefs(KEYS[13], {ARGV[2]}, {ARGV[6]}, 14)
if #wrong > 0 then
  return wrong
end
if not leave_active({active = KEYS[1], holders = KEYS[6], waiting = KEYS[7], waiting_messages = KEYS[8],
  pending = KEYS[9]}, ARGV[1]) then
  return 0
end
forget_jobs({state = KEYS[2], deliveries = KEYS[3]}, {ARGV[2]})
redis.call('HINCRBY', KEYS[4], 'cancelled', 1)
store_results({KEYS[5]}, {ARGV[3]}, {ARGV[4]})
local now = now_ms()
list_finished({done = KEYS[10], cancelled = KEYS[11], jobs = KEYS[12]}, 'cancelled', {ARGV[2]},
  {now + tonumber(ARGV[4])}, {ARGV[5]}, now)
fan_in({parts[1]}, {ARGV[2]}, {ARGV[3]}, 'cancelled', {ARGV[4]}, now)
return 1
