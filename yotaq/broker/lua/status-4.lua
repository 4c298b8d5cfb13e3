--[[
  Where a job is, from what is kept about it: O(1), whatever the queue holds.
  KEYS[1] state hash   KEYS[2] the job's result list
  KEYS[3] failed sorted set   KEYS[4] dead sorted set
  ARGV[1] the job id
  Returns: 'pending', 'scheduled', 'active', 'done', 'failed', 'dead' or 'not_found'.
]]
--@include now_ms
local state = redis.call('HGET', KEYS[1], ARGV[1])
if state then
  return state
end
local envelope = redis.call('LINDEX', KEYS[2], 0)
if envelope then
  if string.sub(envelope, 1, 4) == 'yd1 ' then
    return 'dead'
  end
  return string.match(envelope, '^yr1 (%a+) ') or 'not_found'
end
local now = now_ms()
for i, kind in ipairs({'failed', 'dead'}) do
  local expires = redis.call('ZSCORE', KEYS[2 + i], ARGV[1])
  if expires and tonumber(expires) > now then
    return kind
  end
end
return 'not_found'
