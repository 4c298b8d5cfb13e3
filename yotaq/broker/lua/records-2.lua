--[[
  The records kept of the jobs set aside as one kind (failed or dead), that have not expired.
  KEYS[1] the kind's sorted set   KEYS[2] the kind's reasons hash
  Returns: {job id, expires (ms), '<at ms> <envelope>', ...}, oldest to expire first
]]
--@include now_ms
local records = {}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now_ms(), '+inf', 'WITHSCORES')
for i = 1, #ids, 2 do
  local record = redis.call('HGET', KEYS[2], ids[i])
  if record then
    records[#records + 1] = ids[i]
    records[#records + 1] = ids[i + 1]
    records[#records + 1] = record
  end
end
return records
