--[[
  What a queue holds, in one call on its node (a read: nothing changes).
  KEYS[1] pending list   KEYS[2] scheduled sorted set   KEYS[3] workers sorted set
  KEYS[4] heartbeats hash   KEYS[5] stats hash   KEYS[6] failed sorted set   KEYS[7] dead sorted set
  Returns: {now (ms), pending, scheduled, {worker, deadline, ...}, {worker, last beat, ...},
  {counter, value, ...}, failed records not expired, dead records not expired}
]]
--@include now_ms
local now = now_ms()
return {
  now,
  redis.call('LLEN', KEYS[1]),
  redis.call('ZCARD', KEYS[2]),
  redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES'),
  redis.call('HGETALL', KEYS[4]),
  redis.call('HGETALL', KEYS[5]),
  redis.call('ZCOUNT', KEYS[6], '(' .. now, '+inf'),
  redis.call('ZCOUNT', KEYS[7], '(' .. now, '+inf'),
}
