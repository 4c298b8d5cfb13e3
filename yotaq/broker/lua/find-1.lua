--[[
  Find a job's message in a list (pending, or a worker's active list), looking at no more than ARGV[2]
  messages from its tail, the newest (a read: nothing changes; bounded, whatever the list holds).
  KEYS[1] list: pending, or active(worker)
  ARGV[1] the job id   ARGV[2] how many messages to look at, at most
  Returns: the message, or false when none of those looked at is the job's
]]
--@include job_id
local CHUNK = 500
local length = redis.call('LLEN', KEYS[1])
local last = math.max(0, length - tonumber(ARGV[2]))
local stop = length - 1
while stop >= last do
  local start = math.max(last, stop - CHUNK + 1)
  local items = redis.call('LRANGE', KEYS[1], start, stop)
  for i = #items, 1, -1 do
    if job_id(items[i]) == ARGV[1] then
      return items[i]
    end
  end
  stop = start - 1
end
return false
