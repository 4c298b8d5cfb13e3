--[[
  Acknowledge tasks that ran to completion: each leaves this worker's active list for good and
  its result is stored, waking anyone waiting for it.
  KEYS[1] this worker's active list   KEYS[2] deliveries hash   KEYS[3] stats hash
  KEYS[2 + 2i], KEYS[3 + 2i] for the i-th task: its result list, its unique marker
  ARGV[4i - 3 .. 4i] for the i-th task: the message, its job id, the result envelope, result TTL (ms)
  Returns: for each task, 1, or 0 when it was no longer leased by this worker (it was reaped and
  given to another worker); nothing changes for those.
]]
local acked = {}
local done = 0
for i = 1, #ARGV / 4 do
  local message, id, envelope, ttl = ARGV[4 * i - 3], ARGV[4 * i - 2], ARGV[4 * i - 1], ARGV[4 * i]
  if redis.call('LREM', KEYS[1], 1, message) == 0 then
    acked[i] = 0
  else
    local result, unique = KEYS[2 + 2 * i], KEYS[3 + 2 * i]
    redis.call('HDEL', KEYS[2], id)
    redis.call('DEL', result, unique)
    redis.call('RPUSH', result, envelope)
    redis.call('PEXPIRE', result, ttl)
    acked[i] = 1
    done = done + 1
  end
end
redis.call('HINCRBY', KEYS[3], 'done', done)
return acked
