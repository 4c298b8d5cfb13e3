--[[
  Set a leased message aside for good, with the reason, instead of running it (again); store
  its failure as its result, waking anyone waiting for it.
  KEYS[1] this worker's active list   KEYS[2] dead hash   KEYS[3] dead reasons hash
  KEYS[4] deliveries hash             KEYS[5] stats hash  KEYS[6] the job's result list
  KEYS[7] the job's unique marker
  ARGV[1] the message   ARGV[2] its job id   ARGV[3] the reason
  ARGV[4] the stats counter to add one to ('failed': the task raised; 'invalid': it cannot run)
  ARGV[5] the result envelope   ARGV[6] result TTL (ms)
  Returns: 1, or 0 when the message was no longer leased by this worker (nothing changes).
]]
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
local now = redis.call('TIME')
local at_ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], cjson.encode({reason = ARGV[3], at_ms = at_ms}))
redis.call('HDEL', KEYS[4], ARGV[2])
redis.call('HINCRBY', KEYS[5], ARGV[4], 1)
redis.call('DEL', KEYS[6], KEYS[7])
redis.call('RPUSH', KEYS[6], ARGV[5])
redis.call('PEXPIRE', KEYS[6], ARGV[6])
return 1
