-- Concurrency and rate limits. A message's header carries its limit, '<key>,<concurrency>,<count>/<period
-- ms>' ('-' for a part it has not; '-' for none). Holding a slot is a member '<key>\0<job id>' of the
-- holders sorted set, so that ZLEXCOUNT counts a key's holders; a task over its key's concurrency
-- waits as a member '<key>\0<order>' of the waiting sorted set (its message in a hash), and the first
-- waiting for a key goes back to the head of the queue when a slot of that key frees. A rate is kept
-- as the key's next allowed start (GCRA), and a task early for it waits in the scheduled set.
-- lim: {holders = sorted set, waiting = sorted set, waiting_messages = hash, pending = list}

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
local function limit_of(message)
  local field = string.match(message, '^yq1 %S+ %S+ %S+ %S+ (%S+) ')
  if field == nil or field == '-' then
    return nil
  end
  local key, concurrency, rate = string.match(field, '^([^,]+),([^,]+),(%S+)$')
  if not key then
    return nil
  end
  local count, period = string.match(rate, '^(%d+)/(%d+)$')
  return {key = key, concurrency = tonumber(concurrency), count = tonumber(count), period = tonumber(period)}
end

-- Let the first task waiting for a slot of `key` go, to the head of the queue.
local function wake_next(lim, key)
  local first = redis.call('ZRANGEBYLEX', lim.waiting, '[' .. key .. '\0', '(' .. key .. '\1', 'LIMIT', 0, 1)[1]
  if first then
    local waiting = redis.call('HGET', lim.waiting_messages, first)
    redis.call('ZREM', lim.waiting, first)
    redis.call('HDEL', lim.waiting_messages, first)
    if waiting then
      redis.call('LPUSH', lim.pending, waiting)
    end
  end
end

-- Give back the slot a finished (or given back) task held, and let the first task waiting for it go.
local function release_slot(lim, message)
  local limit = limit_of(message)
  if limit and limit.concurrency and redis.call('ZREM', lim.holders, limit.key .. '\0' .. job_id(message)) == 1 then
    wake_next(lim, limit.key)
  end
end

-- Whether a task just leased (now in `active`) may start under its limit: true, and its slot and rate
-- taken; or false, and it was moved out of `active` to wait (for a slot, or for its rate's next start).
-- lim also: rates = hash, scheduled = sorted set, scheduled_messages = hash, state = hash, active = list,
-- marker = sorted set
local function admitted(lim, message, id)
  local limit = limit_of(message)
  if not limit then
    return true
  end
  local now, next_start = nil, nil
  if limit.count then
    now = now_ms()
    next_start = rate_of(redis.call('HGET', lim.rates, limit.key))
    if next_start > now then
      redis.call('LREM', lim.active, 1, message)
      redis.call('ZADD', lim.scheduled, next_start, id)
      redis.call('ZADD', lim.marker, 'LT', next_start, 's')
      redis.call('HSET', lim.scheduled_messages, id, message)
      redis.call('HSET', lim.state, id, 'scheduled')
      return false
    end
  end
  if limit.concurrency then
    local holders = redis.call('ZLEXCOUNT', lim.holders, '[' .. limit.key .. '\0', '(' .. limit.key .. '\1')
    if holders >= limit.concurrency then
      redis.call('LREM', lim.active, 1, message)
      local order = redis.call('HINCRBY', lim.rates, '\0order', 1)
      local member = limit.key .. '\0' .. string.format('%016d', order)
      redis.call('ZADD', lim.waiting, 0, member)
      redis.call('HSET', lim.waiting_messages, member, message)
      redis.call('HSET', lim.state, id, 'pending')
      return false
    end
    redis.call('ZADD', lim.holders, 0, limit.key .. '\0' .. id)
  end
  if limit.count then
    -- Starts are spaced `period / count` apart. A start that comes late (it waited to be promoted,
    -- or for a worker) may make up for up to one space, so that jitter does not lower the rate.
    local space = limit.period / limit.count
    local following = math.max(next_start, now - space) + space
    redis.call('HSET', lim.rates, limit.key, string.format('%.17g %.17g', following, following + space))
  end
  return true
end

-- Lease: mark the job of a message just leased (now in `lim.active`) active and return true; return
-- nil for one that does not reach the worker (cancelled: dropped, with its count of deliveries; over
-- its limit: waiting); return false for one whose job is not pending on this queue.
-- lim also: deliveries = hash
local function leased(lim, message)
  local id = job_id(message)
  local state = id and redis.call('HGET', lim.state, id)
  if state == 'pending' then
    if not admitted(lim, message, id) then
      return nil
    end
    redis.call('HSET', lim.state, id, 'active')
    return true
  elseif state == 'cancelled' then
    redis.call('LREM', lim.active, 1, message)
    redis.call('HDEL', lim.state, id)
    redis.call('HDEL', lim.deliveries, id)
    -- It may have been woken for a slot it will not take now: wake the next in its place.
    local limit = limit_of(message)
    if limit and limit.concurrency then
      wake_next(lim, limit.key)
    end
    return nil
  end
  return false
end
