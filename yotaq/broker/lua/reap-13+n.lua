--[[
  Give back the tasks of a worker that is gone (its liveness deadline has passed, or its
  supervisor saw it die), then forget the worker on this queue. Each task goes back to the head
  of the pending list, in order, and counts one delivery that ended with a dead worker; at
  max_deliveries it is set aside as dead instead.
  KEYS[1] workers sorted set   KEYS[2] its fleet's alive sorted set   KEYS[3] that worker's active list
  KEYS[4] pending list         KEYS[5] state hash        KEYS[6] deliveries hash
  KEYS[7] stats hash           KEYS[8] dead sorted set   KEYS[9] dead messages hash
  KEYS[10] dead reasons hash   KEYS[11] limit holders sorted set   KEYS[12] waiting sorted set
  KEYS[13] waiting messages hash   KEYS[13 + i] the result list of the i-th message held
  KEYS[14 + n] flows hash (n messages held), then the keys of each job's part in a workflow, in order,
  as the caller believes it (include/flows.lua: flow_part)
  ARGV[1] worker id   ARGV[2] max deliveries   ARGV[3] '1' to skip the deadline check
  ARGV[4] how long a dead record is kept (ms)   ARGV[5] how long its result is kept (ms)
  ARGV[6] the job ids, space separated
  ARGV[7] what the caller believes of each job's part in a workflow, one line each ('-' for none)
  ARGV[6 + 2i] the i-th message the caller read from the active list
  ARGV[7 + 2i] its outcome should it be set aside: a signed envelope that says why
  A job set aside tells its dependents (include/flows.lua).
  Returns: {requeued, set aside}, or false when the worker is alive or no longer registered on the
  queue (unless ARGV[3]), or its active list or a job's dependents is no longer what the caller read
  (call again).
]]
--@include now_ms
--@include job_id
--@include limits
--@include fail
--@include flows
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
local ids = {}
for id in string.gmatch(ARGV[6], '%S+') do
  ids[#ids + 1] = id
end
local parts, actuals, at = {}, #ids > 0 and redis.call('HMGET', KEYS[14 + #held], unpack(ids)) or {}, 15 + #held
local i = 0
for belief in string.gmatch(ARGV[7], '[^\n]+') do
  i = i + 1
  parts[i], at = flow_part(belief ~= '-' and belief or '', at)
  if not belief_holds(parts[i], actuals[i]) then
    return false
  end
end
local lim = {holders = KEYS[11], waiting = KEYS[12], waiting_messages = KEYS[13], pending = KEYS[4]}
local max_deliveries = tonumber(ARGV[2])
local requeued, failed = 0, 0
for i = #held, 1, -1 do
  release_slot(lim, held[i])
  local deliveries = redis.call('HINCRBY', KEYS[6], ids[i], 1)
  if deliveries >= max_deliveries then
    local k = {state = KEYS[5], deliveries = KEYS[6], jobs = KEYS[8], messages = KEYS[9], reasons = KEYS[10],
      result = KEYS[13 + i]}
    fail(k, ids[i], held[i], ARGV[7 + 2 * i], tonumber(ARGV[4]), tonumber(ARGV[5]), now)
    fan_in(parts[i], actuals[i], ids[i], ARGV[7 + 2 * i], 'dead', tonumber(ARGV[5]), now)
    if actuals[i] then
      redis.call('HDEL', KEYS[14 + #held], ids[i])
    end
    failed = failed + 1
  else
    redis.call('LPUSH', KEYS[4], held[i])
    given_back(KEYS[5], {held[i]})
    requeued = requeued + 1
  end
end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[7], 'redelivered', requeued)
return {requeued, failed}
