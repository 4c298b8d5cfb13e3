--[[
  Take a running task this worker interrupted because it was cancelled off its active list, and
  store its cancellation as its result.
  KEYS[1] this worker's active list   KEYS[2] state hash   KEYS[3] deliveries hash
  KEYS[4] stats hash   KEYS[5] the job's result list
  ARGV[1] the message   ARGV[2] its job id   ARGV[3] the result envelope   ARGV[4] how long it is kept (ms)
  Returns: 1, or 0 when the message was no longer leased by this worker (nothing changes).
]]
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('HINCRBY', KEYS[4], 'cancelled', 1)
redis.call('DEL', KEYS[5])
redis.call('RPUSH', KEYS[5], ARGV[3])
redis.call('PEXPIRE', KEYS[5], ARGV[4])
return 1
