--[[
  Enqueue a task that needs more than a plain RPUSH: one with a unique job id, or a delay.
  KEYS[1] pending list   KEYS[2] scheduled sorted set   KEYS[3] scheduled messages hash
  KEYS[4] the job's unique marker
  ARGV[1] the message   ARGV[2] its job id   ARGV[3] '1' when the job id must be unique
  ARGV[4] run at (ms since the epoch, '' for no time)  ARGV[5] delay (ms from now on the Redis clock, '' for none)
  Returns: 1 when enqueued; 0 when a job with this unique id is still pending, scheduled or active.
]]
if ARGV[3] == '1' and redis.call('SET', KEYS[4], '1', 'NX') == false then
  return 0
end
local run_at = tonumber(ARGV[4])
if ARGV[5] ~= '' then
  local now = redis.call('TIME')
  run_at = now[1] * 1000 + math.floor(now[2] / 1000) + tonumber(ARGV[5])
end
if run_at then
  redis.call('ZADD', KEYS[2], run_at, ARGV[2])
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
else
  redis.call('RPUSH', KEYS[1], ARGV[1])
end
return 1
