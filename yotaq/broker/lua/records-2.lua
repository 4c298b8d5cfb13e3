--[[
  The records kept of the jobs set aside as one kind (failed or dead), that have not expired.
  KEYS[1] jobs_of(kind) sorted set   KEYS[2] reasons_of(kind) hash
  Returns: {job id, expires (ms), '<at ms> <envelope>', ...}, oldest to expire first
]]
--@include now_ms
--@include scored
return scored(KEYS[1], KEYS[2], '(' .. now_ms(), '+inf')
