--[[
  What a queue holds, in one call on its node (a read: nothing changes).
  KEYS[1] pending list   KEYS[2] scheduled sorted set   KEYS[3] workers sorted set
  KEYS[4] alive sorted set (its fleet's)   KEYS[5] stats hash   KEYS[6] jobs_of(failed) sorted set
  KEYS[7] jobs_of(dead) sorted set
  Returns: {now (ms), pending, scheduled, {worker, liveness timeout (ms), ...}, {worker, deadline, ...}
  (of those alive or not yet forgotten), {counter, value, ...}, failed records not expired, dead
  records not expired}
]]
--@include now_ms
local now = now_ms()
local workers = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
local deadlines = {}
for i = 1, #workers, 2 do
  local deadline = redis.call('ZSCORE', KEYS[4], workers[i])
  if deadline then
    deadlines[#deadlines + 1] = workers[i]
    deadlines[#deadlines + 1] = deadline
  end
end
return {
  now,
  redis.call('LLEN', KEYS[1]),
  redis.call('ZCARD', KEYS[2]),
  workers,
  deadlines,
  redis.call('HGETALL', KEYS[5]),
  redis.call('ZCOUNT', KEYS[6], '(' .. now, '+inf'),
  redis.call('ZCOUNT', KEYS[7], '(' .. now, '+inf'),
}
