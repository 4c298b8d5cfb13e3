-- Jobs done or cancelled are listed (for dashboards) for as long as their results are kept, and at most
-- MAX_LISTED per queue and state: past it the soonest to expire go first. A call forgets at most
-- LISTED_TRIM_BATCH more than it lists, so the lists stay bounded with no loop of their own; and the
-- keys expire with the last result they list, so nothing is left once no job has finished for that long.
-- A call costs a few commands whatever the number of jobs it lists (an acknowledgement lists many).
local MAX_LISTED = 100000
local LISTED_TRIM_BATCH = 500

--[[ List jobs as finished in `state` ('done' or 'cancelled'), each kept until `expiries[i]` (ms), with
  what is shown of it, and forget those listed in that state whose results have expired (the other
  list is trimmed by its own calls, or expires).
  f: {done = sorted set, cancelled = sorted set, jobs = hash}
  shown[i]: '<worker> <ran ms> <function>' ('-' for what is unknown) ]]
local function list_finished(f, state, ids, expiries, shown, now)
  if #ids == 0 then
    return
  end
  local listed, other = f[state], state == 'done' and f.cancelled or f.done
  local scored, described, last, head = {}, {}, 0, state .. ' ' .. now .. ' '
  for i, id in ipairs(ids) do
    scored[2 * i - 1], scored[2 * i] = expiries[i], id
    described[2 * i - 1], described[2 * i] = id, head .. shown[i]
    last = math.max(last, expiries[i])
  end
  redis.call('ZADD', listed, unpack(scored))
  if redis.call('EXISTS', other) == 1 then -- a running job cancelled may have finished first, or the reverse
    redis.call('ZREM', other, unpack(ids))
  end
  redis.call('HSET', f.jobs, unpack(described))
  for _, key in ipairs({listed, f.jobs}) do
    if redis.call('PTTL', key) < last - now then -- (-1: no expiry yet)
      redis.call('PEXPIREAT', key, last)
    end
  end
  local gone = redis.call('ZRANGEBYSCORE', listed, '-inf', now, 'LIMIT', 0, LISTED_TRIM_BATCH + #ids)
  local excess = redis.call('ZCARD', listed) - #gone - MAX_LISTED
  if excess > 0 then
    for _, id in ipairs(redis.call('ZRANGE', listed, #gone, #gone + math.min(excess, LISTED_TRIM_BATCH) - 1)) do
      gone[#gone + 1] = id
    end
  end
  if #gone > 0 then
    redis.call('HDEL', f.jobs, unpack(gone))
    redis.call('ZREM', listed, unpack(gone))
  end
end
