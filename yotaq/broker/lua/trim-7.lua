--[[
  Forget the failed and dead records that have expired (or are past the cap): what a failing
  script does on its way, for when no job has been set aside for a while. And forget the rates that
  hold no more: a key past its `fresh_at` allows what an unknown key does, so its field says nothing.
  The rates are scanned a batch a call, from a cursor the caller passes back until it is '0'.
  KEYS[1] jobs_of(failed) sorted set   KEYS[2] messages_of(failed) hash   KEYS[3] reasons_of(failed) hash
  KEYS[4] jobs_of(dead) sorted set     KEYS[5] messages_of(dead) hash     KEYS[6] reasons_of(dead) hash
  KEYS[7] rates hash
  ARGV[1] where the scan of the rates goes on ('0': from the start)
  Returns: where the scan goes on next time, '0' when it has been through them all.
]]
--@include now_ms
--@include fail
--@include rates
local now = now_ms()
trim(KEYS[1], KEYS[2], KEYS[3], now)
trim(KEYS[4], KEYS[5], KEYS[6], now)
local scanned = redis.call('HSCAN', KEYS[7], ARGV[1], 'COUNT', RATES_TRIM_BATCH)
local fields = scanned[2]
for n = 1, #fields, 2 do
  local key = fields[n]
  -- Fields that begin with '\0' are not rates (the waiting tasks' order).
  if string.byte(key, 1) ~= 0 then
    local _, fresh_at = rate_of(fields[n + 1])
    if fresh_at <= now then
      redis.call('HDEL', KEYS[7], key)
    end
  end
end
return scanned[1]
