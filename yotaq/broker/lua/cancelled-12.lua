--[[
  Take a running task this worker interrupted because it was cancelled off its active list, and
  store its cancellation as its result.
  KEYS[1] this worker's active list   KEYS[2] state hash   KEYS[3] deliveries hash
  KEYS[4] stats hash   KEYS[5] the job's result list
  KEYS[6] limit holders sorted set    KEYS[7] waiting sorted set   KEYS[8] waiting messages hash
  KEYS[9] pending list
  KEYS[10] done sorted set   KEYS[11] cancelled sorted set   KEYS[12] finished jobs hash
  ARGV[1] the message   ARGV[2] its job id   ARGV[3] the result envelope   ARGV[4] how long it is kept (ms)
  ARGV[5] what is shown of it once cancelled: '<worker> <ran ms> <function>'
  Returns: 1, or 0 when the message was no longer leased by this worker (nothing changes).
]]
--@include now_ms
--@include job_id
--@include limits
--@include finished
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
release_slot({holders = KEYS[6], waiting = KEYS[7], waiting_messages = KEYS[8], pending = KEYS[9]}, ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('HINCRBY', KEYS[4], 'cancelled', 1)
redis.call('DEL', KEYS[5])
redis.call('RPUSH', KEYS[5], ARGV[3])
redis.call('PEXPIRE', KEYS[5], ARGV[4])
local now = now_ms()
list_finished({done = KEYS[10], cancelled = KEYS[11], jobs = KEYS[12]}, 'cancelled', {ARGV[2]},
  {now + tonumber(ARGV[4])}, {ARGV[5]}, now)
return 1
