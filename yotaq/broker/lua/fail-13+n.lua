--[[
  Set a leased message aside for good, instead of running it (again): as failed (it raised on
  its last try) or dead (it cannot run). Its outcome becomes its result.
  KEYS[1] active(worker) list   KEYS[2] state hash   KEYS[3] deliveries hash
  KEYS[4] stats hash   KEYS[5] jobs_of(kind) sorted set   KEYS[6] messages_of(kind) hash
  KEYS[7] reasons_of(kind) hash     KEYS[8] result(job_id) list of the id it is recorded under
  KEYS[9] holders sorted set    KEYS[10] waiting sorted set   KEYS[11] waiting_messages hash
  KEYS[12] pending list   KEYS[13] flows hash
  KEYS[14...] the job's part in a workflow, as the caller believes it (include/flows.lua: flow_part)
  ARGV[1] the message   ARGV[2] the id to record it under (its job's, or its own for a message
  that cannot be trusted)   ARGV[3] the stats counter to add one to ('failed' or 'invalid')
  ARGV[4] its outcome: a signed result envelope that says why
  ARGV[5] how long the record is kept (ms)   ARGV[6] how long the result is kept (ms)
  ARGV[7] for a message that cannot be trusted: the job id in its header, whose state its lease set
  to active, set back to pending here (that job is not this message's to change); else ''
  ARGV[8] what the caller believes of the job's part in a workflow ('' for none)
  Returns: 1, or 0 when the message was no longer leased by this worker (nothing changes), or
  {1, its flows field} when its dependents are not as the caller believes (nothing changes).
]]
--@include now_ms
--@include active
--@include fail
--@include flows
local parts, wrong = check_beliefs(KEYS[13], {ARGV[2]}, {ARGV[8]}, 14)
if #wrong > 0 then
  return wrong
end
if not leave_active({active = KEYS[1], holders = KEYS[9], waiting = KEYS[10], waiting_messages = KEYS[11],
  pending = KEYS[12]}, ARGV[1]) then
  return 0
end
local k = {state = KEYS[2], deliveries = KEYS[3], jobs = KEYS[5], messages = KEYS[6], reasons = KEYS[7],
  result = KEYS[8]}
local now = now_ms()
fail(k, ARGV[2], ARGV[1], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), now)
fan_in({parts[1]}, {ARGV[2]}, {ARGV[4]}, string.match(ARGV[4], '^%S+ (%S+)'), {tonumber(ARGV[6])}, now)
if ARGV[7] ~= '' and redis.call('HGET', KEYS[2], ARGV[7]) == 'active' then
  redis.call('HSET', KEYS[2], ARGV[7], 'pending')
end
redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
return 1
