-- Rate limits. A key's rate is kept as its next allowed start (GCRA), in the limit rates hash; a task
-- early for it waits in the scheduled set.

-- Rates looked at per call of the trim script.
local RATES_TRIM_BATCH = 500

-- A key's rate, stored as '<next allowed start> <fresh at>' (ms): from `fresh_at` on, one spacing
-- after the next allowed start, the key allows what a key never used does, so its field can go.
-- A field holding a bare number (the next start alone) is fresh at that start.
local function rate_of(field)
  local next_start, fresh_at = string.match(field or '0', '^(%S+) ?(%S*)$')
  next_start = tonumber(next_start) or 0
  return next_start, tonumber(fresh_at) or next_start
end
