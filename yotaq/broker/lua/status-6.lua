--[[
  Where a job is, from what is kept about it: O(1), whatever the queue holds.
  KEYS[1] state hash   KEYS[2] the job's result list
  KEYS[3] failed sorted set   KEYS[4] failed reasons hash
  KEYS[5] dead sorted set     KEYS[6] dead reasons hash
  ARGV[1] the job id
  Returns: {'pending'}, {'scheduled'} or {'active'} for a job not finished; {'result', its result
  envelope} or {'record', its failed or dead record: '<ms> <envelope>'} for one finished, so that
  the caller reads the outcome through its signature; {'not_found'} when nothing is kept.
]]
--@include now_ms
local state = redis.call('HGET', KEYS[1], ARGV[1])
if state then
  return {state}
end
local envelope = redis.call('LINDEX', KEYS[2], 0)
if envelope then
  return {'result', envelope}
end
local now = now_ms()
for first = 3, 5, 2 do
  local expires = redis.call('ZSCORE', KEYS[first], ARGV[1])
  if expires and tonumber(expires) > now then
    local record = redis.call('HGET', KEYS[first + 1], ARGV[1])
    if record then
      return {'record', record}
    end
  end
end
return {'not_found'}
