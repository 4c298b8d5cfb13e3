-- The job id in a message's header ('yq1 <python> <job id> <attempt> ...'), or nil if it has none.
local function job_id(message)
  return string.match(message, '^yq1 %S+ (%S+) ')
end

-- Record each message's job as being in `state` (messages without a job id have no state).
local function set_state(state_key, messages, state)
  for _, message in ipairs(messages) do
    local id = job_id(message)
    if id then
      redis.call('HSET', state_key, id, state)
    end
  end
end
