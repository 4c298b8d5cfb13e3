--@include over
-- Records of jobs set aside are kept until they expire, and at most this many per queue and
-- kind (failed, dead): past it the oldest go first. A call forgets at most TRIM_BATCH of them.
local MAX_RECORDS = 100000
local TRIM_BATCH = 500

-- Forget the records of one kind that have expired, and the oldest beyond MAX_RECORDS.
local function trim(jobs, messages, reasons, now)
  local expired = redis.call('ZCOUNT', jobs, '-inf', now)
  local excess = redis.call('ZCARD', jobs) - MAX_RECORDS
  local count = math.min(math.max(expired, excess), TRIM_BATCH)
  if count > 0 then
    local ids = redis.call('ZRANGE', jobs, 0, count - 1)
    redis.call('HDEL', messages, unpack(ids))
    redis.call('HDEL', reasons, unpack(ids))
    redis.call('ZREMRANGEBYRANK', jobs, 0, count - 1)
  end
end

--[[ Set a job aside for good: keep its message, and its outcome (a signed envelope that says why)
  with the time, until its record expires; store the outcome as its result too, waking anyone
  waiting for it. The job is no longer pending, scheduled or active.
  k: {jobs = sorted set, messages = hash, reasons = hash, result = list, state = hash,
      deliveries = hash} ]]
local function fail(k, id, message, envelope, record_ms, result_ms, now)
  redis.call('ZADD', k.jobs, now + record_ms, id)
  redis.call('HSET', k.messages, id, message)
  redis.call('HSET', k.reasons, id, now .. ' ' .. envelope)
  forget_jobs(k, {id})
  store_results({k.result}, {envelope}, {result_ms})
  trim(k.jobs, k.messages, k.reasons, now)
end
