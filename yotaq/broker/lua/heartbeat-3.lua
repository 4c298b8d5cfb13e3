--[[
  Register a worker, or push its liveness deadline forward; and take or keep the queue's upkeep
  lease, so that one worker at a time looks for the dead ones (the lease lapses with its holder, and
  the next worker to beat takes it). The holder is told which workers' deadlines have passed.
  KEYS[1] workers sorted set   KEYS[2] heartbeats hash   KEYS[3] upkeep lease (a string: its holder)
  ARGV[1] worker id            ARGV[2] liveness timeout (ms)
  Returns: {1 when the worker was not registered (its first beat, or it was presumed dead and reaped
  meanwhile), else 0; 1 when it holds the lease, else 0; when it holds it, the ids of the workers
  whose deadline has passed, earliest first (else none)}
]]
--@include now_ms
local now = now_ms()
redis.call('HSET', KEYS[2], ARGV[1], now)
local missing = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local holder = redis.call('GET', KEYS[3])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
elseif not holder then
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
else
  return {missing, 0, {}}
end
return {missing, 1, redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)}
