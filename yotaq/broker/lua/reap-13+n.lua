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
  ARGV[1] worker id   ARGV[2] max deliveries   ARGV[3] '1' to skip the deadline check
  ARGV[4] how long a dead record is kept (ms)   ARGV[5] how long its result is kept (ms)
  ARGV[6] the job ids, space separated
  ARGV[5 + 2i] the i-th message the caller read from the active list
  ARGV[6 + 2i] its outcome should it be set aside: a signed envelope that says why
  Returns: {requeued, set aside}, or false when the worker is alive or no longer registered on the
  queue (unless ARGV[3]), or its active list is no longer what the caller read (call again).
]]
--@include now_ms
--@include job_id
--@include limits
--@include bury
local now = now_ms()
if ARGV[3] ~= '1' then
  local deadline = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if not redis.call('ZSCORE', KEYS[1], ARGV[1]) or (deadline and tonumber(deadline) > now) then
    return false
  end
end
local held = redis.call('LRANGE', KEYS[3], 0, -1)
if 2 * #held ~= #ARGV - 6 then
  return false
end
for i, message in ipairs(held) do
  if message ~= ARGV[5 + 2 * i] then
    return false
  end
end
local ids = {}
for id in string.gmatch(ARGV[6], '%S+') do
  ids[#ids + 1] = id
end
local lim = {holders = KEYS[11], waiting = KEYS[12], waiting_messages = KEYS[13], pending = KEYS[4]}
local max_deliveries = tonumber(ARGV[2])
local requeued, buried = 0, 0
for i = #held, 1, -1 do
  release_slot(lim, held[i])
  local deliveries = redis.call('HINCRBY', KEYS[6], ids[i], 1)
  if deliveries >= max_deliveries then
    local k = {state = KEYS[5], deliveries = KEYS[6], buried = KEYS[8], messages = KEYS[9], reasons = KEYS[10],
      result = KEYS[13 + i]}
    bury(k, ids[i], held[i], ARGV[6 + 2 * i], tonumber(ARGV[4]), tonumber(ARGV[5]), now)
    buried = buried + 1
  else
    redis.call('LPUSH', KEYS[4], held[i])
    given_back(KEYS[5], {held[i]})
    requeued = requeued + 1
  end
end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[7], 'redelivered', requeued)
return {requeued, buried}
