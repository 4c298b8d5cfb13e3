--[[
  Forget the failed and dead records that have expired (or are past the cap): what a burying
  script does on its way, for when no job has been set aside for a while.
  KEYS[1] failed sorted set   KEYS[2] failed messages hash   KEYS[3] failed reasons hash
  KEYS[4] dead sorted set     KEYS[5] dead messages hash     KEYS[6] dead reasons hash
  Returns: nothing.
]]
--@include now_ms
--@include bury
local now = now_ms()
trim(KEYS[1], KEYS[2], KEYS[3], now)
trim(KEYS[4], KEYS[5], KEYS[6], now)
