--[[
  Give back every task a worker holds, to the head of the pending list in their order, and
  deregister the worker from the queue. For a live worker that knows it holds only tasks it has not
  started (at shutdown, after an outage), so no delivery is counted.
  KEYS[1] workers sorted set   KEYS[2] active(worker) list   KEYS[3] pending list
  KEYS[4] state hash           KEYS[5] holders sorted set    KEYS[6] waiting sorted set
  KEYS[7] waiting_messages hash
  ARGV[1] worker id
  Returns: how many tasks were given back.
]]
--@include active
local held = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
give_back({pending = KEYS[3], state = KEYS[4], holders = KEYS[5], waiting = KEYS[6], waiting_messages = KEYS[7]}, held)
redis.call('ZREM', KEYS[1], ARGV[1])
return #held
