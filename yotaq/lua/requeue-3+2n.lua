--[[
  Move dead tasks back to the tail of the pending list, to be run again from scratch. Each
  loses the result stored when it was set aside (else it would still read as failed or dead,
  and waiting for its result would fail at once) and gets its unique marker back, as a pending
  job has (the message does not say whether its id was unique; ack and bury delete it anyway).
  KEYS[1] dead hash   KEYS[2] dead reasons hash   KEYS[3] pending list
  KEYS[2 + 2i], KEYS[3 + 2i] for ARGV[i]: its result list, its unique marker
  ARGV the job ids
  Returns: how many were requeued (ids not found are skipped, and their keys left alone).
]]
local requeued = 0
for i, id in ipairs(ARGV) do
  local message = redis.call('HGET', KEYS[1], id)
  if message then
    local result, unique = KEYS[2 + 2 * i], KEYS[3 + 2 * i]
    redis.call('RPUSH', KEYS[3], message)
    redis.call('HDEL', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('DEL', result)
    redis.call('SET', unique, '1')
    requeued = requeued + 1
  end
end
return requeued
