--@include job_id
--@include slots
-- Steps of a leased message leaving a worker's active list. lim (as in include/slots.lua) also:
-- active = this worker's active list, state = hash

-- Take a leased message off the active list, its outcome being recorded, and free the slot its task held:
-- false when it was no longer there (reaped and given to another worker: the caller changes nothing).
local function leave_active(lim, message)
  if redis.call('LREM', lim.active, 1, message) == 0 then
    return false
  end
  free_slot(lim, message)
  return true
end

-- Give back messages taken off the active list (unstarted, or their worker gone) to the head of the
-- pending list, in their order, and free the slots their tasks held. Each job is pending again unless it
-- was cancelled meanwhile: it stays cancelled, to be dropped when it is next leased (a message without a
-- job id has no state).
local function give_back(lim, messages)
  for i = #messages, 1, -1 do
    redis.call('LPUSH', lim.pending, messages[i])
    local id = job_id(messages[i])
    if id then
      local state = redis.call('HGET', lim.state, id)
      redis.call('HSET', lim.state, id, (state == 'cancelled' or state == 'cancelling') and 'cancelled' or 'pending')
    end
  end
  for i = #messages, 1, -1 do
    free_slot(lim, messages[i])
  end
end
