--[[
  The workers whose liveness deadline has passed, by the Redis server's clock (read here, on the
  queue's own node: a keyless TIME of a cluster client goes to a node that may be down).
  KEYS[1] workers sorted set
  Returns: their ids, earliest deadline first (possibly none)
]]
--@include now_ms
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms())
