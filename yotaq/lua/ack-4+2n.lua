--[[
  Acknowledge tasks that ran to completion, then lease up to ARGV[3] more: one round trip
  between two batches. An acknowledged task leaves this worker's active list for good and its
  result is stored, waking anyone waiting for it. Leased tasks move from the head of the
  pending list to the tail of the active list, in order.
  KEYS[1] this worker's active list   KEYS[2] pending list
  KEYS[3] deliveries hash             KEYS[4] stats hash
  KEYS[3 + 2i], KEYS[4 + 2i] for the i-th task acknowledged: its result list, its unique marker
  ARGV[1] the job ids, space separated   ARGV[2] their result TTLs (ms), space separated
  ARGV[3] how many tasks to lease (0 for none)
  ARGV[2 + 2i], ARGV[3 + 2i] for the i-th task acknowledged: its message, its result envelope
  Returns: {the positions (1-based) of the tasks no longer leased by this worker (reaped and
  given to another worker; nothing changes for those), the messages leased, oldest first}
]]
local ids, ttls = {}, {}
for id in string.gmatch(ARGV[1], '%S+') do
  ids[#ids + 1] = id
end
for ttl in string.gmatch(ARGV[2], '%S+') do
  ttls[#ttls + 1] = ttl
end
local lost = {}
for i = 1, #ids do
  local message, leased = ARGV[2 + 2 * i], nil
  -- Tasks finish in the order they were leased, so each is usually at the head of the list:
  -- LPOP it there, and the append-only file and replicas get the LPOP rather than the message.
  if redis.call('LINDEX', KEYS[1], 0) == message then
    leased = redis.call('LPOP', KEYS[1])
  else
    leased = redis.call('LREM', KEYS[1], 1, message) == 1
  end
  if leased then
    local result = KEYS[3 + 2 * i]
    redis.call('HDEL', KEYS[3], ids[i])
    redis.call('DEL', result, KEYS[4 + 2 * i])
    redis.call('RPUSH', result, ARGV[3 + 2 * i])
    redis.call('PEXPIRE', result, ttls[i])
  else
    lost[#lost + 1] = i
  end
end
if #ids > 0 then
  redis.call('HINCRBY', KEYS[4], 'done', #ids - #lost)
end
-- One LMOVE each rather than LPOP and RPUSH, for the same reason as the LPOP above.
local messages = {}
for i = 1, tonumber(ARGV[3]) do
  local message = redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT')
  if not message then
    break
  end
  messages[i] = message
end
return {lost, messages}
