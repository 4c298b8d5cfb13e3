-- The Redis server's clock in milliseconds: the one clock that workers and producers share.
local function now_ms()
  local now = redis.call('TIME')
  return now[1] * 1000 + math.floor(now[2] / 1000)
end
