--[[
  Register a worker, or push its liveness deadline forward.
  KEYS[1] workers sorted set   KEYS[2] heartbeats hash
  ARGV[1] worker id            ARGV[2] liveness timeout (ms)
  Returns: 1 when the worker was not registered (its first beat, or it was presumed dead and
  reaped meanwhile), else 0.
]]
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('HSET', KEYS[2], ARGV[1], now_ms)
return redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[1])
