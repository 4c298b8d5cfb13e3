--[[
  Give back the tasks of a worker that is gone (its liveness deadline has passed, or its
  supervisor saw it die), then forget the worker. Each task goes back to the head of the
  pending list, in order, and counts one delivery that ended with a dead worker; at
  max_deliveries it is set aside instead, with a dead marker as its result.
  KEYS[1] workers sorted set   KEYS[2] heartbeats hash   KEYS[3] that worker's active list
  KEYS[4] pending list         KEYS[5] deliveries hash   KEYS[6] dead hash
  KEYS[7] dead reasons hash    KEYS[8] stats hash
  KEYS[9..] for each message in ARGV[6..], in order: its result list, then its unique marker
  ARGV[1] worker id   ARGV[2] max deliveries   ARGV[3] '1' to skip the deadline check
  ARGV[4] result TTL (ms) for dead markers     ARGV[5] the job ids, space separated
  ARGV[6..] the messages the caller read from the active list
  Returns: {requeued, buried}, or false when the worker is alive (or no longer registered,
  without ARGV[3]) or its active list is no longer what the caller read (call again).
]]
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
if ARGV[3] ~= '1' and (not deadline or tonumber(deadline) > now_ms) then
  return false
end
local held = redis.call('LRANGE', KEYS[3], 0, -1)
if #held ~= #ARGV - 5 then
  return false
end
for i, message in ipairs(held) do
  if message ~= ARGV[5 + i] then
    return false
  end
end
local ids = {}
for id in string.gmatch(ARGV[5], '%S+') do
  ids[#ids + 1] = id
end
local max_deliveries = tonumber(ARGV[2])
local requeued, buried = 0, 0
for i = #held, 1, -1 do
  local id = ids[i]
  local deliveries = redis.call('HINCRBY', KEYS[5], id, 1)
  if deliveries >= max_deliveries then
    local reason = 'worker died while running it ' .. deliveries .. ' times'
    redis.call('HSET', KEYS[6], id, held[i])
    redis.call('HSET', KEYS[7], id, cjson.encode({reason = reason, at_ms = now_ms}))
    redis.call('HDEL', KEYS[5], id)
    local result, unique = KEYS[7 + 2 * i], KEYS[8 + 2 * i]
    redis.call('DEL', result, unique)
    redis.call('RPUSH', result, 'yd1 ' .. reason)
    redis.call('PEXPIRE', result, ARGV[4])
    buried = buried + 1
  else
    redis.call('LPUSH', KEYS[4], held[i])
    requeued = requeued + 1
  end
end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[8], 'redelivered', requeued)
return {requeued, buried}
