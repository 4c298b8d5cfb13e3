-- The job id in a message's header ('yq1 <python> <job id> <attempt> ...'), or nil if it has none.
local function job_id(message)
  return string.match(message, '^yq1 %S+ (%S+) ')
end

-- Record the jobs of messages given back to the queue as pending again, unless one was cancelled
-- meanwhile: it stays cancelled, to be dropped when it is next leased (messages without a job id
-- have no state).
local function given_back(state_key, messages)
  for _, message in ipairs(messages) do
    local id = job_id(message)
    if id then
      local state = redis.call('HGET', state_key, id)
      redis.call('HSET', state_key, id, (state == 'cancelled' or state == 'cancelling') and 'cancelled' or 'pending')
    end
  end
end
