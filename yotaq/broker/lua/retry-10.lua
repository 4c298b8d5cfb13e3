--[[
  Take a task that raised off this worker's active list and schedule its next try.
  KEYS[1] active(worker) list   KEYS[2] scheduled sorted set
  KEYS[3] scheduled_messages hash     KEYS[4] state hash   KEYS[5] stats hash
  KEYS[6] holders sorted set    KEYS[7] waiting sorted set   KEYS[8] waiting_messages hash
  KEYS[9] pending list   KEYS[10] marker sorted set (the next try is due at its score)
  ARGV[1] the message as leased   ARGV[2] the message for the next try   ARGV[3] its job id
  ARGV[4] delay before the next try (ms, from now on the Redis clock)
  Returns: 1; 2 when the job was cancelled while it ran (it is not tried again: it ends there, its
  result the cancellation); 0 when the message was no longer leased by this worker (nothing changes).
]]
--@include now_ms
--@include active
--@include queue
if not leave_active({active = KEYS[1], holders = KEYS[6], waiting = KEYS[7], waiting_messages = KEYS[8],
  pending = KEYS[9]}, ARGV[1]) then
  return 0
end
if redis.call('HGET', KEYS[4], ARGV[3]) == 'cancelling' then
  redis.call('HDEL', KEYS[4], ARGV[3])
  redis.call('HINCRBY', KEYS[5], 'cancelled', 1)
  return 2
end
schedule_job({scheduled = KEYS[2], scheduled_messages = KEYS[3], state = KEYS[4], marker = KEYS[10]}, ARGV[3],
  ARGV[2], now_ms() + tonumber(ARGV[4]))
redis.call('HINCRBY', KEYS[5], 'retried', 1)
return 1
