--[[
  Give back every task a worker holds, to the head of the pending list in their order, and
  deregister the worker. For a live worker that knows it holds only tasks it has not started
  (at shutdown, after an outage), so no delivery is counted.
  KEYS[1] workers sorted set   KEYS[2] heartbeats hash   KEYS[3] that worker's active list
  KEYS[4] pending list         KEYS[5] state hash
  ARGV[1] worker id
  Returns: how many tasks were given back.
]]
--@include job_id
local released = {}
local message = redis.call('RPOP', KEYS[3])
while message do
  redis.call('LPUSH', KEYS[4], message)
  released[#released + 1] = message
  message = redis.call('RPOP', KEYS[3])
end
given_back(KEYS[5], released)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return #released
