--[[
  Give back the tasks of a worker whose liveness deadline has passed, then forget the worker.
  Each task goes back to the head of the pending list, in its order, and counts one delivery
  that ended with a dead worker; at max_deliveries it goes to the dead hash instead.
  KEYS[1] workers sorted set   KEYS[2] heartbeats hash   KEYS[3] that worker's active list
  KEYS[4] pending list         KEYS[5] deliveries hash   KEYS[6] dead hash
  KEYS[7] dead reasons hash    KEYS[8] stats hash
  ARGV[1] worker id   ARGV[2] max deliveries
  Returns: {requeued, buried}, or false when the worker is alive (its deadline is ahead).
]]
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
if deadline and tonumber(deadline) > now_ms then
  return false
end
local max_deliveries = tonumber(ARGV[2])
local requeued, buried = 0, 0
local message = redis.call('RPOP', KEYS[3])
while message do
  local id = string.match(message, '^yq1 %S+ (%S+) ')
  local deliveries = id and redis.call('HINCRBY', KEYS[5], id, 1) or max_deliveries
  if deliveries >= max_deliveries then
    id = id or ('invalid-' .. redis.sha1hex(message))
    redis.call('HSET', KEYS[6], id, message)
    redis.call('HSET', KEYS[7], id, cjson.encode({
      reason = 'worker died while running it ' .. deliveries .. ' times', at_ms = now_ms}))
    redis.call('HDEL', KEYS[5], id)
    buried = buried + 1
  else
    redis.call('LPUSH', KEYS[4], message)
    requeued = requeued + 1
  end
  message = redis.call('RPOP', KEYS[3])
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[8], 'redelivered', requeued)
return {requeued, buried}
