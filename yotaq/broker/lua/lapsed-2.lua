--[[
  The workers registered on a queue that are not alive: their liveness deadline has passed, by the
  Redis server's clock (read here, on the queue's own node), or they were forgotten (forget-2.lua).
  KEYS[1] workers sorted set (the queue's)   KEYS[2] alive sorted set (its fleet's)
  Returns: their ids (possibly none)
]]
--@include now_ms
local now = now_ms()
local lapsed = {}
for _, worker in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local deadline = redis.call('ZSCORE', KEYS[2], worker)
  if not deadline or tonumber(deadline) <= now then
    lapsed[#lapsed + 1] = worker
  end
end
return lapsed
