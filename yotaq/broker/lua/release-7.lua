--[[
  Give back every task a worker holds, to the head of the pending list in their order, and
  deregister the worker from the queue. For a live worker that knows it holds only tasks it has not
  started (at shutdown, after an outage), so no delivery is counted.
  KEYS[1] workers sorted set   KEYS[2] that worker's active list   KEYS[3] pending list
  KEYS[4] state hash           KEYS[5] limit holders sorted set    KEYS[6] waiting sorted set
  KEYS[7] waiting messages hash
  ARGV[1] worker id
  Returns: how many tasks were given back.
]]
--@include now_ms
--@include job_id
--@include limits
local lim = {holders = KEYS[5], waiting = KEYS[6], waiting_messages = KEYS[7], pending = KEYS[3]}
local released = {}
local message = redis.call('RPOP', KEYS[2])
while message do
  redis.call('LPUSH', KEYS[3], message)
  released[#released + 1] = message
  message = redis.call('RPOP', KEYS[2])
end
given_back(KEYS[4], released)
for _, given in ipairs(released) do
  release_slot(lim, given)
end
redis.call('ZREM', KEYS[1], ARGV[1])
return #released
