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
-- Tasks finish in the order they were leased, so those acknowledged are usually the head of the
-- list, in order: one LRANGE checks that and one LTRIM drops them, and the append-only file and
-- replicas get the LTRIM rather than the messages. Any other is found with LREM.
local in_order = 0
if #ids > 0 then
  local head = redis.call('LRANGE', KEYS[1], 0, #ids - 1)
  while in_order < #head and head[in_order + 1] == ARGV[2 + 2 * (in_order + 1)] do
    in_order = in_order + 1
  end
  if in_order > 0 then
    redis.call('LTRIM', KEYS[1], in_order, -1)
  end
end
local done, done_ids, done_keys, lost = {}, {}, {}, {}
for i = 1, #ids do
  if i <= in_order or redis.call('LREM', KEYS[1], 1, ARGV[2 + 2 * i]) == 1 then
    done[#done + 1] = i
    done_ids[#done_ids + 1] = ids[i]
    done_keys[#done_keys + 1] = KEYS[3 + 2 * i]
    done_keys[#done_keys + 1] = KEYS[4 + 2 * i]
  else
    lost[#lost + 1] = i
  end
end
if #done > 0 then
  redis.call('HDEL', KEYS[3], unpack(done_ids))
  redis.call('DEL', unpack(done_keys))
  for _, i in ipairs(done) do
    redis.call('RPUSH', KEYS[3 + 2 * i], ARGV[3 + 2 * i])
    redis.call('PEXPIRE', KEYS[3 + 2 * i], ttls[i])
  end
  redis.call('HINCRBY', KEYS[4], 'done', #done)
end
-- One LMOVE each rather than LPOP and RPUSH, for the same reason as the LTRIM above.
local messages = {}
for i = 1, tonumber(ARGV[3]) do
  local message = redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT')
  if not message then
    break
  end
  messages[i] = message
end
return {lost, messages}
