--[[
  Enqueue a task that needs more than a plain push: one with a job id of its caller's choosing
  (unique while it is pending, scheduled or active), or one to run later.
  KEYS[1] pending list   KEYS[2] scheduled sorted set   KEYS[3] scheduled messages hash
  KEYS[4] state hash     KEYS[5] the job's result list
  KEYS[6..8] failed sorted set, messages hash, reasons hash
  KEYS[9..11] dead sorted set, messages hash, reasons hash
  ARGV[1] the message   ARGV[2] its job id   ARGV[3] '1' when the job id must be unique
  ARGV[4] run at (ms since the epoch, '' for no time)   ARGV[5] delay (ms from now, '' for none)
  Returns: 1 when enqueued; 0 when a job with this unique id is still pending, scheduled or active.
]]
--@include now_ms
if ARGV[3] == '1' and redis.call('HEXISTS', KEYS[4], ARGV[2]) == 1 then
  return 0
end
-- A new run under an id used before must not be mistaken for the old one: forget its outcome.
redis.call('DEL', KEYS[5])
for first = 6, 9, 3 do
  redis.call('ZREM', KEYS[first], ARGV[2])
  redis.call('HDEL', KEYS[first + 1], ARGV[2])
  redis.call('HDEL', KEYS[first + 2], ARGV[2])
end
local run_at = tonumber(ARGV[4])
if ARGV[5] ~= '' then
  run_at = now_ms() + tonumber(ARGV[5])
end
if run_at then
  redis.call('ZADD', KEYS[2], run_at, ARGV[2])
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
  redis.call('HSET', KEYS[4], ARGV[2], 'scheduled')
else
  redis.call('RPUSH', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[4], ARGV[2], 'pending')
end
return 1
