--[[
  Enqueue a task that needs more than a plain push: one with a job id of its caller's choosing
  (unique while it is pending, scheduled or active), or one to run later. Each enqueue carries a
  token of its own, kept a while: a try again after a lost reply finds it, and changes nothing
  but the token's time (a write, so that a WAIT after it covers the first try's).
  KEYS[1] pending list   KEYS[2] scheduled sorted set   KEYS[3] scheduled_messages hash
  KEYS[4] state hash     KEYS[5] result(job_id) list
  KEYS[6] jobs_of(failed) sorted set   KEYS[7] messages_of(failed) hash   KEYS[8] reasons_of(failed) hash
  KEYS[9] jobs_of(dead) sorted set     KEYS[10] messages_of(dead) hash    KEYS[11] reasons_of(dead) hash
  KEYS[12] enqueued(job_id): the job's enqueue token
  KEYS[13] marker sorted set (a job to run later is due at its score)
  ARGV[1] the message   ARGV[2] its job id   ARGV[3] '1' when the job id must be unique
  ARGV[4] run at (ms since the epoch, '' for no time)   ARGV[5] delay (ms from now, '' for none)
  ARGV[6] this enqueue's token   ARGV[7] how long the token is kept (ms)
  Returns: 1 when enqueued (by this call or an earlier try of it); 0 when a job with this unique
  id is still pending, scheduled or active; 2 when it is a cancelled job's whose message is still
  on the queue (to be dropped when leased: a new message under its id would be dropped with it).
]]
--@include now_ms
--@include queue
if redis.call('GET', KEYS[12]) == ARGV[6] then
  redis.call('PEXPIRE', KEYS[12], ARGV[7])
  return 1
end
local state = redis.call('HGET', KEYS[4], ARGV[2])
if ARGV[3] == '1' and state then
  return (state == 'cancelled' or state == 'cancelling') and 2 or 0
end
redis.call('SET', KEYS[12], ARGV[6], 'PX', ARGV[7])
-- A new run under an id used before must not be mistaken for the old one: forget its outcome.
redis.call('DEL', KEYS[5])
for first = 6, 9, 3 do
  redis.call('ZREM', KEYS[first], ARGV[2])
  redis.call('HDEL', KEYS[first + 1], ARGV[2])
  redis.call('HDEL', KEYS[first + 2], ARGV[2])
end
local run_at = tonumber(ARGV[4])
if ARGV[5] ~= '' then
  run_at = now_ms() + tonumber(ARGV[5])
end
local q = {pending = KEYS[1], scheduled = KEYS[2], scheduled_messages = KEYS[3], state = KEYS[4], marker = KEYS[13]}
if run_at then
  schedule_job(q, ARGV[2], ARGV[1], run_at)
else
  push_job(q, ARGV[2], ARGV[1])
end
return 1
