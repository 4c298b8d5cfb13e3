--[[
  Acknowledge a task that ran to completion: it leaves this worker's active list for good and
  its result is stored, waking anyone waiting for it.
  KEYS[1] this worker's active list   KEYS[2] deliveries hash   KEYS[3] stats hash
  KEYS[4] the job's result list        KEYS[5] the job's unique marker
  ARGV[1] the message   ARGV[2] its job id   ARGV[3] the result envelope   ARGV[4] result TTL (ms)
  Returns: 1, or 0 when the message was no longer leased by this worker (it was reaped and
  given to another worker), in which case nothing changes.
]]
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[3], 'done', 1)
redis.call('DEL', KEYS[4], KEYS[5])
redis.call('RPUSH', KEYS[4], ARGV[3])
redis.call('PEXPIRE', KEYS[4], ARGV[4])
return 1
