--[[
  Disable a periodic schedule whose next run cannot be worked out, so that no worker comes back to
  it: take it out of the next-run sorted set and note why. Only if its next run is still the one the
  caller saw, so that one call of all the workers' does it (and logs it), and a schedule registered
  anew meanwhile is left alone.
  KEYS[1] schedule_next sorted set   KEYS[2] schedule_disabled hash
  ARGV[1] the schedule's name   ARGV[2] the due time the caller saw (the score as Redis wrote it)
  ARGV[3] why
  Returns: 1 when this call disabled it, else 0.
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
