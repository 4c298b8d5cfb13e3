--[[
  Cancel a job: one pending is marked cancelled (and dropped when it is leased), one scheduled is
  removed at once, one running is marked cancelling and named on its queue's control channel (its
  worker, listening there, interrupts it). Its result becomes the cancellation at once, waking anyone
  waiting for it; should a running job finish first, its outcome replaces that. A scheduled job with a concurrency limit may be one woken for a slot that
  its rate then deferred: the next task waiting for a slot of its key is woken in its place, or
  none would ever be.
  A dependent waiting for its parents is cancelled at once too. Whatever the job was doing, its
  dependents are told now that it ended cancelled (include/flows.lua), even should it still finish:
  the last one whose parents are all over, and any that does not allow failures, is enqueued, and
  its worker records it cancelled, unrun, and so on down.
  KEYS[1] state hash   KEYS[2] scheduled sorted set   KEYS[3] scheduled_messages hash
  KEYS[4] result(job_id) list   KEYS[5] deliveries hash
  KEYS[6] waiting sorted set   KEYS[7] waiting_messages hash   KEYS[8] pending list
  KEYS[9] finished(done) sorted set   KEYS[10] finished(cancelled) sorted set   KEYS[11] finished_jobs hash
  KEYS[12] flows hash   KEYS[13] flow(job_id): the job's record (as a dependent)
  KEYS[14] parents(job_id): its parents' outcomes
  KEYS[15...] the keys of the job's dependents, as the caller believes them (include/flows.lua: flow_part)
  ARGV[1] the job id   ARGV[2] the cancellation's result envelope   ARGV[3] how long it is kept (ms)
  ARGV[4] the queue's control channel, told the id of a running job cancelled (its worker listens)
  ARGV[5] what the caller believes of its dependents: '1 <dependents>' ('1' for none)
  Returns: the job's state before: 'pending', 'scheduled', 'waiting' or 'active' (cancelled now), or
  'cancelled', 'cancelling' or false (finished or unknown: nothing changes); or {1, its flows field}
  when its dependents are not as the caller believes (nothing changes).
]]
--@include now_ms
--@include slots
--@include over
--@include finished
--@include flows
local parts, wrong = check_beliefs(KEYS[12], {ARGV[1]}, {ARGV[5]}, 13)
if #wrong > 0 then
  return wrong
end
local state = redis.call('HGET', KEYS[1], ARGV[1])
if state == 'waiting' then
  redis.call('HDEL', KEYS[13], 'message')
  redis.call('HDEL', KEYS[1], ARGV[1])
elseif state == 'pending' then
  redis.call('HSET', KEYS[1], ARGV[1], 'cancelled')
elseif state == 'scheduled' then
  local message = redis.call('HGET', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  forget_jobs({state = KEYS[1], deliveries = KEYS[5]}, {ARGV[1]})
  local limit = message and limit_of(message)
  if limit and limit.concurrency then
    wake_next({waiting = KEYS[6], waiting_messages = KEYS[7], pending = KEYS[8]}, limit.key)
  end
elseif state == 'active' then
  redis.call('HSET', KEYS[1], ARGV[1], 'cancelling')
  redis.call('PUBLISH', ARGV[4], ARGV[1])
else
  return state
end
store_results({KEYS[4]}, {ARGV[2]}, {ARGV[3]})
local now = now_ms()
list_finished({done = KEYS[9], cancelled = KEYS[10], jobs = KEYS[11]}, 'cancelled', {ARGV[1]},
  {now + tonumber(ARGV[3])}, {'- - -'}, now)
fan_in({parts[1]}, {ARGV[1]}, {ARGV[2]}, 'cancelled', {ARGV[3]}, now)
return state
