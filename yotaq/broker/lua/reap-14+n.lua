--[[
  Give back the tasks of a worker that is gone (its liveness deadline has passed, or its
  supervisor saw it die), then forget the worker on this queue. Each task goes back to the head
  of the pending list, in order, and counts one delivery that ended with a dead worker; at
  max_deliveries it is set aside as dead instead.
  KEYS[1] workers sorted set   KEYS[2] alive sorted set (its fleet's)   KEYS[3] active(worker) list
  KEYS[4] pending list         KEYS[5] state hash        KEYS[6] deliveries hash
  KEYS[7] stats hash           KEYS[8] jobs_of(dead) sorted set   KEYS[9] messages_of(dead) hash
  KEYS[10] reasons_of(dead) hash   KEYS[11] holders sorted set   KEYS[12] waiting sorted set
  KEYS[13] waiting_messages hash   KEYS[14] flows hash
  KEYS[14 + i] the result(job_id) list of the i-th message held
  KEYS[15 + n...] (n messages held) the keys of each job's part in a workflow, in order, as the caller
  believes it (include/flows.lua: flow_part)
  ARGV[1] worker id   ARGV[2] max deliveries   ARGV[3] '1' to skip the deadline check
  ARGV[4] how long a dead record is kept (ms)   ARGV[5] how long its result is kept (ms)
  ARGV[6] the job ids, space separated
  ARGV[7] what the caller believes of each job's part in a workflow, in order, each followed by a newline
  ARGV[6 + 2i] the i-th message the caller read from the active list
  ARGV[7 + 2i] its outcome should it be set aside: a signed envelope that says why
  A job set aside tells its dependents (include/flows.lua).
  Returns: {requeued, set aside}, or false when the worker is alive or no longer registered on the
  queue (unless ARGV[3]), or its active list or a job's dependents is no longer what the caller read
  (call again).
]]
--@include now_ms
--@include slots
--@include active
--@include fail
--@include flows
--@include lines
local now = now_ms()
if ARGV[3] ~= '1' then
  local deadline = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if not redis.call('ZSCORE', KEYS[1], ARGV[1]) or (deadline and tonumber(deadline) > now) then
    return false
  end
end
local held = redis.call('LRANGE', KEYS[3], 0, -1)
if 2 * #held ~= #ARGV - 7 then
  return false
end
for i, message in ipairs(held) do
  if message ~= ARGV[6 + 2 * i] then
    return false
  end
end
local ids, beliefs = {}, lines(ARGV[7])
for id in string.gmatch(ARGV[6], '%S+') do
  ids[#ids + 1] = id
end
local parts, wrong = check_beliefs(KEYS[14], ids, beliefs, 15 + #held)
if #wrong > 0 then
  return false
end
local lim = {pending = KEYS[4], state = KEYS[5], holders = KEYS[11], waiting = KEYS[12], waiting_messages = KEYS[13]}
local max_deliveries = tonumber(ARGV[2])
local requeued = 0
for i = #held, 1, -1 do
  -- Its slot first: a task woken for it goes behind it, which was leased first (give_back finds it freed).
  free_slot(lim, held[i])
  local deliveries = redis.call('HINCRBY', KEYS[6], ids[i], 1)
  if deliveries >= max_deliveries then
    local k = {state = KEYS[5], deliveries = KEYS[6], jobs = KEYS[8], messages = KEYS[9], reasons = KEYS[10],
      result = KEYS[14 + i]}
    fail(k, ids[i], held[i], ARGV[7 + 2 * i], tonumber(ARGV[4]), tonumber(ARGV[5]), now)
    fan_in({parts[i]}, {ids[i]}, {ARGV[7 + 2 * i]}, 'dead', {tonumber(ARGV[5])}, now)
  else
    give_back(lim, {held[i]})
    requeued = requeued + 1
  end
end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[7], 'redelivered', requeued)
return {requeued, #held - requeued}
