-- The job id in a message's header ('yq1 <python> <job id> <attempt> ...'), or nil if it has none.
local function job_id(message)
  return string.match(message, '^yq1 %S+ (%S+) ')
end
