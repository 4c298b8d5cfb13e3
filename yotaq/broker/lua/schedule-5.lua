--[[
  Register a periodic schedule, or replace the one of the same name. Its next run is kept when
  its timing is unchanged (registering again at every start of a program does not push it back),
  and set anew when it changed. A schedule registered again is enabled again.
  KEYS[1] schedules hash   KEYS[2] schedule_timings hash   KEYS[3] schedule_next sorted set
  KEYS[4] schedule_disabled hash   KEYS[5] marker sorted set (its first run is due at its score)
  ARGV[1] the name   ARGV[2] its signed record   ARGV[3] its timing (JSON)   ARGV[4] its first run (ms)
  Returns: 1 when its next run was set, 0 when kept.
]]
local same = redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HDEL', KEYS[4], ARGV[1])
if same and redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[5], 'LT', ARGV[4], 's')
return 1
