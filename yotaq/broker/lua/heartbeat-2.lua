--[[
  Register a worker, or push its liveness deadline forward.
  KEYS[1] workers sorted set   KEYS[2] heartbeats hash
  ARGV[1] worker id            ARGV[2] liveness timeout (ms)
  Returns: 1 when the worker was not registered (its first beat, or it was presumed dead and
  reaped meanwhile), else 0.
]]
--@include now_ms
local now = now_ms()
redis.call('HSET', KEYS[2], ARGV[1], now)
return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
