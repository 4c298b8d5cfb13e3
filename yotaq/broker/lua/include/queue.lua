-- Put a job on its queue. q: {pending = list, state = hash, scheduled = sorted set, scheduled_messages = hash,
-- marker = sorted set}

-- Push a job's message onto the tail of the pending list, the job pending.
local function push_job(q, id, message)
  redis.call('RPUSH', q.pending, message)
  redis.call('HSET', q.state, id, 'pending')
end

-- Schedule a job to run at `run_at` (ms): its message waits in the scheduled set until then, and the
-- queue's marker wakes a worker's time thread by that time.
local function schedule_job(q, id, message, run_at)
  redis.call('ZADD', q.scheduled, run_at, id)
  redis.call('ZADD', q.marker, 'LT', run_at, 's')
  redis.call('HSET', q.scheduled_messages, id, message)
  redis.call('HSET', q.state, id, 'scheduled')
end
