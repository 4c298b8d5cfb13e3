-- Schedule a job to run at `run_at` (ms): its message waits in the scheduled set until then, and the
-- queue's marker wakes a worker's time thread by that time.
-- q: {scheduled = sorted set, scheduled_messages = hash, state = hash, marker = sorted set}
local function schedule_job(q, id, message, run_at)
  redis.call('ZADD', q.scheduled, run_at, id)
  redis.call('ZADD', q.marker, 'LT', run_at, 's')
  redis.call('HSET', q.scheduled_messages, id, message)
  redis.call('HSET', q.state, id, 'scheduled')
end
