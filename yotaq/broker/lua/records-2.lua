--[[
  The records kept of the jobs set aside as one kind (failed or dead), that have not expired.
  KEYS[1] the kind's sorted set   KEYS[2] the kind's reasons hash
  Returns: {job id, expires (ms), '<at ms> <envelope>', ...}, oldest to expire first
]]
--@include now_ms
--@include scored
return scored(KEYS[1], KEYS[2], '(' .. now_ms(), '+inf')
