-- Steps of jobs that are over.

-- Store their results: `envelopes[i]` becomes the one element of list `keys[i]`, kept `ttls[i]` ms, which
-- wakes anyone waiting for it. One DEL for them all: an acknowledgement stores many.
local function store_results(keys, envelopes, ttls)
  redis.call('DEL', unpack(keys))
  for i, key in ipairs(keys) do
    redis.call('RPUSH', key, envelopes[i])
    redis.call('PEXPIRE', key, ttls[i])
  end
end

-- Forget what is kept of jobs only until they are over: their states and counts of deliveries.
-- q: {state = hash, deliveries = hash}
local function forget_jobs(q, ids)
  redis.call('HDEL', q.state, unpack(ids))
  redis.call('HDEL', q.deliveries, unpack(ids))
end
