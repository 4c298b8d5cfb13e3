--[[
  The Redis server's clock, the one liveness deadlines are on, read on the node of KEYS[1] (a keyless
  TIME of a cluster client goes to any node).
  KEYS[1] alive sorted set (a fleet's): only where the call goes
  Returns: now (ms)
]]
--@include now_ms
return now_ms()
