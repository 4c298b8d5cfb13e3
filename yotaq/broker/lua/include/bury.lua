-- Records of jobs set aside are kept until they expire, and at most this many per queue and
-- kind (failed, dead): past it the oldest go first. A call forgets at most TRIM_BATCH of them.
local MAX_RECORDS = 100000
local TRIM_BATCH = 500

-- Forget the records of one kind that have expired, and the oldest beyond MAX_RECORDS.
local function trim(buried, messages, reasons, now)
  local expired = redis.call('ZCOUNT', buried, '-inf', now)
  local excess = redis.call('ZCARD', buried) - MAX_RECORDS
  local count = math.min(math.max(expired, excess), TRIM_BATCH)
  if count > 0 then
    local ids = redis.call('ZRANGE', buried, 0, count - 1)
    redis.call('HDEL', messages, unpack(ids))
    redis.call('HDEL', reasons, unpack(ids))
    redis.call('ZREMRANGEBYRANK', buried, 0, count - 1)
  end
end

--[[ Set a job aside for good: keep its message, and its outcome (a signed envelope that says why)
  with the time, until its record expires; store the outcome as its result too, waking anyone
  waiting for it. The job is no longer pending, scheduled or active.
  k: {buried = sorted set, messages = hash, reasons = hash, result = list, state = hash,
      deliveries = hash} ]]
local function bury(k, id, message, envelope, record_ms, result_ms, now)
  redis.call('ZADD', k.buried, now + record_ms, id)
  redis.call('HSET', k.messages, id, message)
  redis.call('HSET', k.reasons, id, now .. ' ' .. envelope)
  redis.call('HDEL', k.state, id)
  redis.call('HDEL', k.deliveries, id)
  redis.call('DEL', k.result)
  redis.call('RPUSH', k.result, envelope)
  redis.call('PEXPIRE', k.result, result_ms)
  trim(k.buried, k.messages, k.reasons, now)
end
