--[[
  Forget a worker whose liveness deadline has passed, by the Redis server's clock, once for the whole
  fleet: the caller then tells the queues it served, whose workers give back its tasks there
  (reap-13+n.lua).
  KEYS[1] alive sorted set   KEYS[2] serves hash
  ARGV[1] worker id
  Returns: the queues it served (space separated), or false when it is alive, or forgotten already
]]
--@include now_ms
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not deadline or tonumber(deadline) > now_ms() then
  return false
end
local serves = redis.call('HGET', KEYS[2], ARGV[1]) or ''
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return serves
