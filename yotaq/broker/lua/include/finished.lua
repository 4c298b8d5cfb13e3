-- Jobs done or cancelled are listed (for dashboards) for as long as their results are kept, and at most
-- MAX_LISTED per queue and state: past it the soonest to expire go first. A call forgets at most
-- LISTED_TRIM_BATCH more than it lists, so the lists stay bounded with no loop of their own; and the
-- keys expire with the last result they list, so nothing is left once no job has finished for that long.
local MAX_LISTED = 100000
local LISTED_TRIM_BATCH = 500

--[[ List jobs as finished in `state` ('done' or 'cancelled'), each kept until `expiries[i]` (ms), with
  what is shown of it, and forget those listed whose results have expired.
  f: {done = sorted set, cancelled = sorted set, jobs = hash}
  shown[i]: '<worker> <ran ms> <function>' ('-' for what is unknown) ]]
local function list_finished(f, state, ids, expiries, shown, now)
  if #ids == 0 then
    return
  end
  local other = state == 'done' and f.cancelled or f.done
  local scored, described = {}, {}
  for i, id in ipairs(ids) do
    scored[#scored + 1] = expiries[i]
    scored[#scored + 1] = id
    described[#described + 1] = id
    described[#described + 1] = state .. ' ' .. now .. ' ' .. shown[i]
  end
  redis.call('ZADD', f[state], unpack(scored))
  if redis.call('EXISTS', other) == 1 then -- a running job cancelled may have finished first, or the reverse
    redis.call('ZREM', other, unpack(ids))
  end
  redis.call('HSET', f.jobs, unpack(described))
  local last = 0
  for _, expiry in ipairs(expiries) do
    last = math.max(last, tonumber(expiry))
  end
  for _, key in ipairs({f[state], f.jobs}) do
    if redis.call('PTTL', key) < last - now then -- (-1: no expiry yet)
      redis.call('PEXPIREAT', key, last)
    end
  end
  for _, listed in ipairs({f.done, f.cancelled}) do
    local expired = redis.call('ZCOUNT', listed, '-inf', now)
    local excess = redis.call('ZCARD', listed) - MAX_LISTED
    local count = math.min(math.max(expired, excess), LISTED_TRIM_BATCH + #ids)
    if count > 0 then
      local gone = redis.call('ZRANGE', listed, 0, count - 1)
      redis.call('HDEL', f.jobs, unpack(gone))
      redis.call('ZREMRANGEBYRANK', listed, 0, count - 1)
    end
  end
end

-- Count `done` tasks that ran `ms` in all into the day's series, minute by minute (field 'm<minute % 1440>',
-- value 'm<minute> <done> <ms>'): 1440 fields at most, next to the hour's 3600 fields of seconds.
local function count_minute(series, second, done, ms)
  local minute = math.floor(second / 60)
  local field = 'm' .. (minute % 1440)
  local at, count, sum = string.match(redis.call('HGET', series, field) or '', '^m(%d+) (%d+) (%d+)$')
  if tonumber(at) ~= minute then
    count, sum = 0, 0
  end
  redis.call('HSET', series, field, 'm' .. minute .. ' ' .. (count + done) .. ' ' .. (sum + ms))
end
