-- Store jobs' results: `envelopes[i]` becomes the one element of list `keys[i]`, kept `ttls[i]` ms, which
-- wakes anyone waiting for it. One DEL for them all: an acknowledgement stores many.
local function store_results(keys, envelopes, ttls)
  redis.call('DEL', unpack(keys))
  for i, key in ipairs(keys) do
    redis.call('RPUSH', key, envelopes[i])
    redis.call('PEXPIRE', key, ttls[i])
  end
end
