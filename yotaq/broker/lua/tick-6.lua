--[[
  Enqueue one tick of a periodic schedule, once whatever the number of workers trying: the tick is
  claimed by moving the schedule's next run from the time the caller saw to the one after it,
  only if no one has moved it meanwhile. While the schedule's last tick still waits to run (pending,
  waiting for a slot of its limit, or scheduled for a retry or its rate), the claimed tick is skipped
  and counted instead: at most one tick of a schedule waits, however long each one runs.
  KEYS[1] schedule_next sorted set   KEYS[2] pending list   KEYS[3] state hash   KEYS[4] schedules hash
  KEYS[5] schedule_last hash        KEYS[6] schedule_skipped hash
  ARGV[1] the schedule's name   ARGV[2] the due time the caller saw (ms, the score as Redis wrote it)
  ARGV[3] the next one (ms)
  ARGV[4] the tick's job id     ARGV[5] its message
  Returns: 1 when this call enqueued the tick; 2 when it skipped it, the last one still waiting;
  0 when another call claimed it, or the schedule is gone.
]]
--@include queue
if redis.call('ZSCORE', KEYS[1], ARGV[1]) ~= ARGV[2] or redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local last = redis.call('HGET', KEYS[5], ARGV[1])
if last then
  local state = redis.call('HGET', KEYS[3], last)
  if state == 'pending' or state == 'scheduled' then
    redis.call('HINCRBY', KEYS[6], ARGV[1], 1)
    return 2
  end
end
if redis.call('HEXISTS', KEYS[3], ARGV[4]) == 0 then
  push_job({pending = KEYS[2], state = KEYS[3]}, ARGV[4], ARGV[5])
end
redis.call('HSET', KEYS[5], ARGV[1], ARGV[4])
return 1
