--[[
  Take a task that raised off this worker's active list and schedule its next try.
  KEYS[1] this worker's active list   KEYS[2] scheduled sorted set
  KEYS[3] scheduled messages hash     KEYS[4] stats hash
  ARGV[1] the message as leased   ARGV[2] the message for the next try   ARGV[3] its job id
  ARGV[4] delay before the next try (ms, from now on the Redis clock)
  Returns: 1, or 0 when the message was no longer leased by this worker (nothing changes).
]]
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
local now = redis.call('TIME')
local run_at = now[1] * 1000 + math.floor(now[2] / 1000) + tonumber(ARGV[4])
redis.call('ZADD', KEYS[2], run_at, ARGV[3])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[2])
redis.call('HINCRBY', KEYS[4], 'retried', 1)
return 1
