--@include now_ms
--@include job_id
--@include slots
--@include rates
--@include queue
--@include over
-- Concurrency and rate limits, applied as a task is leased: it takes a slot of its key (include/slots.lua)
-- and its rate's next start (include/rates.lua), or waits for them.
-- lim (as in include/slots.lua) also: rates = hash, scheduled = sorted set, scheduled_messages = hash,
-- state = hash, active = list, marker = sorted set, deliveries = hash

-- Whether a task just leased (now in `active`) may start under its limit: true, and its slot and rate
-- taken; or false, and it was moved out of `active` to wait (for a slot, or for its rate's next start).
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
      schedule_job(lim, id, message, next_start)
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
    forget_jobs(lim, {id})
    -- It may have been woken for a slot it will not take now: wake the next in its place.
    local limit = limit_of(message)
    if limit and limit.concurrency then
      wake_next(lim, limit.key)
    end
    return nil
  end
  return false
end
