--[[
  Acknowledge tasks that ran to completion: each leaves this worker's active list for good and
  its result is stored, waking anyone waiting for it.
  KEYS[1] this worker's active list   KEYS[2] deliveries hash   KEYS[3] stats hash
  KEYS[2 + 2i], KEYS[3 + 2i] for the i-th task: its result list, its unique marker
  ARGV[1] the job ids, space separated   ARGV[2] their result TTLs (ms), space separated
  ARGV[1 + 2i], ARGV[2 + 2i] for the i-th task: its message, its result envelope
  Returns: the positions (1-based) of the tasks no longer leased by this worker (reaped and
  given to another worker), usually none; nothing changes for those.
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
  local message, leased = ARGV[1 + 2 * i], nil
  -- Tasks finish in the order they were leased, so each is usually at the head of the list:
  -- LPOP it there, and the append-only file and replicas get the LPOP rather than the message.
  if redis.call('LINDEX', KEYS[1], 0) == message then
    leased = redis.call('LPOP', KEYS[1])
  else
    leased = redis.call('LREM', KEYS[1], 1, message) == 1
  end
  if leased then
    local result = KEYS[2 + 2 * i]
    redis.call('HDEL', KEYS[2], ids[i])
    redis.call('DEL', result, KEYS[3 + 2 * i])
    redis.call('RPUSH', result, ARGV[2 + 2 * i])
    redis.call('PEXPIRE', result, ttls[i])
  else
    lost[#lost + 1] = i
  end
end
redis.call('HINCRBY', KEYS[3], 'done', #ids - #lost)
return lost
