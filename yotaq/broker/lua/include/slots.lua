--@include job_id
-- The slots of concurrency limits. A message's header carries its limit, '<key>,<concurrency>,<count>/<period
-- ms>' ('-' for a part it has not; '-' for none). Holding a slot is a member '<key>\0<job id>' of the
-- holders sorted set, so that ZLEXCOUNT counts a key's holders; a task over its key's concurrency
-- waits as a member '<key>\0<order>' of the waiting sorted set (its message in a hash), and the first
-- waiting for a key goes back to the head of the queue when a slot of that key frees.
-- lim: {holders = sorted set, waiting = sorted set, waiting_messages = hash, pending = list}

-- The limit in a message's header: {key, concurrency, count, period} (nil for a part it has not), or nil.
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

-- Free the slot a finished (or given back) task held, and let the first task waiting for it go.
local function free_slot(lim, message)
  local limit = limit_of(message)
  if limit and limit.concurrency and redis.call('ZREM', lim.holders, limit.key .. '\0' .. job_id(message)) == 1 then
    wake_next(lim, limit.key)
  end
end
