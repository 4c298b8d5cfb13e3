--[[
  Where a job is, from what is kept about it: O(1), whatever the queue holds.
  KEYS[1] state hash   KEYS[2] result(job_id) list
  KEYS[3] jobs_of(failed) sorted set   KEYS[4] reasons_of(failed) hash
  KEYS[5] jobs_of(dead) sorted set     KEYS[6] reasons_of(dead) hash
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
