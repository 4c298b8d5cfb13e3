--[[
  Give back every task a worker holds, to the head of the pending list in their order, and
  deregister the worker, giving up the queue's upkeep lease if it holds it. For a live worker that knows it holds only tasks it has not started
  (at shutdown, after an outage), so no delivery is counted.
  KEYS[1] workers sorted set   KEYS[2] heartbeats hash   KEYS[3] that worker's active list
  KEYS[4] pending list         KEYS[5] state hash
  KEYS[6] limit holders sorted set    KEYS[7] waiting sorted set   KEYS[8] waiting messages hash
  KEYS[9] upkeep lease
  ARGV[1] worker id
  Returns: how many tasks were given back.
]]
--@include now_ms
--@include job_id
--@include limits
local lim = {holders = KEYS[6], waiting = KEYS[7], waiting_messages = KEYS[8], pending = KEYS[4]}
local released = {}
local message = redis.call('RPOP', KEYS[3])
while message do
  redis.call('LPUSH', KEYS[4], message)
  released[#released + 1] = message
  message = redis.call('RPOP', KEYS[3])
end
given_back(KEYS[5], released)
for _, given in ipairs(released) do
  release_slot(lim, given)
end
if redis.call('GET', KEYS[9]) == ARGV[1] then
  redis.call('DEL', KEYS[9])
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return #released
